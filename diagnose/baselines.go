package diagnose

import (
	"context"
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
// the next interval: questions compute what is not summarised.
func MaintainBaselines(ctx context.Context, b BaselineBuilder, cfg Config, every time.Duration, log logrus.FieldLogger) {
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
		case n > 0:
			log.WithFields(logrus.Fields{"days": n, "took": time.Since(start).Round(time.Millisecond)}).Info("diagnostics baselines summarised")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
