// Package diagsource adapts the diagnose service to the exporter's
// Diagnostics port, so that the exporter itself knows nothing of how
// anomalies and forecasts are computed.
package diagsource

import (
	"context"
	"fmt"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
)

// Window is the span whose anomalies the metrics count.
const Window = 24 * time.Hour

// metricNames maps the forecast series to the exporter's names.
var metricNames = map[string]string{
	diagnose.MetricDurationP95:   "duration_p95_seconds",
	diagnose.MetricFailureRatio:  "failure_ratio",
	diagnose.MetricRecordsVolume: "records_per_day",
}

// Source answers the exporter's diagnostics from a diagnose service.
type Source struct {
	svc *diagnose.Service
}

// New returns a Source over svc.
func New(svc *diagnose.Service) Source { return Source{svc: svc} }

var _ exporter.Diagnostics = Source{}

// DiagnosticStates returns the anomalies of the last day and the
// forecasts of every source and sync type.
func (s Source) DiagnosticStates(ctx context.Context, now time.Time) ([]exporter.DiagnosticState, error) {
	rep, err := s.svc.Anomalies(ctx, diagnose.Query{Since: now.Add(-Window), Until: now})
	if err != nil {
		return nil, err
	}
	fcs, err := s.svc.Forecasts(ctx, diagnose.ForecastQuery{Until: now})
	if err != nil {
		return nil, err
	}
	type key struct{ source, syncType string }
	states := map[key]*exporter.DiagnosticState{}
	var order []key
	state := func(src, st string) *exporter.DiagnosticState {
		k := key{src, st}
		if s, ok := states[k]; ok {
			return s
		}
		s := &exporter.DiagnosticState{Source: src, SyncType: st, Detected: map[string]int{}, Ongoing: map[string]bool{},
			Forecasts: map[string]map[string]float64{}, Overrun: map[string]time.Duration{}}
		states[k] = s
		order = append(order, k)
		return s
	}
	for _, t := range rep.Types {
		st := state(t.Source, t.SyncType)
		if t.FailureBaseline != nil && t.ConsecutiveThreshold != nil {
			st.FailureBaseline, st.ConsecutiveThreshold = *t.FailureBaseline, *t.ConsecutiveThreshold
		}
	}
	for _, a := range rep.Anomalies {
		st := state(a.Source, a.SyncType)
		st.Detected[string(a.Kind)]++
		st.Ongoing[string(a.Kind)] = st.Ongoing[string(a.Kind)] || a.Ongoing
	}
	for _, f := range fcs {
		st := state(f.Source, f.SyncType)
		for _, tr := range f.Trends {
			name, ok := metricNames[tr.Metric]
			if !ok {
				continue
			}
			byHorizon := map[string]float64{}
			for _, p := range tr.Predictions {
				byHorizon[fmt.Sprintf("%dd", p.Days)] = p.Value
			}
			st.Forecasts[name] = byHorizon
		}
		for _, o := range f.Overruns {
			if o.At != nil {
				st.Overrun[o.Limit] = max(o.At.Sub(now), 0)
			}
		}
	}
	out := make([]exporter.DiagnosticState, 0, len(order))
	for _, k := range order {
		out = append(out, *states[k])
	}
	return out, nil
}
