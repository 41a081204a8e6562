package exporter

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultDiagnosticsInterval is how often the diagnostics metrics are
// recomputed: they judge hours and days of runs, and cost more than the
// other queries.
const DefaultDiagnosticsInterval = 5 * time.Minute

// AnomalyKinds are the values of the kind label of syncwatch_anomaly_*:
// a fixed set, so that the label stays bounded.
var AnomalyKinds = []string{"regression", "duration", "too_fast", "too_small", "failure_rate", "late", "too_often", "overlap"}

// Forecast horizons and limits: the values of the horizon and limit
// labels of syncwatch_forecast_*.
var (
	ForecastHorizons = []string{"7d", "30d"}
	ForecastLimits   = []string{"max_runtime", "interval"}
)

// Diagnostics answers the diagnostics metrics; an adapter over the
// diagnose service implements it.
type Diagnostics interface {
	// DiagnosticStates returns, per source and sync type, its anomalies
	// of the last day and its forecasts, as of now.
	DiagnosticStates(ctx context.Context, now time.Time) ([]DiagnosticState, error)
}

// DiagnosticState is one source and sync type's diagnostics.
type DiagnosticState struct {
	Source, SyncType string
	// Detected counts the anomalies of each kind detected in the last
	// day; Ongoing marks the kinds the latest runs still show.
	Detected map[string]int
	Ongoing  map[string]bool
	// FailureBaseline is p0 and ConsecutiveThreshold the adaptive
	// consecutive-failure threshold; 0 when unknown.
	FailureBaseline      float64
	ConsecutiveThreshold int
	// Forecasts by metric ("duration_p95_seconds", "failure_ratio",
	// "records_per_day") and horizon; absent without enough history.
	Forecasts map[string]map[string]float64
	// Overrun is the time from now until the p95 duration is expected to
	// reach each limit; absent when not within 30 days.
	Overrun map[string]time.Duration
}

// diagnosticsScraper publishes syncwatch_anomaly_* and
// syncwatch_forecast_*, recomputed every interval and served from its
// own cache in between.
type diagnosticsScraper struct {
	src      Diagnostics
	interval time.Duration
	d        *descs

	mu      sync.Mutex
	at      time.Time
	results []DiagnosticState
	// err is the last computation's error, answered again until the
	// interval has passed: a slow or failing diagnosis is not retried at
	// every refresh.
	err error
	// out are the metrics last built from results with the source labels
	// labels, answered again while neither changes, so that the served
	// exposition of the part is encoded once per computation
	// (Collector.Handler).
	out       []prometheus.Metric
	outAt     time.Time
	outLabels []string
}

func (s *diagnosticsScraper) name() string { return "diagnostics" }

func (s *diagnosticsScraper) scrape(ctx context.Context, run *scrapeRun) ([]prometheus.Metric, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() || run.now.Sub(s.at) >= s.interval {
		res, err := s.src.DiagnosticStates(ctx, run.now)
		s.at, s.err = run.now, err
		if err == nil {
			s.results = res
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("diagnostics: %w", s.err)
	}
	type agg struct {
		detected map[string]int
		ongoing  map[string]bool
	}
	// The source labels depend on the cap's admissions, which go on
	// between computations.
	labels := make([]string, len(s.results))
	for i, st := range s.results {
		if run.types[st.SyncType] {
			labels[i] = run.label(st.Source)
		}
	}
	if s.out != nil && s.outAt.Equal(s.at) && slices.Equal(labels, s.outLabels) {
		return s.out, nil
	}
	anomalies := map[pairKey]*agg{}
	out := []prometheus.Metric{}
	for i, st := range s.results {
		if !run.types[st.SyncType] {
			continue
		}
		label := labels[i]
		k := pairKey{label, st.SyncType}
		a := anomalies[k]
		if a == nil {
			a = &agg{detected: map[string]int{}, ongoing: map[string]bool{}}
			anomalies[k] = a
		}
		for kind, n := range st.Detected {
			a.detected[kind] += n
		}
		for kind, on := range st.Ongoing {
			a.ongoing[kind] = a.ongoing[kind] || on
		}
		// Thresholds and forecasts are a source's own: the folded
		// sources have none.
		if label != st.Source {
			continue
		}
		if st.ConsecutiveThreshold > 0 {
			out = append(out, gauge(s.d.consecutiveThreshold, float64(st.ConsecutiveThreshold), k.source, k.syncType),
				gauge(s.d.failureBaseline, st.FailureBaseline, k.source, k.syncType))
		}
		for metric, byHorizon := range st.Forecasts {
			desc := s.d.forecast[metric]
			if desc == nil {
				continue
			}
			for _, h := range ForecastHorizons {
				if v, ok := byHorizon[h]; ok {
					out = append(out, gauge(desc, v, k.source, k.syncType, h))
				}
			}
		}
		for _, l := range ForecastLimits {
			if d, ok := st.Overrun[l]; ok {
				out = append(out, gauge(s.d.forecastOverrun, d.Seconds(), k.source, k.syncType, l))
			}
		}
	}
	for k, a := range anomalies {
		for _, kind := range AnomalyKinds {
			out = append(out, gauge(s.d.anomalyDetected, float64(a.detected[kind]), k.source, k.syncType, kind))
			on := 0.0
			if a.ongoing[kind] {
				on = 1
			}
			out = append(out, gauge(s.d.anomalyOngoing, on, k.source, k.syncType, kind))
		}
	}
	s.out, s.outAt, s.outLabels = out, s.at, labels
	return out, nil
}
