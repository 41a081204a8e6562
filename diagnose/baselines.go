package diagnose

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// BaselineBuilder summarises, a day at a time, what the detectors read of
// the runs before a window, so that a question reads a few rows per type
// and day instead of every run. The summaries are a cache: a day without
// a current one is computed from the runs, with the same answer. The
// store implements it.
type BaselineBuilder interface {
	// BuildBaselines summarises the days of [from, until) whose summary
	// is missing or stale, and returns how many it summarised.
	BuildBaselines(ctx context.Context, from, until time.Time) (int, error)
}

// BaselineSpan is how far back a question's baselines reach: the seasonal
// weeks before the oldest window a question may ask, and two days.
func (c Config) BaselineSpan() time.Duration {
	return time.Duration(7*c.SeasonalWeeks+2)*24*time.Hour + c.MaxWindow
}

// MaintainBaselines summarises the days of the baseline span at once and
// then every interval, until ctx ends. A failure is logged and retried at
// the next interval: questions compute what is not summarised. After each
// pass that succeeds it calls warm, when not nil (Service.KeepWarm), so
// that the questions people ask first find their days computed.
func MaintainBaselines(ctx context.Context, b BaselineBuilder, cfg Config, every time.Duration, log logrus.FieldLogger, warm func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := b.BuildBaselines(ctx, start.Add(-cfg.BaselineSpan()), start)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.WithError(err).Warn("diagnostics baselines: summarising failed; questions read the runs until the next attempt")
		default:
			if n > 0 {
				log.WithFields(logrus.Fields{"days": n, "took": time.Since(start).Round(time.Millisecond)}).Info("diagnostics baselines summarised")
			}
			if warm != nil {
				if err := warm(ctx); err != nil && ctx.Err() == nil {
					log.WithError(err).Warn("diagnostics: asking the questions to keep warm failed; they are computed when asked")
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DiagnosisWindow is how far back the console's Diagnosis page lists
// anomalies, and the window KeepWarm asks.
const DiagnosisWindow = 7 * 24 * time.Hour

// KeepWarm asks the anomalies of every type over the last
// DiagnosisWindow and discards the answer: a store that keeps the past
// days of a window (the clickhouse store does) then answers the next such
// question, and a question of some of the types, from them.
func (s *Service) KeepWarm(ctx context.Context) error {
	now := s.now()
	if _, err := s.Anomalies(ctx, Query{Since: now.Add(-DiagnosisWindow), Until: now}); err != nil {
		return fmt.Errorf("keep warm: %w", err)
	}
	return nil
}
