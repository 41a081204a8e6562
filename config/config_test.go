package config

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// serveSet returns the settings serve binds, as cmd/syncwatch does.
func serveSet() (*Set, *Storage, *Log, *Serve) {
	s := New("serve", "", io.Discard)
	var st Storage
	var l Log
	var sv Serve
	st.Register(s)
	l.Register(s)
	sv.Register(s)
	return s, &st, &l, &sv
}

func noEnv(string) string { return "" }

// TestInvalidFiles parses each file of testdata: every one breaks one
// rule, and the error names the key, the file and the rule.
func TestInvalidFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"batch_max_size_below_batch_size.yml", "batch_max_size in config file testdata/batch_max_size_below_batch_size.yml 10 is less than batch-size 100"},
		{"batch_max_size_negative.yml", "batch_max_size in config file testdata/batch_max_size_negative.yml -4 is less than"},
		{"batch_size_zero.yml", "batch_size in config file testdata/batch_size_zero.yml 0 is less than 1"},
		{"max_items_zero.yml", "max_items in config file testdata/max_items_zero.yml 0 is less than 1"},
		{"max_body_bytes_negative.yml", "max_body_bytes in config file testdata/max_body_bytes_negative.yml -1 is less than 1"},
		{"spool_max_bytes_zero.yml", "spool_max_bytes in config file testdata/spool_max_bytes_zero.yml 0 is less than 1"},
		{"max_inflight_zero.yml", "max_inflight in config file testdata/max_inflight_zero.yml 0 is less than 1"},
		{"dedup_window_zero.yml", "dedup_window in config file testdata/dedup_window_zero.yml 0 is less than 1"},
		{"rate_limit_negative.yml", "rate_limit in config file testdata/rate_limit_negative.yml -5 is less than 0"},
		{"queue_wait_zero.yml", "queue_wait in config file testdata/queue_wait_zero.yml 0s: want a duration above 0"},
		{"batch_max_age_zero.yml", "batch_max_age in config file testdata/batch_max_age_zero.yml 0s: want a duration above 0"},
		{"shutdown_timeout_zero.yml", "shutdown_timeout in config file testdata/shutdown_timeout_zero.yml 0s: want a duration above 0"},
		{"retention_zero.yml", "retention in config file testdata/retention_zero.yml 0s: want a whole number of days, at least one, e.g. 90d"},
		{"retention_part_of_a_day.yml", "retention in config file testdata/retention_part_of_a_day.yml 36h0m0s: want a whole number of days"},
		{"duration_fraction.yml", `batch_max_age: invalid duration "1.5s": want e.g. 30s, 5m, 2h or 90d`},
		{"listen_empty.yml", "listen in config file testdata/listen_empty.yml must not be empty"},
		{"data_dir_empty.yml", "data_dir in config file testdata/data_dir_empty.yml must not be empty"},
		{"database_empty.yml", "database in config file testdata/database_empty.yml must not be empty"},
		{"log_level_unknown.yml", `log_level in config file testdata/log_level_unknown.yml "loud": want debug, info, warn or error`},
		{"log_format_unknown.yml", `log_format in config file testdata/log_format_unknown.yml "xml": want json, text or auto`},
		{"sync_types_duplicate.yml", `sync_types in config file testdata/sync_types_duplicate.yml: sync type "products": listed twice`},
		{"sync_types_empty.yml", "sync_types in config file testdata/sync_types_empty.yml: sync types: at least one is required"},
		{"unknown_key.yml", `unknown key "listn"`},
		{"flag_spelling_of_a_key.yml", `unknown key "batch-max-age"`},
		{"list_for_a_scalar.yml", "listen: want a single value"},
		{"bool_not_a_bool.yml", "migrate: want true or false"},
		{"int_not_an_int.yml", "spool_max_bytes: want an integer"},
		{"not_a_mapping.yml", "parse config file testdata/not_a_mapping.yml"},
	}
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
		t.Run(strings.TrimSuffix(tc.file, ".yml"), func(t *testing.T) {
			s, _, _, _ := serveSet()
			err := s.Parse([]string{"--config", filepath.Join("testdata", tc.file)}, noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in the table", f)
		}
	}
}

