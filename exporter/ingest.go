package exporter

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/synclog"
)

// DurationBuckets returns the classic buckets of
// syncwatch_run_duration_seconds, from 100 ms to 6 hours; a native
// histogram with bucket factor 1.1 is exposed beside them to scrapers that
// ask for it.
func DurationBuckets() []float64 {
	return []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600}
}

// Ingest holds the ingest instruments: counters and a histogram updated as
// the collector accepts reports, one count per terminal report. They live
// in each collector process (per replica) and are exact from the moment
// the process starts; the ClickHouse-backed collector gives the view over
// all replicas.
//
// Prometheus sees no increase in a series whose first sample already holds
// the first count, so every series starts at 0 in a scrape before it
// counts: pairs of source and sync type known at start are published at 0
// by Initialize, and the reports of a pair first seen since wait, counted
// at 0, until the next scrape has exported it (or maxPending of them have
// come). Ingest is a prometheus.Collector; register it, not its parts.
type Ingest struct {
	types    map[string]bool
	limiter  *SourceLimiter
	runs     *prometheus.CounterVec
	records  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	folded   prometheus.Counter

	mu sync.Mutex
	// exported holds the pairs whose series a scrape has seen; fresh the
	// pairs whose series were created at 0 since the last scrape.
	exported, fresh map[pair]bool
	// pending holds the reports of the other pairs, counted after the
	// next scrape.
	pending map[pair][]observation
}

// pair is a source label and a sync type.
type pair struct{ source, syncType string }

// observation is what one terminal report adds to the instruments.
type observation struct {
	status          string
	success, failed uint64
	// seconds is the run's duration; negative when it has none.
	seconds float64
}

// maxPending bounds the reports of one new pair held for the next scrape;
// beyond it (no Prometheus scrapes this process) they count at once.
const maxPending = 1000

// terminalStatuses are the values of the status label of syncwatch_runs_total.
var terminalStatuses = []string{string(synclog.StatusSuccess), string(synclog.StatusFailed), string(synclog.StatusPartial)}

// NewIngest creates the ingest instruments for the configured sync types
// and registers them with reg. Sources are labelled through limiter.
func NewIngest(reg prometheus.Registerer, syncTypes []string, limiter *SourceLimiter) (*Ingest, error) {
	if len(syncTypes) == 0 {
		return nil, errors.New("exporter: no sync types configured")
	}
	if limiter == nil {
		limiter = NewSourceLimiter(0)
	}
	in := &Ingest{
		types:   make(map[string]bool, len(syncTypes)),
		limiter: limiter,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_runs_total",
			Help: "Terminal run reports accepted by this collector, by source, sync type and status (success, failed, partial); each report counted once whatever the number of deliveries.",
		}, []string{"source", "sync_type", "status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_records_total",
			Help: "Records processed by terminal runs, by source, sync type and outcome: success (success_count) or failed (failed_count).",
		}, []string{"source", "sync_type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "syncwatch_run_duration_seconds",
			Help:                            "Duration of terminal runs (completed_at minus the run's start), by source and sync type.",
			Buckets:                         DurationBuckets(),
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"source", "sync_type"}),
		folded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncwatch_sources_folded_total",
			Help: "Terminal reports whose source was beyond the source cap (--max-sources) and was counted under source=\"other\".",
		}),
		exported: map[pair]bool{},
		fresh:    map[pair]bool{},
		pending:  map[pair][]observation{},
	}
	for _, t := range syncTypes {
		in.types[t] = true
	}
	if err := reg.Register(in); err != nil {
		return nil, err
	}
	return in, nil
}

// Describe sends the descriptions of the ingest instruments.
func (in *Ingest) Describe(ch chan<- *prometheus.Desc) {
	in.runs.Describe(ch)
	in.records.Describe(ch)
	in.duration.Describe(ch)
	in.folded.Describe(ch)
}

// Collect sends the instruments' values. The reports of a pair whose
// series a previous scrape exported at 0 are counted first; the pairs
// created at 0 since are exported by this one. (The counts are not added
// after sending: the registry reads the values after Collect returns.)
func (in *Ingest) Collect(ch chan<- prometheus.Metric) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for p := range in.pending {
		if in.exported[p] {
			in.flush(p)
		}
	}
	in.runs.Collect(ch)
	in.records.Collect(ch)
	in.duration.Collect(ch)
	in.folded.Collect(ch)
	for p := range in.fresh {
		in.exported[p] = true
		delete(in.fresh, p)
	}
}

// flush counts the reports held for p.
func (in *Ingest) flush(p pair) {
	for _, o := range in.pending[p] {
		in.count(p, o)
	}
	delete(in.pending, p)
}

// Initialize publishes the series of a pair of source and sync type at 0,
// so that its first report after a start is an increase Prometheus sees.
// Call it for the pairs ClickHouse knows at start.
func (in *Ingest) Initialize(source, syncType string) {
	if !in.types[syncType] {
		return
	}
	label, _ := in.limiter.Label(source)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.zero(pair{label, syncType})
}

// zero creates the series of p at 0, for the next scrape to export.
func (in *Ingest) zero(p pair) {
	if in.exported[p] || in.fresh[p] {
		return
	}
	in.fresh[p] = true
	for _, st := range terminalStatuses {
		in.runs.WithLabelValues(p.source, p.syncType, st)
	}
	in.records.WithLabelValues(p.source, p.syncType, "success")
	in.records.WithLabelValues(p.source, p.syncType, "failed")
	in.duration.WithLabelValues(p.source, p.syncType)
}

// count adds one report to the series of p.
func (in *Ingest) count(p pair, o observation) {
	in.runs.WithLabelValues(p.source, p.syncType, o.status).Inc()
	in.records.WithLabelValues(p.source, p.syncType, "success").Add(float64(o.success))
	in.records.WithLabelValues(p.source, p.syncType, "failed").Add(float64(o.failed))
	if o.seconds >= 0 {
		in.duration.WithLabelValues(p.source, p.syncType).Observe(o.seconds)
	}
}

// Observe counts the terminal reports among reports, which the collector
// has just accepted (duplicates already dropped). Use it as the
// collector's OnAccepted hook.
func (in *Ingest) Observe(reports []synclog.Report) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range reports {
		r := &reports[i]
		if !r.Status.Terminal() || !in.types[r.SyncType] {
			continue
		}
		source, folded := in.limiter.Label(r.Source)
		if folded {
			in.folded.Inc()
		}
		o := observation{status: string(r.Status), success: r.SuccessCount, failed: r.FailedCount, seconds: -1}
		if r.CompletedAt != nil {
			start := r.RunStartedAt
			if start.IsZero() {
				start = r.StartedAt
			}
			o.seconds = max(r.CompletedAt.Sub(start), 0).Seconds()
		}
		p := pair{source, r.SyncType}
		if in.exported[p] {
			in.flush(p)
			in.count(p, o)
			continue
		}
		// A pair no scrape has seen yet: its series show 0 first.
		in.zero(p)
		in.pending[p] = append(in.pending[p], o)
		if len(in.pending[p]) >= maxPending {
			in.exported[p] = true
			delete(in.fresh, p)
			in.flush(p)
		}
	}
}
