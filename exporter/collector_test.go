package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/synclog"
)

// clock is a settable clock for the collector.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// mins is testNow plus m minutes.
func mins(m float64) time.Time { return testNow.Add(time.Duration(m * float64(time.Minute))) }

// run builds a run of the hand-made datasets: one report, terminal with
// the given duration in seconds, or in progress when status is not
// terminal.
func run(id, source, syncType string, start time.Time, status synclog.Status, secs float64, total, succ uint64) *exportertest.Run {
	rep := synclog.Report{
		RunID: id, EventID: id, Source: source, SyncType: syncType, Status: status,
		StartedAt: start, RunStartedAt: start, ReceivedAt: start,
	}
	if status.Terminal() {
		c := start.Add(time.Duration(secs * float64(time.Second)))
		rep.CompletedAt = &c
		rep.TotalCount, rep.SuccessCount, rep.FailedCount = total, succ, total-succ
	}
	return &exportertest.Run{ID: id, Source: source, SyncType: syncType, Start: start, Reports: []synclog.Report{rep}}
}

// handDataset has figures small enough to compute by hand.
func handDataset() *exportertest.Dataset {
	return &exportertest.Dataset{Now: testNow, Runs: []*exportertest.Run{
		run("r1", "haier", "stock", mins(-30), synclog.StatusSuccess, 60, 10, 10),
		run("r2", "haier", "stock", mins(-20), synclog.StatusFailed, 120, 10, 0),
		run("r3", "haier", "stock", mins(-10), synclog.StatusFailed, 30, 0, 0),
		run("r4", "haier", "stock", mins(-5), synclog.StatusProcessing, 0, 0, 0),
		run("r5", "haier", "stock", mins(-120), synclog.StatusPartial, 90, 20, 15),
		run("r6", "acme", "order", mins(-180), synclog.StatusSuccess, 2, 0, 0),
		// prices is not configured in these tests: never published.
		run("r7", "haier", "prices", mins(-1), synclog.StatusFailed, 1, 0, 0),
	}}
}

var testTypes = []string{"stock", "order", "manual"}

// scrapeSuccess is the text of syncwatch_exporter_scrape_success at v for
// every scraper, whole lines (the family's HELP text starts with "1 when").
func scrapeSuccess(v int) string {
	return fmt.Sprintf("\nsyncwatch_exporter_scrape_success{scraper=\"type_states\"} %[1]d\nsyncwatch_exporter_scrape_success{scraper=\"window_stats\"} %[1]d\n", v)
}

// countingSource wraps a Source, counts its calls, and can delay or fail
// them.
type countingSource struct {
	src           exporter.Source
	windowCalls   atomic.Int64
	stateCalls    atomic.Int64
	mu            sync.Mutex
	delay         time.Duration
	block         chan struct{} // when set, calls wait for it to close
	err           error
	inFlight, max atomic.Int64
}

func (s *countingSource) settings() (time.Duration, chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delay, s.block, s.err
}

func (s *countingSource) set(delay time.Duration, block chan struct{}, err error) {
	s.mu.Lock()
	s.delay, s.block, s.err = delay, block, err
	s.mu.Unlock()
}

func (s *countingSource) wait(ctx context.Context) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.max.Load()
		if n <= m || s.max.CompareAndSwap(m, n) {
			break
		}
	}
	delay, block, err := s.settings()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *countingSource) WindowStats(ctx context.Context, q exporter.WindowQuery) ([]exporter.WindowStat, error) {
	s.windowCalls.Add(1)
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.src.WindowStats(ctx, q)
}

func (s *countingSource) TypeStates(ctx context.Context, since time.Time) ([]exporter.TypeState, error) {
	s.stateCalls.Add(1)
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.src.TypeStates(ctx, since)
}

type fixture struct {
	clock *clock
	src   *countingSource
	reg   *prometheus.Registry
	c     *exporter.Collector
	in    *exporter.Ingest
	srv   *httptest.Server
}