// TestRuleNamesTheSource checks that a broken rule names where the value
// came from: a flag, an environment variable, or the default.
func TestRuleNamesTheSource(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag", []string{"--batch-size", "10", "--batch-max-size", "5"}, nil, "--batch-max-size 5 is less than batch-size 10"},
		{"environment", nil, map[string]string{"SYNCWATCH_BATCH_MAX_SIZE": "7"}, "SYNCWATCH_BATCH_MAX_SIZE 7 is less than batch-size 5000"},
		{"default broken by another option", []string{"--batch-size", "0"}, nil, "--batch-size 0 is less than 1"},
		{"flag over environment", []string{"--queue-wait", "0s"}, map[string]string{"SYNCWATCH_QUEUE_WAIT": "1s"}, "--queue-wait 0s: want a duration above 0"},
		{"several at once", []string{"--max-items", "0", "--log-level", "loud"}, nil, `--log-level "loud"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, _ := serveSet()
			err := s.Parse(tc.args, func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDefaultsAreValid checks that the defaults pass every rule, and that
// nothing is clamped: a value a rule accepts is kept as given.
func TestDefaultsAreValid(t *testing.T) {
	s, st, _, sv := serveSet()
	if err := s.Parse(nil, noEnv); err != nil {
		t.Fatal(err)
	}
	if st.Retention != 90*24*time.Hour || sv.BatchMaxSize != 0 || sv.BatchSize != 5000 {
		t.Fatalf("defaults: %+v %+v", st, sv)
	}
	s, _, _, sv = serveSet()
	if err := s.Parse([]string{"--batch-size", "10", "--batch-max-size", "10"}, noEnv); err != nil || sv.BatchMaxSize != 10 {
		t.Fatalf("batch-max-size equal to batch-size: %v %d", err, sv.BatchMaxSize)
	}
}

// TestInterspersed checks flags after arguments, "--", and a set that
// keeps the flags after its first argument for a wrapped command.
func TestInterspersed(t *testing.T) {
	tests := []struct {
		name         string
		interspersed bool
		args         []string
		wantArgs     []string
		wantDataDir  string
	}{
		{"flag after the action", true, []string{"version", "--data-dir", "/db"}, []string{"version"}, "/db"},
		{"flags on both sides", true, []string{"--database", "x", "force", "2", "--data-dir=/db"}, []string{"force", "2"}, "/db"},
		{"double dash ends the flags", true, []string{"up", "--", "--data-dir", "/db"}, []string{"up", "--data-dir", "/db"}, "./data"},
		{"not interspersed", false, []string{"--data-dir", "/a", "cmd", "--data-dir", "/db"}, []string{"cmd", "--data-dir", "/db"}, "/a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("t", "", io.Discard)
			s.Interspersed(tc.interspersed)
			var st Storage
			st.Register(s)
			if err := s.Parse(tc.args, noEnv); err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.Args(), " ") != strings.Join(tc.wantArgs, " ") || st.DataDir != tc.wantDataDir {
				t.Fatalf("args %q data-dir %q; want %q %q", s.Args(), st.DataDir, tc.wantArgs, tc.wantDataDir)
			}
		})
	}
}

// TestParseDuration covers Prometheus' duration syntax, days included.
func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"100ms", 100 * time.Millisecond, true},
		{"2160h0m0s", 90 * 24 * time.Hour, true},
		{"0", 0, true},
		{"-3d", 0, false},
		{"10", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// TestTarget names the database a destructive command changes, without
// the password of a DSN.
func TestTarget(t *testing.T) {
	tests := []struct {
		st   Storage
		want string
	}{
		{Storage{DataDir: "/srv/sw", Database: "syncwatch"}, `embedded database "syncwatch" in /srv/sw`},
		{Storage{DSN: "clickhouse://u:secret@db:9000/sw"}, "ClickHouse server clickhouse://u:xxxxx@db:9000/sw"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.st.Target(); got != tc.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestCatalogueDefaults keeps the help of --expected-intervals and
// --max-runtimes as users have always read it.
func TestCatalogueDefaults(t *testing.T) {
	tests := []struct {
		name string
		of   func(synclog.SyncTypeEntry) time.Duration
		want string
	}{
		{"expected intervals", ExpectedInterval, "products=6h, prices=1h, stock=15m, order=5m, logistics=30m, manual=0"},
		{"max runtimes", MaxRuntime, "products=2h, prices=30m, stock=15m, order=5m, logistics=15m, manual=1h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CatalogueDefaults(tc.of); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConfigFlag reads --config where the flags are read: after the
// arguments when flags are interspersed, never among a wrapped command's.
func TestConfigFlag(t *testing.T) {
	file := filepath.Join("testdata", "batch_size_zero.yml")
	tests := []struct {
		name         string
		interspersed bool
		args         []string
		wantFile     bool
	}{
		{"before the arguments", true, []string{"--config", file, "version"}, true},
		{"after the arguments", true, []string{"version", "--config=" + file}, true},
		{"after a boolean flag", true, []string{"--migrate", "--config", file}, true},
		{"after --", true, []string{"version", "--", "--config", file}, false},
		{"in a wrapped command line", false, []string{"job", "--config", file}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, _ := serveSet()
			s.Interspersed(tc.interspersed)
			err := s.Parse(tc.args, noEnv)
			if gotFile := err != nil && strings.Contains(err.Error(), "batch_size in config file"); gotFile != tc.wantFile {
				t.Fatalf("read the file: %v, want %v (%v)", gotFile, tc.wantFile, err)
			}
		})
	}
}

// TestProxySettings checks the settings for a proxy in front: trusted
// proxies from a flag or the environment, refused when not an address or
// a network, and Secure cookies.
func TestProxySettings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		proxies []string
		secure  bool
		wantErr string
	}{
		{"defaults", nil, nil, nil, false, ""},
		{"flag", []string{"--trusted-proxies", "10.0.0.0/8,192.0.2.7", "--secure-cookies"}, nil, []string{"10.0.0.0/8", "192.0.2.7"}, true, ""},
		{"environment", nil, map[string]string{"SYNCWATCH_TRUSTED_PROXIES": "::1", "SYNCWATCH_SECURE_COOKIES": "true"}, []string{"::1"}, true, ""},
		{"not an address", []string{"--trusted-proxies", "proxy.internal"}, nil, nil, false, `--trusted-proxies "proxy.internal": want an IP address or a CIDR network`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, sv := serveSet()
			err := s.Parse(tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sv.TrustedProxies, tc.proxies) || sv.SecureCookies != tc.secure {
				t.Errorf("trusted proxies %q, secure cookies %v", sv.TrustedProxies, sv.SecureCookies)
			}
		})
	}
}

// TestPublicMonitor checks that the monitor URLs need a token unless
// --public-monitor or SYNCWATCH_PUBLIC_MONITOR says otherwise.
func TestPublicMonitor(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"off by default", nil, nil, false},
		{"flag", []string{"--public-monitor"}, nil, true},
		{"environment", nil, map[string]string{"SYNCWATCH_PUBLIC_MONITOR": "true"}, true},
		{"flag over environment", []string{"--public-monitor=false"}, map[string]string{"SYNCWATCH_PUBLIC_MONITOR": "true"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _, sv := serveSet()
			if err := s.Parse(c.args, func(k string) string { return c.env[k] }); err != nil {
				t.Fatal(err)
			}
			if sv.PublicMonitor != c.want {
				t.Errorf("PublicMonitor = %v, want %v", sv.PublicMonitor, c.want)
			}
		})
	}
}

// TestSessionSecretFile checks that the console's session secret file
// comes from a flag, else the environment, else the YAML file, and is
// empty (a random key of the process) by default.
func TestSessionSecretFile(t *testing.T) {
	yaml := filepath.Join(t.TempDir(), "syncwatch.yaml")
	if err := os.WriteFile(yaml, []byte("session_secret_file: /etc/syncwatch/yaml-secrets\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, ""},
		{"yaml", []string{"--config", yaml}, nil, "/etc/syncwatch/yaml-secrets"},
		{"environment over yaml", []string{"--config", yaml}, map[string]string{"SYNCWATCH_SESSION_SECRET_FILE": "/run/secrets/env"}, "/run/secrets/env"},
		{"flag over environment", []string{"--config", yaml, "--session-secret-file", "/run/secrets/flag"}, map[string]string{"SYNCWATCH_SESSION_SECRET_FILE": "/run/secrets/env"}, "/run/secrets/flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, sv := serveSet()
			if err := s.Parse(tc.args, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			if sv.SessionSecretFile != tc.want {
				t.Errorf("session secret file %q, want %q", sv.SessionSecretFile, tc.want)
			}
		})
	}
}
