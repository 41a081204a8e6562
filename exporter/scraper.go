package exporter

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/synclog"
)

// A scraper reads one part of the ClickHouse-backed metrics. A refresh runs
// every scraper in order; each keeps its own last good metrics, duration
// and success, published with its name as the scraper label.
type scraper interface {
	// name is the value of the scraper label.
	name() string
	// scrape queries the source and returns the metrics of its part.
	scrape(ctx context.Context, run *scrapeRun) ([]prometheus.Metric, error)
}

// pairKey identifies a source and sync type after folding.
type pairKey struct{ source, syncType string }

func (k pairKey) less(o pairKey) int {
	if c := strings.Compare(k.source, o.source); c != 0 {
		return c
	}
	return strings.Compare(k.syncType, o.syncType)
}

// scrapeRun is what the scrapers of one refresh share.
type scrapeRun struct {
	now     time.Time
	types   map[string]bool
	limiter *SourceLimiter
	// folded collects the sources a scraper published as "other"; a fresh
	// set for every scraper.
	folded map[string]bool
	// pairs are the source and sync type pairs with a run in the
	// lookback: set by the type-state scraper, or those of its last good
	// scrape when it fails. The window scraper publishes zero counts for
	// the pairs without runs in a window.
	pairs map[pairKey]bool
}

// label is the source label of source, folding sources beyond the cap.
func (r *scrapeRun) label(source string) string {
	l, folded := r.limiter.Label(source)
	if folded {
		r.folded[source] = true
	}
	return l
}

// gauge makes a gauge sample.
func gauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

// typeStateScraper publishes the latest activity of every source and sync
// type in the lookback: last run, last success, runs in progress and
// failure streaks (Source.TypeStates).
type typeStateScraper struct {
	src      Source
	lookback time.Duration
	d        *descs
}

func (s typeStateScraper) name() string { return "type_states" }

func (s typeStateScraper) scrape(ctx context.Context, run *scrapeRun) ([]prometheus.Metric, error) {
	states, err := s.src.TypeStates(ctx, run.now.Add(-s.lookback))
	if err != nil {
		return nil, fmt.Errorf("type states: %w", err)
	}
	// Admit sources in the order they first ran, so that which sources
	// keep their name does not depend on the order of queries.
	slices.SortFunc(states, func(a, b TypeState) int {
		if c := a.FirstRun.Compare(b.FirstRun); c != 0 {
			return c
		}
		return pairKey{a.Source, a.SyncType}.less(pairKey{b.Source, b.SyncType})
	})
	merged := map[pairKey]*TypeState{}
	for _, st := range states {
		if !run.types[st.SyncType] {
			continue
		}
		k := pairKey{run.label(st.Source), st.SyncType}
		if m, ok := merged[k]; ok {
			mergeState(m, st)
			continue
		}
		st.Source = k.source
		merged[k] = &st
	}
	var out []prometheus.Metric
	pairs := make(map[pairKey]bool, len(merged))
	for k, st := range merged {
		pairs[k] = true
		if !st.LastRun.IsZero() {
			out = append(out, gauge(s.d.lastRun, unixSeconds(st.LastRun), k.source, k.syncType))
		}
		if !st.LastSuccess.IsZero() {
			out = append(out, gauge(s.d.lastSuccess, unixSeconds(st.LastSuccess), k.source, k.syncType))
		}
		out = append(out, gauge(s.d.inProgress, float64(st.InProgress), k.source, k.syncType))
		if st.InProgress > 0 && !st.OldestInProgress.IsZero() {
			out = append(out, gauge(s.d.oldestInProgress, unixSeconds(st.OldestInProgress), k.source, k.syncType))
		}
		out = append(out, gauge(s.d.consecutiveFails, float64(st.ConsecutiveFailures), k.source, k.syncType))
	}
	run.pairs = pairs
	return out, nil
}

// windowScraper publishes the runs, ratios, error rate and durations of
// every source and sync type over each window (Source.WindowStats).
type windowScraper struct {
	src     Source
	windows []time.Duration
	d       *descs
}

func (s windowScraper) name() string { return "window_stats" }

func (s windowScraper) scrape(ctx context.Context, run *scrapeRun) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	for _, w := range s.windows {
		q := WindowQuery{Since: run.now.Add(-w), Until: run.now}
		if run.limiter.Full() {
			q.Sources = run.limiter.Kept()
		}
		rows, err := s.src.WindowStats(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("window %s: %w", windowLabel(w), err)
		}
		out = s.window(out, run, w, rows)
	}
	return out, nil
}

