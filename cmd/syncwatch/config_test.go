package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/config"
)

// parseServe parses serve's settings as runServe does.
func parseServe(t *testing.T, args []string, vars map[string]string) (serveOptions, error) {
	t.Helper()
	s := config.New("serve", "", os.Stderr)
	s.Flags().SetOutput(new(strings.Builder))
	var o serveOptions
	o.register(s)
	err := s.Parse(args, env(vars))
	return o, err
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const configYAML = `
listen: 0.0.0.0:9000
batch_max_age: 5s
shutdown_timeout: 20s
spool_max_bytes: 1000
sync_types: [invoices, returns]
migrate: false
retention: 30d
data_dir: /var/lib/syncwatch
log_level: debug
`

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "syncwatch.yaml", configYAML)
	tests := []struct {
		name  string
		args  []string
		vars  map[string]string
		check func(t *testing.T, o serveOptions)
	}{
		{name: "defaults", check: func(t *testing.T, o serveOptions) {
			if o.Listen != "127.0.0.1:8080" || o.BatchMaxAge != time.Second || o.ShutdownTimeout != 10*time.Second ||
				!o.Migrate || o.SpoolMaxBytes != 1<<30 || o.storage.DataDir != "./data" || o.storage.Retention != 90*24*time.Hour ||
				!slices.Equal(o.SyncTypes, []string{"products", "prices", "stock", "order", "logistics", "manual"}) ||
				o.storage.DSN != "" || o.logs.Level != "info" || o.logs.Format != "auto" || o.MaxItems != 10000 {
				t.Fatalf("defaults: %+v", o)
			}
		}},
		{name: "file over defaults", args: []string{"--config", file}, check: func(t *testing.T, o serveOptions) {
			if o.Listen != "0.0.0.0:9000" || o.BatchMaxAge != 5*time.Second || o.ShutdownTimeout != 20*time.Second ||
				o.Migrate || o.SpoolMaxBytes != 1000 || !slices.Equal(o.SyncTypes, []string{"invoices", "returns"}) ||
				o.storage.Retention != 30*24*time.Hour || o.storage.DataDir != "/var/lib/syncwatch" || o.logs.Level != "debug" {
				t.Fatalf("from the file: %+v", o)
			}
			// Keys the file does not set keep their defaults.
			if o.MaxItems != 10000 || o.storage.Database != "syncwatch" {
				t.Fatalf("defaults lost: %+v", o)
			}
		}},
		{name: "file named by the environment", vars: map[string]string{"SYNCWATCH_CONFIG": file}, check: func(t *testing.T, o serveOptions) {
			if o.Listen != "0.0.0.0:9000" {
				t.Fatalf("listen %q", o.Listen)
			}
		}},
		{name: "--config= form", args: []string{"--config=" + file}, check: func(t *testing.T, o serveOptions) {
			if o.Listen != "0.0.0.0:9000" {
				t.Fatalf("listen %q", o.Listen)
			}
		}},
		{name: "environment over file", args: []string{"--config", file},
			vars: map[string]string{"SYNCWATCH_LISTEN": "127.0.0.1:9100", "SYNCWATCH_BATCH_MAX_AGE": "250ms", "SYNCWATCH_SYNC_TYPES": "a, b ,c", "SYNCWATCH_MIGRATE": "true", "SYNCWATCH_SPOOL_MAX_BYTES": "2000"},
			check: func(t *testing.T, o serveOptions) {
				if o.Listen != "127.0.0.1:9100" || o.BatchMaxAge != 250*time.Millisecond || !o.Migrate || o.SpoolMaxBytes != 2000 ||
					!slices.Equal(o.SyncTypes, []string{"a", "b", "c"}) {
					t.Fatalf("env over file: %+v", o)
				}
				// What the environment does not set still comes from the file.
				if o.ShutdownTimeout != 20*time.Second || o.storage.DataDir != "/var/lib/syncwatch" {
					t.Fatalf("file values lost: %+v", o)
				}
			}},
		{name: "flags over environment and file", args: []string{"--config", file, "--listen", "127.0.0.1:9200", "--batch-max-age=2s", "--migrate=false", "--sync-types", "x"},
			vars: map[string]string{"SYNCWATCH_LISTEN": "127.0.0.1:9100", "SYNCWATCH_BATCH_MAX_AGE": "250ms", "SYNCWATCH_MIGRATE": "true", "SYNCWATCH_SYNC_TYPES": "a,b"},
			check: func(t *testing.T, o serveOptions) {
				if o.Listen != "127.0.0.1:9200" || o.BatchMaxAge != 2*time.Second || o.Migrate || !slices.Equal(o.SyncTypes, []string{"x"}) {
					t.Fatalf("flags: %+v", o)
				}
				if o.ShutdownTimeout != 20*time.Second {
					t.Fatalf("file value lost: %+v", o)
				}
			}},
		{name: "flag names the file over the environment", args: []string{"--config", file},
			vars: map[string]string{"SYNCWATCH_CONFIG": "/nonexistent.yaml"},
			check: func(t *testing.T, o serveOptions) {
				if o.Listen != "0.0.0.0:9000" {
					t.Fatalf("listen %q", o.Listen)
				}
			}},
		{name: "empty environment variables are unset", vars: map[string]string{"SYNCWATCH_LISTEN": "", "SYNCWATCH_MIGRATE": ""},
			check: func(t *testing.T, o serveOptions) {
				if o.Listen != "127.0.0.1:8080" || !o.Migrate {
					t.Fatalf("%+v", o)
				}
			}},
		{name: "storage settings", args: []string{"--clickhouse-dsn", "clickhouse://u:p@h:9000/db", "--libchdb", "/opt/libchdb.so"},
			vars: map[string]string{"SYNCWATCH_DATA_DIR": "/srv/sw", "SYNCWATCH_LIBCHDB": "/env/libchdb.so", "SYNCWATCH_RETENTION": "7d"},
			check: func(t *testing.T, o serveOptions) {
				cfg := storageConfig(o.storage)
				if cfg.DSN != "clickhouse://u:p@h:9000/db" || cfg.DataDir != "/srv/sw" || cfg.LibchdbPath != "/opt/libchdb.so" ||
					cfg.Retention != 7*24*time.Hour || cfg.Database != "syncwatch" {
					t.Fatalf("storage config %+v", cfg)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseServe(t, tc.args, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // YAML, written to a file passed with --config
		args []string
		vars map[string]string
		want string
	}{
		{name: "unknown key", file: "listen: 127.0.0.1:1\nlistn: x\n", want: `unknown key "listn"`},
		{name: "flag spelling of a key", file: "batch-max-age: 1s\n", want: `unknown key "batch-max-age"`},
		{name: "list for a scalar", file: "listen: [a, b]\n", want: "listen: want a single value"},
		{name: "map for a scalar", file: "listen: {a: b}\n", want: "listen: want a single value"},
		{name: "bad duration in the file", file: "batch_max_age: soon\n", want: `batch_max_age: invalid duration "soon"`},
		{name: "bad integer in the file", file: "spool_max_bytes: lots\n", want: "spool_max_bytes: want an integer"},
		{name: "bad bool in the file", file: "migrate: maybe\n", want: "migrate: want true or false"},
		{name: "not YAML", file: "listen: [\n", want: "parse config file"},
		{name: "not a mapping", file: "- a\n- b\n", want: "parse config file"},
		{name: "bad duration in the environment", vars: map[string]string{"SYNCWATCH_SHUTDOWN_TIMEOUT": "10"}, want: `SYNCWATCH_SHUTDOWN_TIMEOUT: invalid duration "10"`},
		{name: "bad integer in the environment", vars: map[string]string{"SYNCWATCH_MAX_ITEMS": "1e3"}, want: "SYNCWATCH_MAX_ITEMS: want an integer"},
		{name: "bad days", args: []string{"--retention", "-3d"}, want: `invalid duration "-3d"`},
		{name: "missing file", args: []string{"--config", "/nonexistent/syncwatch.yaml"}, want: "read config file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, "c.yaml", tc.file)}, args...)
			}
			_, err := parseServe(t, args, tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// An unknown key is a usage error of the command: exit 2, before
	// anything is opened.
	file := writeFile(t, "bad.yaml", "listen: 127.0.0.1:1\nlisten_addr: x\n")
	var stdout, stderr strings.Builder
	if code := run([]string{"serve", "--config", file}, env(nil), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown key "listen_addr"`) {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestEnvAndYAMLNames(t *testing.T) {
	if got := config.EnvName("batch-max-age"); got != "SYNCWATCH_BATCH_MAX_AGE" {
		t.Fatal(got)
	}
	if got := config.YAMLKey("batch-max-age"); got != "batch_max_age" {
		t.Fatal(got)
	}
	// Every serve setting is documented with its environment variable.
	s := config.New("serve", "", os.Stderr)
	var o serveOptions
	o.register(s)
	var help strings.Builder
	s.Flags().SetOutput(&help)
	s.Flags().PrintDefaults()
	for _, name := range s.Names() {
		if !strings.Contains(help.String(), config.EnvName(name)) {
			t.Errorf("help of --%s does not name %s", name, config.EnvName(name))
		}
	}
	if !strings.Contains(help.String(), "SYNCWATCH_CONFIG") {
		t.Error("help does not name SYNCWATCH_CONFIG")
	}
}

func TestListenAddress(t *testing.T) {
	tests := []struct {
		addr    string
		auth    bool
		want    string
		wantErr string
	}{
		{addr: "127.0.0.1:8080", want: "127.0.0.1:8080"},
		{addr: "127.0.0.2:8080", want: "127.0.0.2:8080"},
		{addr: "[::1]:8080", want: "[::1]:8080"},
		{addr: "localhost:8080", want: "localhost:8080"},
		{addr: "0.0.0.0:9000", want: "127.0.0.1:9000"},
		{addr: ":9000", want: "127.0.0.1:9000"},
		{addr: "[::]:9000", want: "127.0.0.1:9000"},
		{addr: "10.1.2.3:80", want: "127.0.0.1:80"},
		{addr: "example.com:80", want: "127.0.0.1:80"},
		{addr: "0.0.0.0:9000", auth: true, want: "0.0.0.0:9000"},
		{addr: ":9000", auth: true, want: ":9000"},
		{addr: "10.1.2.3:80", auth: true, want: "10.1.2.3:80"},
		{addr: "8080", wantErr: `--listen "8080": address 8080: missing port in address`},
		{addr: "8080", auth: true, wantErr: `--listen "8080"`},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			got, err := listenAddress(tc.addr, tc.auth)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("listenAddress(%q, %v) = %q, %v; want %q", tc.addr, tc.auth, got, err, tc.want)
			}
		})
	}
}

func TestServeAuthSettings(t *testing.T) {
	tokens := writeFile(t, "tokens.yaml", "- name: job\n  token: file-token-0000000001\n  roles: [ingest]\n  sources: [haier]\n")
	o, err := parseServe(t, []string{"--tokens-file", tokens}, map[string]string{
		"SYNCWATCH_INGEST_TOKENS": "env-ingest-000000001", "SYNCWATCH_QUERY_TOKENS": "env-query-0000000001", "SYNCWATCH_ADMIN_TOKENS": "env-admin-0000000001",
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := o.auth()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Enabled() {
		t.Fatal("auth disabled with tokens")
	}
	for secret, name := range map[string]string{"file-token-0000000001": "job", "env-ingest-000000001": "env-ingest-1", "env-query-0000000001": "env-query-1", "env-admin-0000000001": "env-admin-1"} {
		if tok := a.Authenticate("Bearer " + secret); tok == nil || tok.Name != name {
			t.Errorf("token %s: got %+v, want %s", secret, tok, name)
		}
	}
	o, _ = parseServe(t, nil, nil)
	if a, err := o.auth(); err != nil || a.Enabled() {
		t.Fatalf("no tokens: enabled %v, %v", a.Enabled(), err)
	}
}

// TestServeSessionSecretFile checks that serve refuses a session secret
// file it cannot use with a usage error, before anything is opened.
func TestServeSessionSecretFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "session secret file: open"},
		{"too short", writeFile(t, "short", "# rotated on Monday\nshort-secret\n"), "line 2: a secret of 12 bytes; want at least 32"},
		{"empty", writeFile(t, "empty", "\n# nothing yet\n"), "holds no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run([]string{"serve", "--data-dir", t.TempDir(), "--session-secret-file", tc.file}, env(nil), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, want 2 and %q: %s", code, tc.want, stderr.String())
			}
		})
	}
}
