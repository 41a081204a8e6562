package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The helper process's instructions, from TestEmbeddedDataDirLock.
const (
	helperEnv        = "SYNCWATCH_TEST_HELPER"
	helperDataDirEnv = "SYNCWATCH_TEST_HELPER_DATADIR"
)

// The helper process's exit codes.
const (
	helperOpenFailed = 3
	helperOpened     = 4
)

// TestHelperProcess is not a test: TestEmbeddedDataDirLock runs the test
// binary again with only this function and helperEnv set, so that a second
// process opens the embedded engine. It does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "open-store" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{
		DataDir:     os.Getenv(helperDataDirEnv),
		LibchdbPath: libchdbPath(t),
		Database:    "helper",
		PoolSize:    1,
	}, testLogger(t))
	code := helperOpened
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: open store: %v\n", err)
		code = helperOpenFailed
	} else {
		_, qerr := s.eng.selectRows(ctx, "SELECT 1 AS v", nil)
		fmt.Fprintf(os.Stderr, "helper: opened the store; query error: %v\n", qerr)
		_ = s.Close()
	}
	// Exit with a code of its own rather than a test result. TestMain's
	// cleanup does not run, so remove the temporary directory it made,
	// never a directory that is kept or that the parent holds.
	if os.Getenv("SYNCWATCH_BENCH_DIR") == "" && testDataDir != os.Getenv(helperDataDirEnv) {
		_ = os.RemoveAll(testDataDir)
	}
	os.Exit(code)
}

// TestEmbeddedDataDirLock checks that a second process cannot open the
// embedded engine's data directory while this process has it open.
func TestEmbeddedDataDirLock(t *testing.T) {
	// This process holds the engine on testDataDir for the whole test.
	s, err := Open(context.Background(), Config{
		DataDir:     testDataDir,
		LibchdbPath: libchdbPath(t),
		Database:    fmt.Sprintf("t%d_%d", os.Getpid(), testDBSeq.Add(1)),
		PoolSize:    1,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		_ = s.eng.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(s.cfg.Database), nil)
		_ = s.Close()
	})
	if err := s.eng.exec(context.Background(), "CREATE TABLE held (a UInt8) ENGINE = MergeTree ORDER BY a", nil); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	// The helper gets a temporary directory of its own from TestMain, not
	// a kept benchmark directory.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SYNCWATCH_BENCH_DIR=") })
	cmd.Env = append(env,
		helperEnv+"=open-store",
		helperDataDirEnv+"="+testDataDir,
		"SYNCWATCH_LIBCHDB="+libchdbPath(t),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	output := stdout.String() + stderr.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("helper process: %v, want it to exit with code %d\n%s", err, helperOpenFailed, output)
	}
	switch exit.ExitCode() {
	case helperOpenFailed:
	case helperOpened:
		t.Fatalf("a second process opened the data directory %s while this one holds it\n%s", testDataDir, output)
	default:
		t.Fatalf("helper process exited with %v, want code %d (open failed)\n%s", err, helperOpenFailed, output)
	}
	for _, want := range []string{
		"embedded clickhouse: cannot open data directory " + embeddedPath(testDataDir),
		"another process (a running `syncwatch serve`?) holds its lock",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("helper output does not contain %q:\n%s", want, output)
		}
	}
	t.Logf("helper output:\n%s", output)

	// The failed attempt left this process's engine and data alone.
	out, err := s.eng.selectRows(context.Background(), "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'held'", nil)
	if err != nil || strings.TrimSpace(string(out)) != `{"n":1}` {
		t.Errorf("after the helper: %q, %v; want the table still there", out, err)
	}
}
