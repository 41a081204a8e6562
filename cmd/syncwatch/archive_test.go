package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// runCLI runs a command line in this process and returns its exit code
// and output.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runIO(args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestArchiveCommandBadInput checks that a bad command line is refused
// with a message naming what is wrong, before ClickHouse is opened (the
// data directory is not even created).
func TestArchiveCommandBadInput(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "never")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"month 13", []string{"export", "2026-13"}, `month "2026-13": want YYYY-MM with a month 01..12`},
		{"month as a day", []string{"restore", "2026-01-05"}, `month "2026-01-05": want YYYY-MM`},
		{"no month", []string{"verify"}, "archive verify: want one month"},
		{"two months", []string{"drop", "2026-01", "2026-02"}, "archive drop: want one month"},
		{"unknown action", []string{"purge", "2026-01"}, `unknown action "purge"`},
		{"no action", nil, "missing action"},
		{"no target", []string{"list", "--archive-dir", ""}, "set --archive-dir or --archive-s3-url"},
		{"both targets", []string{"list", "--archive-s3-url", "http://127.0.0.1:1/b"}, "not both"},
		{"bad s3 url", []string{"list", "--archive-dir", "", "--archive-s3-url", "s3://bucket/x"}, "--archive-s3-url \"s3://bucket/x\": want a path-style"},
		{"missing credentials file", []string{"list", "--archive-dir", "", "--archive-s3-url", "http://127.0.0.1:1/b", "--archive-s3-credentials-file", "/nonexistent/creds"}, "--archive-s3-credentials-file read credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"archive", "--data-dir", dataDir, "--archive-dir", t.TempDir()}, c.args...)
			code, _, stderr := runCLI(args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("a refused command line touched the data directory: %v", err)
	}
}

