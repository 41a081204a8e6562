package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/chsource"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The embedded engine keeps one data directory open per process: the tests
// of this file open their stores one after the other, never in parallel.

// metricsTestDir returns a fresh directory removed when the test ends; the
// embedded engine may still write to it while it shuts down, so removal
// errors are ignored.
func metricsTestDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "syncwatch-cmdtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// openMetricsTestStore opens and migrates an embedded store in dir.
func openMetricsTestStore(t testing.TB, dir string) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: libchdb(t), PoolSize: 2}, quietLogger())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		t.Fatalf("migrate: %v", err)
	}
	return st
}

func insertDataset(t testing.TB, st *clickhouse.Store, batches [][]synclog.Report) {
	t.Helper()
	for i, b := range batches {
		if err := st.InsertReports(context.Background(), b); err != nil {
			t.Fatalf("insert batch %d: %v", i, err)
		}
	}
}

// defaultExporterOptions are the exporter settings with no flag given.
func defaultExporterOptions(t testing.TB) exporterOptions {
	t.Helper()
	s := config.New("test", "", os.Stderr)
	var o exporterOptions
	o.register(s)
	if err := s.Parse(nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return o
}

// storeExporter builds the exporter over st as serve does, with a fixed
// clock, on a new registry.
func storeExporter(t testing.TB, st *clickhouse.Store, now time.Time, src exporter.Source) (*prometheus.Registry, *exporter.Collector) {
	t.Helper()
	o := defaultExporterOptions(t)
	cfg, err := o.config(synclog.MustSyncTypes(synclog.DefaultSyncTypes), exporter.NewSourceLimiter(o.maxSources), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return now }
	if src == nil {
		src = chsource.New(st)
	}
	reg := prometheus.NewPedanticRegistry()
	c, err := exporter.New(src, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return reg, c
}

// seriesKey renders a series as name{label="value",...}, labels sorted,
// with extra labels given as name, value pairs.
func seriesKey(name string, m *dto.Metric, extra ...string) string {
	ls := make([]string, 0, len(m.GetLabel())+len(extra)/2)
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ls = append(ls, fmt.Sprintf("%s=%q", extra[i], extra[i+1]))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

// gaugeValues returns the gauges and summaries (by quantile, and _count
// and _sum) of reg whose names start with prefix.
func gaugeValues(t testing.TB, reg prometheus.Gatherer, prefix string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), prefix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				out[seriesKey(mf.GetName(), m)] = m.GetGauge().GetValue()
			case dto.MetricType_SUMMARY:
				for _, q := range m.GetSummary().GetQuantile() {
					out[seriesKey(mf.GetName(), m, "quantile", fmt.Sprint(q.GetQuantile()))] = q.GetValue()
				}
				out[seriesKey(mf.GetName()+"_count", m)] = float64(m.GetSummary().GetSampleCount())
				out[seriesKey(mf.GetName()+"_sum", m)] = m.GetSummary().GetSampleSum()
			}
		}
	}
	return out
}

