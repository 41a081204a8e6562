package clickhouse

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// freshServerDatabase creates database on the server of dsn, drops it when
// the test ends, and returns a DSN that names it.
func freshServerDatabase(t testing.TB, dsn, database string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := openNative(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the server of SYNCWATCH_TEST_CLICKHOUSE_DSN: %v", err)
	}
	if err := eng.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(database), nil); err != nil {
		_ = eng.close()
		t.Fatalf("create database %s: %v", database, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := eng.exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(database), nil); err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
		_ = eng.close()
	})
	named, err := dsnWithDatabase(dsn, database)
	if err != nil {
		t.Fatal(err)
	}
	return named
}

// dsnWithDatabase returns dsn with its path set to database.
func dsnWithDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse dsn %s: cannot name a database in it", redactDSN(dsn))
	}
	u.Path = "/" + database
	u.RawPath = ""
	return u.String(), nil
}

// chServer is a clickhouse-server process that the tests started.
type chServer struct {
	dir     string
	dsn     string // native protocol, database "default"
	tcpPort int
	cmd     *exec.Cmd
	output  *testutil.Buffer // the process's stdout and stderr
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// testServer is the one clickhouse-server of this test binary, started by
// the first test that needs it and stopped by TestMain.
var testServer struct {
	once sync.Once
	srv  *chServer
	err  error
}

// legacyServer returns the test binary's clickhouse-server, starting it on
// first use. A missing or broken server fails the test.
func legacyServer(t testing.TB) *chServer {
	t.Helper()
	testServer.once.Do(func() {
		testServer.srv, testServer.err = startServer()
	})
	if testServer.err != nil {
		t.Fatalf("clickhouse-server for the native-protocol tests: %v", testServer.err)
	}
	return testServer.srv
}

// stopTestServer stops the test binary's clickhouse-server if a test started
// it. TestMain calls it once every test has finished.
func stopTestServer() {
	if testServer.srv != nil {
		testServer.srv.stop()
	}
}

// clickhouseServerBinary finds the clickhouse-server executable: the
// SYNCWATCH_CLICKHOUSE_SERVER variable, then $PATH, then where Debian's
// package puts it.
func clickhouseServerBinary() (string, error) {
	if p := os.Getenv("SYNCWATCH_CLICKHOUSE_SERVER"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("SYNCWATCH_CLICKHOUSE_SERVER=%s is not an executable (run scripts/install-deps.sh): %w", p, err)
		}
		return p, nil
	}
	return testutil.LookTool("clickhouse-server")
}

