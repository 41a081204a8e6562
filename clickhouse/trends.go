package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"github.com/syncwatch/syncwatch/runs"
	"slices"
	"time"
)

// maxTrendDays bounds the days one trend query covers, baseline included.
const maxTrendDays = 800

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
// see runs.TrendP95Factor for the rule that flags a regression. Points are
// ordered by sync type and day; every sync type with a run in those days
// or their baselines has a point for each day, with nil figures on days
// without terminal runs.
func (s *Store) Trends(ctx context.Context, since, until time.Time, loc *time.Location, baselineDays int) ([]runs.TrendPoint, error) {
	if loc == nil {
		loc = time.UTC
	}
	if since.IsZero() || until.IsZero() || !since.Before(until) {
		return nil, errors.New("trends: since and until are required, since before until")
	}
	if baselineDays < 1 || baselineDays > runs.MaxTrendBaselineDays {
		return nil, fmt.Errorf("trends: baseline of %d days: must be between 1 and %d", baselineDays, runs.MaxTrendBaselineDays)
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
	series := map[string][]runs.TrendPoint{}
	var types []string
	for _, r := range rows {
		if r.DayIndex < 1 || r.DayIndex > days {
			return nil, fmt.Errorf("trends: day index %d out of range 1..%d", r.DayIndex, days)
		}
		pts, ok := series[r.SyncType]
		if !ok {
			pts = make([]runs.TrendPoint, days)
			for i := range pts {
				pts[i] = runs.TrendPoint{SyncType: r.SyncType, Day: starts[i].Format(time.DateOnly), Start: starts[i].UTC(), Reasons: []string{}}
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
	res := make([]runs.TrendPoint, 0, len(types)*(days-baselineDays))
	for _, st := range types {
		pts := series[st]
		for i := baselineDays; i < days; i++ {
			pt := pts[i]
			pt.Judge(pts[i-baselineDays : i])
			res = append(res, pt)
		}
	}
	return res, nil
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

// TypeStates returns the latest activity of each source and sync type,
// with the runs in progress and the failure streaks since since, in the
// read model's terms: the console's overview shows them.
func (s *Store) TypeStates(ctx context.Context, since time.Time) ([]runs.TypeState, error) {
	states, err := s.ExporterTypeStates(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]runs.TypeState, len(states))
	for i, st := range states {
		out[i] = runs.TypeState(st)
	}
	return out, nil
}