// newFixture builds the collector and the ingest instruments on a
// pedantic registry, served over HTTP like serve does.
func newFixture(t *testing.T, ds *exportertest.Dataset, mod func(*exporter.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{now: testNow}, src: &countingSource{src: exportertest.Model{DS: ds}}, reg: prometheus.NewPedanticRegistry()}
	limiter := exporter.NewSourceLimiter(0)
	cfg := exporter.Config{
		SyncTypes:         testTypes,
		Now:               f.clock.Now,
		Limiter:           limiter,
		ExpectedIntervals: exporter.MergeDurations(exporter.DefaultExpectedIntervals(), nil, testTypes),
		MaxRuntimes:       exporter.MergeDurations(exporter.DefaultMaxRuntimes(), nil, testTypes),
	}
	if mod != nil {
		mod(&cfg)
	}
	var err error
	if f.c, err = exporter.New(f.src, cfg, f.reg); err != nil {
		t.Fatal(err)
	}
	if f.in, err = exporter.NewIngest(f.reg, testTypes, cfg.Limiter); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.c.WrapHandler(promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}), "/metrics"))
	t.Cleanup(f.srv.Close)
	return f
}

// scrape fetches /metrics with the given scrape timeout header (none when
// 0) and returns the body and how long it took.
func (f *fixture) scrape(t *testing.T, timeout time.Duration) (string, time.Duration) {
	t.Helper()
	body, took, err := f.scrapeErr(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return body, took
}

// scrapeErr is scrape for goroutines other than the test's.
func (f *fixture) scrapeErr(timeout time.Duration) (string, time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
	if err != nil {
		return "", 0, err
	}
	if timeout > 0 {
		req.Header.Set(exporter.ScrapeTimeoutHeader, fmt.Sprint(timeout.Seconds()))
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("scrape: %s: %s", resp.Status, body)
	}
	return string(body), time.Since(start), nil
}

// gauge returns the value of the series of name with exactly the given
// labels, and whether it exists.
func gauge(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	return gatherSeries(t, g).get(name, labels)
}

// series are the values of gathered gauges and counters.
type series []*dto.MetricFamily

func gatherSeries(t *testing.T, g prometheus.Gatherer) series {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func (s series) get(name string, labels map[string]string) (float64, bool) {
	for _, mf := range s {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsEqual(m.GetLabel(), labels) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// quantile returns a quantile of the summary of name with the given labels.
func quantile(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, q string) (float64, bool) {
	t.Helper()
	for _, mf := range gatherSeries(t, g) {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !labelsEqual(m.GetLabel(), labels) {
				continue
			}
			for _, qv := range m.GetSummary().GetQuantile() {
				if fmt.Sprint(qv.GetQuantile()) == q {
					return qv.GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

func ts(t time.Time) string { return fmt.Sprint(float64(t.UnixMilli()) / 1000) }

// TestCollectorHandComputed compares the collector's output over a small
// dataset with figures computed by hand.
func TestCollectorHandComputed(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// haier/stock, 1h: r1 success 60s, r2 failed 120s, r3 failed 30s, r4
	// processing; 24h adds r5 partial 90s. acme/order: r6 success 2s, in
	// the 24h window only.
	want := fmt.Sprintf(`
# HELP syncwatch_window_runs Runs of the window, by source, sync type and latest status: terminal runs that finished in it, runs in progress that started in it.
# TYPE syncwatch_window_runs gauge
syncwatch_window_runs{source="acme",status="failed",sync_type="order",window="1h"} 0
syncwatch_window_runs{source="acme",status="failed",sync_type="order",window="24h"} 0
syncwatch_window_runs{source="acme",status="partial",sync_type="order",window="1h"} 0
syncwatch_window_runs{source="acme",status="partial",sync_type="order",window="24h"} 0
syncwatch_window_runs{source="acme",status="pending",sync_type="order",window="1h"} 0
syncwatch_window_runs{source="acme",status="pending",sync_type="order",window="24h"} 0
syncwatch_window_runs{source="acme",status="processing",sync_type="order",window="1h"} 0
syncwatch_window_runs{source="acme",status="processing",sync_type="order",window="24h"} 0
syncwatch_window_runs{source="acme",status="success",sync_type="order",window="1h"} 0
syncwatch_window_runs{source="acme",status="success",sync_type="order",window="24h"} 1
syncwatch_window_runs{source="haier",status="failed",sync_type="stock",window="1h"} 2
syncwatch_window_runs{source="haier",status="failed",sync_type="stock",window="24h"} 2
syncwatch_window_runs{source="haier",status="partial",sync_type="stock",window="1h"} 0
syncwatch_window_runs{source="haier",status="partial",sync_type="stock",window="24h"} 1
syncwatch_window_runs{source="haier",status="pending",sync_type="stock",window="1h"} 0
syncwatch_window_runs{source="haier",status="pending",sync_type="stock",window="24h"} 0
syncwatch_window_runs{source="haier",status="processing",sync_type="stock",window="1h"} 1
syncwatch_window_runs{source="haier",status="processing",sync_type="stock",window="24h"} 1
syncwatch_window_runs{source="haier",status="success",sync_type="stock",window="1h"} 1
syncwatch_window_runs{source="haier",status="success",sync_type="stock",window="24h"} 1
# HELP syncwatch_window_success_ratio Successful runs over terminal runs (success, failed, partial) finished in the window; absent without a terminal run.
# TYPE syncwatch_window_success_ratio gauge
syncwatch_window_success_ratio{source="acme",sync_type="order",window="24h"} 1
syncwatch_window_success_ratio{source="haier",sync_type="stock",window="1h"} 0.3333333333333333
syncwatch_window_success_ratio{source="haier",sync_type="stock",window="24h"} 0.25
# HELP syncwatch_window_record_success_ratio Sum of success_count over sum of total_count of the terminal runs finished in the window; absent without records.
# TYPE syncwatch_window_record_success_ratio gauge
syncwatch_window_record_success_ratio{source="haier",sync_type="stock",window="1h"} 0.5
syncwatch_window_record_success_ratio{source="haier",sync_type="stock",window="24h"} 0.625
# HELP syncwatch_window_errors_per_hour Failed or partial runs finished in the window, per hour of the window.
# TYPE syncwatch_window_errors_per_hour gauge
syncwatch_window_errors_per_hour{source="acme",sync_type="order",window="1h"} 0
syncwatch_window_errors_per_hour{source="acme",sync_type="order",window="24h"} 0
syncwatch_window_errors_per_hour{source="haier",sync_type="stock",window="1h"} 2
syncwatch_window_errors_per_hour{source="haier",sync_type="stock",window="24h"} 0.125
# HELP syncwatch_window_duration_avg_seconds Average duration of the terminal runs finished in the window; absent without one.
# TYPE syncwatch_window_duration_avg_seconds gauge
syncwatch_window_duration_avg_seconds{source="acme",sync_type="order",window="24h"} 2
syncwatch_window_duration_avg_seconds{source="haier",sync_type="stock",window="1h"} 70
syncwatch_window_duration_avg_seconds{source="haier",sync_type="stock",window="24h"} 75
# HELP syncwatch_last_run_timestamp_seconds Start of the latest run, whatever its status (Unix time).
# TYPE syncwatch_last_run_timestamp_seconds gauge
syncwatch_last_run_timestamp_seconds{source="acme",sync_type="order"} %[1]s
syncwatch_last_run_timestamp_seconds{source="haier",sync_type="stock"} %[2]s
# HELP syncwatch_last_success_timestamp_seconds When the latest successful run completed (Unix time); absent when none is stored.
# TYPE syncwatch_last_success_timestamp_seconds gauge
syncwatch_last_success_timestamp_seconds{source="acme",sync_type="order"} %[3]s
syncwatch_last_success_timestamp_seconds{source="haier",sync_type="stock"} %[4]s
# HELP syncwatch_runs_in_progress Runs whose latest status is pending or processing, among those started in the lookback (default 7 days).
# TYPE syncwatch_runs_in_progress gauge
syncwatch_runs_in_progress{source="acme",sync_type="order"} 0
syncwatch_runs_in_progress{source="haier",sync_type="stock"} 1
# HELP syncwatch_oldest_in_progress_start_timestamp_seconds Start of the oldest run in progress (Unix time); absent when none.
# TYPE syncwatch_oldest_in_progress_start_timestamp_seconds gauge
syncwatch_oldest_in_progress_start_timestamp_seconds{source="haier",sync_type="stock"} %[2]s
# HELP syncwatch_consecutive_failures Most recent terminal runs, by start time, that failed, back to the last success or partial run (within the lookback); 0 when the latest terminal run did not fail.
# TYPE syncwatch_consecutive_failures gauge
syncwatch_consecutive_failures{source="acme",sync_type="order"} 0
syncwatch_consecutive_failures{source="haier",sync_type="stock"} 2
# HELP syncwatch_expected_interval_seconds Configured: how often a sync type should succeed; absent for types not run on a schedule.
# TYPE syncwatch_expected_interval_seconds gauge
syncwatch_expected_interval_seconds{sync_type="order"} 300
syncwatch_expected_interval_seconds{sync_type="stock"} 900
# HELP syncwatch_max_runtime_seconds Configured: how long a run of a sync type may take before it counts as hung.
# TYPE syncwatch_max_runtime_seconds gauge
syncwatch_max_runtime_seconds{sync_type="manual"} 3600
syncwatch_max_runtime_seconds{sync_type="order"} 300
syncwatch_max_runtime_seconds{sync_type="stock"} 900
# HELP syncwatch_exporter_scrape_success 1 when the ClickHouse-backed values are fresh; 0 when the last refresh failed or did not finish within the scrape timeout (cached values, or none, are served).
# TYPE syncwatch_exporter_scrape_success gauge
syncwatch_exporter_scrape_success{scraper="type_states"} 1
syncwatch_exporter_scrape_success{scraper="window_stats"} 1
# HELP syncwatch_exporter_folded_sources Distinct sources beyond the source cap whose runs are published under source="other".
# TYPE syncwatch_exporter_folded_sources gauge
syncwatch_exporter_folded_sources 0
`, ts(mins(-180)), ts(mins(-5)), ts(mins(-180).Add(2*time.Second)), ts(mins(-29)))
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"syncwatch_window_runs", "syncwatch_window_success_ratio", "syncwatch_window_record_success_ratio",
		"syncwatch_window_errors_per_hour", "syncwatch_window_duration_avg_seconds",
		"syncwatch_last_run_timestamp_seconds", "syncwatch_last_success_timestamp_seconds",
		"syncwatch_runs_in_progress", "syncwatch_oldest_in_progress_start_timestamp_seconds",
		"syncwatch_consecutive_failures", "syncwatch_expected_interval_seconds", "syncwatch_max_runtime_seconds",
		"syncwatch_exporter_scrape_success", "syncwatch_exporter_folded_sources",
	); err != nil {
		t.Error(err)
	}

	// Quantiles: 1h [30 60 120], 24h [30 60 90 120], linear interpolation.
	for _, q := range []struct {
		window, quantile string
		want             float64
	}{
		{"1h", "0.5", 60}, {"1h", "0.95", 114}, {"1h", "0.99", 118.8},
		{"24h", "0.5", 75}, {"24h", "0.95", 115.5}, {"24h", "0.99", 119.1},
	} {
		got, ok := quantile(t, f.reg, "syncwatch_window_duration_seconds", map[string]string{
			"source": "haier", "sync_type": "stock", "window": q.window,
		}, q.quantile)
		if !ok || got < q.want-1e-9 || got > q.want+1e-9 {
			t.Errorf("duration quantile %s over %s = %v (present %v), want %v", q.quantile, q.window, got, ok, q.want)
		}
	}
	if n := testutil.CollectAndCount(f.c, "syncwatch_window_duration_seconds"); n != 3 {
		t.Errorf("%d duration summaries, want 3 (haier/stock 1h and 24h, acme/order 24h)", n)
	}
}

// TestCollectorMatchesModel checks, over a generated dataset, that every
// published value is the model's figure.
func TestCollectorMatchesModel(t *testing.T) {
	ds := exportertest.Generate(exportertest.Options{Seed: 1, Runs: 3000, Now: testNow, Span: 48 * time.Hour})
	f := newFixture(t, ds, func(c *exporter.Config) { c.SyncTypes = synclog.DefaultSyncTypes })
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	model := exportertest.Model{DS: ds}
	got := gatherSeries(t, f.reg)
	for _, w := range []struct {
		label string
		d     time.Duration
	}{{"1h", time.Hour}, {"24h", 24 * time.Hour}} {
		stats, _ := model.WindowStats(context.Background(), exporter.WindowQuery{Since: testNow.Add(-w.d), Until: testNow})
		for _, s := range stats {
			l := map[string]string{"source": s.Source, "sync_type": s.SyncType, "window": w.label}
			check := func(name string, want float64, present bool, extra ...string) {
				t.Helper()
				ls := map[string]string{}
				for k, v := range l {
					ls[k] = v
				}
				for i := 0; i < len(extra); i += 2 {
					ls[extra[i]] = extra[i+1]
				}
				got, ok := got.get(name, ls)
				if ok != present || present && (got < want-1e-9*max(1, want) || got > want+1e-9*max(1, want)) {
					t.Errorf("%s%v = %v (present %v), want %v (present %v)", name, ls, got, ok, want, present)
				}
			}
			check("syncwatch_window_runs", float64(s.Success), true, "status", "success")
			check("syncwatch_window_runs", float64(s.Processing), true, "status", "processing")
			check("syncwatch_window_success_ratio", float64(s.Success)/float64(s.Terminal()), s.Terminal() > 0)
			check("syncwatch_window_record_success_ratio", float64(s.RecordsSuccess)/float64(s.RecordsTotal), s.RecordsTotal > 0)
			check("syncwatch_window_errors_per_hour", float64(s.Failed+s.Partial)/w.d.Hours(), true)
			if v, ok := quantile(t, f.reg, "syncwatch_window_duration_seconds", l, "0.95"); ok != (s.Durations > 0) || ok && (v < s.DurationP95-1e-9 || v > s.DurationP95+1e-9) {
				t.Errorf("p95 of %v = %v (present %v), want %v", l, v, ok, s.DurationP95)
			}
			check("syncwatch_window_duration_avg_seconds", s.DurationAvg, s.Durations > 0)
		}
	}
	states, _ := model.TypeStates(context.Background(), testNow.Add(-exporter.DefaultLookback))
	streak := false
	for _, s := range states {
		l := map[string]string{"source": s.Source, "sync_type": s.SyncType}
		if got, _ := got.get("syncwatch_consecutive_failures", l); got != float64(s.ConsecutiveFailures) {
			t.Errorf("consecutive failures of %v = %v, want %d", l, got, s.ConsecutiveFailures)
		}
		streak = streak || s.ConsecutiveFailures >= 3
		if got, _ := got.get("syncwatch_last_success_timestamp_seconds", l); got != float64(s.LastSuccess.UnixMilli())/1000 {
			t.Errorf("last success of %v = %v, want %v", l, got, s.LastSuccess)
		}
		if got, _ := got.get("syncwatch_runs_in_progress", l); got != float64(s.InProgress) {
			t.Errorf("runs in progress of %v = %v, want %d", l, got, s.InProgress)
		}
	}
	if !streak {
		t.Error("the dataset has no failure streak")
	}
}

// TestCacheConcurrentScrapes checks that concurrent scrapes cost one
// query set per TTL.
func TestCacheConcurrentScrapes(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	f.src.set(100*time.Millisecond, nil, nil) // long enough for the scrapes to overlap
	scrapeAll := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				body, _, err := f.scrapeErr(5 * time.Second)
				if err != nil {
					t.Error(err)
				} else if !strings.Contains(body, scrapeSuccess(1)) {
					t.Errorf("scrape without fresh values:\n%s", body)
				}
			})
		}
		wg.Wait()
	}
	windows := int64(len(exporter.DefaultWindows()))
	want := func(sets int64) {
		t.Helper()
		if got := f.src.stateCalls.Load(); got != sets {
			t.Errorf("TypeStates called %d times, want %d", got, sets)
		}
		if got := f.src.windowCalls.Load(); got != sets*windows {
			t.Errorf("WindowStats called %d times, want %d", got, sets*windows)
		}
		if got := f.src.max.Load(); got != 1 {
			t.Errorf("%d queries ran at once, want 1", got)
		}
	}
	scrapeAll(20)
	want(1)
	f.clock.Add(exporter.DefaultCacheTTL - time.Second)
	scrapeAll(20)
	want(1)
	f.clock.Add(time.Second)
	scrapeAll(20)
	want(2)
	if v, _ := gauge(t, f.reg, "syncwatch_exporter_refreshes_total", map[string]string{"result": "success"}); v != 2 {
		t.Errorf("refreshes_total{result=success} = %v, want 2", v)
	}
}

// TestScrapeWhileSourceSlow checks that a scrape returns within its
// timeout while ClickHouse hangs: scrape_success 0, the ingest instruments
// intact, cached values served once there are some.
func TestScrapeWhileSourceSlow(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	f.in.Initialize("haier", "stock")
	testutil.CollectAndCount(f.in) // a scrape exports the pair at 0
	f.in.Observe([]synclog.Report{*run("x", "haier", "stock", mins(-1), synclog.StatusSuccess, 3, 1, 1).Latest()})
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f.src.set(0, block, nil)

	const timeout = 600 * time.Millisecond
	body, took := f.scrape(t, timeout)
	if took > timeout {
		t.Errorf("scrape took %v, over its timeout of %v", took, timeout)
	}
	for _, want := range []string{
		scrapeSuccess(0),
		`syncwatch_runs_total{source="haier",status="success",sync_type="stock"} 1`,
		`syncwatch_expected_interval_seconds{sync_type="stock"} 900`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "syncwatch_window_runs") {
		t.Errorf("values served before any refresh finished:\n%s", body)
	}
	if !strings.Contains(body, `syncwatch_exporter_scrape_duration_seconds{scraper="window_stats"} `) {
		t.Errorf("scrape lacks the scrape duration:\n%s", body)
	}
}

// TestScrapeServesStale checks that a refresh that fails or hangs after a
// good one leaves the cached values served with scrape_success 0, that
// failed refreshes are retried only after the retry interval, and that
// values older than MaxStaleness are dropped.
func TestScrapeServesStale(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	body, _ := f.scrape(t, time.Second)
	if !strings.Contains(body, scrapeSuccess(1)) || !strings.Contains(body, "syncwatch_window_runs") {
		t.Fatalf("first scrape:\n%s", body)
	}

	t.Run("down", func(t *testing.T) {
		f.src.set(0, nil, errors.New("connection refused"))
		f.clock.Add(exporter.DefaultCacheTTL)
		before := f.src.stateCalls.Load()
		for range 5 {
			body, took := f.scrape(t, time.Second)
			if took > time.Second {
				t.Errorf("scrape took %v", took)
			}
			for _, want := range []string{scrapeSuccess(0), "syncwatch_window_runs{", "syncwatch_exporter_cache_age_seconds 15"} {
				if !strings.Contains(body, want) {
					t.Errorf("scrape lacks %q:\n%s", want, body)
				}
			}
		}
		if got := f.src.stateCalls.Load() - before; got != 1 {
			t.Errorf("%d refreshes within the retry interval, want 1", got)
		}
		f.clock.Add(exporter.DefaultRetryInterval)
		f.scrape(t, time.Second)
		if got := f.src.stateCalls.Load() - before; got != 2 {
			t.Errorf("%d refreshes after the retry interval, want 2", got)
		}
		if v, _ := gauge(t, f.reg, "syncwatch_exporter_refreshes_total", map[string]string{"result": "error"}); v != 2 {
			t.Errorf("refreshes_total{result=error} = %v, want 2", v)
		}
	})

	t.Run("recovers", func(t *testing.T) {
		f.src.set(0, nil, nil)
		f.clock.Add(exporter.DefaultRetryInterval)
		body, _ := f.scrape(t, time.Second)
		if !strings.Contains(body, scrapeSuccess(1)) {
			t.Errorf("after recovery:\n%s", body)
		}
	})

	t.Run("hangs", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		f.src.set(0, block, nil)
		f.clock.Add(exporter.DefaultCacheTTL)
		body, took := f.scrape(t, 500*time.Millisecond)
		if took > 500*time.Millisecond {
			t.Errorf("scrape took %v", took)
		}
		for _, want := range []string{scrapeSuccess(0), `syncwatch_consecutive_failures{source="haier",sync_type="stock"} 2`} {
			if !strings.Contains(body, want) {
				t.Errorf("scrape lacks %q:\n%s", want, body)
			}
		}
		// Past the staleness limit nothing of ClickHouse is served.
		f.clock.Add(exporter.DefaultMaxStaleness)
		body, _ = f.scrape(t, 200*time.Millisecond)
		if strings.Contains(body, "syncwatch_window_runs") || strings.Contains(body, "syncwatch_exporter_cache_age_seconds") {
			t.Errorf("values older than the staleness limit served:\n%s", body)
		}
		if !strings.Contains(body, scrapeSuccess(0)) {
			t.Errorf("scrape lacks scrape_success 0:\n%s", body)
		}
	})
}

// TestSourceCap checks that sources beyond the cap are published as
// "other", folded by the source, and counted.
func TestSourceCap(t *testing.T) {
	ds := &exportertest.Dataset{Now: testNow, Runs: []*exportertest.Run{
		run("a1", "alpha", "stock", mins(-300), synclog.StatusSuccess, 10, 0, 0),
		run("b1", "beta", "stock", mins(-200), synclog.StatusSuccess, 20, 0, 0),
		run("g1", "gamma", "stock", mins(-30), synclog.StatusFailed, 30, 0, 0),
		run("d1", "delta", "stock", mins(-20), synclog.StatusSuccess, 40, 0, 0),
		run("d2", "delta", "stock", mins(-10), synclog.StatusProcessing, 0, 0, 0),
	}}
	limiter := exporter.NewSourceLimiter(2)
	f := newFixture(t, ds, func(c *exporter.Config) { c.Limiter = limiter })
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP syncwatch_window_success_ratio Successful runs over terminal runs (success, failed, partial) finished in the window; absent without a terminal run.
# TYPE syncwatch_window_success_ratio gauge
syncwatch_window_success_ratio{source="alpha",sync_type="stock",window="24h"} 1
syncwatch_window_success_ratio{source="beta",sync_type="stock",window="24h"} 1
syncwatch_window_success_ratio{source="other",sync_type="stock",window="1h"} 0.5
syncwatch_window_success_ratio{source="other",sync_type="stock",window="24h"} 0.5
# HELP syncwatch_window_duration_avg_seconds Average duration of the terminal runs finished in the window; absent without one.
# TYPE syncwatch_window_duration_avg_seconds gauge
syncwatch_window_duration_avg_seconds{source="alpha",sync_type="stock",window="24h"} 10
syncwatch_window_duration_avg_seconds{source="beta",sync_type="stock",window="24h"} 20
syncwatch_window_duration_avg_seconds{source="other",sync_type="stock",window="1h"} 35
syncwatch_window_duration_avg_seconds{source="other",sync_type="stock",window="24h"} 35
# HELP syncwatch_runs_in_progress Runs whose latest status is pending or processing, among those started in the lookback (default 7 days).
# TYPE syncwatch_runs_in_progress gauge
syncwatch_runs_in_progress{source="alpha",sync_type="stock"} 0
syncwatch_runs_in_progress{source="beta",sync_type="stock"} 0
syncwatch_runs_in_progress{source="other",sync_type="stock"} 1
# HELP syncwatch_last_run_timestamp_seconds Start of the latest run, whatever its status (Unix time).
# TYPE syncwatch_last_run_timestamp_seconds gauge
syncwatch_last_run_timestamp_seconds{source="alpha",sync_type="stock"} %s
syncwatch_last_run_timestamp_seconds{source="beta",sync_type="stock"} %s
syncwatch_last_run_timestamp_seconds{source="other",sync_type="stock"} %s
# HELP syncwatch_exporter_folded_sources Distinct sources beyond the source cap whose runs are published under source="other".
# TYPE syncwatch_exporter_folded_sources gauge
syncwatch_exporter_folded_sources 2
`, ts(mins(-300)), ts(mins(-200)), ts(mins(-10)))
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"syncwatch_window_success_ratio", "syncwatch_window_duration_avg_seconds", "syncwatch_runs_in_progress",
		"syncwatch_last_run_timestamp_seconds", "syncwatch_exporter_folded_sources"); err != nil {
		t.Error(err)
	}
	// The ingest instruments share the limiter: alpha and beta keep their
	// names, a new source folds and is counted.
	f.in.Observe([]synclog.Report{
		*run("n1", "alpha", "stock", mins(-1), synclog.StatusSuccess, 1, 0, 0).Latest(),
		*run("n2", "epsilon", "stock", mins(-1), synclog.StatusFailed, 1, 0, 0).Latest(),
		*run("n3", "gamma", "stock", mins(-1), synclog.StatusFailed, 1, 0, 0).Latest(),
	})
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(`
# HELP syncwatch_sources_folded_total Terminal reports whose source was beyond the source cap (--max-sources) and was counted under source="other".
# TYPE syncwatch_sources_folded_total counter
syncwatch_sources_folded_total 2
`), "syncwatch_sources_folded_total"); err != nil {
		t.Error(err)
	}
	if v, _ := gauge(t, f.reg, "syncwatch_runs_total", map[string]string{"source": "other", "sync_type": "stock", "status": "failed"}); v != 2 {
		t.Errorf("runs_total of other = %v, want 2", v)
	}
}

func TestConfigValidation(t *testing.T) {
	src := exportertest.Model{DS: handDataset()}
	for _, cfg := range []exporter.Config{
		{},
		{SyncTypes: testTypes, Windows: []time.Duration{time.Second}},
		{SyncTypes: testTypes, Windows: []time.Duration{time.Hour, 60 * time.Minute}},
	} {
		if _, err := exporter.New(src, cfg, prometheus.NewRegistry()); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := exporter.New(src, exporter.Config{SyncTypes: testTypes}, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := exporter.New(src, exporter.Config{SyncTypes: testTypes}, reg); err == nil {
		t.Error("registering a second collector on one registry succeeded")
	}
}
