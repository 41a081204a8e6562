// Package testutil is the support the test suites share: where libchdb and
// the external tools are, a buffer a process and a test use at once, the
// syncwatch binary, free loopback addresses and a logger writing to the test
// log.
//
// It imports nothing of the project, so that every package's own tests,
// clickhouse's among them, can use it without an import cycle.
package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// LibchdbEnv names the variable that points the tests at libchdb.so; make
// test sets it from scripts/fetch-libchdb.sh.
const LibchdbEnv = "SYNCWATCH_LIBCHDB"

// SyncwatchPackage is the import path of the syncwatch command.
const SyncwatchPackage = "github.com/syncwatch/syncwatch/cmd/syncwatch"

// Libchdb returns the libchdb.so the tests run the embedded engine on:
// $SYNCWATCH_LIBCHDB, else fallback (the caller passes
// clickhouse.DefaultLibchdbPath(), which this package cannot import). A
// missing library fails the test; it never skips.
func Libchdb(t testing.TB, fallback string) string {
	t.Helper()
	p := os.Getenv(LibchdbEnv)
	if p == "" {
		p = fallback
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("libchdb is missing at %s: run scripts/fetch-libchdb.sh (make test does) or set %s: %v", p, LibchdbEnv, err)
	}
	return p
}

// Tool returns the path of the first of names found in $PATH, /usr/bin or
// /usr/sbin. A missing tool fails the test, never skips it: CI (CI=true)
// and a laptop alike must install it (scripts/install-deps.sh does).
func Tool(t testing.TB, names ...string) string {
	t.Helper()
	p, err := LookTool(names...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// LookTool is Tool for code without a test at hand, such as TestMain: the
// path of the first of names found, or an error saying how to install it.
func LookTool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s is not installed (looked in $PATH, /usr/bin and /usr/sbin): run scripts/install-deps.sh (make test does)", strings.Join(names, " or "))
}

// BuildSyncwatch builds cmd/syncwatch with -trimpath into dir and returns
// the binary's path. env is added to the go command's environment (for
// instance CGO_ENABLED=0). go test puts its own go first in $PATH, so the
// go that builds is the one that tests.
func BuildSyncwatch(t testing.TB, dir string, env ...string) string {
	t.Helper()
	bin, err := buildSyncwatch(dir, env...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildOnce builds the syncwatch binary on the first call of Path and
// hands every later call the same binary, for the tests of one package that
// share it.
type BuildOnce struct {
	// Dir is where the binary goes; it outlives the tests, so TestMain
	// usually makes and removes it.
	Dir string
	// Env is added to the go command's environment.
	Env []string

	once sync.Once
	bin  string
	err  error
}

// Path returns the binary, building it on first use; a failed build fails
// every test that asks.
func (b *BuildOnce) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() { b.bin, b.err = buildSyncwatch(b.Dir, b.Env...) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

func buildSyncwatch(dir string, env ...string) (string, error) {
	goTool, err := LookTool("go")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "syncwatch")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", bin, SyncwatchPackage)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", SyncwatchPackage, err, out)
	}
	return bin, nil
}

// Buffer is a bytes.Buffer safe for concurrent use: a process or a logger
// writes it while the test reads it. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// LogWriter writes each write as one line of the test's log, for a logger
// whose output belongs beside the test's own.
type LogWriter struct{ T testing.TB }

// Write logs p.
func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
