package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/auth"
)

// Metrics are the collector's own instruments: ingest outcomes, the spool
// and the batcher. The HTTP instruments of every route are web's.
type Metrics struct {
	reports        *prometheus.CounterVec
	rejections     *prometheus.CounterVec
	batchSize      prometheus.Histogram
	insertDuration prometheus.Histogram
	insertErrors   prometheus.Counter
	quarantined    prometheus.Counter
	clickhouseUp   prometheus.Gauge
}

// Reasons a report or a request is refused, the values of the reason label.
const (
	ReasonInvalid         = "invalid"
	ReasonForbiddenSource = "forbidden_source"
	ReasonSpoolFull       = "spool_full"
	ReasonTooLarge        = "too_large"
	ReasonUnsupported     = "unsupported_media_type"
	ReasonMalformed       = "malformed"
	ReasonRateLimited     = auth.ReasonRateLimited
	ReasonUnauthorized    = auth.ReasonUnauthorized
	ReasonOverloaded      = "overloaded"
	ReasonRunConflict     = "run_conflict"
)

// NewMetrics creates the collector's instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_ingest_reports_total",
			Help: "Reports received by the ingest API, by outcome: accepted (spooled), duplicate (event_id seen before) or rejected.",
		}, []string{"outcome"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_ingest_rejections_total",
			Help: "Reports or requests the ingest API refused, by reason.",
		}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncwatch_batch_size_reports",
			Help:    "Reports per insert into ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		insertDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                        "syncwatch_insert_duration_seconds",
			Help:                        "Time of one insert into ClickHouse, failed ones included.",
			Buckets:                     []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
			NativeHistogramBucketFactor: 1.1,
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncwatch_insert_errors_total",
			Help: "Inserts into ClickHouse that failed (each is retried).",
		}),
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncwatch_quarantined_reports_total",
			Help: "Reports ClickHouse refused for good, set aside in the quarantine instead of retried.",
		}),
		clickhouseUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncwatch_clickhouse_up",
			Help: "1 when the last insert or health check reached ClickHouse, else 0.",
		}),
	}
	for _, o := range []string{"accepted", "duplicate", "rejected"} {
		m.reports.WithLabelValues(o)
	}
	for _, r := range []string{ReasonInvalid, ReasonForbiddenSource, ReasonSpoolFull, ReasonTooLarge, ReasonUnsupported, ReasonMalformed, ReasonRateLimited, ReasonUnauthorized, ReasonOverloaded, ReasonRunConflict} {
		m.rejections.WithLabelValues(r)
	}
	reg.MustRegister(m.reports, m.rejections, m.batchSize, m.insertDuration, m.insertErrors, m.quarantined, m.clickhouseUp)
	return m
}

// Rejected counts a report or request refused for reason, one of the
// Reason constants; the auth middleware reports its refusals here.
func (m *Metrics) Rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// registerQuarantine publishes the quarantine's size, read at scrape time.
func (m *Metrics) registerQuarantine(reg prometheus.Registerer, q *Quarantine) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "syncwatch_quarantine_reports",
		Help: "Reports in the quarantine: refused by ClickHouse for good, waiting for an operator to replay them.",
	}, func() float64 { return float64(q.Status().Reports) }))
}

// registerSpool publishes the spool's figures, read at scrape time.
func (m *Metrics) registerSpool(reg prometheus.Registerer, s *Spool) {
	gauge := func(name, help string, f func(SpoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(s.Stats()) })
	}
	reg.MustRegister(
		gauge("syncwatch_spool_reports", "Reports in the spool, waiting for ClickHouse.", func(st SpoolStats) float64 { return float64(st.Reports) }),
		gauge("syncwatch_spool_bytes", "Bytes of reports in the spool.", func(st SpoolStats) float64 { return float64(st.Bytes) }),
		gauge("syncwatch_spool_max_bytes", "The spool's limit in bytes; at it, ingest answers 503.", func(st SpoolStats) float64 { return float64(st.MaxBytes) }),
		gauge("syncwatch_spool_oldest_age_seconds", "Age of the oldest report in the spool; 0 when empty.", func(st SpoolStats) float64 {
			if st.Oldest.IsZero() {
				return 0
			}
			return time.Since(st.Oldest).Seconds()
		}),
	)
}

func (m *Metrics) observeInsert(n int, d time.Duration, err error) {
	m.insertDuration.Observe(d.Seconds())
	if err != nil {
		m.insertErrors.Inc()
		m.clickhouseUp.Set(0)
		return
	}
	m.batchSize.Observe(float64(n))
	m.clickhouseUp.Set(1)
}
