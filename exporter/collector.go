// Package exporter publishes syncwatch's metrics for Prometheus: the ingest
// instruments, updated as the collector accepts reports (Ingest), and a
// collector computed from ClickHouse at scrape time (Collector) that gives
// success ratios, durations, error frequencies and the latest activity of
// every source and sync type over all replicas.
//
// The ClickHouse-backed values are read by scrapers, one per query of the
// Source (type states, window stats), cached (Config.CacheTTL) and
// refreshed by one refresh at a time, whatever the number of concurrent
// scrapes. A scrape waits for a refresh no longer than its scrape timeout
// allows (Collector.WrapHandler reads Prometheus's
// X-Prometheus-Scrape-Timeout-Seconds header); when a scraper fails or the
// refresh is late it serves that scraper's cached values, marked by
// syncwatch_exporter_scrape_success{scraper="..."} 0.
//
// The package owns the interface it needs of storage (Source) and imports
// nothing of syncwatch but synclog, and web for its health check
// (HealthChecks).
package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"
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
	// Diagnostics, when set, adds syncwatch_anomaly_* and
	// syncwatch_forecast_*, recomputed every DiagnosticsInterval (default
	// DefaultDiagnosticsInterval).
	Diagnostics         Diagnostics
	DiagnosticsInterval time.Duration
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
	if c.DiagnosticsInterval <= 0 {
		c.DiagnosticsInterval = DefaultDiagnosticsInterval
	}
	return nil
}

// Collector is the ClickHouse-backed prometheus.Collector.
type Collector struct {
	cfg      Config
	types    map[string]bool
	d        *descs
	scrapers []scraper
	// static are the configuration metrics, the same at every scrape.
	static    []prometheus.Metric
	refreshes *prometheus.CounterVec
	group     singleflight.Group

	mu    sync.Mutex
	cache cacheState
	// encoded is the cache as Handler serves it.
	encoded servedCache
}

// cacheState is what the last refreshes left.
type cacheState struct {
	// parts holds each scraper's outcome, in the order of
	// Collector.scrapers; a refresh replaces the slice, never its
	// elements, so a copy of cacheState may be read unlocked.
	parts []scrapedPart
	// pairs are the pairs of the last good type-state scrape.
	pairs map[pairKey]bool
	// attemptEnd is when the last refresh ended.
	attemptEnd time.Time
	// inflight is when the running refresh started; zero when none runs.
	inflight time.Time
	// late is set when a scrape stopped waiting for the running refresh
	// (its timeout came first) and cleared when a refresh ends.
	late bool
	// failing is true from a failed refresh to the next successful one.
	failing bool
	// gen is the last generation given to a part's metrics.
	gen uint64
}

// scrapedPart is one scraper's share of the cache.
type scrapedPart struct {
	// done is when the last good scrape's refresh ended; zero before one.
	done time.Time
	// metrics and folded (the sources it published as "_other") are those
	// of the last good scrape.
	metrics []prometheus.Metric
	folded  map[string]bool
	// err is the error of the last scrape; nil when it succeeded.
	err error
	// dur is how long the last scrape took.
	dur time.Duration
	// gen identifies metrics: it changes when a refresh replaces them by
	// others, and stays when the scraper answers the same slice again.
	gen uint64
}

// servable reports whether p has values young enough to serve at now.
func (p scrapedPart) servable(now time.Time, maxStaleness time.Duration) bool {
	return !p.done.IsZero() && now.Sub(p.done) <= maxStaleness
}

// errs joins the errors of the last scrapes; nil when all succeeded.
func (st *cacheState) errs() error {
	var errs []error
	for _, p := range st.parts {
		if p.err != nil {
			errs = append(errs, p.err)
		}
	}
	return errors.Join(errs...)
}

type descs struct {
	windowRuns, windowSuccessRatio, windowRecordRatio, windowErrorsPerHour *prometheus.Desc
	windowDuration, windowDurationAvg                                      *prometheus.Desc
	lastSuccess, lastRun, inProgress, oldestInProgress, consecutiveFails   *prometheus.Desc
	scrapeDuration, scrapeSuccess, cacheAge, foldedSources                 *prometheus.Desc
	expectedInterval, maxRuntime                                           *prometheus.Desc
	// The diagnostics families, published when Config.Diagnostics is set.
	anomalyDetected, anomalyOngoing, consecutiveThreshold, failureBaseline *prometheus.Desc
	forecast                                                               map[string]*prometheus.Desc
	forecastOverrun                                                        *prometheus.Desc
}