// TestExporterOverStore compares every value the exporter publishes over
// the embedded engine with the exporter over the Go model of the same
// dataset (lifecycle updates, stale and repeated deliveries): series sets
// equal, counts and times exact, durations within 1%.
func TestExporterOverStore(t *testing.T) {
	st := openMetricsTestStore(t, metricsTestDir(t))
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := exportertest.Generate(exportertest.Options{Seed: 7, Runs: 2000, Now: now, Span: 36 * time.Hour})
	insertDataset(t, st, ds.Batches)

	realReg, _ := storeExporter(t, st, now, nil)
	modelReg, _ := storeExporter(t, st, now, exportertest.Model{DS: ds})
	for _, prefix := range []string{"syncwatch_window_", "syncwatch_last_", "syncwatch_runs_in_progress", "syncwatch_oldest_", "syncwatch_consecutive_failures"} {
		got, want := gaugeValues(t, realReg, prefix), gaugeValues(t, modelReg, prefix)
		if len(want) == 0 {
			t.Errorf("%s: the model publishes nothing; the test proves nothing", prefix)
		}
		for k, w := range want {
			g, ok := got[k]
			tol := 1e-9 * max(1, math.Abs(w))
			if strings.Contains(k, "duration") {
				tol = max(0.001, 0.01*math.Abs(w))
			}
			switch {
			case !ok:
				t.Errorf("missing %s (want %v)", k, w)
			case math.Abs(g-w) > tol:
				t.Errorf("%s = %v, want %v", k, g, w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %v", k, g)
			}
		}
	}
	for _, scraper := range []string{"type_states", "window_stats"} {
		series := `syncwatch_exporter_scrape_success{scraper="` + scraper + `"}`
		if v := gaugeValues(t, realReg, "syncwatch_exporter_scrape_success")[series]; v != 1 {
			t.Errorf("%s = %v, want 1", series, v)
		}
	}
}

// TestExporterLifecycleOverStore checks, with testutil, figures computed
// by hand over reports stored in the embedded engine: a run moving from
// processing to success, a report delivered three times, a stale report
// after the terminal one, a failure streak, runs in progress.
func TestExporterLifecycleOverStore(t *testing.T) {
	st := openMetricsTestStore(t, metricsTestDir(t))
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	at := func(min float64) time.Time { return now.Add(time.Duration(min * float64(time.Minute))) }
	rep := func(run, event string, status synclog.Status, start time.Time, secs float64, total, succ uint64) synclog.Report {
		r := synclog.Report{
			RunID: run, EventID: event, Source: "haier", SyncType: "order", Status: status,
			StartedAt: start, RunStartedAt: start, ReceivedAt: start,
		}
		if status.Terminal() {
			c := start.Add(time.Duration(secs * float64(time.Second)))
			r.CompletedAt, r.ReceivedAt = &c, c
			r.TotalCount, r.SuccessCount, r.FailedCount = total, succ, total-succ
		}
		return r
	}
	stale := rep("a", "a3", synclog.StatusProcessing, at(-50), 0, 0, 0)
	stale.ReceivedAt = at(-1)
	insertDataset(t, st, [][]synclog.Report{
		{rep("a", "a1", synclog.StatusProcessing, at(-50), 0, 0, 0), rep("b", "b1", synclog.StatusSuccess, at(-40), 30, 8, 8)},
		{rep("a", "a2", synclog.StatusSuccess, at(-50), 90, 2, 2), rep("b", "b1", synclog.StatusSuccess, at(-40), 30, 8, 8)},
		{rep("b", "b1", synclog.StatusSuccess, at(-40), 30, 8, 8), stale, rep("c", "c1", synclog.StatusPartial, at(-30), 60, 10, 5)},
		{rep("d", "d1", synclog.StatusFailed, at(-20), 120, 10, 0), rep("e", "e1", synclog.StatusFailed, at(-10), 240, 0, 0)},
		{rep("f", "f1", synclog.StatusProcessing, at(-5), 0, 0, 0), rep("g", "g1", synclog.StatusPending, at(-2), 0, 0, 0)},
		// Two days ago: outside both windows, still the first run.
		{rep("h", "h1", synclog.StatusSuccess, at(-48*60), 1, 1, 1)},
	})
	reg, _ := storeExporter(t, st, now, nil)
	// Terminal runs in both windows: a success 90s, b success 30s, c
	// partial 60s, d failed 120s, e failed 240s. Records: 30 in all, 15
	// successful.
	windowRuns := ""
	for _, w := range []string{"1h", "24h"} {
		for _, s := range []struct {
			status string
			n      int
		}{{"failed", 2}, {"partial", 1}, {"pending", 1}, {"processing", 1}, {"success", 2}} {
			windowRuns += fmt.Sprintf("syncwatch_window_runs{source=\"haier\",status=%q,sync_type=\"order\",window=%q} %d\n", s.status, w, s.n)
		}
	}
	secs := func(tm time.Time) string { return fmt.Sprint(float64(tm.UnixMilli()) / 1000) }
	want := fmt.Sprintf(`
# HELP syncwatch_window_runs Runs of the window, by source, sync type and latest status: terminal runs that finished in it, runs in progress that started in it.
# TYPE syncwatch_window_runs gauge
%s# HELP syncwatch_window_success_ratio Successful runs over terminal runs (success, failed, partial) finished in the window; absent without a terminal run.
# TYPE syncwatch_window_success_ratio gauge
syncwatch_window_success_ratio{source="haier",sync_type="order",window="1h"} 0.4
syncwatch_window_success_ratio{source="haier",sync_type="order",window="24h"} 0.4
# HELP syncwatch_window_record_success_ratio Sum of success_count over sum of total_count of the terminal runs finished in the window; absent without records.
# TYPE syncwatch_window_record_success_ratio gauge
syncwatch_window_record_success_ratio{source="haier",sync_type="order",window="1h"} 0.5
syncwatch_window_record_success_ratio{source="haier",sync_type="order",window="24h"} 0.5
# HELP syncwatch_window_errors_per_hour Failed or partial runs finished in the window, per hour of the window.
# TYPE syncwatch_window_errors_per_hour gauge
syncwatch_window_errors_per_hour{source="haier",sync_type="order",window="1h"} 3
syncwatch_window_errors_per_hour{source="haier",sync_type="order",window="24h"} 0.125
# HELP syncwatch_window_duration_avg_seconds Average duration of the terminal runs finished in the window; absent without one.
# TYPE syncwatch_window_duration_avg_seconds gauge
syncwatch_window_duration_avg_seconds{source="haier",sync_type="order",window="1h"} 108
syncwatch_window_duration_avg_seconds{source="haier",sync_type="order",window="24h"} 108
# HELP syncwatch_last_run_timestamp_seconds Start of the latest run, whatever its status (Unix time).
# TYPE syncwatch_last_run_timestamp_seconds gauge
syncwatch_last_run_timestamp_seconds{source="haier",sync_type="order"} %[2]s
# HELP syncwatch_last_success_timestamp_seconds When the latest successful run completed (Unix time); absent when none is stored.
# TYPE syncwatch_last_success_timestamp_seconds gauge
syncwatch_last_success_timestamp_seconds{source="haier",sync_type="order"} %[3]s
# HELP syncwatch_runs_in_progress Runs whose latest status is pending or processing, among those started in the lookback (default 7 days).
# TYPE syncwatch_runs_in_progress gauge
syncwatch_runs_in_progress{source="haier",sync_type="order"} 2
# HELP syncwatch_oldest_in_progress_start_timestamp_seconds Start of the oldest run in progress (Unix time); absent when none.
# TYPE syncwatch_oldest_in_progress_start_timestamp_seconds gauge
syncwatch_oldest_in_progress_start_timestamp_seconds{source="haier",sync_type="order"} %[4]s
# HELP syncwatch_consecutive_failures Most recent terminal runs, by start time, that failed, back to the last success or partial run (within the lookback); 0 when the latest terminal run did not fail.
# TYPE syncwatch_consecutive_failures gauge
syncwatch_consecutive_failures{source="haier",sync_type="order"} 2
`, windowRuns, secs(at(-2)), secs(at(-40).Add(30*time.Second)), secs(at(-5)))
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want),
		"syncwatch_window_runs", "syncwatch_window_success_ratio", "syncwatch_window_record_success_ratio",
		"syncwatch_window_errors_per_hour", "syncwatch_window_duration_avg_seconds",
		"syncwatch_last_run_timestamp_seconds", "syncwatch_last_success_timestamp_seconds", "syncwatch_runs_in_progress",
		"syncwatch_oldest_in_progress_start_timestamp_seconds", "syncwatch_consecutive_failures",
	); err != nil {
		t.Error(err)
	}
	// Quantiles of [30 60 90 120 240] with linear interpolation.
	values := gaugeValues(t, reg, "syncwatch_window_duration_seconds")
	for _, w := range []string{"1h", "24h"} {
		for q, want := range map[string]float64{"0.5": 90, "0.95": 216, "0.99": 235.2} {
			k := fmt.Sprintf("syncwatch_window_duration_seconds{quantile=%q,source=\"haier\",sync_type=\"order\",window=%q}", q, w)
			if got, ok := values[k]; !ok || math.Abs(got-want) > 1e-6 {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
			}
		}
		for suffix, want := range map[string]float64{"_count": 5, "_sum": 540} {
			k := fmt.Sprintf("syncwatch_window_duration_seconds%s{source=\"haier\",sync_type=\"order\",window=%q}", suffix, w)
			if got, ok := values[k]; !ok || math.Abs(got-want) > 1e-6 {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
			}
		}
	}
	if len(values) != 10 {
		t.Errorf("%d duration series, want 10: %v", len(values), values)
	}
}