// startServer starts clickhouse-server on free loopback ports, trying again
// when another process took a port between choosing and binding it.
func startServer() (*chServer, error) {
	bin, err := clickhouseServerBinary()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		srv, err := startServerOnce(bin)
		if err == nil {
			return srv, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

// freePorts returns n distinct free TCP ports on the loopback interface.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// serverConfig is the config.xml of the test server, in the format of
// ClickHouse 18.16: the root element is <yandex>, and the interserver port
// must be set so that two servers on one machine do not collide on 9009.
const serverConfig = `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{dir}/server.log</log>
        <errorlog>{dir}/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <interserver_http_port>{interserver}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/data/tmp/</tmp_path>
    <user_files_path>{dir}/data/user_files/</user_files_path>
    <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`

// serverUsers is the users.xml of the test server: the default user, no
// password, reachable from the loopback interface only.
const serverUsers = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>1000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

// startServerOnce writes a configuration into a new temporary directory,
// starts the server on it and waits until it answers a native ping.
func startServerOnce(bin string) (_ *chServer, err error) {
	dir, err := os.MkdirTemp("", "syncwatch-chserver-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer("{dir}", dir,
		"{tcp}", fmt.Sprint(ports[0]), "{http}", fmt.Sprint(ports[1]), "{interserver}", fmt.Sprint(ports[2]),
	).Replace(serverConfig)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(serverUsers), 0o600); err != nil {
		return nil, err
	}
	srv := &chServer{
		dir:     dir,
		dsn:     fmt.Sprintf("clickhouse://default@127.0.0.1:%d/default?dial_timeout=2s", ports[0]),
		tcpPort: ports[0],
		output:  &testutil.Buffer{},
		exited:  make(chan struct{}),
	}
	srv.cmd = exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	srv.cmd.Dir = dir
	srv.cmd.Stdout = srv.output
	srv.cmd.Stderr = srv.output
	// The server dies with the test binary even when TestMain cannot stop
	// it (a test timeout's panic, a kill).
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// child: keep this thread alive for as long as the server runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := srv.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		srv.waitErr = srv.cmd.Wait()
		close(srv.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	if err := srv.waitReady(60 * time.Second); err != nil {
		srv.stop()
		return nil, err
	}
	return srv, nil
}

// waitReady waits until the server answers a ping over the native protocol.
func (s *chServer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("clickhouse-server exited before it answered (%v)%s", s.waitErr, s.diagnostics())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		eng, err := openNative(ctx, s.dsn)
		cancel()
		if err == nil {
			_ = eng.close()
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse-server did not answer within %s (last error: %v)%s", timeout, lastErr, s.diagnostics())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diagnostics returns the server's output and the tail of its logs.
func (s *chServer) diagnostics() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n--- clickhouse-server output:\n%s", tail(s.output.String(), 4000))
	for _, name := range []string{"server.err.log", "server.log"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", name, tail(string(data), 4000))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stop kills the server and removes its directory.
func (s *chServer) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
		}
	}
	_ = os.RemoveAll(s.dir)
}

// legacyEngine connects to the test server with a DSN that names a new
// scratch database, dropped when the test ends.
func legacyEngine(t testing.TB) *nativeEngine {
	t.Helper()
	srv := legacyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := openNative(ctx, srv.dsn)
	if err != nil {
		t.Fatalf("connect to clickhouse-server: %v%s", err, srv.diagnostics())
	}
	t.Cleanup(func() { _ = admin.close() })
	database := fmt.Sprintf("s%d_%d", os.Getpid(), testDBSeq.Add(1))
	if err := admin.exec(ctx, "CREATE DATABASE "+quoteIdent(database), nil); err != nil {
		t.Fatalf("create database %s: %v", database, err)
	}
	dsn, err := dsnWithDatabase(srv.dsn, database)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := openNative(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		_ = eng.close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(database), nil); err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
	})
	return eng
}

// decodeJSONLines decodes JSONEachRow output into one normalised value per
// line, so that output of the two engines compares by meaning.
func decodeJSONLines(t testing.TB, out []byte) []any {
	t.Helper()
	rows := []any{}
	for _, line := range splitLines(out) {
		rows = append(rows, decodeJSON(t, line))
	}
	return rows
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode JSON %q: %v", b, err)
	}
	return normalizeJSON(v)
}