func newDescs() *descs {
	st := []string{"source", "sync_type"}
	win := []string{"source", "sync_type", "window"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &descs{
		windowRuns:          d("syncwatch_window_runs", "Runs of the window, by source, sync type and latest status: terminal runs that finished in it, runs in progress that started in it.", []string{"source", "sync_type", "status", "window"}),
		windowSuccessRatio:  d("syncwatch_window_success_ratio", "Successful runs over terminal runs (success, failed, partial) finished in the window; absent without a terminal run.", win),
		windowRecordRatio:   d("syncwatch_window_record_success_ratio", "Sum of success_count over sum of total_count of the terminal runs finished in the window; absent without records.", win),
		windowErrorsPerHour: d("syncwatch_window_errors_per_hour", "Failed or partial runs finished in the window, per hour of the window.", win),
		windowDuration:      d("syncwatch_window_duration_seconds", "Duration of the terminal runs finished in the window: quantiles 0.5, 0.95 and 0.99; _count and _sum are the window's runs and seconds, not counters. Absent without a terminal run.", win),
		windowDurationAvg:   d("syncwatch_window_duration_avg_seconds", "Average duration of the terminal runs finished in the window; absent without one.", win),
		lastSuccess:         d("syncwatch_last_success_timestamp_seconds", "When the latest successful run completed (Unix time); absent when none is stored.", st),
		lastRun:             d("syncwatch_last_run_timestamp_seconds", "Start of the latest run, whatever its status (Unix time).", st),
		inProgress:          d("syncwatch_runs_in_progress", "Runs whose latest status is pending or processing, among those started in the lookback (default 7 days).", st),
		oldestInProgress:    d("syncwatch_oldest_in_progress_start_timestamp_seconds", "Start of the oldest run in progress (Unix time); absent when none.", st),
		consecutiveFails:    d("syncwatch_consecutive_failures", "Most recent terminal runs, by start time, that failed, back to the last success or partial run (within the lookback); 0 when the latest terminal run did not fail.", st),
		scrapeDuration:      d("syncwatch_exporter_scrape_duration_seconds", "Duration of the ClickHouse queries behind the served values: of the last refresh, or how long the running one has taken when it is late.", []string{"scraper"}),
		scrapeSuccess:       d("syncwatch_exporter_scrape_success", "1 when the ClickHouse-backed values are fresh; 0 when the last refresh failed or did not finish within the scrape timeout (cached values, or none, are served).", []string{"scraper"}),
		cacheAge:            d("syncwatch_exporter_cache_age_seconds", "Age of the served ClickHouse-backed values; absent before the first successful refresh.", nil),
		foldedSources:       d("syncwatch_exporter_folded_sources", "Distinct sources beyond the source cap whose runs are published under source=\"_other\".", nil),
		expectedInterval:    d("syncwatch_expected_interval_seconds", "Configured: how often a sync type should succeed; absent for types not run on a schedule.", []string{"sync_type"}),
		maxRuntime:          d("syncwatch_max_runtime_seconds", "Configured: how long a run of a sync type may take before it counts as hung.", []string{"sync_type"}),

		anomalyDetected:      d("syncwatch_anomaly_detected", "Anomalies of each kind detected in the last 24 hours (docs/diagnostics.md); recomputed every few minutes.", []string{"source", "sync_type", "kind"}),
		anomalyOngoing:       d("syncwatch_anomaly_ongoing", "1 when the latest runs still show an anomaly of the kind (a regression, a failure burst, a late job, ...), else 0.", []string{"source", "sync_type", "kind"}),
		consecutiveThreshold: d("syncwatch_anomaly_consecutive_failures_threshold", "Adaptive consecutive-failure threshold ceil(ln α / ln p0): this many failures in a row are improbable (p < α) at the type's baseline failure rate.", st),
		failureBaseline:      d("syncwatch_anomaly_failure_baseline_ratio", "Smoothed baseline failure rate p0 = (f+1)/(n+2) over the 28 days before the last day.", st),
		forecast: map[string]*prometheus.Desc{
			"duration_p95_seconds": d("syncwatch_forecast_duration_p95_seconds", "Daily p95 duration predicted by the trend of the last 28 days, 7 and 30 days ahead.", []string{"source", "sync_type", "horizon"}),
			"failure_ratio":        d("syncwatch_forecast_failure_ratio", "Daily failure ratio predicted by the trend of the last 28 days, 7 and 30 days ahead.", []string{"source", "sync_type", "horizon"}),
			"records_per_day":      d("syncwatch_forecast_records_per_day", "Daily record volume predicted by the trend of the last 28 days, 7 and 30 days ahead.", []string{"source", "sync_type", "horizon"}),
		},
		forecastOverrun: d("syncwatch_forecast_overrun_seconds", "Time until the trend of the daily p95 duration reaches the limit (the max runtime, or the schedule interval); absent when not within 30 days.", []string{"source", "sync_type", "limit"}),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.windowRuns, d.windowSuccessRatio, d.windowRecordRatio, d.windowErrorsPerHour, d.windowDuration, d.windowDurationAvg,
		d.lastSuccess, d.lastRun, d.inProgress, d.oldestInProgress, d.consecutiveFails,
		d.scrapeDuration, d.scrapeSuccess, d.cacheAge, d.foldedSources, d.expectedInterval, d.maxRuntime,
		d.anomalyDetected, d.anomalyOngoing, d.consecutiveThreshold, d.failureBaseline,
		d.forecast["duration_p95_seconds"], d.forecast["failure_ratio"], d.forecast["records_per_day"], d.forecastOverrun,
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
	d := newDescs()
	c := &Collector{
		cfg:   cfg,
		types: make(map[string]bool, len(cfg.SyncTypes)),
		d:     d,
		// type_states first: it admits sources in the order they first
		// ran, and window_stats publishes zeros for the pairs it found.
		scrapers: []scraper{
			typeStateScraper{src: src, lookback: cfg.Lookback, d: d},
			windowScraper{src: src, windows: cfg.Windows, d: d},
		},
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_exporter_refreshes_total",
			Help: "Refreshes of the ClickHouse-backed values (one query set each), by result: success or error.",
		}, []string{"result"}),
	}
	if cfg.Diagnostics != nil {
		c.scrapers = append(c.scrapers, &diagnosticsScraper{src: cfg.Diagnostics, interval: cfg.DiagnosticsInterval, d: d})
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
	st, now := c.view()
	for _, i := range c.served(st, now) {
		for _, m := range st.parts[i].metrics {
			ch <- m
		}
	}
	for _, m := range c.static {
		ch <- m
	}
	for _, m := range c.live(st, now) {
		ch <- m
	}
}

// view returns the cache as a scrape at now serves it, and starts a
// refresh in the background when it is stale.
func (c *Collector) view() (cacheState, time.Time) {
	now := c.cfg.Now()
	c.mu.Lock()
	st := c.cache
	stale := st.inflight.IsZero() && c.needsRefresh(now)
	c.mu.Unlock()
	if stale {
		c.group.DoChan(refreshKey, c.refresh) // buffered; nobody waits
	}
	return st, now
}

// served returns the indexes of the parts of st that a scrape at now
// serves: those young enough (Config.MaxStaleness).
func (c *Collector) served(st cacheState, now time.Time) []int {
	var idx []int
	for i := range c.scrapers {
		if i < len(st.parts) && st.parts[i].servable(now, c.cfg.MaxStaleness) {
			idx = append(idx, i)
		}
	}
	return idx
}

// live returns the metrics that change from one scrape to the next
// although the cache does not: the scrapers' success and duration, the
// cache's age, the folded sources and the refresh counts. The cached
// families (the scrapers' and the configuration's) change only with a
// refresh; Handler encodes those once per refresh.
func (c *Collector) live(st cacheState, now time.Time) []prometheus.Metric {
	// Fresh means what scrape_success documents: the scraper's values
	// exist, its last scrape succeeded, and no refresh is late: a scrape
	// gave up waiting for it, or it has run longer than a scrape waits by
	// default. Not the age against CacheTTL: a scrape whose wrapper found the cache fresh
	// may gather it a moment after the TTL ran out, which with scrapes
	// every TTL happens about every other time, and nothing failed then.
	late := st.late || (!st.inflight.IsZero() && now.Sub(st.inflight) >= c.cfg.ScrapeTimeout)
	out := make([]prometheus.Metric, 0, 2*len(c.scrapers)+4)
	var oldest time.Time
	folded := map[string]bool{}
	for i, sc := range c.scrapers {
		var p scrapedPart
		if i < len(st.parts) {
			p = st.parts[i]
		}
		servable := p.servable(now, c.cfg.MaxStaleness)
		if servable {
			for s := range p.folded {
				folded[s] = true
			}
			if oldest.IsZero() || p.done.Before(oldest) {
				oldest = p.done
			}
		}
		fresh := servable && p.err == nil && !late
		dur := p.dur
		if !st.inflight.IsZero() && now.Sub(st.inflight) > dur && !fresh {
			dur = now.Sub(st.inflight)
		}
		out = append(out, prometheus.MustNewConstMetric(c.d.scrapeDuration, prometheus.GaugeValue, dur.Seconds(), sc.name()),
			prometheus.MustNewConstMetric(c.d.scrapeSuccess, prometheus.GaugeValue, boolFloat(fresh), sc.name()))
	}
	if !oldest.IsZero() {
		out = append(out, prometheus.MustNewConstMetric(c.d.cacheAge, prometheus.GaugeValue, max(0, now.Sub(oldest).Seconds())),
			prometheus.MustNewConstMetric(c.d.foldedSources, prometheus.GaugeValue, float64(len(folded))))
	}
	ch := make(chan prometheus.Metric, 2)
	go func() {
		c.refreshes.Collect(ch)
		close(ch)
	}()
	for m := range ch {
		out = append(out, m)
	}
	return out
}

// sameMetrics reports whether a and b are the same slice: a scraper that
// found nothing new answers its last metrics again.
func sameMetrics(a, b []prometheus.Metric) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
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
	case st.errs() != nil:
		return now.Sub(st.attemptEnd) >= c.cfg.RetryInterval
	default:
		return now.Sub(st.attemptEnd) >= c.cfg.CacheTTL
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
	err := c.cache.errs()
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

// refresh runs every scraper unless another refresh made the cache fresh
// in the meantime. Only one runs at a time (singleflight). It fails when a
// scraper fails; the others' values are replaced all the same.
func (c *Collector) refresh() (any, error) {
	start := c.cfg.Now()
	c.mu.Lock()
	if !c.needsRefresh(start) {
		err := c.cache.errs()
		c.mu.Unlock()
		return nil, err
	}
	c.cache.inflight = start
	run := &scrapeRun{now: start, types: c.types, limiter: c.cfg.Limiter, pairs: c.cache.pairs}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RefreshTimeout)
	defer cancel()
	results := make([]scrapedPart, len(c.scrapers))
	for i, sc := range c.scrapers {
		begin := c.cfg.Now()
		run.folded = map[string]bool{}
		metrics, err := sc.scrape(ctx, run)
		results[i] = scrapedPart{metrics: metrics, folded: run.folded, err: err, dur: c.cfg.Now().Sub(begin)}
		if err != nil {
			results[i].err = fmt.Errorf("scraper %s: %w", sc.name(), err)
		}
	}
	end := c.cfg.Now()

	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.cache
	parts := make([]scrapedPart, len(c.scrapers))
	copy(parts, st.parts)
	for i, r := range results {
		if r.err != nil {
			parts[i].err, parts[i].dur = r.err, r.dur
			continue
		}
		r.done = end
		if r.gen = parts[i].gen; !sameMetrics(parts[i].metrics, r.metrics) || parts[i].done.IsZero() {
			st.gen++
			r.gen = st.gen
		}
		parts[i] = r
	}
	st.parts = parts
	st.pairs = run.pairs
	st.inflight = time.Time{}
	st.late = false
	st.attemptEnd = end
	if err := st.errs(); err != nil {
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
	return nil, nil
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
	// The values are as old as the oldest scraper's; none are complete
	// before every scraper has succeeded once.
	var s Status
	for i := range c.scrapers {
		if i >= len(c.cache.parts) || c.cache.parts[i].done.IsZero() {
			s.LastSuccess = time.Time{}
			break
		}
		if d := c.cache.parts[i].done; s.LastSuccess.IsZero() || d.Before(s.LastSuccess) {
			s.LastSuccess = d
		}
	}
	s.LastError = c.cache.errs()
	return s
}
