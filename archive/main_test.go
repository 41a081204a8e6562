package archive_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// engineDir is the embedded engine's directory for this test process; each
// test gets a database of its own in it.
var engineDir string

var dbSeq atomic.Int64

func TestMain(m *testing.M) {
	if role := os.Getenv(killEnv); role != "" {
		os.Exit(killHelper(role))
	}
	dir, err := os.MkdirTemp("", "syncwatch-archive-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	engineDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testLogger(t testing.TB) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(testutil.LogWriter{T: t})
	l.SetLevel(logrus.WarnLevel)
	return l
}

// openStore opens a migrated store on a fresh database of the embedded
// engine, with retention handed to the archiver (no TTL) when byArchive.
func openStore(t testing.TB, byArchive bool) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := clickhouse.Open(ctx, clickhouse.Config{
		DataDir:            engineDir,
		LibchdbPath:        testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()),
		Database:           fmt.Sprintf("a%d_%d", os.Getpid(), dbSeq.Add(1)),
		PoolSize:           2,
		RetentionByArchive: byArchive,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// loadMonth stores n runs of month m, each as a processing report and a
// terminal one (so that the tables hold rows that deduplication merges),
// with messages, attributes and counts that differ from run to run.
func loadMonth(t testing.TB, st *clickhouse.Store, m archive.Month, n int) {
	t.Helper()
	statuses := []synclog.Status{synclog.StatusSuccess, synclog.StatusFailed, synclog.StatusPartial}
	types := []string{"products", "prices", "stock", "order"}
	var reps []synclog.Report
	step := (m.End().Sub(m.Start) - 24*time.Hour) / time.Duration(n)
	for i := range n {
		// Spread over the month, ending a day early so that every end
		// stays in it too.
		start := m.Start.Add(time.Duration(i) * step)
		end := start.Add(time.Duration(1+i%90) * time.Second)
		run := fmt.Sprintf("%s-run-%04d", m, i)
		base := synclog.Report{
			RunID: run, Source: []string{"erp", "shopify"}[i%2], SyncType: types[i%len(types)],
			StartedAt: start, RunStartedAt: start,
			Attributes: map[string]string{"host": fmt.Sprintf("w%d", i%3), "trigger": "cron"},
		}
		p := base
		p.EventID, p.Status, p.ReceivedAt = run+"-p", synclog.StatusProcessing, start
		f := base
		f.EventID, f.Status, f.ReceivedAt, f.CompletedAt = run+"-f", statuses[i%3], end, &end
		f.TotalCount, f.SuccessCount, f.FailedCount = uint64(100+i), uint64(100+i-i%5), uint64(i%5)
		f.Message = fmt.Sprintf("run %d: 'quoted' \\ back\tslash, 中文 %d", i, i%7)
		f.Fingerprint = uint64(i % 7)
		reps = append(reps, p, f)
	}
	if err := st.InsertReports(context.Background(), reps); err != nil {
		t.Fatalf("insert: %v", err)
	}
}

// s3Server starts an S3-compatible server (gofakes3, in memory) on
// loopback with bucket, and returns its URL.
func s3Server(t testing.TB, bucket string) string {
	u, _ := s3ServerBackend(t, bucket)
	return u
}

// s3ServerBackend is s3Server that also returns the server's storage, for
// tests that damage objects behind ClickHouse's back.
func s3ServerBackend(t testing.TB, bucket string) (string, gofakes3.Backend) {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return srv.URL, be
}

func mustMonth(t testing.TB, s string) archive.Month {
	t.Helper()
	m, err := archive.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sums returns the Sum of month m in every table.
func sums(t testing.TB, st *clickhouse.Store, m archive.Month) map[string]archive.Sum {
	t.Helper()
	out := map[string]archive.Sum{}
	for _, tb := range archive.Tables {
		s, err := st.MonthSum(context.Background(), tb.Name, m)
		if err != nil {
			t.Fatalf("sum of %s: %v", tb.Name, err)
		}
		out[tb.Name] = s
	}
	return out
}

func dirFiles(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	return names
}
