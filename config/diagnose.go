package config

import "errors"

// Diagnose are the thresholds of the diagnostics (package diagnose):
// every one is an option, with the defaults of the design.
type Diagnose struct {
	ZThreshold          float64
	MinHistory          int
	MADFloorRatio       float64
	MADFloorSeconds     float64
	BaselineDays        int
	SeasonalWeeks       int
	SeasonalMinSlotRuns int
	SeasonalGain        float64
	RegressionOf        int
	RegressionRuns      int
	TooFastRatio        float64
	TooSmallRatio       float64
	FailureAlpha        float64
	FailureMinK         int
	LateGrace           float64
	TooOftenRatio       float64
	QuietDays           int
	ForecastDays        int
	HintAlpha           float64
	// Intervals are the sync types' schedule intervals, e.g.
	// stock=5m; a type without one is judged by its median gap.
	Intervals []string
}

// Register binds the diagnostics settings to s.
func (o *Diagnose) Register(s *Set) {
	s.Float(&o.ZThreshold, "diagnose-z-threshold", 3.5, "robust z beyond which a run's duration or record count is an anomaly")
	s.Int(&o.MinHistory, "diagnose-min-history", 8, "successful runs a sync type needs before its durations are judged")
	s.Float(&o.MADFloorRatio, "diagnose-mad-floor-ratio", 0.05, "the MAD is at least this share of the median")
	s.Float(&o.MADFloorSeconds, "diagnose-mad-floor-seconds", 1, "the MAD of durations is at least this many seconds")
	s.Int(&o.BaselineDays, "diagnose-baseline-days", 28, "days before a window whose runs are its baseline")
	s.Int(&o.SeasonalWeeks, "diagnose-seasonal-weeks", 8, "weeks of runs the hour-of-day and weekday slots are made of")
	s.Int(&o.SeasonalMinSlotRuns, "diagnose-seasonal-min-slot-runs", 4, "runs a slot needs, else the run is judged without seasonality")
	s.Float(&o.SeasonalGain, "diagnose-seasonal-gain", 0.8, "a sync type is seasonal when its slots leave at most this share of its spread")
	s.Int(&o.RegressionOf, "diagnose-regression-of", 2, "slow runs among the last --diagnose-regression-runs that make a regression")
	s.Int(&o.RegressionRuns, "diagnose-regression-runs", 3, "runs the regression rule looks at")
	s.Float(&o.TooFastRatio, "diagnose-too-fast-ratio", 0.5, "a fast outlier is too fast below this share of its expected duration")
	s.Float(&o.TooSmallRatio, "diagnose-too-small-ratio", 0.5, "a successful run is too small below this share of its expected records")
	s.Float(&o.FailureAlpha, "diagnose-failure-alpha", 0.001, "binomial tail below which failures are an anomaly")
	s.Int(&o.FailureMinK, "diagnose-failure-min-k", 2, "failures a failure-rate anomaly needs at least")
	s.Float(&o.LateGrace, "diagnose-late-grace", 0.5, "share of the interval a sync type may be late")
	s.Float(&o.TooOftenRatio, "diagnose-too-often-ratio", 0.25, "starts closer than this share of the interval are too often")
	s.Int(&o.QuietDays, "diagnose-quiet-days", 7, "days an error must have been absent to count as regressed when it returns")
	s.Int(&o.ForecastDays, "diagnose-forecast-days", 28, "days of daily history a forecast is fitted on")
	s.Float(&o.HintAlpha, "diagnose-hint-alpha", 0.01, "Fisher p-value an attribute value needs to be a root-cause hint")
	s.List(&o.Intervals, "diagnose-intervals", nil, "schedule interval of sync types for the cadence checks, e.g. stock=5m,prices=1h; others use their median gap")
	s.Check(func() error {
		var errs []error
		float := func(name string, v float64, ok bool, want string) {
			if !ok {
				errs = append(errs, s.Invalid(name, "%g: want %s", v, want))
			}
		}
		float("diagnose-z-threshold", o.ZThreshold, o.ZThreshold > 0, "above 0")
		float("diagnose-mad-floor-ratio", o.MADFloorRatio, o.MADFloorRatio >= 0 && o.MADFloorRatio < 1, "in [0, 1)")
		float("diagnose-mad-floor-seconds", o.MADFloorSeconds, o.MADFloorSeconds >= 0, "0 or more")
		float("diagnose-seasonal-gain", o.SeasonalGain, o.SeasonalGain > 0 && o.SeasonalGain <= 1, "in (0, 1]")
		float("diagnose-too-fast-ratio", o.TooFastRatio, o.TooFastRatio > 0 && o.TooFastRatio < 1, "in (0, 1)")
		float("diagnose-too-small-ratio", o.TooSmallRatio, o.TooSmallRatio > 0 && o.TooSmallRatio < 1, "in (0, 1)")
		float("diagnose-failure-alpha", o.FailureAlpha, o.FailureAlpha > 0 && o.FailureAlpha < 0.5, "in (0, 0.5)")
		float("diagnose-late-grace", o.LateGrace, o.LateGrace >= 0, "0 or more")
		float("diagnose-too-often-ratio", o.TooOftenRatio, o.TooOftenRatio >= 0 && o.TooOftenRatio < 1, "in [0, 1)")
		float("diagnose-hint-alpha", o.HintAlpha, o.HintAlpha > 0 && o.HintAlpha < 1, "in (0, 1)")
		for _, c := range []struct {
			name   string
			v      int
			lo, hi int
		}{
			{"diagnose-min-history", o.MinHistory, 3, 10000},
			{"diagnose-baseline-days", o.BaselineDays, 1, 90},
			{"diagnose-seasonal-weeks", o.SeasonalWeeks, 1, 12},
			{"diagnose-seasonal-min-slot-runs", o.SeasonalMinSlotRuns, 2, 10000},
			{"diagnose-regression-runs", o.RegressionRuns, 1, 100},
			{"diagnose-regression-of", o.RegressionOf, 1, max(o.RegressionRuns, 1)},
			{"diagnose-failure-min-k", o.FailureMinK, 1, 1000},
			{"diagnose-quiet-days", o.QuietDays, 1, 90},
			{"diagnose-forecast-days", o.ForecastDays, 7, 90},
		} {
			if c.v < c.lo || c.v > c.hi {
				errs = append(errs, s.Invalid(c.name, "%d: want between %d and %d", c.v, c.lo, c.hi))
			}
		}
		return errors.Join(errs...)
	})
}
