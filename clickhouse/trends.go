package clickhouse

import (
	"context"
	"errors"
	"fmt"
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
	// maxTrendDays bounds the days one trend query covers, baseline
	// included.
	maxTrendDays = 800
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

// trendQuery aggregates the runs of [from, to) per sync type and slot (a
// span of {slot} seconds that no day boundary cuts), then merges the slots
// into the days that the sorted day starts in {bounds} delimit: day i
// (1-based) runs from bounds[i-1] to bounds[i]. Merging quantile states
// gives the quantile of the day's durations, exact up to 8,192 runs per
// group as everywhere else.
const trendQuery = `SELECT sync_type,
arrayCount(b -> b <= slot, {bounds:Array(DateTime64(3, 'UTC'))}) AS day_index,
sum(slot_runs) AS runs,
sum(slot_terminal) AS terminal,
sum(slot_success) AS success,
if(terminal = 0, NULL, quantileMerge(0.95)(slot_q) / 1000) AS p95
FROM (
  SELECT sync_type,
  toStartOfInterval(started_at, toIntervalSecond({slot:UInt32})) AS slot,
  count() AS slot_runs,
  countIf(` + terminalCond + `) AS slot_terminal,
  countIf(status = 'success') AS slot_success,
  quantileStateIf(0.95)(duration_ms, ` + terminalCond + ` AND duration_ms IS NOT NULL) AS slot_q
  FROM runs FINAL
  WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}
  GROUP BY sync_type, slot
)
GROUP BY sync_type, day_index
ORDER BY sync_type, day_index` + finalSettings

// trendDayStarts returns the first instants of the days of loc from the
// day that holds first to the one that holds last, and the start of the
// day after.
func trendDayStarts(first, last time.Time, loc *time.Location) []time.Time {
	y, m, d := first.In(loc).Date()
	var starts []time.Time
	for i := 0; ; i++ {
		s := time.Date(y, m, d+i, 0, 0, 0, 0, loc)
		starts = append(starts, s)
		if s.After(last) {
			return starts
		}
	}
}

// trendSlot returns the longest of 15 minutes, a minute and a second that
// divides the offset of every day start from the Unix epoch, so that no
// slot straddles two days.
func trendSlot(starts []time.Time) time.Duration {
	for _, slot := range []time.Duration{15 * time.Minute, time.Minute} {
		ok := true
		for _, s := range starts {
			if s.UnixMilli()%slot.Milliseconds() != 0 {
				ok = false
				break
			}
		}
		if ok {
			return slot
		}
	}
	return time.Second
}

// Trends returns, per sync type and per day of loc (UTC when nil) that
// [since, until) touches, the day's runs, success ratio and p95 duration,
// each compared with a baseline made of the baselineDays days before it:
// see TrendP95Factor for the rule that flags a regression. Points are
// ordered by sync type and day; every sync type with a run in those days
// or their baselines has a point for each day, with nil figures on days
// without terminal runs.
func (s *Store) Trends(ctx context.Context, since, until time.Time, loc *time.Location, baselineDays int) ([]TrendPoint, error) {
	if loc == nil {
		loc = time.UTC
	}
	if since.IsZero() || until.IsZero() || !since.Before(until) {
		return nil, errors.New("trends: since and until are required, since before until")
	}
	if baselineDays < 1 || baselineDays > MaxTrendBaselineDays {
		return nil, fmt.Errorf("trends: baseline of %d days: must be between 1 and %d", baselineDays, MaxTrendBaselineDays)
	}
	y, m, d := since.In(loc).Date()
	first := time.Date(y, m, d-baselineDays, 0, 0, 0, 0, loc)
	starts := trendDayStarts(first, until.Add(-time.Millisecond), loc)
	if len(starts) > maxTrendDays {
		return nil, fmt.Errorf("trends: %d days with the baseline: at most %d", len(starts)-1, maxTrendDays)
	}
	bounds := make([]string, len(starts))
	for i, s := range starts {
		bounds[i] = formatTime(s)
	}
	p := Params{
		"bounds": bounds,
		"slot":   uint32(trendSlot(starts) / time.Second),
		"from":   starts[0],
		"to":     starts[len(starts)-1],
	}
	out, err := s.eng.selectRows(ctx, trendQuery, p)
	if err != nil {
		return nil, fmt.Errorf("trends: %w", err)
	}
	rows, err := decodeRows[struct {
		SyncType string   `json:"sync_type"`
		DayIndex int      `json:"day_index"`
		Runs     uint64   `json:"runs"`
		Terminal uint64   `json:"terminal"`
		Success  uint64   `json:"success"`
		P95      *float64 `json:"p95"`
	}](out)
	if err != nil {
		return nil, err
	}
	days := len(starts) - 1
	series := map[string][]TrendPoint{}
	var types []string
	for _, r := range rows {
		if r.DayIndex < 1 || r.DayIndex > days {
			return nil, fmt.Errorf("trends: day index %d out of range 1..%d", r.DayIndex, days)
		}
		pts, ok := series[r.SyncType]
		if !ok {
			pts = make([]TrendPoint, days)
			for i := range pts {
				pts[i] = TrendPoint{SyncType: r.SyncType, Day: starts[i].Format(time.DateOnly), Start: starts[i].UTC(), Reasons: []string{}}
			}
			series[r.SyncType] = pts
			types = append(types, r.SyncType)
		}
		pt := &pts[r.DayIndex-1]
		pt.Runs, pt.Terminal, pt.Success = r.Runs, r.Terminal, r.Success
		if r.Terminal > 0 {
			v := float64(r.Success) / float64(r.Terminal)
			pt.SuccessRatio = &v
			pt.DurationP95 = r.P95
		}
	}
	slices.Sort(types)
	res := make([]TrendPoint, 0, len(types)*(days-baselineDays))
	for _, st := range types {
		pts := series[st]
		for i := baselineDays; i < days; i++ {
			pt := pts[i]
			pt.Baseline = trendBaseline(pts[i-baselineDays : i])
			pt.Reasons = trendReasons(pt)
			pt.Regression = len(pt.Reasons) > 0
			res = append(res, pt)
		}
	}
	return res, nil
}

// trendBaseline summarises the days before a point.
func trendBaseline(days []TrendPoint) TrendBaseline {
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

// trendReasons applies the regression rule to a point with its baseline.
func trendReasons(pt TrendPoint) []string {
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

// LastSuccesses returns, per sync type, when its latest successful run
// in the retention completed, from the run_activity rollup.
func (s *Store) LastSuccesses(ctx context.Context) (map[string]time.Time, error) {
	out, err := s.eng.selectRows(ctx, `SELECT sync_type, max(last_success_at) AS last_success
FROM run_activity
WHERE day >= toDate({from:DateTime64(3, 'UTC')})
GROUP BY sync_type
ORDER BY sync_type`, Params{"from": time.Now().Add(-s.cfg.Retention)})
	if err != nil {
		return nil, fmt.Errorf("last successes: %w", err)
	}
	rows, err := decodeRows[struct {
		SyncType    string    `json:"sync_type"`
		LastSuccess time.Time `json:"last_success"`
	}](out)
	if err != nil {
		return nil, err
	}
	res := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		// An empty maximum is the Unix epoch.
		if r.LastSuccess.UnixMilli() > 0 {
			res[r.SyncType] = r.LastSuccess.UTC()
		}
	}
	return res, nil
}
