package main

import (
	"fmt"
	"time"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/synclog"
)

// diagnoseConfig turns the diagnostics settings into the thresholds of
// the diagnose service; the maximum runtimes are those the exporter
// alerts on.
func diagnoseConfig(o config.Diagnose, types synclog.SyncTypes, maxRuntimes map[string]time.Duration) (diagnose.Config, error) {
	intervals, err := exporter.ParseDurations(o.Intervals, types.Names())
	if err != nil {
		return diagnose.Config{}, usageError{fmt.Errorf("--diagnose-intervals: %w", err)}
	}
	c := diagnose.DefaultConfig()
	c.ZThreshold, c.MinHistory = o.ZThreshold, o.MinHistory
	c.MADFloorRatio, c.MADFloorSeconds = o.MADFloorRatio, o.MADFloorSeconds
	c.BaselineDays, c.SeasonalWeeks, c.SeasonalMinSlotRuns, c.SeasonalGain = o.BaselineDays, o.SeasonalWeeks, o.SeasonalMinSlotRuns, o.SeasonalGain
	c.RegressionOf, c.RegressionRuns = o.RegressionOf, o.RegressionRuns
	c.TooFastRatio, c.TooSmallRatio = o.TooFastRatio, o.TooSmallRatio
	c.FailureAlpha, c.FailureMinK = o.FailureAlpha, o.FailureMinK
	c.LateGrace, c.TooOftenRatio = o.LateGrace, o.TooOftenRatio
	c.QuietDays, c.ForecastDays, c.HintAlpha = o.QuietDays, o.ForecastDays, o.HintAlpha
	c.Intervals, c.MaxRuntimes = intervals, maxRuntimes
	if err := c.Validate(); err != nil {
		return diagnose.Config{}, usageError{err}
	}
	return c, nil
}