// normalizeJSON makes equal values compare equal however they are spelt:
// integers exactly, other numbers as float64, and times as instants.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, ok := new(big.Int).SetString(x.String(), 10); ok {
			return "int " + i.String()
		}
		f, _ := x.Float64()
		return f
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return "time " + tm.UTC().Format(time.RFC3339Nano)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalizeJSON(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

func TestNativeEngineConnect(t *testing.T) {
	eng := legacyEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.conn.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if got := eng.kind(); got != "server" {
		t.Errorf("kind() = %q, want server", got)
	}
	out, err := eng.selectRows(ctx, "SELECT version() AS version, currentDatabase() AS db", nil)
	if err != nil {
		t.Fatalf("select version: %v", err)
	}
	var row struct {
		Version string `json:"version"`
		DB      string `json:"db"`
	}
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if !strings.HasPrefix(row.Version, "18.16.") {
		t.Errorf("server version = %q, want 18.16.x (the Debian package)", row.Version)
	}
	if !strings.HasPrefix(row.DB, fmt.Sprintf("s%d_", os.Getpid())) {
		t.Errorf("current database = %q, want the scratch database the DSN names", row.DB)
	}
}

func TestOpenNativeErrors(t *testing.T) {
	srv := legacyServer(t)
	closed, err := freePorts(1) // closed again when freePorts returns
	if err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-Pa55"
	tests := []struct {
		name string
		dsn  string
		want string // a part of the error text
	}{
		{
			name: "closed port",
			dsn:  fmt.Sprintf("clickhouse://alice:%s@127.0.0.1:%d/default?dial_timeout=1s", secret, closed[0]),
			want: fmt.Sprintf("ping clickhouse clickhouse://alice:xxxxx@127.0.0.1:%d/default", closed[0]),
		},
		{
			name: "wrong password",
			dsn:  fmt.Sprintf("clickhouse://default:%s@127.0.0.1:%d/default", secret, srv.tcpPort),
			want: "clickhouse://default:xxxxx@127.0.0.1",
		},
		{
			name: "unknown database",
			dsn:  fmt.Sprintf("clickhouse://default@127.0.0.1:%d/no_such_database_xyz", srv.tcpPort),
			want: "no_such_database_xyz",
		},
		{
			name: "malformed port",
			dsn:  "clickhouse://alice:" + secret + "@127.0.0.1:notaport/default",
			want: "parse clickhouse dsn",
		},
		{
			name: "unescaped slash in password",
			dsn:  "clickhouse://alice:" + secret + "/x@127.0.0.1:9000/default",
			want: "parse clickhouse dsn",
		},
		{
			name: "no host",
			dsn:  "clickhouse://alice:" + secret + "@/default",
			want: "parse clickhouse dsn",
		},
		{
			name: "bad dial timeout",
			dsn:  "clickhouse://alice:" + secret + "@127.0.0.1:9000/default?dial_timeout=soon",
			want: "dial timeout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			eng, err := openNative(ctx, tt.dsn)
			if err == nil {
				_ = eng.close()
				t.Fatal("openNative succeeded, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, secret) || strings.Contains(msg, "hunter2") {
				t.Errorf("error shows the password: %s", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"clickhouse://alice:s3cret@db:9000/x?secure=true", "clickhouse://alice:xxxxx@db:9000/x?secure=true"},
		{"clickhouse://alice@db:9000/x", "clickhouse://alice@db:9000/x"},
		{"clickhouse://db:9000", "clickhouse://db:9000"},
		{"clickhouse://alice:s3cret@db:port/x", "(unparsable dsn)"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			if got := redactDSN(tt.dsn); got != tt.want {
				t.Errorf("redactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}

func TestNativeEngineExecDDL(t *testing.T) {
	eng := legacyEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name  string
		stmt  string
		check string // a query that returns one row {"n": 1} after stmt
	}{
		{
			name:  "create table",
			stmt:  "CREATE TABLE ddl_t (id UInt64, s String) ENGINE = MergeTree ORDER BY id",
			check: "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'ddl_t'",
		},
		{
			name:  "create table old MergeTree syntax",
			stmt:  "CREATE TABLE ddl_old (d Date, id UInt64) ENGINE = MergeTree(d, id, 8192)",
			check: "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'ddl_old'",
		},
		{
			name:  "add column",
			stmt:  "ALTER TABLE ddl_t ADD COLUMN extra Nullable(String)",
			check: "SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = 'ddl_t' AND name = 'extra'",
		},
		{
			// INSERT … VALUES with the data in the query text hangs on 18.16:
			// that server waits for the rows as data blocks, which
			// clickhouse-go's Exec does not send. INSERT … SELECT works on
			// every version, and it is what the store's statements use.
			name:  "insert",
			stmt:  "INSERT INTO ddl_t (id, s) SELECT 1, 'one'",
			check: "SELECT count() AS n FROM ddl_t WHERE s = 'one'",
		},
		{
			name:  "drop table",
			stmt:  "DROP TABLE ddl_old",
			check: "SELECT 1 - count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'ddl_old'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := eng.exec(ctx, tt.stmt, nil); err != nil {
				t.Fatalf("exec %s: %v", tt.stmt, err)
			}
			out, err := eng.selectRows(ctx, tt.check, nil)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != `{"n":1}` {
				t.Errorf("%s = %s, want {\"n\":1}", tt.check, got)
			}
		})
	}
}

func TestNativeEngineBatchInsert(t *testing.T) {
	eng := legacyEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eng.exec(ctx, `CREATE TABLE batch_t (
    a String,
    b UInt64,
    c Float64,
    d DateTime('UTC') DEFAULT toDateTime('2000-01-01 00:00:00', 'UTC'),
    e Nullable(String),
    f Array(String)
) ENGINE = MergeTree ORDER BY b`, nil); err != nil {
		t.Fatalf("create table: %v", err)
	}
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 20000
	tests := []struct {
		name    string
		columns string
		offset  uint64
		row     func(i uint64) []any
	}{
		{
			name:    "all columns",
			columns: "a, b, c, d, e, f",
			offset:  0,
			row: func(i uint64) []any {
				var e *string
				if i%2 == 0 {
					s := fmt.Sprintf("e%d", i)
					e = &s
				}
				return []any{fmt.Sprintf("row %d", i), i, float64(i) / 4, base.Add(time.Duration(i) * time.Second), e, []string{"x", fmt.Sprint(i)}}
			},
		},
		{
			name:    "some columns",
			columns: "a, b, c",
			offset:  n,
			row: func(i uint64) []any {
				return []any{fmt.Sprintf("row %d", i), i, float64(i) / 4}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch, err := eng.conn.PrepareBatch(ctx, "INSERT INTO batch_t ("+tt.columns+")")
			if err != nil {
				t.Fatalf("prepare batch: %v", err)
			}
			for i := tt.offset; i < tt.offset+n; i++ {
				if err := batch.Append(tt.row(i)...); err != nil {
					t.Fatalf("append row %d: %v", i, err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatalf("send batch: %v", err)
			}
			out, err := eng.selectRows(ctx, fmt.Sprintf("SELECT count() AS n, sum(b) AS s FROM batch_t WHERE b >= %d AND b < %d", tt.offset, tt.offset+n), nil)
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			var sum uint64
			for i := tt.offset; i < tt.offset+n; i++ {
				sum += i
			}
			want := fmt.Sprintf(`{"n":%d,"s":%d}`, n, sum)
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("count and sum = %s, want %s", got, want)
			}
		})
	}

	t.Run("typed values", func(t *testing.T) {
		out, err := eng.selectRows(ctx, "SELECT a, b, c, d, e, f FROM batch_t WHERE b IN (0, 1, 20001) ORDER BY b", nil)
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		want := decodeJSONLines(t, []byte(`{"a":"row 0","b":0,"c":0,"d":"2024-01-02T03:04:05Z","e":"e0","f":["x","0"]}
{"a":"row 1","b":1,"c":0.25,"d":"2024-01-02T03:04:06Z","e":null,"f":["x","1"]}
{"a":"row 20001","b":20001,"c":5000.25,"d":"2000-01-01T00:00:00Z","e":null,"f":[]}
`))
		if got := decodeJSONLines(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("rows:\n got %v\nwant %v\n(raw output %s)", got, want, out)
		}
	})
}

func TestNativeEngineClose(t *testing.T) {
	srv := legacyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng, err := openNative(ctx, srv.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := eng.selectRows(ctx, "SELECT 1 AS v", nil); err == nil {
		t.Error("select after close succeeded, want an error")
	}
	if err := eng.exec(ctx, "SELECT 1", nil); err == nil {
		t.Error("exec after close succeeded, want an error")
	}
}

// testEngine is one engine the engine-level tests run on.
type testEngine struct {
	name string
	// modern is true when the engine runs a current ClickHouse: query
	// parameters, DateTime64 and Map exist.
	modern bool
	// slowQuery runs long enough to be cancelled and stops when it is.
	slowQuery string
	open      func(t *testing.T) engine
}

// testEngines returns the embedded engine, the test binary's 18.16 server,
// and the server of SYNCWATCH_TEST_CLICKHOUSE_DSN when it is set.
func testEngines() []testEngine {
	engines := []testEngine{
		{
			name:   "embedded",
			modern: true,
			// A statement cannot be interrupted inside chDB, so it must be
			// short enough not to hold up the store's close.
			slowQuery: "SELECT sleep(3) AS v",
			open:      func(t *testing.T) engine { return openTestStore(t).eng },
		},
		{
			name:      "server 18.16",
			slowQuery: "SELECT count() AS v FROM numbers(10000000000)",
			open:      func(t *testing.T) engine { return legacyEngine(t) },
		},
	}
	if dsn := os.Getenv("SYNCWATCH_TEST_CLICKHOUSE_DSN"); dsn != "" {
		engines = append(engines, testEngine{
			name:      "server",
			modern:    true,
			slowQuery: "SELECT count() AS v FROM numbers(100000000000)",
			open: func(t *testing.T) engine {
				named := freshServerDatabase(t, dsn, fmt.Sprintf("s%d_%d", os.Getpid(), testDBSeq.Add(1)))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				eng, err := openNative(ctx, named)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = eng.close() })
				return eng
			},
		})
	}
	return engines
}

// TestEnginesSelectTypedValues holds both engines to the same JSONEachRow
// output for the column types the store reads.
func TestEnginesSelectTypedValues(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		want   string // JSONEachRow lines
		modern bool   // the query needs a current ClickHouse
	}{
		{name: "string", query: `SELECT 'a"b\\c/ü<>&' AS v`, want: `{"v":"a\"b\\c/ü<>&"}`},
		{name: "empty string", query: `SELECT '' AS v`, want: `{"v":""}`},
		{name: "uint64 max", query: `SELECT toUInt64('18446744073709551615') AS v`, want: `{"v":18446744073709551615}`},
		{name: "int64 min", query: `SELECT toInt64('-9223372036854775808') AS v`, want: `{"v":-9223372036854775808}`},
		{name: "uint8", query: `SELECT toUInt8(255) AS v`, want: `{"v":255}`},
		{name: "count", query: `SELECT count() AS v FROM numbers(10)`, want: `{"v":10}`},
		{name: "float64", query: `SELECT toFloat64(-1.25) AS v`, want: `{"v":-1.25}`},
		{name: "float32", query: `SELECT toFloat32(0.5) AS v`, want: `{"v":0.5}`},
		{name: "nan", query: `SELECT nan AS v`, want: `{"v":null}`},
		{name: "infinities", query: `SELECT inf AS a, -inf AS b`, want: `{"a":null,"b":null}`},
		{name: "nullable nan", query: `SELECT toNullable(nan) AS v`, want: `{"v":null}`},
		{name: "datetime", query: `SELECT toDateTime('2024-01-02 03:04:05', 'UTC') AS v`, want: `{"v":"2024-01-02T03:04:05Z"}`},
		{name: "datetime in another zone", query: `SELECT toDateTime('2024-01-02 03:04:05', 'Asia/Tokyo') AS v`, want: `{"v":"2024-01-01T18:04:05Z"}`},
		{name: "nullable null", query: `SELECT CAST(NULL AS Nullable(String)) AS v`, want: `{"v":null}`},
		{name: "nullable string", query: `SELECT toNullable('x') AS v`, want: `{"v":"x"}`},
		{name: "nullable uint64", query: `SELECT toNullable(toUInt64(7)) AS v`, want: `{"v":7}`},
		{name: "array of strings", query: `SELECT ['a', 'b''c', ''] AS v`, want: `{"v":["a","b'c",""]}`},
		{name: "empty array", query: `SELECT emptyArrayString() AS v`, want: `{"v":[]}`},
		{name: "array of nullable", query: `SELECT [NULL, 'x'] AS v`, want: `{"v":[null,"x"]}`},
		{name: "array of uint64", query: `SELECT [toUInt64(1), toUInt64(18446744073709551615)] AS v`, want: `{"v":[1,18446744073709551615]}`},
		{name: "several rows", query: `SELECT number AS n, toString(number) AS s FROM numbers(3)`, want: `{"n":0,"s":"0"}
{"n":1,"s":"1"}
{"n":2,"s":"2"}`},
		{name: "no rows", query: `SELECT 1 AS v FROM numbers(3) WHERE number > 5`, want: ``},
		{name: "datetime64", modern: true, query: `SELECT toDateTime64('2024-01-02 03:04:05.120', 3, 'UTC') AS v`, want: `{"v":"2024-01-02T03:04:05.120Z"}`},
		{name: "nullable datetime64 null", modern: true, query: `SELECT CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS v`, want: `{"v":null}`},
		{name: "map", modern: true, query: `SELECT map('k', 'v', 'q"', '') AS v`, want: `{"v":{"k":"v","q\"":""}}`},
		{name: "empty map", modern: true, query: `SELECT CAST(map(), 'Map(LowCardinality(String), String)') AS v`, want: `{"v":{}}`},
		{name: "enum as string", modern: true, query: `SELECT toString(CAST('failed', 'Enum8(\'success\' = 3, \'failed\' = 4)')) AS v`, want: `{"v":"failed"}`},
	}
	for _, te := range testEngines() {
		t.Run(te.name, func(t *testing.T) {
			eng := te.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, tt := range tests {
				if tt.modern && !te.modern {
					continue // the type or function does not exist in 18.16
				}
				t.Run(tt.name, func(t *testing.T) {
					out, err := eng.selectRows(ctx, tt.query, nil)
					if err != nil {
						t.Fatalf("select: %v", err)
					}
					got, want := decodeJSONLines(t, out), decodeJSONLines(t, []byte(tt.want))
					if !reflect.DeepEqual(got, want) {
						t.Errorf("\n got %v\nwant %v\n(raw output %q)", got, want, out)
					}
				})
			}
		})
	}
}

// TestEnginesServerError checks that both engines report a failed statement
// as a *ServerError with ClickHouse's code and message.
func TestEnginesServerError(t *testing.T) {
	tests := []struct {
		name  string
		query string
		code  int32
		want  string // a part of the message
	}{
		{name: "unknown table", query: "SELECT * FROM no_such_table_xyz", code: 60, want: "no_such_table_xyz"},
		{name: "syntax error", query: "SELECT 1 +", code: 62, want: "Syntax error"},
		{name: "unknown function", query: "SELECT no_such_function_xyz(1)", code: 46, want: "no_such_function_xyz"},
		{name: "unknown column", query: "SELECT no_such_column_xyz FROM system.one", code: 47, want: "no_such_column_xyz"},
	}
	for _, te := range testEngines() {
		t.Run(te.name, func(t *testing.T) {
			eng := te.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					for _, how := range []string{"select", "exec"} {
						var err error
						if how == "select" {
							_, err = eng.selectRows(ctx, tt.query, nil)
						} else {
							err = eng.exec(ctx, tt.query, nil)
						}
						var se *ServerError
						if !errors.As(err, &se) {
							t.Fatalf("%s: error %v (%T), want a *ServerError", how, err, err)
						}
						if se.Code != tt.code {
							t.Errorf("%s: code %d, want %d (message %q)", how, se.Code, tt.code, se.Message)
						}
						if !strings.Contains(se.Message, tt.want) {
							t.Errorf("%s: message %q does not contain %q", how, se.Message, tt.want)
						}
						if strings.HasPrefix(se.Message, "Code:") {
							t.Errorf("%s: message %q repeats the code", how, se.Message)
						}
					}
				})
			}
		})
	}
}

// TestEnginesContextCancel checks that a cancelled statement returns
// promptly with the context's error and leaves the engine usable.
func TestEnginesContextCancel(t *testing.T) {
	for _, te := range testEngines() {
		t.Run(te.name, func(t *testing.T) {
			eng := te.open(t)
			tests := []struct {
				name string
				run  func(ctx context.Context) error
			}{
				{name: "select", run: func(ctx context.Context) error {
					_, err := eng.selectRows(ctx, te.slowQuery, nil)
					return err
				}},
				{name: "exec", run: func(ctx context.Context) error {
					return eng.exec(ctx, te.slowQuery, nil)
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					defer cancel()
					start := time.Now()
					err := tt.run(ctx)
					elapsed := time.Since(start)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("error %v (%T), want context.DeadlineExceeded", err, err)
					}
					if elapsed > 2*time.Second {
						t.Errorf("returned after %s, want promptly after the 200ms deadline", elapsed)
					}
					// The engine still answers.
					ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel2()
					out, err := eng.selectRows(ctx2, "SELECT 42 AS v", nil)
					if err != nil || strings.TrimSpace(string(out)) != `{"v":42}` {
						t.Errorf("query after cancel: %q, %v", out, err)
					}
				})
			}
			if te.name == "embedded" {
				return
			}
			// The server stopped the cancelled statements.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for {
				out, err := eng.selectRows(ctx, "SELECT count() AS n FROM system.processes WHERE query LIKE '%numbers(1000000000%' AND query NOT LIKE '%system.processes%'", nil)
				if err != nil {
					t.Fatalf("read system.processes: %v", err)
				}
				if strings.TrimSpace(string(out)) == `{"n":0}` {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("the cancelled statements still run on the server: %s", out)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// paramStrings are values that must reach ClickHouse byte for byte as
// query parameters.
var paramStrings = []struct{ name, value string }{
	{"empty", ""},
	{"plain", "hello"},
	{"single quote", "it's"},
	{"double quote", `say "hi"`},
	{"backquote", "`x`"},
	{"backslash", `a\b`},
	{"trailing backslash", `a\`},
	{"escaped quote", `\'`},
	{"null marker", `\N`},
	{"escape sequences as text", `\t\n\0\\`},
	{"tab newline return", "a\tb\nc\rd\r\n"},
	{"nul", "a\x00b\x00"},
	{"control characters", "\x01\x08\x0c\x1b\x1f\x7f"},
	{"unicode", "héllo wörld — 日本語 🚀 \u2028"},
	{"injection", "'; DROP TABLE x; --"},
	{"injection double quote", `"); DROP TABLE x; --`},
	{"placeholder", "{x:String}"},
	{"array syntax", "['a','b'], ["},
	{"like wildcards", "100% _like_"},
	{"long", strings.Repeat("0123456789'\\", 1000)},
}

// TestEnginesParamRoundTrip checks that string parameters come back
// byte-identical, alone and as array elements. ClickHouse 18.16 has no
// query parameters, so it runs on the modern engines only.
func TestEnginesParamRoundTrip(t *testing.T) {
	for _, te := range testEngines() {
		t.Run(te.name, func(t *testing.T) {
			eng := te.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if !te.modern {
				// 18.16 rejects the placeholders, which is why the round
				// trip cannot run there.
				_, err := eng.selectRows(ctx, "SELECT {p:String} AS v", Params{"p": "x"})
				var se *ServerError
				if !errors.As(err, &se) || se.Code != 62 {
					t.Errorf("18.16 with a query parameter: %v, want a syntax error (code 62)", err)
				}
				return
			}
			for _, tt := range paramStrings {
				t.Run(tt.name, func(t *testing.T) {
					out, err := eng.selectRows(ctx, "SELECT {p:String} AS v, hex({p:String}) AS h, length({p:String}) AS n", Params{"p": tt.value})
					if err != nil {
						t.Fatalf("select: %v", err)
					}
					var row struct {
						V string `json:"v"`
						H string `json:"h"`
						N int    `json:"n"`
					}
					if err := json.Unmarshal(firstLine(out), &row); err != nil {
						t.Fatalf("decode %q: %v", out, err)
					}
					if row.V != tt.value || row.H != strings.ToUpper(hex.EncodeToString([]byte(tt.value))) || row.N != len(tt.value) {
						t.Errorf("got %q (hex %s, %d bytes), want %q", row.V, row.H, row.N, tt.value)
					}

					arr := []string{tt.value, "x", tt.value}
					out, err = eng.selectRows(ctx, "SELECT {a:Array(String)} AS v, arrayMap(s -> hex(s), {a:Array(String)}) AS h", Params{"a": arr})
					if err != nil {
						t.Fatalf("select array: %v", err)
					}
					var arow struct {
						V []string `json:"v"`
						H []string `json:"h"`
					}
					if err := json.Unmarshal(firstLine(out), &arow); err != nil {
						t.Fatalf("decode %q: %v", out, err)
					}
					wantHex := make([]string, len(arr))
					for i, s := range arr {
						wantHex[i] = strings.ToUpper(hex.EncodeToString([]byte(s)))
					}
					if !slices.Equal(arow.V, arr) || !slices.Equal(arow.H, wantHex) {
						t.Errorf("array: got %q (hex %q), want %q", arow.V, arow.H, arr)
					}

					// The value is data, never SQL: it matches only itself.
					out, err = eng.selectRows(ctx, "SELECT count() AS n FROM (SELECT arrayJoin({a:Array(String)}) AS s) WHERE s = {p:String}", Params{"a": arr, "p": tt.value})
					if err != nil {
						t.Fatalf("select where: %v", err)
					}
					if got := strings.TrimSpace(string(out)); got != `{"n":2}` {
						t.Errorf("matching rows = %s, want {\"n\":2}", got)
					}
				})
			}
			t.Run("all values in one array", func(t *testing.T) {
				var all []string
				for _, tt := range paramStrings {
					all = append(all, tt.value)
				}
				for _, arr := range [][]string{all, {}, {""}} {
					out, err := eng.selectRows(ctx, "SELECT {a:Array(String)} AS v, length({a:Array(String)}) AS n", Params{"a": arr})
					if err != nil {
						t.Fatalf("select: %v", err)
					}
					var row struct {
						V []string `json:"v"`
						N int      `json:"n"`
					}
					if err := json.Unmarshal(firstLine(out), &row); err != nil {
						t.Fatalf("decode %q: %v", out, err)
					}
					if !slices.Equal(row.V, arr) || row.N != len(arr) {
						t.Errorf("got %q (%d elements), want %q", row.V, row.N, arr)
					}
				}
			})
		})
	}
}
