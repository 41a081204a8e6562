package exporter

import (
	"errors"
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
type Ingest struct {
	types    map[string]bool
	limiter  *SourceLimiter
	runs     *prometheus.CounterVec
	records  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	folded   prometheus.Counter
}

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
	}
	for _, t := range syncTypes {
		in.types[t] = true
	}
	for _, c := range []prometheus.Collector{in.runs, in.records, in.duration, in.folded} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Observe counts the terminal reports among reports, which the collector
// has just accepted (duplicates already dropped). Use it as the
// collector's OnAccepted hook.
func (in *Ingest) Observe(reports []synclog.Report) {
	for i := range reports {
		r := &reports[i]
		if !r.Status.Terminal() || !in.types[r.SyncType] {
			continue
		}
		source, folded := in.limiter.Label(r.Source)
		if folded {
			in.folded.Inc()
		}
		// Every terminal status and both outcomes exist from the first
		// report of a pair on, so that increase() sees the first change.
		for _, st := range terminalStatuses {
			c := in.runs.WithLabelValues(source, r.SyncType, st)
			if st == string(r.Status) {
				c.Inc()
			}
		}
		in.records.WithLabelValues(source, r.SyncType, "success").Add(float64(r.SuccessCount))
		in.records.WithLabelValues(source, r.SyncType, "failed").Add(float64(r.FailedCount))
		if r.CompletedAt != nil {
			start := r.RunStartedAt
			if start.IsZero() {
				start = r.StartedAt
			}
			d := r.CompletedAt.Sub(start)
			if d < 0 {
				d = 0
			}
			in.duration.WithLabelValues(source, r.SyncType).Observe(d.Seconds())
		}
	}
}
