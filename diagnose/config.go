package diagnose

import (
	"errors"
	"fmt"
	"time"
)

// Config holds every threshold of the detectors. DefaultConfig returns the
// defaults of the design; config/ binds each field to a flag.
type Config struct {
	// ZThreshold flags a run whose robust z of its duration (or of its
	// record count) is beyond it: z = 0.6745·(x − median)/MAD.
	ZThreshold float64
	// MinHistory is the number of prior successful runs a type needs
	// before its durations are judged.
	MinHistory int
	// MADFloorRatio and MADFloorSeconds floor the MAD at
	// max(MAD, MADFloorRatio·median, MADFloorSeconds), so that a job with
	// nearly constant durations is not flagged for a second's jitter.
	MADFloorRatio   float64
	MADFloorSeconds float64
	// BaselineDays is the span before the window whose runs form the
	// baseline of durations, record counts and the failure rate.
	BaselineDays int
	// SeasonalWeeks is the span whose runs form the hour-of-week slots;
	// a slot with fewer than SeasonalMinSlotRuns runs falls back to the
	// non-seasonal baseline. A type is seasonal when the MAD of its
	// log-durations around their slot medians is at most SeasonalGain
	// times their MAD around the overall median.
	SeasonalWeeks       int
	SeasonalMinSlotRuns int
	SeasonalGain        float64
	// RegressionOf of the last RegressionRuns runs flagged slow make a
	// regression.
	RegressionOf, RegressionRuns int
	// TooFastRatio: a fast outlier is "too fast" only below this share of
	// its expected duration; TooSmallRatio: a successful run is "too
	// small" only below this share of its median record count.
	TooFastRatio  float64
	TooSmallRatio float64
	// FailureAlpha is the binomial tail below which k failures in the
	// window's n runs are an anomaly (with k ≥ FailureMinK), and the
	// probability below which a streak of consecutive failures is one:
	// the adaptive threshold ceil(ln α / ln p0).
	FailureAlpha float64
	FailureMinK  int
	// LateGrace is the share of the expected interval a type may be late
	// before a gap is flagged; TooOftenRatio flags starts closer than this
	// share of the expected interval.
	LateGrace     float64
	TooOftenRatio float64
	// QuietDays is how long a fingerprint must have been absent to count
	// as regressed when it returns.
	QuietDays int
	// ForecastDays is the daily history a forecast is fitted on;
	// ForecastHorizons are the days ahead it predicts.
	ForecastDays     int
	ForecastHorizons []int
	// HintAlpha is the Fisher p-value an attribute delta needs to be a
	// hint.
	HintAlpha float64
	// MaxWindow bounds the window of one question.
	MaxWindow time.Duration
	// Intervals and MaxRuntimes are the configured expected interval and
	// maximum runtime of each sync type (0 or absent: none).
	Intervals   map[string]time.Duration
	MaxRuntimes map[string]time.Duration
}

// DefaultConfig returns the thresholds of the design.
func DefaultConfig() Config {
	return Config{
		ZThreshold:          3.5,
		MinHistory:          8,
		MADFloorRatio:       0.05,
		MADFloorSeconds:     1,
		BaselineDays:        28,
		SeasonalWeeks:       8,
		SeasonalMinSlotRuns: 4,
		SeasonalGain:        0.8,
		RegressionOf:        2,
		RegressionRuns:      3,
		TooFastRatio:        0.5,
		TooSmallRatio:       0.5,
		FailureAlpha:        0.001,
		FailureMinK:         2,
		LateGrace:           0.5,
		TooOftenRatio:       0.25,
		QuietDays:           7,
		ForecastDays:        28,
		ForecastHorizons:    []int{7, 30},
		HintAlpha:           0.01,
		MaxWindow:           31 * 24 * time.Hour,
	}
}

// Validate returns an error naming the first threshold out of range.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, name string, v any, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s %v: %s", name, v, want))
		}
	}
	check(c.ZThreshold > 0, "z threshold", c.ZThreshold, "must be positive")
	check(c.MinHistory >= 3, "min history", c.MinHistory, "must be at least 3")
	check(c.MADFloorRatio >= 0 && c.MADFloorRatio < 1, "mad floor ratio", c.MADFloorRatio, "must be in [0, 1)")
	check(c.MADFloorSeconds >= 0, "mad floor seconds", c.MADFloorSeconds, "must not be negative")
	check(c.BaselineDays >= 1 && c.BaselineDays <= 90, "baseline days", c.BaselineDays, "must be between 1 and 90")
	check(c.SeasonalWeeks >= 1 && c.SeasonalWeeks <= 12, "seasonal weeks", c.SeasonalWeeks, "must be between 1 and 12")
	check(c.SeasonalMinSlotRuns >= 2, "seasonal min slot runs", c.SeasonalMinSlotRuns, "must be at least 2")
	check(c.SeasonalGain > 0 && c.SeasonalGain <= 1, "seasonal gain", c.SeasonalGain, "must be in (0, 1]")
	check(c.RegressionRuns >= 1 && c.RegressionOf >= 1 && c.RegressionOf <= c.RegressionRuns, "regression", fmt.Sprintf("%d of %d", c.RegressionOf, c.RegressionRuns), "want 1 ≤ of ≤ runs")
	check(c.TooFastRatio > 0 && c.TooFastRatio < 1, "too fast ratio", c.TooFastRatio, "must be in (0, 1)")
	check(c.TooSmallRatio > 0 && c.TooSmallRatio < 1, "too small ratio", c.TooSmallRatio, "must be in (0, 1)")
	check(c.FailureAlpha > 0 && c.FailureAlpha < 0.5, "failure alpha", c.FailureAlpha, "must be in (0, 0.5)")
	check(c.FailureMinK >= 1, "failure min k", c.FailureMinK, "must be at least 1")
	check(c.LateGrace >= 0, "late grace", c.LateGrace, "must not be negative")
	check(c.TooOftenRatio >= 0 && c.TooOftenRatio < 1, "too often ratio", c.TooOftenRatio, "must be in [0, 1)")
	check(c.QuietDays >= 1, "quiet days", c.QuietDays, "must be at least 1")
	check(c.ForecastDays >= 7 && c.ForecastDays <= 90, "forecast days", c.ForecastDays, "must be between 7 and 90")
	check(len(c.ForecastHorizons) > 0, "forecast horizons", c.ForecastHorizons, "need at least one")
	for _, h := range c.ForecastHorizons {
		check(h >= 1 && h <= 90, "forecast horizon", h, "must be between 1 and 90 days")
	}
	check(c.HintAlpha > 0 && c.HintAlpha < 1, "hint alpha", c.HintAlpha, "must be in (0, 1)")
	check(c.MaxWindow >= time.Hour, "max window", c.MaxWindow, "must be at least an hour")
	return errors.Join(errs...)
}
