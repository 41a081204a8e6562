package clickhouse

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// exporterSource adapts the store to the exporter, as cmd/syncwatch does.
type exporterSource struct{ s *Store }

func (a exporterSource) WindowStats(ctx context.Context, q exporter.WindowQuery) ([]exporter.WindowStat, error) {
	rows, err := a.s.ExporterWindowStats(ctx, q.Since, q.Until, q.Sources)
	if err != nil {
		return nil, err
	}
	out := make([]exporter.WindowStat, len(rows))
	for i, r := range rows {
		out[i] = exporter.WindowStat(r)
	}
	return out, nil
}

func (a exporterSource) TypeStates(ctx context.Context, since time.Time) ([]exporter.TypeState, error) {
	rows, err := a.s.ExporterTypeStates(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]exporter.TypeState, len(rows))
	for i, r := range rows {
		out[i] = exporter.TypeState(r)
	}
	return out, nil
}

func loadExporterDataset(t testing.TB, s *Store, ds *exportertest.Dataset) {
	t.Helper()
	for i, b := range ds.Batches {
		if err := s.InsertReports(context.Background(), b); err != nil {
			t.Fatalf("insert batch %d: %v", i, err)
		}
	}
}

// insertAsVersion1 stores reports as the store did before migration 4,
// without looking report_keys up: the table is not there yet.
func insertAsVersion1(t testing.TB, s *Store, reports []synclog.Report) {
	t.Helper()
	rows, conflicts := reconcile(reports, nil)
	if len(conflicts) > 0 {
		t.Fatalf("conflicting reports: %v", conflicts)
	}
	if err := s.eng.insertReports(context.Background(), rows, dedupToken(rows)); err != nil {
		t.Fatalf("insert %d reports: %v", len(rows), err)
	}
}

// expNear reports whether got is within 1% or 1 ms of want, both NaN
// counting as equal.
func expNear(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= math.Max(0.001, 0.01*math.Abs(want))
}

func diffWindowStat(got, want exporter.WindowStat) string {
	var d []string
	counts := func(w exporter.WindowStat) [8]uint64 {
		return [8]uint64{w.Pending, w.Processing, w.Success, w.Failed, w.Partial, w.RecordsTotal, w.RecordsSuccess, w.Durations}
	}
	if counts(got) != counts(want) {
		d = append(d, fmt.Sprintf("counts (pending processing success failed partial records success_records durations) = %v, want %v", counts(got), counts(want)))
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"avg", got.DurationAvg, want.DurationAvg}, {"p50", got.DurationP50, want.DurationP50},
		{"p95", got.DurationP95, want.DurationP95}, {"p99", got.DurationP99, want.DurationP99},
	} {
		if !expNear(f.got, f.want) {
			d = append(d, fmt.Sprintf("%s = %v, want %v", f.name, f.got, f.want))
		}
	}
	return strings.Join(d, "; ")
}

func compareWindowStats(t *testing.T, got, want []exporter.WindowStat) {
	t.Helper()
	type key struct{ source, syncType string }
	index := map[key]exporter.WindowStat{}
	for _, w := range want {
		index[key{w.Source, w.SyncType}] = w
	}
	if len(got) != len(want) {
		t.Errorf("got %d groups, want %d", len(got), len(want))
	}
	for _, g := range got {
		w, ok := index[key{g.Source, g.SyncType}]
		if !ok {
			t.Errorf("unexpected group %s/%s", g.Source, g.SyncType)
			continue
		}
		if d := diffWindowStat(g, w); d != "" {
			t.Errorf("%s/%s: %s", g.Source, g.SyncType, d)
		}
	}
}