// window appends the metrics of one window's rows to out.
func (s windowScraper) window(out []prometheus.Metric, run *scrapeRun, w time.Duration, rows []WindowStat) []prometheus.Metric {
	stats := map[pairKey]*WindowStat{}
	for _, r := range rows {
		if !run.types[r.SyncType] {
			continue
		}
		k := pairKey{run.label(r.Source), r.SyncType}
		if m, ok := stats[k]; ok {
			mergeWindow(m, r)
			continue
		}
		r.Source = k.source
		stats[k] = &r
	}
	keys := make([]pairKey, 0, len(run.pairs)+len(stats))
	for k := range run.pairs {
		keys = append(keys, k)
	}
	for k := range stats {
		if !run.pairs[k] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, pairKey.less)
	wl := windowLabel(w)
	hours := w.Hours()
	for _, k := range keys {
		var st WindowStat
		if p := stats[k]; p != nil {
			st = *p
		}
		for _, n := range []struct {
			status synclog.Status
			n      uint64
		}{
			{synclog.StatusPending, st.Pending}, {synclog.StatusProcessing, st.Processing},
			{synclog.StatusSuccess, st.Success}, {synclog.StatusFailed, st.Failed}, {synclog.StatusPartial, st.Partial},
		} {
			out = append(out, gauge(s.d.windowRuns, float64(n.n), k.source, k.syncType, string(n.status), wl))
		}
		out = append(out, gauge(s.d.windowErrorsPerHour, float64(st.Failed+st.Partial)/hours, k.source, k.syncType, wl))
		if t := st.Terminal(); t > 0 {
			out = append(out, gauge(s.d.windowSuccessRatio, float64(st.Success)/float64(t), k.source, k.syncType, wl))
		}
		if st.RecordsTotal > 0 {
			out = append(out, gauge(s.d.windowRecordRatio, float64(st.RecordsSuccess)/float64(st.RecordsTotal), k.source, k.syncType, wl))
		}
		if st.Durations > 0 && !math.IsNaN(st.DurationAvg) {
			// A summary, so that the quantile label is where
			// Prometheus's conventions expect it.
			sum := st.DurationAvg * float64(st.Durations)
			quantiles := map[float64]float64{0.5: st.DurationP50, 0.95: st.DurationP95, 0.99: st.DurationP99}
			out = append(out, prometheus.MustNewConstSummary(s.d.windowDuration, st.Durations, sum, quantiles, k.source, k.syncType, wl))
			out = append(out, gauge(s.d.windowDurationAvg, st.DurationAvg, k.source, k.syncType, wl))
		}
	}
	return out
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// mergeState folds s into m, both under the same label: the latest
// activity wins, runs in progress add up and the longest failure streak
// stands for the group.
func mergeState(m *TypeState, s TypeState) {
	if m.FirstRun.IsZero() || (!s.FirstRun.IsZero() && s.FirstRun.Before(m.FirstRun)) {
		m.FirstRun = s.FirstRun
	}
	if s.LastRun.After(m.LastRun) {
		m.LastRun = s.LastRun
	}
	if s.LastSuccess.After(m.LastSuccess) {
		m.LastSuccess = s.LastSuccess
	}
	if !s.OldestInProgress.IsZero() && (m.OldestInProgress.IsZero() || s.OldestInProgress.Before(m.OldestInProgress)) {
		m.OldestInProgress = s.OldestInProgress
	}
	m.InProgress += s.InProgress
	m.ConsecutiveFailures = max(m.ConsecutiveFailures, s.ConsecutiveFailures)
}

// mergeWindow folds r into m. Counts add up and the average is weighted;
// quantiles of a union cannot be derived from the parts, so the largest
// stands for the group (an upper bound). Sources are folded in ClickHouse,
// exactly, whenever the limiter is full before the window is read; this
// serves a source first seen between the queries of one refresh.
func mergeWindow(m *WindowStat, r WindowStat) {
	if n := m.Durations + r.Durations; n > 0 {
		m.DurationAvg = (avgOrZero(m) + avgOrZero(&r)) / float64(n)
		m.DurationP50 = maxQuantile(m.DurationP50, m.Durations, r.DurationP50, r.Durations)
		m.DurationP95 = maxQuantile(m.DurationP95, m.Durations, r.DurationP95, r.Durations)
		m.DurationP99 = maxQuantile(m.DurationP99, m.Durations, r.DurationP99, r.Durations)
	}
	m.Durations += r.Durations
	m.Pending += r.Pending
	m.Processing += r.Processing
	m.Success += r.Success
	m.Failed += r.Failed
	m.Partial += r.Partial
	m.RecordsTotal = addCapped(m.RecordsTotal, r.RecordsTotal)
	m.RecordsSuccess = addCapped(m.RecordsSuccess, r.RecordsSuccess)
}

// addCapped returns a + b, or the largest uint64 when the sum would wrap
// around, as ClickHouse's record sums are capped.
func addCapped(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

// avgOrZero is the sum of durations behind w's average.
func avgOrZero(w *WindowStat) float64 {
	if w.Durations == 0 || math.IsNaN(w.DurationAvg) {
		return 0
	}
	return w.DurationAvg * float64(w.Durations)
}

func maxQuantile(a float64, na uint64, b float64, nb uint64) float64 {
	switch {
	case na == 0:
		return b
	case nb == 0:
		return a
	}
	return max(a, b)
}
