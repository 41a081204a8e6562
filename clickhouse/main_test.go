package clickhouse

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// testDataDir is the embedded engine's directory for this test process: the
// engine keeps one storage path per process, and each test gets its own
// database inside it.
var testDataDir string

var testDBSeq atomic.Int64

func TestMain(m *testing.M) {
	// SYNCWATCH_BENCH_DIR keeps the engine's data, so that the large
	// benchmark dataset is loaded once and reused by later runs.
	dir, keep := os.Getenv("SYNCWATCH_BENCH_DIR"), true
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "syncwatch-chtest-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		keep = false
	}
	testDataDir = dir
	code := m.Run()
	stopTestServer()
	if !keep {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func testLogger(t testing.TB) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(testutil.LogWriter{T: t})
	l.SetLevel(logrus.WarnLevel)
	return l
}

// libchdbPath returns the libchdb the tests run on; it fails the test when
// the library is missing (make test fetches it).
func libchdbPath(t testing.TB) string { return testutil.Libchdb(t, DefaultLibchdbPath()) }

// newTestStore opens a migrated store on a fresh database of the embedded
// engine, or on the server named by SYNCWATCH_TEST_CLICKHOUSE_DSN.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{
		DataDir:     testDataDir,
		LibchdbPath: "",
		Database:    fmt.Sprintf("t%d_%d", os.Getpid(), testDBSeq.Add(1)),
		PoolSize:    2,
	}
	if dsn := os.Getenv("SYNCWATCH_TEST_CLICKHOUSE_DSN"); dsn != "" {
		cfg.DSN = freshServerDatabase(t, dsn, cfg.Database)
	} else {
		cfg.LibchdbPath = libchdbPath(t)
	}
	s, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		_ = s.eng.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(cfg.Database), nil)
		s.Close()
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