func compareTypeStates(t *testing.T, got, want []exporter.TypeState) {
	t.Helper()
	type key struct{ source, syncType string }
	index := map[key]exporter.TypeState{}
	for _, w := range want {
		index[key{w.Source, w.SyncType}] = w
	}
	if len(got) != len(want) {
		t.Errorf("got %d states, want %d", len(got), len(want))
	}
	for _, g := range got {
		w, ok := index[key{g.Source, g.SyncType}]
		if !ok {
			t.Errorf("unexpected state %s/%s", g.Source, g.SyncType)
			continue
		}
		if !g.FirstRun.Equal(w.FirstRun) || !g.LastRun.Equal(w.LastRun) || !g.LastSuccess.Equal(w.LastSuccess) ||
			g.InProgress != w.InProgress || !g.OldestInProgress.Equal(w.OldestInProgress) || g.ConsecutiveFailures != w.ConsecutiveFailures {
			t.Errorf("%s/%s:\n got  %+v\n want %+v", g.Source, g.SyncType, g, w)
		}
	}
}

// TestExporterQueriesMatchModel compares the exporter's queries over a
// generated dataset (lifecycle updates, stale reports, duplicate
// deliveries) with the figures computed in Go.
func TestExporterQueriesMatchModel(t *testing.T) {
	s := newTestStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := exportertest.Generate(exportertest.Options{Seed: 4, Runs: 2500, Now: now, Span: 3 * 24 * time.Hour})
	loadExporterDataset(t, s, ds)
	if ds.Duplicates == 0 {
		t.Fatal("the dataset delivers no report twice")
	}
	model := exportertest.Model{DS: ds}
	src := exporterSource{s}
	ctx := context.Background()

	windows := []exporter.WindowQuery{
		{Since: now.Add(-time.Hour), Until: now},
		{Since: now.Add(-24 * time.Hour), Until: now},
		{Since: now.Add(-4 * 24 * time.Hour), Until: now.Add(time.Hour)},
		// Bounds on exact run starts: since included, until excluded.
		{Since: ds.Runs[0].Start, Until: ds.Runs[1].Start},
		{Since: now.Add(-24 * time.Hour), Until: now, Sources: []string{"erp"}},
		{Since: now.Add(-24 * time.Hour), Until: now, Sources: []string{}},
	}
	for _, q := range windows {
		if !q.Since.Before(q.Until) {
			q.Since, q.Until = q.Until, q.Since
		}
		name := fmt.Sprintf("window %s", q.Until.Sub(q.Since))
		if q.Sources != nil {
			name += fmt.Sprintf(" keeping %q", q.Sources)
		}
		t.Run(name, func(t *testing.T) {
			got, err := src.WindowStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := model.WindowStats(ctx, q)
			if len(want) == 0 {
				t.Fatal("the model has no run in the window; the test proves nothing")
			}
			compareWindowStats(t, got, want)
		})
	}
	for _, since := range []time.Time{now.Add(-7 * 24 * time.Hour), now.Add(-12 * time.Hour)} {
		t.Run(fmt.Sprintf("states since %s", now.Sub(since)), func(t *testing.T) {
			got, err := src.TypeStates(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := model.TypeStates(ctx, since)
			compareTypeStates(t, got, want)
			var streak bool
			for _, st := range got {
				streak = streak || st.ConsecutiveFailures >= 3
			}
			if !streak {
				t.Error("no source and sync type has the generated failure streak")
			}
		})
	}
}

// TestExporterQueriesLifecycle checks hand-computed figures: a run that
// moves from processing to success, a success delivered three times, a
// failure streak after a partial run, and runs in progress.
func TestExporterQueriesLifecycle(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	at := func(min int) time.Time { return now.Add(time.Duration(min) * time.Minute) }
	done := func(tm time.Time) *time.Time { return &tm }
	rep := func(run, event string, st synclog.Status, start time.Time, completed *time.Time, total, succ uint64) synclog.Report {
		r := synclog.Report{
			RunID: run, EventID: event, Source: "haier", SyncType: "stock", Status: st,
			StartedAt: start, CompletedAt: completed, RunStartedAt: start, ReceivedAt: now,
			TotalCount: total, SuccessCount: succ, FailedCount: total - succ,
		}
		if completed != nil {
			r.ReceivedAt = *completed
		}
		return r
	}
	batches := [][]synclog.Report{
		{
			rep("a", "a1", synclog.StatusProcessing, at(-50), nil, 0, 0),
			rep("b", "b1", synclog.StatusSuccess, at(-45), done(at(-44)), 10, 10),
		},
		{
			rep("a", "a2", synclog.StatusSuccess, at(-50), done(at(-48)), 100, 100), // a: 2 minutes
			rep("b", "b1", synclog.StatusSuccess, at(-45), done(at(-44)), 10, 10),   // retry of b1
			rep("c", "c1", synclog.StatusPartial, at(-40), done(at(-37)), 20, 15),
		},
		{
			rep("b", "b1", synclog.StatusSuccess, at(-45), done(at(-44)), 10, 10), // and again
			rep("d", "d1", synclog.StatusFailed, at(-30), done(at(-26)), 4, 0),
			rep("e", "e1", synclog.StatusFailed, at(-20), done(at(-15)), 0, 0),
			rep("f", "f1", synclog.StatusPending, at(-10), nil, 0, 0),
			rep("g", "g1", synclog.StatusProcessing, at(-5), nil, 0, 0),
			// An old run, outside the hour and the lookback.
			rep("h", "h1", synclog.StatusSuccess, at(-3*24*60), done(at(-3*24*60+1)), 1, 1),
		},
	}
	for _, b := range batches {
		if err := s.InsertReports(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	src := exporterSource{s}
	got, err := src.WindowStats(ctx, exporter.WindowQuery{Since: now.Add(-time.Hour), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	// Terminal durations: a 2m, b 1m, c 3m, d 4m, e 5m.
	secs := []float64{60, 120, 180, 240, 300}
	want := exporter.WindowStat{
		Source: "haier", SyncType: "stock", Pending: 1, Processing: 1, Success: 2, Failed: 2, Partial: 1,
		RecordsTotal: 134, RecordsSuccess: 125, Durations: 5, DurationAvg: 180,
		DurationP50: 180, DurationP95: testutil.Quantile(secs, 0.95), DurationP99: testutil.Quantile(secs, 0.99),
	}
	if len(got) != 1 {
		t.Fatalf("window stats = %+v, want one group", got)
	}
	if d := diffWindowStat(got[0], want); d != "" {
		t.Errorf("window stats: %s", d)
	}
	states, err := src.TypeStates(ctx, now.Add(-7*24*time.Hour+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantState := exporter.TypeState{
		Source: "haier", SyncType: "stock", FirstRun: at(-3 * 24 * 60), LastRun: at(-5), LastSuccess: at(-44),
		InProgress: 2, OldestInProgress: at(-10), ConsecutiveFailures: 2,
	}
	compareTypeStates(t, states, []exporter.TypeState{wantState})

	// A success ends the streak; a later processing report of it changes
	// nothing.
	late := []synclog.Report{
		rep("i", "i1", synclog.StatusSuccess, at(-2), done(at(-1)), 1, 1),
		rep("i", "i0", synclog.StatusProcessing, at(-2), nil, 0, 0),
	}
	late[1].ReceivedAt = now
	if err := s.InsertReports(ctx, late); err != nil {
		t.Fatal(err)
	}
	states, err = src.TypeStates(ctx, now.Add(-7*24*time.Hour+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantState.LastRun, wantState.LastSuccess, wantState.ConsecutiveFailures = at(-2), at(-1), 0
	compareTypeStates(t, states, []exporter.TypeState{wantState})
}

// TestExporterRollupBackfill checks that migration 2 fills the
// run_activity rollup from the reports stored before it.
func TestExporterRollupBackfill(t *testing.T) {
	s := newTestStore(t)
	m, err := s.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Steps(-3); err != nil {
		t.Fatalf("migrate down to 1: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := exportertest.Generate(exportertest.Options{Seed: 9, Runs: 300, Now: now, Span: 48 * time.Hour})
	for _, b := range ds.Batches {
		insertAsVersion1(t, s, b)
	}
	if err := m.Up(); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	got, err := exporterSource{s}.TypeStates(context.Background(), now.Add(-7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := exportertest.Model{DS: ds}.TypeStates(context.Background(), now.Add(-7*24*time.Hour))
	compareTypeStates(t, got, want)
}

// benchStore is a store holding generated runs, 200,000 or
// SYNCWATCH_BENCH_ROWS, shared by the benchmarks of this process.
var benchStore = sync.OnceValues(func() (*Store, error) {
	n := uint64(200_000)
	if v := os.Getenv("SYNCWATCH_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.ParseUint(v, 10, 64); err != nil || n == 0 {
			return nil, fmt.Errorf("SYNCWATCH_BENCH_ROWS=%q: want a positive number", v)
		}
	}
	ctx := context.Background()
	cfg := Config{DataDir: testDataDir, Database: fmt.Sprintf("bench_scrape_%d", os.Getpid()), PoolSize: 2, QueryTimeout: time.Hour}
	if p := os.Getenv("SYNCWATCH_LIBCHDB"); p != "" {
		cfg.LibchdbPath = p
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	s, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, err
	}
	// Runs of 50 sources and six sync types over 30 days, each in two
	// reports (processing, then terminal), generated in ClickHouse a
	// million at a time.
	end := time.Now().UTC()
	const chunk = 1_000_000
	for first := uint64(0); first < n; first += chunk {
		err = s.eng.exec(ctx, `INSERT INTO reports (`+reportColumnList+`)
SELECT
    concat('e', toString(number), '-', toString(step)) AS event_id,
    concat('r', toString(number)) AS run_id,
    concat('source-', toString(number % 50)) AS source,
    ['products', 'prices', 'stock', 'order', 'logistics', 'manual'][1 + intDiv(number, 50) % 6] AS sync_type,
    if(step = 0, 'processing', ['success', 'success', 'success', 'success', 'success', 'success', 'success', 'failed', 'failed', 'partial'][1 + cityHash64(number) % 10]) AS status,
    '' AS message, 0 AS fingerprint, 100 AS total_count, if(step = 0, 0, 90) AS success_count, if(step = 0, 0, 10) AS failed_count,
    start AS started_at,
    if(step = 0, NULL, start + toIntervalMillisecond(1000 + cityHash64(number, 1) % 600000)) AS completed_at,
    start AS received_at, start AS run_started_at,
    toUInt64(if(step = 0, 2, 3)) * 281474976710656 + toUInt64(toUnixTimestamp64Milli(start)) AS version,
    map() AS attributes
FROM (
    SELECT number, step, {end:DateTime64(3, 'UTC')} - toIntervalMillisecond(intDiv(number * 2592000000, {n:UInt64})) AS start
    FROM numbers({first:UInt64}, {count:UInt64}) ARRAY JOIN [0, 1] AS step
)`, Params{"n": n, "end": end, "first": first, "count": min(chunk, n-first)})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
})

// BenchmarkScrape measures a scrape of the ClickHouse-backed collector
// over 200,000 runs (SYNCWATCH_BENCH_ROWS to change it): cold, every
// scrape querying ClickHouse, and cached, within the TTL.
func BenchmarkScrape(b *testing.B) {
	s, err := benchStore()
	if err != nil {
		b.Fatal(err)
	}
	newCollector := func(b *testing.B, ttl time.Duration) (*exporter.Collector, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		c, err := exporter.New(exporterSource{s}, exporter.Config{
			SyncTypes: synclog.DefaultSyncTypes, CacheTTL: ttl, RefreshTimeout: 5 * time.Minute,
		}, reg)
		if err != nil {
			b.Fatal(err)
		}
		return c, reg
	}
	scrape := func(b *testing.B, c *exporter.Collector, reg *prometheus.Registry) {
		if err := c.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		if len(mfs) < 10 {
			b.Fatalf("gathered %d families", len(mfs))
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			c, reg := newCollector(b, time.Hour)
			scrape(b, c, reg)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	})
	b.Run("cached", func(b *testing.B) {
		c, reg := newCollector(b, time.Hour)
		scrape(b, c, reg)
		for b.Loop() {
			scrape(b, c, reg)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	})
}

// A terminal run belongs to the window in which it finished: a 6-hourly
// job that runs two hours and fails is in the one-hour window, so that
// SyncFailureRateHigh can see it; a run still in progress belongs to the
// window it started in. Before, windows held the runs that started in
// them, and the long run was never in the hour.
func TestExporterWindowCountsRunsWhereTheyFinished(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	rep := func(run string, st synclog.Status, start time.Time, done *time.Time) synclog.Report {
		return synclog.Report{RunID: run, EventID: run, Source: "haier", SyncType: "products", Status: st,
			StartedAt: start, CompletedAt: done, RunStartedAt: start, ReceivedAt: now}
	}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	if err := s.InsertReports(ctx, []synclog.Report{
		rep("long-fail", synclog.StatusFailed, now.Add(-2*time.Hour), at(-time.Minute)),
		rep("finished-before", synclog.StatusSuccess, now.Add(-90*time.Minute), at(-70*time.Minute)),
		rep("running", synclog.StatusProcessing, now.Add(-10*time.Minute), nil),
		rep("running-long", synclog.StatusProcessing, now.Add(-3*time.Hour), nil),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := exporterSource{s}.WindowStats(ctx, exporter.WindowQuery{Since: now.Add(-time.Hour), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Failed != 1 || got[0].Success != 0 || got[0].Processing != 1 {
		t.Fatalf("one-hour window: %+v; want the long failed run and the run started in it", got)
	}
}

// TestExporterRecordSumsSaturate checks that the record sums of the window
// never wrap around: runs stored before ingest bounded the counts (or enough
// runs at the bound) once made records_total 1 and the record success ratio
// 1.8e19. A sum beyond the range of UInt64 stays at its maximum instead.
func TestExporterRecordSumsSaturate(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	rep := func(run string, total, succ uint64) synclog.Report {
		start := now.Add(-10 * time.Minute)
		done := start.Add(time.Minute)
		return synclog.Report{
			RunID: run, EventID: run, Source: "haier", SyncType: "stock", Status: synclog.StatusPartial,
			StartedAt: start, CompletedAt: &done, RunStartedAt: start, ReceivedAt: done,
			TotalCount: total, SuccessCount: succ,
		}
	}
	tests := []struct {
		name, source        string
		reports             []synclog.Report
		wantTotal, wantSucc uint64
	}{
		{"exact", "exact", []synclog.Report{rep("a", synclog.MaxCount, synclog.MaxCount-1), rep("b", 2, 1)}, synclog.MaxCount + 2, synclog.MaxCount},
		{"beyond uint64", "wrapping", []synclog.Report{rep("c", math.MaxUint64, math.MaxUint64), rep("d", 2, 0)}, math.MaxUint64, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.reports {
				tt.reports[i].Source = tt.source
			}
			if err := s.InsertReports(ctx, tt.reports); err != nil {
				t.Fatal(err)
			}
			all, err := s.ExporterWindowStats(ctx, now.Add(-time.Hour), now, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []ExporterWindowStat
			for _, w := range all {
				if w.Source == tt.source {
					got = append(got, w)
				}
			}
			if len(got) != 1 {
				t.Fatalf("window stats = %+v, want one group of %s", all, tt.source)
			}
			if got[0].RecordsTotal != tt.wantTotal || got[0].RecordsSuccess != tt.wantSucc {
				t.Errorf("records total %d success %d, want %d and %d", got[0].RecordsTotal, got[0].RecordsSuccess, tt.wantTotal, tt.wantSucc)
			}
			if got[0].RecordsSuccess > got[0].RecordsTotal {
				t.Errorf("more successful records (%d) than records (%d)", got[0].RecordsSuccess, got[0].RecordsTotal)
			}
		})
	}
}
