// Package exporter publishes syncwatch's metrics for Prometheus: the ingest
// instruments, updated as the collector accepts reports (Ingest), and a
// collector computed from ClickHouse at scrape time (Collector) that gives
// success ratios, durations, error frequencies and the latest activity of
// every source and sync type over all replicas.
//
// The ClickHouse-backed values are cached (Config.CacheTTL) and refreshed
// by one query set at a time, whatever the number of concurrent scrapes.
// A scrape waits for a refresh no longer than its scrape timeout allows
// (Collector.WrapHandler reads Prometheus's
// X-Prometheus-Scrape-Timeout-Seconds header); when the refresh fails or is
// late it serves the cached values, marked by
// syncwatch_exporter_scrape_success 0.
//
// The package owns the interface it needs of storage (Source) and imports
// nothing of syncwatch but synclog.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/syncwatch/syncwatch/synclog"
)

// Defaults of Config.
const (
	DefaultCacheTTL       = 15 * time.Second
	DefaultRetryInterval  = 5 * time.Second
	DefaultLookback       = 7 * 24 * time.Hour
	DefaultRefreshTimeout = 30 * time.Second
	DefaultScrapeTimeout  = 10 * time.Second
	DefaultMaxStaleness   = 5 * time.Minute
)

// DefaultWindows returns the windows of the syncwatch_window_* families:
// 1h and 24h.
func DefaultWindows() []time.Duration { return []time.Duration{time.Hour, 24 * time.Hour} }

