// Package diaginsights adapts the diagnose service to the digests'
// Insights port: a digest then carries the period's notable anomalies and
// the forecast overruns of its scope.
package diaginsights

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/digest"
)

// maxInsights bounds the anomalies one digest lists.
const maxInsights = 20

// notable are the kinds of anomaly a digest reports: those that say
// something lasted or mattered, not every single slow run.
var notable = []diagnose.Kind{diagnose.KindRegression, diagnose.KindFailureRate, diagnose.KindTooSmall, diagnose.KindLate}

// Source answers the digests' insights from a diagnose service.
type Source struct {
	svc        *diagnose.Service
	consoleURL string
}

// New returns a Source over svc; consoleURL, when set, prefixes the links
// to the console's Diagnosis page.
func New(svc *diagnose.Service, consoleURL string) Source {
	return Source{svc: svc, consoleURL: consoleURL}
}

var _ digest.Insights = Source{}

// Insights returns the notable anomalies detected in the period (its last
// MaxWindow when longer) and the overruns the forecasts at its end
// expect within 30 days.
func (s Source) Insights(ctx context.Context, scope digest.Scope, p digest.Period) ([]digest.Insight, error) {
	f := diagnose.Filter{Sources: scope.Sources, SyncTypes: scope.SyncTypes}
	since := p.Start
	if max := s.svc.Config().MaxWindow; p.End.Sub(since) > max {
		since = p.End.Add(-max)
	}
	rep, err := s.svc.Anomalies(ctx, diagnose.Query{Filter: f, Since: since, Until: p.End, Kinds: notable})
	if err != nil {
		return nil, fmt.Errorf("digest insights: %w", err)
	}
	var out []digest.Insight
	for _, a := range rep.Anomalies {
		if len(out) == maxInsights {
			break
		}
		out = append(out, digest.Insight{Kind: "anomaly", SyncType: a.SyncType, Source: a.Source,
			Summary: fmt.Sprintf("%s: %s", a.Kind, a.Summary), Link: s.link(a.Source, a.SyncType)})
	}
	fcs, err := s.svc.Forecasts(ctx, diagnose.ForecastQuery{Filter: f, Until: p.End})
	if err != nil {
		return nil, fmt.Errorf("digest insights: %w", err)
	}
	for _, fc := range fcs {
		for _, o := range fc.Overruns {
			if o.At == nil {
				continue
			}
			out = append(out, digest.Insight{Kind: "forecast", SyncType: fc.SyncType, Source: fc.Source,
				Summary: fmt.Sprintf("p95 duration expected to reach its %s (%s) around %s (%s to %s)",
					o.Limit, time.Duration(o.LimitSeconds*float64(time.Second)), day(o.At), day(o.Earliest), day(o.Latest)),
				Link: s.link(fc.Source, fc.SyncType)})
		}
	}
	return out, nil
}

func (s Source) link(source, syncType string) string {
	if s.consoleURL == "" {
		return ""
	}
	return s.consoleURL + "/ui/diagnosis?" + url.Values{"sync_type": {syncType}, "source": {source}}.Encode()
}

func day(t *time.Time) string {
	if t == nil {
		return "?"
	}
	return t.UTC().Format(time.DateOnly)
}
