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
	"github.com/syncwatch/syncwatch/synclog"
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

// kindsZH name the kinds of anomaly in a Chinese digest, as the console
// does.
var kindsZH = map[diagnose.Kind]string{
	diagnose.KindRegression: "性能退化", diagnose.KindDuration: "运行缓慢", diagnose.KindTooFast: "过快完成",
	diagnose.KindTooSmall: "记录过少", diagnose.KindFailureRate: "集中失败", diagnose.KindLate: "延迟",
	diagnose.KindTooOften: "过于频繁", diagnose.KindOverlap: "运行重叠",
}

// limitsZH name the limits of an overrun in a Chinese digest.
var limitsZH = map[string]string{"max_runtime": "最长运行时间", "interval": "运行间隔"}

// Insights returns the notable anomalies detected in the period (its last
// MaxWindow when longer) and the overruns the forecasts at its end
// expect within 30 days, worded in lang (the digest's language: en or
// zh).
func (s Source) Insights(ctx context.Context, scope digest.Scope, p digest.Period, lang string) ([]digest.Insight, error) {
	zh := synclog.Language(lang) == synclog.Chinese
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
			Summary: anomalySummary(a, zh), Link: s.link(a.Source, a.SyncType)})
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
				Summary: overrunSummary(o, zh), Link: s.link(fc.Source, fc.SyncType)})
		}
	}
	return out, nil
}

// anomalySummary is an anomaly's line in a digest: its kind and summary.
func anomalySummary(a diagnose.Anomaly, zh bool) string {
	if zh {
		return kindsZH[a.Kind] + "：" + a.Message.Text(synclog.Chinese)
	}
	return fmt.Sprintf("%s: %s", a.Kind, a.Summary)
}

// overrunSummary is a forecast overrun's line in a digest.
func overrunSummary(o diagnose.Overrun, zh bool) string {
	limit := time.Duration(o.LimitSeconds * float64(time.Second))
	if zh {
		return fmt.Sprintf("p95 耗时预计在 %s 前后达到%s（%s），区间 %s 至 %s",
			day(o.At), limitsZH[o.Limit], diagnose.DurationText(limit, synclog.Chinese), day(o.Earliest), day(o.Latest))
	}
	return fmt.Sprintf("p95 duration expected to reach its %s (%s) around %s (%s to %s)",
		o.Limit, limit, day(o.At), day(o.Earliest), day(o.Latest))
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
