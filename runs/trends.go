package runs

import (
	"slices"
	"time"
)

// Trend regression rule. A day of a sync type regresses when its p95
// duration exceeds TrendP95Factor times the baseline p95 and the baseline
// p95 plus TrendP95MinIncrease, or when its success ratio falls more than
// TrendSuccessDrop below the baseline success ratio. The baseline of a day
// is the median of the daily values of the trailing baseline days that
// have terminal runs; it exists only when at least TrendMinBaselineDays of
// them (or all of them, for a shorter baseline) do.
const (
	TrendP95Factor       = 1.5
	TrendP95MinIncrease  = 1.0 // seconds
	TrendSuccessDrop     = 0.1
	TrendMinBaselineDays = 3
	// MaxTrendBaselineDays bounds the trailing baseline.
	MaxTrendBaselineDays = 90
)

// The reasons a trend point is flagged as a regression.
const (
	TrendReasonDuration     = "duration_p95"
	TrendReasonSuccessRatio = "success_ratio"
)

// TrendBaseline is what a day of a trend is compared with.
type TrendBaseline struct {
	// Days counts the trailing days that had terminal runs.
	Days int `json:"days"`
	// DurationP95 is the median of their daily p95 durations, in seconds;
	// nil when too few days had terminal runs.
	DurationP95 *float64 `json:"duration_p95_seconds"`
	// SuccessRatio is the median of their daily success ratios; nil when
	// too few days had terminal runs.
	SuccessRatio *float64 `json:"success_ratio"`
}

// TrendPoint is one sync type on one day.
type TrendPoint struct {
	SyncType string `json:"sync_type"`
	// Day is the calendar day in the report's time zone (YYYY-MM-DD), and
	// Start its first instant.
	Day   string    `json:"day"`
	Start time.Time `json:"start"`
	// Runs counts every run started that day; Terminal those that ended
	// (success, failed or partial) and Success the successful ones.
	Runs     uint64 `json:"runs"`
	Terminal uint64 `json:"terminal_runs"`
	Success  uint64 `json:"success"`
	// SuccessRatio is Success over Terminal; nil without terminal runs.
	SuccessRatio *float64 `json:"success_ratio"`
	// DurationP95 is the 95th percentile of the terminal runs' durations,
	// in seconds; nil without terminal runs.
	DurationP95 *float64      `json:"duration_p95_seconds"`
	Baseline    TrendBaseline `json:"baseline"`
	// Regression is true when the day breaks the regression rule, and
	// Reasons says which part of it.
	Regression bool     `json:"regression"`
	Reasons    []string `json:"reasons"`
}

// Judge sets the point's baseline from the days before it, oldest first,
// and flags the point when it breaks the regression rule.
func (pt *TrendPoint) Judge(before []TrendPoint) {
	pt.Baseline = baselineOf(before)
	pt.Reasons = pt.reasons()
	pt.Regression = len(pt.Reasons) > 0
}

// baselineOf summarises the days before a point.
func baselineOf(days []TrendPoint) TrendBaseline {
	var p95s, ratios []float64
	for _, d := range days {
		if d.Terminal == 0 {
			continue
		}
		ratios = append(ratios, *d.SuccessRatio)
		if d.DurationP95 != nil {
			p95s = append(p95s, *d.DurationP95)
		}
	}
	b := TrendBaseline{Days: len(ratios)}
	need := min(TrendMinBaselineDays, len(days))
	if len(ratios) >= need {
		b.SuccessRatio = medianOf(ratios)
	}
	if len(p95s) >= need {
		b.DurationP95 = medianOf(p95s)
	}
	return b
}

// reasons applies the regression rule to a point with its baseline.
func (pt *TrendPoint) reasons() []string {
	reasons := []string{}
	if p, b := pt.DurationP95, pt.Baseline.DurationP95; p != nil && b != nil &&
		*p > TrendP95Factor**b && *p >= *b+TrendP95MinIncrease {
		reasons = append(reasons, TrendReasonDuration)
	}
	if r, b := pt.SuccessRatio, pt.Baseline.SuccessRatio; r != nil && b != nil && *r < *b-TrendSuccessDrop {
		reasons = append(reasons, TrendReasonSuccessRatio)
	}
	return reasons
}

// medianOf returns the median of xs (the mean of the middle two for an even
// count), or nil for none.
func medianOf(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	v := s[n/2]
	if n%2 == 0 {
		v = (s[n/2-1] + s[n/2]) / 2
	}
	return &v
}
