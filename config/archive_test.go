package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func archiveSet() (*Set, *Archive) {
	s := New("serve", "", io.Discard)
	var a Archive
	a.Register(s)
	return s, &a
}

// TestArchiveSettings checks the archive settings' defaults, their layers
// and every rule, each error naming the setting.
func TestArchiveSettings(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	if err := os.WriteFile(creds, []byte("AKIAEXAMPLE\nsuper-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oneLine := filepath.Join(dir, "one-line")
	if err := os.WriteFile(oneLine, []byte("AKIAEXAMPLE:super-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, a := archiveSet()
	if err := s.Parse(nil, noEnv); err != nil {
		t.Fatal(err)
	}
	if a.Enabled || a.Configured() || a.Interval != time.Hour || a.KeepRestored != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", a)
	}
	s, a = archiveSet()
	env := map[string]string{"SYNCWATCH_ARCHIVE": "true", "SYNCWATCH_ARCHIVE_S3_URL": "http://minio:9000/archive/syncwatch", "SYNCWATCH_ARCHIVE_S3_CREDENTIALS_FILE": creds}
	if err := s.Parse([]string{"--archive-interval", "30m"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !a.Enabled || a.S3URL != "http://minio:9000/archive/syncwatch" || a.Interval != 30*time.Minute {
		t.Fatalf("from the environment: %+v", a)
	}
	if id, secret, err := ReadS3Credentials(creds); err != nil || id != "AKIAEXAMPLE" || secret != "super-secret-key" {
		t.Fatalf("credentials: %q %q %v", id, secret, err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"enabled without a target", []string{"--archive"}, "--archive true: needs --archive-dir or --archive-s3-url"},
		{"both targets", []string{"--archive-dir", dir, "--archive-s3-url", "http://h/b"}, `--archive-s3-url "http://h/b": set --archive-dir or --archive-s3-url, not both`},
		{"not http", []string{"--archive-s3-url", "s3://bucket/prefix"}, "want a path-style"},
		{"no bucket", []string{"--archive-s3-url", "http://minio:9000/"}, "want a path-style"},
		{"credentials in the url", []string{"--archive-s3-url", "http://key:secret@minio:9000/b"}, "credentials go in --archive-s3-credentials-file"},
		{"missing credentials file", []string{"--archive-s3-credentials-file", filepath.Join(dir, "none")}, "--archive-s3-credentials-file read credentials"},
		{"one-line credentials", []string{"--archive-s3-credentials-file", oneLine}, "want two lines"},
		{"zero interval", []string{"--archive-interval", "0s"}, "--archive-interval 0s"},
		{"zero keep", []string{"--archive-keep-restored", "0s"}, "--archive-keep-restored 0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := archiveSet()
			err := s.Parse(c.args, noEnv)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "super-secret-key") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}
