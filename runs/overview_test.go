package runs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeReader answers the overview's queries from fixed figures and
// records what it was asked.
type fakeReader struct {
	window, hourly, totals []Stats
	lastOK                 map[string]time.Time
	failures               []Run
	err                    error

	mu      sync.Mutex
	queries []StatsQuery
	lists   []ListOptions
}

func (f *fakeReader) Stats(_ context.Context, q StatsQuery) ([]Stats, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	switch {
	case q.Interval > 0:
		return f.hourly, f.err
	case len(q.GroupBy) > 0:
		return f.window, f.err
	}
	return f.totals, f.err
}

func (f *fakeReader) ListRuns(_ context.Context, opt ListOptions) ([]Run, *Cursor, error) {
	f.mu.Lock()
	f.lists = append(f.lists, opt)
	f.mu.Unlock()
	return f.failures, nil, nil
}

func (f *fakeReader) LastSuccesses(context.Context) (map[string]time.Time, error) {
	return f.lastOK, nil
}

func (f *fakeReader) Retention() time.Duration { return 90 * 24 * time.Hour }

type fakeStates []TypeState

func (s fakeStates) TypeStates(context.Context, time.Time) ([]TypeState, error) { return s, nil }

func names(ts []TypeOverview) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.SyncType
	}
	return out
}

func TestOverviewWithoutStates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	ok := now.Add(-time.Hour)
	r := &fakeReader{
		window:   []Stats{{SyncType: "prices", Runs: 4, Success: 3, Pending: 1, Processing: 1}, {SyncType: "legacy", Runs: 1}},
		totals:   []Stats{{Runs: 5}},
		lastOK:   map[string]time.Time{"prices": ok, "zeta": ok, "alpha": ok},
		failures: []Run{{RunID: "f1"}},
	}
	ov, err := NewOverviews(r, nil).Overview(context.Background(), OverviewQuery{
		Now: now, SyncTypes: []string{"products", "prices"}, Totals: true, Failures: 20, FailuresSince: now.Add(-time.Hour),
		StatesSince: now.Add(-time.Hour), // ignored: the store knows no states
	})
	if err != nil {
		t.Fatal(err)
	}
	// Configured types first, a silent one too; then the others in the
	// order the figures name them, last successes sorted.
	if got, want := names(ov.Types), []string{"products", "prices", "legacy", "alpha", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("types %v, want %v", got, want)
	}
	prices := ov.Types[1]
	if prices.InProgress != 2 || !prices.LastSuccess.Equal(ok) || prices.Window.Runs != 4 {
		t.Errorf("prices %+v", prices)
	}
	if ov.KnowsStates || ov.Totals.Runs != 5 || len(ov.Failures) != 1 {
		t.Errorf("overview %+v", ov)
	}
	if !ov.Until.Equal(now.Add(time.Millisecond)) || !ov.Since.Equal(ov.Until.Add(-OverviewWindow)) {
		t.Errorf("window %s..%s", ov.Since, ov.Until)
	}
	if len(r.lists) != 1 || r.lists[0].Limit != 20 || len(r.lists[0].Filter.Statuses) != 2 {
		t.Errorf("failures asked as %+v", r.lists)
	}
	for _, q := range r.queries {
		if q.Interval > 0 {
			t.Errorf("hourly figures read though not asked for: %+v", q)
		}
	}
}

func TestOverviewWithStates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	older, newer := now.Add(-3*time.Hour), now.Add(-2*time.Hour)
	r := &fakeReader{
		window: []Stats{{SyncType: "stock", Runs: 2, Pending: 2}},
		hourly: []Stats{{SyncType: "stock", Runs: 1}, {SyncType: "order", Runs: 1}, {SyncType: "stock", Runs: 1}},
	}
	states := fakeStates{
		{Source: "a", SyncType: "stock", InProgress: 1, OldestInProgress: newer, ConsecutiveFailures: 2, LastSuccess: older},
		{Source: "b", SyncType: "stock", InProgress: 2, OldestInProgress: older, ConsecutiveFailures: 5, LastSuccess: newer},
	}
	ov, err := NewOverviews(r, states).Overview(context.Background(), OverviewQuery{
		Now: now, SyncTypes: []string{"stock"}, Hourly: true, StatesSince: now.Add(-7 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(ov.Types), []string{"stock", "order"}; !slices.Equal(got, want) {
		t.Errorf("types %v, want %v", got, want)
	}
	st := ov.Types[0]
	// The states, not the window, count the runs in progress.
	if !ov.KnowsStates || st.InProgress != 3 || !st.OldestInProgress.Equal(older) || st.ConsecutiveFailures != 5 ||
		!st.LastSuccess.Equal(newer) || len(st.Hourly) != 2 || len(ov.Hourly) != 3 {
		t.Errorf("stock %+v", st)
	}
	for _, q := range r.queries {
		if q.Interval > 0 && !q.Filter.Since.Equal(HourlyStart(now)) {
			t.Errorf("hourly figures from %s, want %s", q.Filter.Since, HourlyStart(now))
		}
	}
	if len(r.lists) != 0 {
		t.Error("failures listed though not asked for")
	}
}

func TestOverviewFails(t *testing.T) {
	r := &fakeReader{err: errors.New("down")}
	if _, err := NewOverviews(r, nil).Overview(context.Background(), OverviewQuery{Now: time.Now()}); err == nil {
		t.Error("a failing store gave an overview")
	}
}

func TestTrendJudge(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	day := func(p95, ratio float64) TrendPoint {
		return TrendPoint{Terminal: 10, DurationP95: f(p95), SuccessRatio: f(ratio)}
	}
	before := []TrendPoint{day(10, 1), day(12, 0.9), day(11, 1), {}}
	pt := day(20, 0.7)
	pt.Judge(before)
	if pt.Baseline.Days != 3 || *pt.Baseline.DurationP95 != 11 || *pt.Baseline.SuccessRatio != 1 {
		t.Errorf("baseline %+v", pt.Baseline)
	}
	if !pt.Regression || !slices.Equal(pt.Reasons, []string{TrendReasonDuration, TrendReasonSuccessRatio}) {
		t.Errorf("judged %v %v", pt.Regression, pt.Reasons)
	}
	calm := day(11.5, 0.95)
	calm.Judge(before)
	if calm.Regression || len(calm.Reasons) != 0 || calm.Reasons == nil {
		t.Errorf("a calm day judged %v %v", calm.Regression, calm.Reasons)
	}
}