// startCommand runs a syncwatch command in this process until the test
// ends and waits until url answers 200.
func startCommand(t *testing.T, runCmd func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error, args []string, url string) *testutil.Buffer {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testutil.Buffer{}
	done := make(chan error, 1)
	go func() { done <- runCmd(ctx, args, func(string) string { return "" }, logs) }()
	t.Cleanup(func() {
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
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("command ended: %v\n%s", err, logs)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer: %v\n%s", url, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetchMetrics scrapes url as Prometheus does, in the classic text format.
func fetchMetrics(t testing.TB, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set(exporter.ScrapeTimeoutHeader, "10")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}

// TestExportCommand runs `syncwatch export` on a database with runs and
// checks that it serves the ClickHouse-backed metrics, and only them with
// the Go, process and build metrics.
func TestExportCommand(t *testing.T) {
	dir := metricsTestDir(t)
	st := openMetricsTestStore(t, dir)
	now := time.Now().UTC()
	ds := exportertest.Generate(exportertest.Options{Seed: 3, Runs: 200, Now: now, Span: 12 * time.Hour})
	insertDataset(t, st, ds.Batches)
	st.Close()

	addr := testutil.FreeAddr(t)
	startCommand(t, runExport, []string{
		"--listen", addr, "--data-dir", dir, "--libchdb", libchdb(t), "--log-level", "warn",
		"--expected-intervals", "manual=2h", "--exporter-windows", "30m,6h",
	}, "http://"+addr+"/healthz")
	body := fetchMetrics(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		"\n" + `syncwatch_exporter_scrape_success{scraper="type_states"} 1` + "\n",
		"\n" + `syncwatch_exporter_scrape_success{scraper="window_stats"} 1` + "\n",
		`syncwatch_window_runs{source="erp",status="success",sync_type="products",window="6h"}`,
		`syncwatch_window_success_ratio{source="erp",sync_type="products",window="30m"}`,
		`syncwatch_consecutive_failures{source="erp",sync_type="products"} 3`,
		`syncwatch_expected_interval_seconds{sync_type="manual"} 7200`,
		"syncwatch_build_info{",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("export serves no %q", want)
		}
	}
	for _, unwanted := range []string{"syncwatch_runs_total", "syncwatch_http_requests_total", `window="1h"`} {
		if strings.Contains(body, unwanted) {
			t.Errorf("export serves %q", unwanted)
		}
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %s", resp.Status)
	}
}

func TestExportCommandFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--expected-intervals", "bogus=1h"},
		{"--max-runtimes", "order=soon"},
		{"--max-sources", "0"},
		{"--exporter-windows", "1h,whenever"},
	} {
		o := defaultExporterOptions(t)
		s := config.New("test", "", os.Stderr)
		o.register(s)
		if err := s.Parse(args, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if _, err := o.config(synclog.MustSyncTypes(synclog.DefaultSyncTypes), nil, quietLogger()); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	// The environment and the YAML file set the maps too.
	o := exporterOptions{}
	s := config.New("test", "", os.Stderr)
	o.register(s)
	env := map[string]string{"SYNCWATCH_EXPECTED_INTERVALS": "products=3h,manual=30m"}
	if err := s.Parse(nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(synclog.MustSyncTypes(synclog.DefaultSyncTypes), nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ExpectedIntervals["products"] != 3*time.Hour || cfg.ExpectedIntervals["manual"] != 30*time.Minute || cfg.ExpectedIntervals["order"] != 5*time.Minute {
		t.Errorf("expected intervals = %v", cfg.ExpectedIntervals)
	}
}
