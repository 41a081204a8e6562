package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Archive is where and when months are archived before retention drops
// them (package archive).
type Archive struct {
	// Enabled turns the automatic archive on in serve: the tables lose
	// their TTL and serve exports, verifies and then drops every month
	// past the retention.
	Enabled bool
	// Dir is the archive's directory, as the ClickHouse engine sees it.
	Dir string
	// S3URL is a path-style bucket URL, http(s)://host[:port]/bucket[/prefix].
	S3URL string
	// S3CredentialsFile holds the bucket's access key id on its first line
	// and the secret key on its second.
	S3CredentialsFile string
	// Interval is how often serve looks for months to archive.
	Interval time.Duration
	// KeepRestored is how long a restored month stays in the tables after
	// its restore before serve drops it again.
	KeepRestored time.Duration
}

// Register binds the archive settings to s.
func (o *Archive) Register(s *Set) {
	s.Bool(&o.Enabled, "archive", false, "archive every month to Parquet before retention drops it, and let syncwatch drop months only once archived (needs --archive-dir or --archive-s3-url)")
	s.String(&o.Dir, "archive-dir", "", "directory of the archive, as the ClickHouse engine sees it (the embedded engine: any path)")
	s.String(&o.S3URL, "archive-s3-url", "", "S3-compatible bucket of the archive, path-style: http(s)://host[:port]/bucket[/prefix]")
	s.String(&o.S3CredentialsFile, "archive-s3-credentials-file", "", "file with the bucket's access key id on its first line and secret key on its second; empty for a public bucket")
	s.Duration(&o.Interval, "archive-interval", time.Hour, "how often serve looks for months to archive")
	s.Duration(&o.KeepRestored, "archive-keep-restored", 7*24*time.Hour, "how long a restored month past the retention stays before serve drops it again")
	s.Check(func() error {
		if o.Dir != "" && o.S3URL != "" {
			return s.Invalid("archive-s3-url", "%q: set --archive-dir or --archive-s3-url, not both", o.S3URL)
		}
		if o.Enabled && o.Dir == "" && o.S3URL == "" {
			return s.Invalid("archive", "true: needs --archive-dir or --archive-s3-url")
		}
		return nil
	})
	s.Check(func() error {
		if o.S3URL == "" {
			return nil
		}
		if err := checkS3URL(o.S3URL); err != nil {
			return s.Invalid("archive-s3-url", "%q: %v", o.S3URL, err)
		}
		return nil
	})
	s.Check(func() error {
		if o.S3CredentialsFile == "" {
			return nil
		}
		if _, _, err := ReadS3Credentials(o.S3CredentialsFile); err != nil {
			return s.Invalid("archive-s3-credentials-file", "%v", err)
		}
		return nil
	})
	s.Check(func() error { return positive(s, "archive-interval", o.Interval) })
	s.Check(func() error { return positive(s, "archive-keep-restored", o.KeepRestored) })
}

// Configured reports whether an archive target is set (for the archive
// command, which works with or without the automatic mode).
func (o *Archive) Configured() bool { return o.Dir != "" || o.S3URL != "" }

func checkS3URL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("want a path-style http(s)://host[:port]/bucket[/prefix]")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("no credentials, query or fragment in the URL: credentials go in --archive-s3-credentials-file")
	}
	return nil
}

// ReadS3Credentials reads a credentials file: the access key id on its
// first line, the secret key on its second. Its errors never hold the
// secret.
func ReadS3Credentials(path string) (keyID, secret string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read credentials: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) == "" || strings.TrimSpace(lines[1]) == "" {
		return "", "", fmt.Errorf("%s: want two lines, the access key id and the secret key", path)
	}
	return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]), nil
}