// TestArchiveCommand exports, drops, lists and restores a month with the
// command, on the embedded engine, and checks that damage to the archive
// stops a restore with an error naming the file.
func TestArchiveCommand(t *testing.T) {
	dir := metricsTestDir(t)
	archiveDir := t.TempDir()
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: libchdb(t), PoolSize: 2, RetentionByArchive: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 6, 10, 8, 0, 0, 0, time.UTC)
	var reps []synclog.Report
	for i := range 30 {
		s := start.Add(time.Duration(i) * time.Hour)
		e := s.Add(time.Minute)
		reps = append(reps, synclog.Report{
			RunID: fmt.Sprintf("r%d", i), EventID: fmt.Sprintf("e%d", i), Source: "erp", SyncType: "stock",
			Status: synclog.StatusSuccess, StartedAt: s, RunStartedAt: s, CompletedAt: &e, ReceivedAt: e,
		})
	}
	if err := st.InsertReports(ctx, reps); err != nil {
		t.Fatal(err)
	}
	st.Close()

	common := []string{"--data-dir", dir, "--libchdb", libchdb(t), "--archive-dir", archiveDir, "--archive", "--log-level", "warn"}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(append(append([]string{"archive"}, args...), common...)...)
		if code != wantCode {
			t.Fatalf("archive %v: exit %d, want %d\n%s%s", args, code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	if out := run(0, "export", "2026-06"); !strings.Contains(out, "archived 2026-06: reports 30 rows, runs 30 rows") {
		t.Errorf("export: %s", out)
	}
	if out := run(1, "export", "2026-05"); !strings.Contains(out, "no row of the month") {
		t.Errorf("export of an empty month: %s", out)
	}
	run(0, "drop", "2026-06")
	var list []archive.MonthStatus
	if err := json.Unmarshal([]byte(run(0, "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].Archived || list[0].InTables["runs"] != 0 || list[0].ArchivedRows["runs"] != 30 {
		t.Errorf("list after the drop: %+v", list)
	}
	if out := run(1, "restore", "2026-05"); !strings.Contains(out, "no manifest") {
		t.Errorf("restore without an archive: %s", out)
	}
	runsFile := filepath.Join(archiveDir, "2026-06", "runs.parquet")
	good, err := os.ReadFile(runsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runsFile, good[:len(good)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(1, "restore", "2026-06"); !strings.Contains(out, "archive of 2026-06 is damaged") || !strings.Contains(out, "runs.parquet") {
		t.Errorf("restore of a damaged archive: %s", out)
	}
	if err := os.WriteFile(runsFile, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(0, "restore", "2026-06"); !strings.Contains(out, "restored 2026-06 into reports, runs") {
		t.Errorf("restore: %s", out)
	}
	if out := run(0, "restore", "2026-06"); !strings.Contains(out, "already held it") {
		t.Errorf("second restore: %s", out)
	}
	if out := run(0, "verify", "2026-06"); !strings.Contains(out, "verified 2026-06") {
		t.Errorf("verify: %s", out)
	}
}

// TestServeArchive runs serve with the automatic archive over a data
// directory holding a month past the retention and checks that serve
// archives and drops it, says so in /api/v1/health and /metrics, and still
// lists its runs with archive=YYYY-MM.
func TestServeArchive(t *testing.T) {
	dir := metricsTestDir(t)
	archiveDir := t.TempDir()
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: libchdb(t), PoolSize: 2, RetentionByArchive: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 6, 10, 8, 0, 0, 0, time.UTC)
	var reps []synclog.Report
	for i := range 12 {
		s := start.Add(time.Duration(i) * time.Hour)
		e := s.Add(time.Minute)
		reps = append(reps, synclog.Report{
			RunID: fmt.Sprintf("r%02d", i), EventID: fmt.Sprintf("e%d", i), Source: "erp", SyncType: "stock",
			Status: synclog.StatusFailed, StartedAt: s, RunStartedAt: s, CompletedAt: &e, ReceivedAt: e, Message: "supplier timeout",
		})
	}
	if err := st.InsertReports(ctx, reps); err != nil {
		t.Fatal(err)
	}
	st.Close()

	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	startCommand(t, runServe, []string{
		"--listen", addr, "--data-dir", dir, "--libchdb", libchdb(t), "--log-level", "warn",
		"--archive", "--archive-dir", archiveDir, "--archive-interval", "1s", "--archive-keep-restored", "1s",
	}, base+"/healthz")

	var health struct {
		Components map[string]struct {
			Status string         `json:"status"`
			Detail map[string]any `json:"detail"`
		} `json:"components"`
	}
	testutil.WaitFor(t, time.Minute, "serve to archive 2026-06", func() bool {
		resp, err := http.Get(base + "/api/v1/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
			return false
		}
		c := health.Components["archive"]
		d, _ := c.Detail["dropped"].([]any)
		return c.Status == "ok" && len(d) == 1 && d[0] == "2026-06"
	})
	if _, err := os.Stat(filepath.Join(archiveDir, "2026-06", archive.ManifestName)); err != nil {
		t.Errorf("no manifest: %v", err)
	}
	body := fetchMetrics(t, base+"/metrics")
	for _, want := range []string{
		"syncwatch_archive_dropped_months_total 1",
		"syncwatch_archive_exported_months_total 1",
		"syncwatch_archive_overdue_months 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	mf := familiesOf(t, body)["syncwatch_archive_last_archived_month_timestamp_seconds"]
	if got, want := mf.GetMetric()[0].GetGauge().GetValue(), float64(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix()); got != want {
		t.Errorf("last archived month %v, want %v", got, want)
	}
	resp, err := http.Get(base + "/api/v1/runs?archive=2026-06&limit=5&since=2026-06-10T10:00:00Z&until=2026-06-10T13:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Runs []struct {
			RunID string `json:"run_id"`
		} `json:"runs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("archived runs: %s %v", resp.Status, err)
	}
	var ids []string
	for _, r := range page.Runs {
		ids = append(ids, r.RunID)
	}
	if strings.Join(ids, ",") != "r04,r03,r02" {
		t.Errorf("archived runs: %v", ids)
	}
}

// TestServeArchiveFailing runs serve with a bucket that does not answer:
// the archive component of /api/v1/health fails with the error (and never
// the secret), /readyz stays ready, the pass is counted as failed, and the
// month is still whole in the tables afterwards.
func TestServeArchiveFailing(t *testing.T) {
	dir := metricsTestDir(t)
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: libchdb(t), PoolSize: 2, RetentionByArchive: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := time.Date(2026, 5, 3, 8, 0, 0, 0, time.UTC)
	e := s.Add(time.Minute)
	if err := st.InsertReports(ctx, []synclog.Report{{RunID: "r1", EventID: "e1", Source: "erp", SyncType: "stock",
		Status: synclog.StatusSuccess, StartedAt: s, RunStartedAt: s, CompletedAt: &e, ReceivedAt: e}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	creds := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(creds, []byte("AKIDEXAMPLE\nvery-secret-archive-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := testutil.FreeAddr(t) // nothing listens there
	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	func() {
		stop, logs := startCommandStoppable(t, runServe, []string{
			"--listen", addr, "--data-dir", dir, "--libchdb", libchdb(t), "--log-level", "info",
			"--archive", "--archive-s3-url", "http://" + dead + "/bucket/sw", "--archive-s3-credentials-file", creds,
			"--archive-interval", "1s", "--archive-keep-restored", "1s",
		}, base+"/healthz")
		defer stop()
		var errText string
		testutil.WaitFor(t, time.Minute, "the archive component to fail", func() bool {
			resp, err := http.Get(base + "/api/v1/health")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var h struct {
				Components map[string]struct {
					Status string `json:"status"`
					Error  string `json:"error"`
				} `json:"components"`
			}
			if json.NewDecoder(resp.Body).Decode(&h) != nil {
				return false
			}
			errText = h.Components["archive"].Error
			return h.Components["archive"].Status == "failing"
		})
		if !strings.Contains(errText, "2026-05") || strings.Contains(errText, "very-secret-archive-key") {
			t.Errorf("archive error %q: want the month, never the secret", errText)
		}
		if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
			t.Errorf("/readyz with a failing archive: %v %v", resp, err)
		}
		body := fetchMetrics(t, base+"/metrics")
		for _, want := range []string{"syncwatch_archive_last_pass_success 0", "syncwatch_archive_overdue_months 1", "syncwatch_archive_dropped_months_total 0"} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		stop()
		if strings.Contains(logs.String(), "very-secret-archive-key") {
			t.Error("the log shows the secret")
		}
	}()
	st, err = clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: libchdb(t), PoolSize: 1, RetentionByArchive: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, _ := archive.ParseMonth("2026-05")
	if sum, err := st.MonthSum(ctx, "runs", m); err != nil || sum.Rows != 1 {
		t.Errorf("the month after failed passes: %+v %v", sum, err)
	}
}

// startCommandStoppable runs a command in this process like startCommand,
// and returns a function that stops it and waits for it (once; later calls
// do nothing), so that a test can reopen its data directory.
func startCommandStoppable(t *testing.T, runCmd func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error, args []string, url string) (func(), *testutil.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testutil.Buffer{}
	done := make(chan error, 1)
	go func() { done <- runCmd(ctx, args, func(string) string { return "" }, logs) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("command: %v\n%s", err, logs)
				}
			case <-time.After(time.Minute):
				t.Errorf("command did not stop within a minute\n%s", logs)
			}
		})
	}
	t.Cleanup(stop)
	testutil.WaitFor(t, 2*time.Minute, "the command to answer "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return stop, logs
}