// Config configures the ClickHouse-backed collector.
type Config struct {
	// SyncTypes are the configured sync types; others are not published.
	SyncTypes []string
	// Windows are the windows of the syncwatch_window_* families
	// (DefaultWindows() when empty).
	Windows []time.Duration
	// CacheTTL is how long refreshed values are served before the next
	// scrape queries ClickHouse again (default 15s).
	CacheTTL time.Duration
	// RetryInterval is how long a failed refresh is not retried, so that
	// scrapes do not pile queries onto a sick ClickHouse (default 5s,
	// at most CacheTTL).
	RetryInterval time.Duration
	// Lookback bounds the runs read for runs in progress and consecutive
	// failures (default 7 days).
	Lookback time.Duration
	// RefreshTimeout bounds one refresh, whoever waits for it (default 30s).
	RefreshTimeout time.Duration
	// ScrapeTimeout is how long a scrape waits for a refresh when the
	// request does not say its timeout (default 10s; a margin is kept for
	// encoding).
	ScrapeTimeout time.Duration
	// MaxStaleness is the age beyond which cached values are no longer
	// served while refreshes fail (default 5 minutes).
	MaxStaleness time.Duration
	// ExpectedIntervals and MaxRuntimes are published per sync type
	// (syncwatch_expected_interval_seconds, syncwatch_max_runtime_seconds);
	// a type without an entry or with 0 is left out.
	ExpectedIntervals map[string]time.Duration
	MaxRuntimes       map[string]time.Duration
	// Limiter bounds the source label; share it with the Ingest
	// instruments of the same process. A limiter of DefaultMaxSources
	// when nil.
	Limiter *SourceLimiter
	// Log receives refresh failures; discarded when nil.
	Log logrus.FieldLogger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c *Config) defaults() error {
	if len(c.SyncTypes) == 0 {
		return errors.New("exporter: no sync types configured")
	}
	if len(c.Windows) == 0 {
		c.Windows = DefaultWindows()
	}
	seen := map[string]bool{}
	for _, w := range c.Windows {
		if w < time.Minute {
			return fmt.Errorf("exporter: window %s is shorter than a minute", w)
		}
		if seen[windowLabel(w)] {
			return fmt.Errorf("exporter: window %s listed twice", w)
		}
		seen[windowLabel(w)] = true
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	c.RetryInterval = min(c.RetryInterval, c.CacheTTL)
	if c.Lookback <= 0 {
		c.Lookback = DefaultLookback
	}
	if c.RefreshTimeout <= 0 {
		c.RefreshTimeout = DefaultRefreshTimeout
	}
	if c.ScrapeTimeout <= 0 {
		c.ScrapeTimeout = DefaultScrapeTimeout
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.Limiter == nil {
		c.Limiter = NewSourceLimiter(0)
	}
	if c.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		c.Log = l
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Collector is the ClickHouse-backed prometheus.Collector.
type Collector struct {
	src   Source
	cfg   Config
	types map[string]bool
	d     descs
	// static are the configuration metrics, the same at every scrape.
	static    []prometheus.Metric
	refreshes *prometheus.CounterVec
	group     singleflight.Group

	mu    sync.Mutex
	cache cacheState
}

// cacheState is what the last refreshes left.
type cacheState struct {
	// snap is the result of the last successful refresh; nil before one.
	snap *snapshot
	// err is the error of the last refresh; nil when it succeeded.
	err error
	// attemptEnd and attemptDur are when the last refresh ended and how
	// long it took.
	attemptEnd time.Time
	attemptDur time.Duration
	// inflight is when the running refresh started; zero when none runs.
	inflight time.Time
	// late is set when a scrape stopped waiting for the running refresh
	// (its timeout came first) and cleared when a refresh ends.
	late bool
	// failing is true from a failed refresh to the next successful one.
	failing bool
}

// snapshot is the outcome of one successful refresh.
type snapshot struct {
	done    time.Time
	metrics []prometheus.Metric
	folded  int
}

type descs struct {
	windowRuns, windowSuccessRatio, windowRecordRatio, windowErrorsPerHour *prometheus.Desc
	windowDuration, windowDurationAvg                                      *prometheus.Desc
	lastSuccess, lastRun, inProgress, oldestInProgress, consecutiveFails   *prometheus.Desc
	scrapeDuration, scrapeSuccess, cacheAge, foldedSources                 *prometheus.Desc
	expectedInterval, maxRuntime                                           *prometheus.Desc
}

func newDescs() descs {
	st := []string{"source", "sync_type"}
	win := []string{"source", "sync_type", "window"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return descs{
		windowRuns:          d("syncwatch_window_runs", "Runs started in the window, by source, sync type and latest status.", []string{"source", "sync_type", "status", "window"}),
		windowSuccessRatio:  d("syncwatch_window_success_ratio", "Successful runs over terminal runs (success, failed, partial) started in the window; absent without a terminal run.", win),
		windowRecordRatio:   d("syncwatch_window_record_success_ratio", "Sum of success_count over sum of total_count of the terminal runs started in the window; absent without records.", win),
		windowErrorsPerHour: d("syncwatch_window_errors_per_hour", "Failed or partial runs started in the window, per hour of the window.", win),
		windowDuration:      d("syncwatch_window_duration_seconds", "Duration of the terminal runs started in the window: quantiles 0.5, 0.95 and 0.99; _count and _sum are the window's runs and seconds, not counters. Absent without a terminal run.", win),
		windowDurationAvg:   d("syncwatch_window_duration_avg_seconds", "Average duration of the terminal runs started in the window; absent without one.", win),
		lastSuccess:         d("syncwatch_last_success_timestamp_seconds", "When the latest successful run completed (Unix time); absent when none is stored.", st),
		lastRun:             d("syncwatch_last_run_timestamp_seconds", "Start of the latest run, whatever its status (Unix time).", st),
		inProgress:          d("syncwatch_runs_in_progress", "Runs whose latest status is pending or processing, among those started in the lookback (default 7 days).", st),
		oldestInProgress:    d("syncwatch_oldest_in_progress_start_timestamp_seconds", "Start of the oldest run in progress (Unix time); absent when none.", st),
		consecutiveFails:    d("syncwatch_consecutive_failures", "Most recent terminal runs, by start time, that failed, back to the last success or partial run (within the lookback); 0 when the latest terminal run did not fail.", st),
		scrapeDuration:      d("syncwatch_exporter_scrape_duration_seconds", "Duration of the ClickHouse queries behind the served values: of the last refresh, or how long the running one has taken when it is late.", nil),
		scrapeSuccess:       d("syncwatch_exporter_scrape_success", "1 when the ClickHouse-backed values are fresh; 0 when the last refresh failed or did not finish within the scrape timeout (cached values, or none, are served).", nil),
		cacheAge:            d("syncwatch_exporter_cache_age_seconds", "Age of the served ClickHouse-backed values; absent before the first successful refresh.", nil),
		foldedSources:       d("syncwatch_exporter_folded_sources", "Distinct sources beyond the source cap whose runs are published under source=\"other\".", nil),
		expectedInterval:    d("syncwatch_expected_interval_seconds", "Configured: how often a sync type should succeed; absent for types not run on a schedule.", []string{"sync_type"}),
		maxRuntime:          d("syncwatch_max_runtime_seconds", "Configured: how long a run of a sync type may take before it counts as hung.", []string{"sync_type"}),
	}
}

func (d descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.windowRuns, d.windowSuccessRatio, d.windowRecordRatio, d.windowErrorsPerHour, d.windowDuration, d.windowDurationAvg,
		d.lastSuccess, d.lastRun, d.inProgress, d.oldestInProgress, d.consecutiveFails,
		d.scrapeDuration, d.scrapeSuccess, d.cacheAge, d.foldedSources, d.expectedInterval, d.maxRuntime,
	}
}

// New creates the ClickHouse-backed collector over src and registers it
// with reg.
func New(src Source, cfg Config, reg prometheus.Registerer) (*Collector, error) {
	if src == nil {
		return nil, errors.New("exporter: no source")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Collector{
		src:   src,
		cfg:   cfg,
		types: make(map[string]bool, len(cfg.SyncTypes)),
		d:     newDescs(),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_exporter_refreshes_total",
			Help: "Refreshes of the ClickHouse-backed values (one query set each), by result: success or error.",
		}, []string{"result"}),
	}
	c.refreshes.WithLabelValues("success")
	c.refreshes.WithLabelValues("error")
	for _, t := range cfg.SyncTypes {
		c.types[t] = true
		if d := cfg.ExpectedIntervals[t]; d > 0 {
			c.static = append(c.static, prometheus.MustNewConstMetric(c.d.expectedInterval, prometheus.GaugeValue, d.Seconds(), t))
		}
		if d := cfg.MaxRuntimes[t]; d > 0 {
			c.static = append(c.static, prometheus.MustNewConstMetric(c.d.maxRuntime, prometheus.GaugeValue, d.Seconds(), t))
		}
	}
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Describe sends the descriptors of every family the collector publishes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
	c.refreshes.Describe(ch)
}

// Collect serves the cached values and the exporter's own figures. It
// never waits for ClickHouse: when the cache is stale it starts a refresh
// in the background, which the next scrape serves. WrapHandler makes a
// scrape wait for that refresh within its timeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.cfg.Now()
	c.mu.Lock()
	st := c.cache
	stale := st.inflight.IsZero() && c.needsRefresh(now)
	c.mu.Unlock()
	if stale {
		c.group.DoChan(refreshKey, c.refresh) // buffered; nobody waits
	}

	// Fresh means what scrape_success documents: values exist, the last
	// refresh succeeded, and no refresh is late: a scrape gave up waiting
	// for it, or it has run longer than a scrape waits by default. Not the
	// age against CacheTTL: a scrape whose wrapper found the cache fresh
	// may gather it a moment after the TTL ran out, which with scrapes
	// every TTL happens about every other time, and nothing failed then.
	late := st.late || (!st.inflight.IsZero() && now.Sub(st.inflight) >= c.cfg.ScrapeTimeout)
	fresh := st.snap != nil && st.err == nil && !late && now.Sub(st.snap.done) <= c.cfg.MaxStaleness
	if st.snap != nil && now.Sub(st.snap.done) <= c.cfg.MaxStaleness {
		for _, m := range st.snap.metrics {
			ch <- m
		}
		ch <- prometheus.MustNewConstMetric(c.d.cacheAge, prometheus.GaugeValue, max(0, now.Sub(st.snap.done).Seconds()))
		ch <- prometheus.MustNewConstMetric(c.d.foldedSources, prometheus.GaugeValue, float64(st.snap.folded))
	}
	dur := st.attemptDur
	if !st.inflight.IsZero() && now.Sub(st.inflight) > dur && !fresh {
		dur = now.Sub(st.inflight)
	}
	ch <- prometheus.MustNewConstMetric(c.d.scrapeDuration, prometheus.GaugeValue, dur.Seconds())
	ch <- prometheus.MustNewConstMetric(c.d.scrapeSuccess, prometheus.GaugeValue, boolFloat(fresh))
	for _, m := range c.static {
		ch <- m
	}
	c.refreshes.Collect(ch)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

const refreshKey = "refresh"

// needsRefresh reports whether the cache is due for a refresh; c.mu is held.
func (c *Collector) needsRefresh(now time.Time) bool {
	st := &c.cache
	switch {
	case st.attemptEnd.IsZero():
		return true
	case st.err != nil:
		return now.Sub(st.attemptEnd) >= c.cfg.RetryInterval
	default:
		return now.Sub(st.snap.done) >= c.cfg.CacheTTL
	}
}

// Refresh makes the cache fresh: it returns at once when it is, and
// otherwise starts a refresh, or joins the one running, and waits for it
// until ctx ends. The refresh goes on when ctx ends, bounded by
// Config.RefreshTimeout, and a later scrape serves its result. It returns
// the error of the refresh, or ctx's.
func (c *Collector) Refresh(ctx context.Context) error {
	c.mu.Lock()
	due := !c.cache.inflight.IsZero() || c.needsRefresh(c.cfg.Now())
	err := c.cache.err
	c.mu.Unlock()
	if !due {
		return err
	}
	select {
	case r := <-c.group.DoChan(refreshKey, c.refresh):
		return r.Err
	case <-ctx.Done():
		c.mu.Lock()
		if !c.cache.inflight.IsZero() {
			c.cache.late = true
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// refresh runs one query set unless another refresh made the cache fresh
// in the meantime. Only one runs at a time (singleflight).
func (c *Collector) refresh() (any, error) {
	start := c.cfg.Now()
	c.mu.Lock()
	if !c.needsRefresh(start) {
		err := c.cache.err
		c.mu.Unlock()
		return nil, err
	}
	c.cache.inflight = start
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RefreshTimeout)
	defer cancel()
	snap, err := c.query(ctx, start)
	end := c.cfg.Now()

	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.cache
	st.inflight = time.Time{}
	st.late = false
	st.attemptEnd = end
	st.attemptDur = end.Sub(start)
	st.err = err
	if err != nil {
		c.refreshes.WithLabelValues("error").Inc()
		entry := c.cfg.Log.WithError(err).WithField("component", "exporter")
		if !st.failing {
			entry.Warn("cannot refresh metrics from ClickHouse; serving cached values")
		} else {
			entry.Debug("refresh still failing")
		}
		st.failing = true
		return nil, err
	}
	c.refreshes.WithLabelValues("success").Inc()
	if st.failing {
		c.cfg.Log.WithField("component", "exporter").Info("metrics refresh from ClickHouse works again")
	}
	st.failing = false
	snap.done = end
	st.snap = snap
	return nil, nil
}

// pairKey identifies a source and sync type after folding.
type pairKey struct{ source, syncType string }

func (k pairKey) less(o pairKey) int {
	if c := strings.Compare(k.source, o.source); c != 0 {
		return c
	}
	return strings.Compare(k.syncType, o.syncType)
}

// query reads ClickHouse and builds the metrics of one snapshot.
func (c *Collector) query(ctx context.Context, now time.Time) (*snapshot, error) {
	states, err := c.src.TypeStates(ctx, now.Add(-c.cfg.Lookback))
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
	foldedSet := map[string]bool{}
	label := func(source string) string {
		l, folded := c.cfg.Limiter.Label(source)
		if folded {
			foldedSet[source] = true
		}
		return l
	}
	merged := map[pairKey]*TypeState{}
	for _, s := range states {
		if !c.types[s.SyncType] {
			continue
		}
		k := pairKey{label(s.Source), s.SyncType}
		if m, ok := merged[k]; ok {
			mergeState(m, s)
			continue
		}
		s.Source = k.source
		merged[k] = &s
	}

	snap := &snapshot{}
	add := func(desc *prometheus.Desc, v float64, labels ...string) {
		snap.metrics = append(snap.metrics, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...))
	}
	for _, w := range c.cfg.Windows {
		q := WindowQuery{Since: now.Add(-w), Until: now}
		if c.cfg.Limiter.Full() {
			q.Sources = c.cfg.Limiter.Kept()
		}
		rows, err := c.src.WindowStats(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("window %s: %w", windowLabel(w), err)
		}
		stats := map[pairKey]*WindowStat{}
		for _, r := range rows {
			if !c.types[r.SyncType] {
				continue
			}
			k := pairKey{label(r.Source), r.SyncType}
			if m, ok := stats[k]; ok {
				mergeWindow(m, r)
				continue
			}
			r.Source = k.source
			stats[k] = &r
		}
		keys := make([]pairKey, 0, len(merged)+len(stats))
		for k := range merged {
			keys = append(keys, k)
		}
		for k := range stats {
			if _, ok := merged[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, pairKey.less)
		wl := windowLabel(w)
		hours := w.Hours()
		for _, k := range keys {
			var s WindowStat
			if p := stats[k]; p != nil {
				s = *p
			}
			for _, st := range []struct {
				status synclog.Status
				n      uint64
			}{
				{synclog.StatusPending, s.Pending}, {synclog.StatusProcessing, s.Processing},
				{synclog.StatusSuccess, s.Success}, {synclog.StatusFailed, s.Failed}, {synclog.StatusPartial, s.Partial},
			} {
				add(c.d.windowRuns, float64(st.n), k.source, k.syncType, string(st.status), wl)
			}
			add(c.d.windowErrorsPerHour, float64(s.Failed+s.Partial)/hours, k.source, k.syncType, wl)
			if t := s.Terminal(); t > 0 {
				add(c.d.windowSuccessRatio, float64(s.Success)/float64(t), k.source, k.syncType, wl)
			}
			if s.RecordsTotal > 0 {
				add(c.d.windowRecordRatio, float64(s.RecordsSuccess)/float64(s.RecordsTotal), k.source, k.syncType, wl)
			}
			if s.Durations > 0 && !math.IsNaN(s.DurationAvg) {
				// A summary, so that the quantile label is where
				// Prometheus's conventions expect it.
				sum := s.DurationAvg * float64(s.Durations)
				quantiles := map[float64]float64{0.5: s.DurationP50, 0.95: s.DurationP95, 0.99: s.DurationP99}
				snap.metrics = append(snap.metrics, prometheus.MustNewConstSummary(c.d.windowDuration, s.Durations, sum, quantiles, k.source, k.syncType, wl))
				add(c.d.windowDurationAvg, s.DurationAvg, k.source, k.syncType, wl)
			}
		}
	}
	for k, s := range merged {
		if !s.LastRun.IsZero() {
			add(c.d.lastRun, unixSeconds(s.LastRun), k.source, k.syncType)
		}
		if !s.LastSuccess.IsZero() {
			add(c.d.lastSuccess, unixSeconds(s.LastSuccess), k.source, k.syncType)
		}
		add(c.d.inProgress, float64(s.InProgress), k.source, k.syncType)
		if s.InProgress > 0 && !s.OldestInProgress.IsZero() {
			add(c.d.oldestInProgress, unixSeconds(s.OldestInProgress), k.source, k.syncType)
		}
		add(c.d.consecutiveFails, float64(s.ConsecutiveFailures), k.source, k.syncType)
	}
	snap.folded = len(foldedSet)
	return snap, nil
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
	m.RecordsTotal += r.RecordsTotal
	m.RecordsSuccess += r.RecordsSuccess
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

// Status is the state of the collector's cache, for health reports.
type Status struct {
	// LastSuccess is when the last successful refresh ended.
	LastSuccess time.Time
	// LastError is the error of the last refresh; nil when it succeeded.
	LastError error
}

// Status returns the state of the cache.
func (c *Collector) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s Status
	if c.cache.snap != nil {
		s.LastSuccess = c.cache.snap.done
	}
	s.LastError = c.cache.err
	return s
}
