package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncwatch/syncwatch/diagnose"
)

// The store answers the diagnose package's questions: every run is judged
// in ClickHouse, where the runs are, and the service gets the flagged runs
// and the counts. The duration baselines' medians are the one thing the
// store takes in Go, from the daily samples (baseline_stats.go).

// diagWhere renders a diagnosis filter over runs, adding its values to p
// under the prefix.
func diagWhere(f diagnose.Filter, p Params, prefix string) string {
	conds := []string{"1"}
	if len(f.Sources) > 0 {
		conds = append(conds, "source IN {"+prefix+"sources:Array(String)}")
		p[prefix+"sources"] = f.Sources
	}
	if len(f.SyncTypes) > 0 {
		conds = append(conds, "sync_type IN {"+prefix+"types:Array(String)}")
		p[prefix+"types"] = f.SyncTypes
	}
	return strings.Join(conds, " AND ")
}

// logDuration is a run's log-duration in seconds, logRecords the log of
// its record count plus one.
const (
	logDuration = `log(greatest(duration_ms, 1) / 1000)`
	logRecords  = `log(total_count + 1)`
)

// durationScoreQuery scores the terminal runs of the window's days to
// compute (%[2]s, dayPlan.where) against their type's baseline, which the
// store lays out per type and slot (hour of the day and weekday) as array
// parameters: the type of source i and sync type j of {t_sources} and
// {t_types} is number {t_grid}[(i-1)·len(t_types) + j] (0: none; two
// look-ups on the columns' dictionaries rather than a comparison per run);
// {t_n} holds its history, and the x_ (durations) and c_ (record counts)
// arrays, per slot, whether the slot judges in log space (seasonal), its
// centre, scale and expected value. Each run costs a few look-ups and a
// division (each step a query level of its own: the embedded engine
// copies an alias's expression into every use, and planning the nested
// uses of z took 200 ms a question). Runs are numbered within their type
// and day; each day keeps
// its flagged runs and its latest, newest first, up to what joinScores
// can need, as arrays: the slot and type numbers stand for the expected
// values and history, which the store has (a third of the bytes to write
// and read, where the runs a question flags can be tens of thousands).
const durationScoreQuery = `SELECT source, sync_type, toString(day) AS day, ti, max(total) AS day_total,
  groupArray(run_id) AS ids, groupArray(toUnixTimestamp64Milli(started_at)) AS starts, groupArray(idx) AS places,
  groupArray(status) AS statuses, groupArray(ms) AS durations, groupArray(total_count) AS counts,
  groupArray(z) AS zs, groupArray(records_z) AS records_zs, groupArray(kind) AS kinds, groupArray(k) AS slots
FROM (
  SELECT * FROM (
    SELECT source, sync_type, day, run_id, status, started_at, idx, total, ms, total_count, ti, k, z, records_z,
      multiIf(history < {min_history:UInt32}, '',
        z > {z:Float64}, 'duration',
        status = 'success' AND records_z < -{z:Float64} AND c < {small:Float64} * expected_records, 'too_small',
        z < -{z:Float64} AND d < {fast:Float64} * expected, 'too_fast',
        '') AS kind
    FROM (
      SELECT source, sync_type, day, run_id, status, started_at, idx, total, ms, total_count, ti, k, d, c,
        {t_n:Array(UInt64)}[ti] AS history,
        {x_expected:Array(Float64)}[k] AS expected,
        {c_expected:Array(Float64)}[k] AS expected_records,
        if(k = 0, 0, 0.6745 * (if({x_log:Array(UInt8)}[k] = 1, ld, d) - {x_center:Array(Float64)}[k]) / {x_scale:Array(Float64)}[k]) AS z,
        if(k = 0, 0, 0.6745 * (if({c_log:Array(UInt8)}[k] = 1, lc, c) - {c_center:Array(Float64)}[k]) / {c_scale:Array(Float64)}[k]) AS records_z
      FROM (
        SELECT source, sync_type, toDate(started_at) AS day, run_id, toString(status) AS status, started_at,
          assumeNotNull(duration_ms) AS ms, total_count,
          ms / 1000 AS d, ` + logDuration + ` AS ld, toFloat64(total_count) AS c, ` + logRecords + ` AS lc,
          ` + runTypeNumber + ` AS ti,
          if(ti = 0, 0, {t_offset:Array(UInt64)}[ti] + if({t_wide:Array(UInt8)}[ti] = 1, toHour(started_at) * 7 + toDayOfWeek(started_at), 1)) AS k,
          row_number() OVER (PARTITION BY source, sync_type, day ORDER BY started_at, run_id) AS idx,
          count() OVER (PARTITION BY source, sync_type, day) AS total
        FROM runs FINAL
        WHERE %[2]s AND ` + terminalCond + ` AND duration_ms IS NOT NULL AND %[1]s
      )
    )
  )
  WHERE kind != '' OR idx + {day_latest:UInt32} > total
  ORDER BY source, sync_type, day, started_at DESC
  LIMIT {day_limit:UInt32} BY source, sync_type, day
)
GROUP BY source, sync_type, day, ti` + finalSettings

// scoredDay is one type's day of scores: the number of its runs, and
// its flagged and latest runs in order, placed within the day.
type scoredDay struct {
	source, syncType string
	day              time.Time
	total            uint64
	runs             []diagnose.ScoredRun
}

// DurationScores scores the window's terminal runs against their type's
// baseline: typeSamplesQuery reads the baselines' samples, typeBaselines
// computes the medians, durationScoreQuery judges the runs of the days not
// kept from an earlier question, and joinScores joins the days.
func (s *Store) DurationScores(ctx context.Context, q diagnose.ScoreQuery) ([]diagnose.ScoredRun, error) {
	c := q.Config
	pl, err := s.planBaselines(ctx, minTime(q.SeasonalFrom, q.BaselineFrom), q.Since)
	if err != nil {
		return nil, fmt.Errorf("duration scores: %w", err)
	}
	// A baseline read wholly from summaries is the same as long as they
	// are: it, and the days judged by it, can be kept.
	cacheable := len(pl.raw) == 0
	qn := question{all: fmt.Sprintf("scores %v %v %s %+v %d %d", pl.days, pl.at, utcDay(q.BaselineFrom), c, q.Latest, q.Limit), filter: q.Filter}
	types, err := keptOr(s, qn, cacheable, func() ([]typeBaseline, error) { return s.typeBaselines(ctx, q, pl) },
		func(rows []typeBaseline) []typeBaseline {
			return pickTypes(qn, rows, func(t typeBaseline) (string, string) { return t.Source, t.SyncType })
		})
	if err != nil {
		return nil, err
	}
	days, err := s.planWindowDays(ctx, qn, q.Since, q.Until, cacheable, func(rows any) any {
		return pickTypes(qn, rows.([]scoredDay), func(d scoredDay) (string, string) { return d.source, d.syncType })
	})
	if err != nil {
		return nil, fmt.Errorf("duration scores: %w", err)
	}
	var all []scoredDay
	if len(days.compute) > 0 {
		p := Params{"min_history": c.MinHistory, "z": c.ZThreshold,
			"small": c.TooSmallRatio, "fast": c.TooFastRatio,
			// Each day keeps its latest run at least, which carries its total.
			"day_latest": max(q.Latest, 1), "day_limit": q.Limit + max(q.Latest, 1)}
		layout := baselineParams(types, c, p)
		out, err := s.eng.selectRows(ctx, fmt.Sprintf(durationScoreQuery, diagWhere(q.Filter, p, "f_"), days.where(p)), p)
		if err != nil {
			return nil, fmt.Errorf("duration scores: %w", err)
		}
		rows, err := decodeRows[struct {
			Source    string    `json:"source"`
			SyncType  string    `json:"sync_type"`
			Day       string    `json:"day"`
			Type      uint64    `json:"ti"`
			Total     uint64    `json:"day_total"`
			IDs       []string  `json:"ids"`
			Starts    []int64   `json:"starts"`
			Places    []uint64  `json:"places"`
			Statuses  []string  `json:"statuses"`
			Durations []int64   `json:"durations"`
			Counts    []uint64  `json:"counts"`
			Z         []float64 `json:"zs"`
			RecordsZ  []float64 `json:"records_zs"`
			Kinds     []string  `json:"kinds"`
			Slots     []uint64  `json:"slots"`
		}](out)
		if err != nil {
			return nil, err
		}
		byDay := map[time.Time][]scoredDay{}
		for _, r := range rows {
			day, err := time.Parse(time.DateOnly, r.Day)
			if err != nil {
				return nil, fmt.Errorf("duration scores: %w", err)
			}
			n := len(r.IDs)
			for _, l := range []int{len(r.Starts), len(r.Places), len(r.Statuses), len(r.Durations), len(r.Counts), len(r.Z), len(r.RecordsZ), len(r.Kinds), len(r.Slots)} {
				if l != n {
					return nil, fmt.Errorf("duration scores: %s/%s %s: columns of %d and %d runs", r.Source, r.SyncType, r.Day, n, l)
				}
			}
			sd := scoredDay{source: r.Source, syncType: r.SyncType, day: day, total: r.Total, runs: make([]diagnose.ScoredRun, n)}
			for i := range n {
				k := r.Slots[i]
				sd.runs[i] = diagnose.ScoredRun{
					Source: r.Source, SyncType: r.SyncType, RunID: r.IDs[i], Status: r.Statuses[i],
					Started: time.UnixMilli(r.Starts[i]).UTC(), Index: r.Places[i], Total: r.Total,
					History: at(layout.history, r.Type), Seconds: float64(r.Durations[i]) / 1000,
					Expected: at(layout.expected, k), Z: r.Z[i], Seasonal: at(layout.seasonal, k) == 1,
					Records: r.Counts[i], ExpectedRecords: at(layout.expectedRecords, k), RecordsZ: r.RecordsZ[i],
					Kind: diagnose.Kind(r.Kinds[i]),
				}
			}
			slices.SortFunc(sd.runs, func(a, b diagnose.ScoredRun) int { return cmp.Compare(a.Index, b.Index) })
			byDay[day] = append(byDay[day], sd)
		}
		for _, d := range days.compute {
			s.remember(days, d.day, byDay[d.day])
			all = append(all, byDay[d.day]...)
		}
	}
	for _, rows := range days.cached {
		all = append(all, rows.([]scoredDay)...)
	}
	if days.trimmed() {
		before, err := s.countBefore(ctx, days, q.Filter, terminalCond+" AND duration_ms IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("duration scores: %w", err)
		}
		all = trimScores(all, days, before)
	}
	return joinScores(all, q.Latest, q.Limit), nil
}

// trimScores trims the window's first day to the window: its runs before
// the window dropped, the others' places moved down by before. Kept days
// are copied, not changed.
func trimScores(all []scoredDay, pl dayPlan, before map[[2]string]uint64) []scoredDay {
	out := all[:0:0]
	for _, sd := range all {
		if sd.day.Equal(pl.first) {
			b := before[[2]string{sd.source, sd.syncType}]
			runs := make([]diagnose.ScoredRun, 0, len(sd.runs))
			for _, r := range sd.runs {
				if !r.Started.Before(pl.since) {
					r.Index -= b
					runs = append(runs, r)
				}
			}
			if sd.total <= b {
				continue
			}
			sd.total -= b
			sd.runs = runs
		}
		out = append(out, sd)
	}
	return out
}

// joinScores numbers each type's runs through the window from their
// places within their days and keeps, newest first, its flagged runs and
// its latest runs, up to limit.
func joinScores(days []scoredDay, latest, limit int) []diagnose.ScoredRun {
	slices.SortFunc(days, func(a, b scoredDay) int {
		return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.syncType, b.syncType), a.day.Compare(b.day))
	})
	var out []diagnose.ScoredRun
	for i := 0; i < len(days); {
		j := i
		for j < len(days) && days[j].source == days[i].source && days[j].syncType == days[i].syncType {
			j++
		}
		typ := days[i:j]
		i = j
		offsets := make([]uint64, len(typ))
		var total uint64
		for k, d := range typ {
			offsets[k] = total
			total += d.total
		}
		kept := 0
		for k := len(typ) - 1; k >= 0 && kept < limit; k-- {
			runs := typ[k].runs
			for r := len(runs) - 1; r >= 0 && kept < limit; r-- {
				run := runs[r]
				run.Index += offsets[k]
				run.Total = total
				if run.Kind != "" || run.Index+uint64(latest) > total {
					out = append(out, run)
					kept++
				}
			}
		}
	}
	return out
}

// typeBaselines computes the types' duration baselines from their
// samples.
func (s *Store) typeBaselines(ctx context.Context, q diagnose.ScoreQuery, pl baselinePlan) ([]typeBaseline, error) {
	p := Params{"bfrom": utcDay(q.BaselineFrom).Format(time.DateOnly)}
	f := diagWhere(q.Filter, p, "f_")
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(typeSamplesQuery, f, pl.rows(typeSummaries, f, p, "bl_")), p)
	if err != nil {
		return nil, fmt.Errorf("duration baselines: %w", err)
	}
	samples, err := decodeRows[typeSamples](out)
	if err != nil {
		return nil, err
	}
	types := make([]typeBaseline, len(samples))
	for i, ts := range samples {
		if types[i], err = ts.baseline(q.Config); err != nil {
			return nil, fmt.Errorf("duration baselines: %w", err)
		}
	}
	return types, nil
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// failureBaseQuery counts each type's terminal and failed runs of its
// baseline (the whole days before the window's first day, from their
// summaries: %[2]s).
const failureBaseQuery = `SELECT source, sync_type, sum(terminal) AS base_n, sum(failed) AS base_failed
FROM (%[2]s)
GROUP BY source, sync_type` + finalSettings

// failureSeriesQuery returns, for each of the window's days to compute
// (%[2]s), the number of its terminal runs and its failed runs with their
// places in start order within the day.
const failureSeriesQuery = `SELECT source, sync_type, toString(day) AS day, max(idx) AS total,
  arraySort(groupArrayIf((idx, run_id, started_at), status = 'failed')) AS f,
  arrayMap(x -> x.1, f) AS fail_idx, arrayMap(x -> x.2, f) AS fail_ids, arrayMap(x -> x.3, f) AS fail_starts
FROM (
  SELECT source, sync_type, toDate(started_at) AS day, run_id, started_at, status,
    row_number() OVER (PARTITION BY source, sync_type, day ORDER BY started_at, run_id) AS idx
  FROM runs FINAL
  WHERE %[2]s AND ` + terminalCond + ` AND %[1]s
)
GROUP BY source, sync_type, day` + finalSettings

// failureDay is one type's baseline counts (with no day), or one of its
// days: the day's terminal runs and its failures, placed within the day.
type failureDay struct {
	source, syncType  string
	baseN, baseFailed uint64
	day               time.Time
	total             int
	failures          []diagnose.FailedRun
}

// FailureSeries returns each type's failures in the window and its
// baseline's failure count.
func (s *Store) FailureSeries(ctx context.Context, q diagnose.Window) ([]diagnose.FailureSeries, error) {
	pl, err := s.planBaselines(ctx, q.BaselineFrom, q.Since)
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	cacheable := len(pl.raw) == 0
	qn := question{all: fmt.Sprintf("failures %v %v", pl.days, pl.at), filter: q.Filter}
	pick := func(rows []failureDay) []failureDay {
		return pickTypes(qn, rows, func(d failureDay) (string, string) { return d.source, d.syncType })
	}
	all, err := keptOr(s, qn, cacheable, func() ([]failureDay, error) {
		p := Params{}
		f := diagWhere(q.Filter, p, "f_")
		out, err := s.eng.selectRows(ctx, fmt.Sprintf(failureBaseQuery, f, pl.rows(typeSummaries, f, p, "bl_")), p)
		if err != nil {
			return nil, err
		}
		rows, err := decodeRows[struct {
			Source     string `json:"source"`
			SyncType   string `json:"sync_type"`
			BaseN      uint64 `json:"base_n"`
			BaseFailed uint64 `json:"base_failed"`
		}](out)
		if err != nil {
			return nil, err
		}
		base := make([]failureDay, len(rows))
		for i, r := range rows {
			base[i] = failureDay{source: r.Source, syncType: r.SyncType, baseN: r.BaseN, baseFailed: r.BaseFailed}
		}
		return base, nil
	}, pick)
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	all = slices.Clone(all)
	days, err := s.planWindowDays(ctx, qn, q.Since, q.Until, cacheable, func(rows any) any { return pick(rows.([]failureDay)) })
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	byDay := map[time.Time][]failureDay{}
	if len(days.compute) > 0 {
		p := Params{}
		out, err := s.eng.selectRows(ctx, fmt.Sprintf(failureSeriesQuery, diagWhere(q.Filter, p, "f_"), days.where(p)), p)
		if err != nil {
			return nil, fmt.Errorf("failure series: %w", err)
		}
		rows, err := decodeRows[struct {
			Source   string      `json:"source"`
			SyncType string      `json:"sync_type"`
			Day      string      `json:"day"`
			Total    int         `json:"total"`
			Idx      []int       `json:"fail_idx"`
			IDs      []string    `json:"fail_ids"`
			Starts   []time.Time `json:"fail_starts"`
		}](out)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			fd := failureDay{source: r.Source, syncType: r.SyncType, total: r.Total}
			if len(r.IDs) != len(r.Idx) || len(r.Starts) != len(r.Idx) {
				return nil, fmt.Errorf("failure series: %d places, %d ids, %d starts", len(r.Idx), len(r.IDs), len(r.Starts))
			}
			for j, at := range r.Idx {
				if at < 1 || at > r.Total {
					return nil, fmt.Errorf("failure series: failed run %s at place %d of %d", r.IDs[j], at, r.Total)
				}
				fd.failures = append(fd.failures, diagnose.FailedRun{Index: at, RunID: r.IDs[j], Started: r.Starts[j].UTC()})
			}
			if fd.day, err = time.Parse(time.DateOnly, r.Day); err != nil {
				return nil, fmt.Errorf("failure series: %w", err)
			}
			byDay[fd.day] = append(byDay[fd.day], fd)
			all = append(all, fd)
		}
	}
	for _, d := range days.compute {
		s.remember(days, d.day, byDay[d.day])
	}
	for _, rows := range days.cached {
		all = append(all, rows.([]failureDay)...)
	}
	if days.trimmed() {
		before, err := s.countBefore(ctx, days, q.Filter, terminalCond)
		if err != nil {
			return nil, fmt.Errorf("failure series: %w", err)
		}
		all = trimFailures(all, days, before)
	}
	return joinFailures(all), nil
}

// trimFailures trims the window's first day to the window, as trimScores.
func trimFailures(all []failureDay, pl dayPlan, before map[[2]string]uint64) []failureDay {
	out := all[:0:0]
	for _, fd := range all {
		if fd.total > 0 && fd.day.Equal(pl.first) {
			b := int(before[[2]string{fd.source, fd.syncType}])
			var failures []diagnose.FailedRun
			for _, f := range fd.failures {
				if !f.Started.Before(pl.since) {
					f.Index -= b
					failures = append(failures, f)
				}
			}
			fd.total = max(fd.total-b, 0)
			fd.failures = failures
		}
		out = append(out, fd)
	}
	return out
}

// joinFailures joins each type's days into its series: the flags of its
// days in order, its failures placed among all of the window's runs. The
// baseline's counts are the live rows' (kept days carry the same).
func joinFailures(days []failureDay) []diagnose.FailureSeries {
	slices.SortFunc(days, func(a, b failureDay) int {
		return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.syncType, b.syncType), a.day.Compare(b.day))
	})
	var out []diagnose.FailureSeries
	for i := 0; i < len(days); {
		j := i
		for j < len(days) && days[j].source == days[i].source && days[j].syncType == days[i].syncType {
			j++
		}
		fs := diagnose.FailureSeries{Source: days[i].source, SyncType: days[i].syncType, Failures: []diagnose.FailedRun{}}
		var flags []byte
		for _, d := range days[i:j] {
			fs.BaselineRuns, fs.Failed = max(fs.BaselineRuns, d.baseN), max(fs.Failed, d.baseFailed)
			if d.total == 0 {
				continue
			}
			offset := len(flags)
			flags = append(flags, strings.Repeat("0", d.total)...)
			for _, f := range d.failures {
				flags[offset+f.Index-1] = '1'
				f.Index += offset
				fs.Failures = append(fs.Failures, f)
			}
		}
		fs.Flags = string(flags)
		out = append(out, fs)
		i = j
	}
	return out
}

// gapBaseQuery reads each type's cadence in its baseline (the whole days
// before the window's first day, from their summaries: %[2]s): its starts,
// last start and that start's end (NULL while it runs), and the interval
// it is judged by — its configured one, else the median gap of the
// baseline when it has at least {min_history} starts. A kind of gap (late,
// too often, overlapping) is flagged only for a type whose baseline has it
// in at most one gap in a hundred: a job that starts at random, or
// overlaps by design, has no cadence to break. The median and the shares
// are of the daily samples.
const gapBaseQuery = `SELECT source, sync_type, starts, median_gap, interval, b_last, b_last_end,
  arrayCount(x -> x.1 > interval * (1 + {grace:Float64}), sample) <= length(sample) / 100 AS late_ok,
  arrayCount(x -> x.1 < {often:Float64} * interval, sample) <= length(sample) / 100 AS often_ok,
  arrayCount(x -> x.2 = 1, sample) <= length(sample) / 100 AS overlap_ok
FROM (
  SELECT source, sync_type, sum(gap_count) AS starts, groupArrayArray(arrayMap(g -> (g.2, g.3), gaps)) AS sample,
    max(last_start) AS b_last, argMax(tuple(last_end), last_start).1 AS b_last_end,
    if(length(sample) > 0, arrayReduce('quantileExact(0.5)', arrayMap(x -> x.1, sample)), 0) AS median_gap,
    ` + configuredInterval + ` AS configured,
    if(configured > 0, configured, if(starts >= {min_history:UInt32}, median_gap, 0)) AS interval
  FROM (%[2]s) GROUP BY source, sync_type
)
ORDER BY source, sync_type` + finalSettings

// gapsQuery reads the gaps between the starts of each of the window's
// days to compute (%[2]s, the first from its start), and keeps the flagged
// ones and each day's first and last start: joinGaps judges the gap from
// a day's first start to the start before it. A type of the baseline
// (runTypeNumber) is judged by its g_ values, one without by its
// configured interval alone. Each step is a query level of its own (see
// durationScoreQuery).
const gapsQuery = `SELECT source, sync_type, toString(day) AS day, max(started_at) AS w_last, min(started_at) AS w_first,
  anyIf(run_id, rn = 1) AS w_first_id, argMax(tuple(completed_at), rn).1 AS w_last_end,
  arraySlice(arraySort(x -> (x.2, x.1), groupArrayIf((run_id, started_at, prev, gap, kind), kind != '')), -{limit:UInt32}) AS flagged,
  arrayMap(x -> x.1, flagged) AS g_ids, arrayMap(x -> x.2, flagged) AS g_starts,
  arrayMap(x -> x.3, flagged) AS g_prev, arrayMap(x -> x.4, flagged) AS g_secs, arrayMap(x -> x.5, flagged) AS g_kinds
FROM (
  SELECT source, sync_type, day, run_id, started_at, completed_at, prev, gap, rn,
    multiIf(rn = 1 OR interval <= 0, '',
      overlap AND overlap_ok, 'overlap',
      late_ok AND gap > interval * (1 + {grace:Float64}), 'late',
      often_ok AND gap < {often:Float64} * interval, 'too_often',
      '') AS kind
  FROM (
    SELECT source, sync_type, day, run_id, started_at, completed_at, prev, rn,
      dateDiff('millisecond', prev, started_at) / 1000 AS gap,
      prev_end IS NOT NULL AND prev_end > started_at AS overlap,
      if(ti = 0, ` + configuredInterval + `, {g_interval:Array(Float64)}[ti]) AS interval,
      ti = 0 OR {g_late:Array(UInt8)}[ti] = 1 AS late_ok,
      ti = 0 OR {g_often:Array(UInt8)}[ti] = 1 AS often_ok,
      ti = 0 OR {g_overlap:Array(UInt8)}[ti] = 1 AS overlap_ok
    FROM (
      SELECT source, sync_type, toDate(started_at) AS day, run_id, started_at, completed_at,
        lagInFrame(started_at) OVER w AS prev, lagInFrame(completed_at) OVER w AS prev_end, row_number() OVER w AS rn,
        ` + runTypeNumber + ` AS ti
      FROM runs FINAL
      WHERE %[2]s AND %[1]s
      WINDOW w AS (PARTITION BY source, sync_type, day ORDER BY started_at, run_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
  )
)
GROUP BY source, sync_type, day
ORDER BY source, sync_type, day` + finalSettings

// configuredInterval is the configured interval of a run's sync type in
// seconds, 0 when none is.
const configuredInterval = `{iv_secs:Array(Float64)}[indexOf({iv_types:Array(String)}, sync_type)]`

// gapBase is a row of gapBaseQuery.
type gapBase struct {
	Source    string     `json:"source"`
	SyncType  string     `json:"sync_type"`
	Starts    uint64     `json:"starts"`
	MedianGap float64    `json:"median_gap"`
	Interval  float64    `json:"interval"`
	BLast     time.Time  `json:"b_last"`
	BLastEnd  *time.Time `json:"b_last_end"`
	LateOK    uint8      `json:"late_ok"`
	OftenOK   uint8      `json:"often_ok"`
	OverlapOK uint8      `json:"overlap_ok"`
}

// gapDay is a row of gapsQuery: one type's day.
type gapDay struct {
	Source    string      `json:"source"`
	SyncType  string      `json:"sync_type"`
	Day       string      `json:"day"`
	FirstID   string      `json:"w_first_id"`
	First     time.Time   `json:"w_first"`
	Last      time.Time   `json:"w_last"`
	LastEnd   *time.Time  `json:"w_last_end"`
	IDs       []string    `json:"g_ids"`
	GapStarts []time.Time `json:"g_starts"`
	Prev      []time.Time `json:"g_prev"`
	Secs      []float64   `json:"g_secs"`
	Kinds     []string    `json:"g_kinds"`
}

// Gaps returns each type's cadence in the window: gapBaseQuery reads the
// baselines, gapsQuery the gaps of the days not kept from an earlier
// question, and joinGaps joins the days.
func (s *Store) Gaps(ctx context.Context, q diagnose.GapQuery) ([]diagnose.TypeGaps, error) {
	types := slices.Sorted(maps.Keys(q.Intervals))
	secs := make([]float64, len(types))
	for i, t := range types {
		secs[i] = q.Intervals[t].Seconds()
	}
	pl, err := s.planBaselines(ctx, q.BaselineFrom, q.Since)
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	cacheable := len(pl.raw) == 0
	qn := question{all: fmt.Sprintf("gaps %v %v %v %v %v %d %d", pl.days, pl.at, types, secs, []float64{q.LateGrace, q.TooOftenRatio}, q.MinStarts, q.Limit),
		filter: q.Filter}
	p := Params{"grace": q.LateGrace, "often": q.TooOftenRatio, "iv_types": types, "iv_secs": secs, "min_history": q.MinStarts}
	f := diagWhere(q.Filter, p, "f_")
	bases, err := keptOr(s, qn, cacheable, func() ([]gapBase, error) {
		out, err := s.eng.selectRows(ctx, fmt.Sprintf(gapBaseQuery, f, pl.rows(typeSummaries, f, p, "bl_")), p)
		if err != nil {
			return nil, err
		}
		return decodeRows[gapBase](out)
	}, func(rows []gapBase) []gapBase {
		return pickTypes(qn, rows, func(b gapBase) (string, string) { return b.Source, b.SyncType })
	})
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	days, err := s.planWindowDays(ctx, qn, q.Since, q.Until, cacheable, func(rows any) any {
		return pickTypes(qn, rows.([]gapDay), func(d gapDay) (string, string) { return d.Source, d.SyncType })
	})
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	var all []gapDay
	if len(days.compute) > 0 {
		p := Params{"grace": q.LateGrace, "often": q.TooOftenRatio, "iv_types": types, "iv_secs": secs, "limit": q.Limit}
		f := diagWhere(q.Filter, p, "f_")
		pairs := make([][2]string, len(bases))
		interval := make([]float64, len(bases))
		late, often, overlap := make([]uint8, len(bases)), make([]uint8, len(bases)), make([]uint8, len(bases))
		for i, b := range bases {
			pairs[i] = [2]string{b.Source, b.SyncType}
			interval[i], late[i], often[i], overlap[i] = b.Interval, b.LateOK, b.OftenOK, b.OverlapOK
		}
		typeNumbers(pairs, p)
		p["g_interval"], p["g_late"], p["g_often"], p["g_overlap"] = interval, late, often, overlap
		out, err := s.eng.selectRows(ctx, fmt.Sprintf(gapsQuery, f, days.where(p)), p)
		if err != nil {
			return nil, fmt.Errorf("gaps: %w", err)
		}
		rows, err := decodeRows[gapDay](out)
		if err != nil {
			return nil, err
		}
		byDay := map[string][]gapDay{}
		for _, r := range rows {
			if len(r.GapStarts) != len(r.IDs) || len(r.Prev) != len(r.IDs) || len(r.Secs) != len(r.IDs) || len(r.Kinds) != len(r.IDs) {
				return nil, fmt.Errorf("gaps: %d ids, %d starts, %d previous, %d gaps, %d kinds", len(r.IDs), len(r.GapStarts), len(r.Prev), len(r.Secs), len(r.Kinds))
			}
			byDay[r.Day] = append(byDay[r.Day], r)
		}
		for _, d := range days.compute {
			s.remember(days, d.day, byDay[d.day.Format(time.DateOnly)])
		}
		all = rows
	}
	for _, rows := range days.cached {
		all = append(all, rows.([]gapDay)...)
	}
	return joinGaps(bases, all, q), nil
}

// joinGaps joins each type's baseline and days: the gap from each day's
// first start to the last start before it (of an earlier day, or the
// baseline's last) is judged here, by gapsQuery's rule, and added to the
// days' own; the latest q.Limit are kept. A type of no baseline is judged
// by its configured interval.
func joinGaps(bases []gapBase, days []gapDay, q diagnose.GapQuery) []diagnose.TypeGaps {
	type key struct{ source, syncType string }
	byType := map[key]*diagnose.TypeGaps{}
	checks := map[key]gapCheck{}
	prevs := map[key]struct {
		at  time.Time
		end *time.Time
	}{}
	var order []key
	for _, b := range bases {
		k := key{b.Source, b.SyncType}
		byType[k] = &diagnose.TypeGaps{Source: b.Source, SyncType: b.SyncType, MedianGap: b.MedianGap, Interval: b.Interval,
			Starts: b.Starts, LastStart: b.BLast.UTC()}
		checks[k] = gapCheck{interval: b.Interval, late: b.LateOK == 1, often: b.OftenOK == 1, overlap: b.OverlapOK == 1}
		if b.BLast.UnixMilli() > 0 {
			prevs[k] = struct {
				at  time.Time
				end *time.Time
			}{b.BLast, b.BLastEnd}
		}
		order = append(order, k)
	}
	slices.SortFunc(days, func(a, b gapDay) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.SyncType, b.SyncType), strings.Compare(a.Day, b.Day))
	})
	for _, d := range days {
		k := key{d.Source, d.SyncType}
		tg, ok := byType[k]
		if !ok {
			iv := q.Intervals[d.SyncType].Seconds()
			tg = &diagnose.TypeGaps{Source: d.Source, SyncType: d.SyncType, Interval: iv, LastStart: time.Unix(0, 0).UTC()}
			byType[k] = tg
			checks[k] = gapCheck{interval: iv, late: true, often: true, overlap: true}
			order = append(order, k)
		}
		if prev, ok := prevs[k]; ok && !d.First.Before(q.Since) {
			gap := float64(d.First.Sub(prev.at).Milliseconds()) / 1000
			overlap := prev.end != nil && prev.end.After(d.First)
			if kind := checks[k].judge(gap, overlap, q); kind != "" {
				tg.Gaps = append(tg.Gaps, diagnose.Gap{RunID: d.FirstID, Started: d.First.UTC(), Previous: prev.at.UTC(), Seconds: gap, Kind: kind})
			}
		}
		for i := range d.IDs {
			if d.GapStarts[i].Before(q.Since) { // the first day is read whole
				continue
			}
			tg.Gaps = append(tg.Gaps, diagnose.Gap{RunID: d.IDs[i], Started: d.GapStarts[i].UTC(), Previous: d.Prev[i].UTC(),
				Seconds: d.Secs[i], Kind: diagnose.Kind(d.Kinds[i])})
		}
		prevs[k] = struct {
			at  time.Time
			end *time.Time
		}{d.Last, d.LastEnd}
		if d.Last.After(tg.LastStart) {
			tg.LastStart = d.Last.UTC()
		}
	}
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.syncType, b.syncType))
	})
	out := make([]diagnose.TypeGaps, len(order))
	for i, k := range order {
		tg := byType[k]
		slices.SortFunc(tg.Gaps, func(a, b diagnose.Gap) int {
			return cmp.Or(a.Started.Compare(b.Started), strings.Compare(a.RunID, b.RunID))
		})
		if len(tg.Gaps) > q.Limit {
			tg.Gaps = tg.Gaps[len(tg.Gaps)-q.Limit:]
		}
		out[i] = *tg
	}
	return out
}

// gapCheck is gapsQuery's rule for one type: its interval and which
// kinds its baseline lets be flagged.
type gapCheck struct {
	interval             float64
	late, often, overlap bool
}

// judge returns the kind of a gap of gap seconds, overlapping the run
// before it or not, by q's thresholds; empty when it is none.
func (c gapCheck) judge(gap float64, overlap bool, q diagnose.GapQuery) diagnose.Kind {
	switch {
	case c.interval <= 0:
		return ""
	case overlap && c.overlap:
		return diagnose.KindOverlap
	case c.late && gap > c.interval*(1+q.LateGrace):
		return diagnose.KindLate
	case c.often && gap < q.TooOftenRatio*c.interval:
		return diagnose.KindTooOften
	}
	return ""
}

// dailySeriesQuery aggregates each type's terminal runs per UTC day.
const dailySeriesQuery = `SELECT source, sync_type, toDateTime64(toStartOfDay(started_at), 3, 'UTC') AS day,
  count() AS terminal, countIf(status = 'failed') AS failed,
  quantileIf(0.95)(duration_ms, duration_ms IS NOT NULL) / 1000 AS p95,
  toFloat64(sum(total_count)) AS records
FROM runs FINAL
WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND ` + terminalCond + ` AND %s
GROUP BY source, sync_type, day
ORDER BY source, sync_type, day` + finalSettings

// DailySeries returns each type's days in the window.
func (s *Store) DailySeries(ctx context.Context, q diagnose.Window) ([]diagnose.DailyPoint, error) {
	p := Params{"since": q.Since, "until": q.Until}
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(dailySeriesQuery, diagWhere(q.Filter, p, "f_")), p)
	if err != nil {
		return nil, fmt.Errorf("daily series: %w", err)
	}
	rows, err := decodeRows[struct {
		diagnose.DailyPoint
		P95 *float64 `json:"p95"`
	}](out)
	if err != nil {
		return nil, err
	}
	res := make([]diagnose.DailyPoint, len(rows))
	for i, r := range rows {
		res[i] = r.DailyPoint
		res[i].DurationP95 = deref(r.P95)
		res[i].Day = res[i].Day.UTC()
	}
	return res, nil
}

// fingerprintsQuery counts the error groups of the window's failed runs
// of the filtered types, with when each was first seen since the day of
// {seen_from} and last seen before the window: from the errors' summaries
// of the whole days before the window's first day, and from the runs of
// that day on.
const fingerprintsQuery = `WITH fps AS (
  SELECT DISTINCT fingerprint FROM runs
  WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND status = 'failed' AND fingerprint != 0 AND %[1]s
)
SELECT fingerprint, anyIf(msg, n > 0) AS message, sum(n) AS count, min(first) AS first_seen,
  max(last) AS last_before, arraySlice(groupArrayArray(ex), 1, 5) AS examples
FROM (
  SELECT fingerprint,
    anyIf(message, started_at >= {since:DateTime64(3, 'UTC')} AND status = 'failed') AS msg,
    countIf(started_at >= {since:DateTime64(3, 'UTC')} AND status = 'failed') AS n,
    min(started_at) AS first,
    maxIf(started_at, started_at < {since:DateTime64(3, 'UTC')}) AS last,
    groupArrayIf(5)(run_id, started_at >= {since:DateTime64(3, 'UTC')} AND status = 'failed') AS ex
  FROM runs FINAL
  WHERE started_at >= {dsince:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND fingerprint != 0 AND %[1]s
    AND fingerprint IN (SELECT fingerprint FROM fps)
  GROUP BY fingerprint
  UNION ALL
  SELECT fingerprint, '', toUInt64(0), min(first_seen), max(last_seen), []
  FROM (%[2]s)
  WHERE fingerprint IN (SELECT fingerprint FROM fps)
  GROUP BY fingerprint
)
GROUP BY fingerprint
HAVING count > 0
ORDER BY count DESC, fingerprint
LIMIT {limit:UInt32}` + finalSettings

// Fingerprints returns the error groups of the window's failed runs.
func (s *Store) Fingerprints(ctx context.Context, q diagnose.CauseQuery) ([]diagnose.FingerprintCount, error) {
	pl, err := s.planBaselines(ctx, q.SeenFrom, q.Since)
	if err != nil {
		return nil, fmt.Errorf("fingerprints: %w", err)
	}
	p := Params{"dsince": utcDay(q.Since), "since": q.Since, "until": q.Until, "limit": q.Limit}
	f := diagWhere(q.Filter, p, "f_")
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(fingerprintsQuery, f, pl.rows(errorSummaries, f, p, "bl_")), p)
	if err != nil {
		return nil, fmt.Errorf("fingerprints: %w", err)
	}
	rows, err := decodeRows[diagnose.FingerprintCount](out)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].FirstSeen = rows[i].FirstSeen.UTC()
		if rows[i].LastBefore.UnixMilli() <= 0 {
			rows[i].LastBefore = time.Time{}
		} else {
			rows[i].LastBefore = rows[i].LastBefore.UTC()
		}
	}
	return rows, nil
}

// causeRuns classifies the terminal runs of a slow window and its
// baseline (the whole days before the window's first day): bad are the
// window's runs slower than {slower_ms}, good the baseline's runs that
// did not fail and were not as slow, seen every baseline run. The
// summaries do not know durations by attribute, so this reads the runs.
const causeRuns = `SELECT run_id, source, attributes,
    toUInt8(ifNull(started_at >= {since:DateTime64(3, 'UTC')} AND duration_ms > {slower_ms:Float64}, 0)) AS is_bad,
    toUInt8(ifNull(started_at < {dsince:DateTime64(3, 'UTC')} AND status != 'failed' AND duration_ms <= {slower_ms:Float64}, 0)) AS is_good,
    toUInt8(started_at < {dsince:DateTime64(3, 'UTC')}) AS is_seen
  FROM runs FINAL
  WHERE ((started_at >= {bfrom:DateTime64(3, 'UTC')} AND started_at < {dsince:DateTime64(3, 'UTC')})
    OR (started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')})) AND ` + terminalCond + ` AND %s`

const slowAttributeCountsQuery = `SELECT key, value, countIf(is_bad) AS bad, countIf(is_good) AS good, countIf(is_seen) AS seen,
  groupArrayIf(3)(run_id, is_bad = 1) AS examples
FROM (` + causeRuns + `)
ARRAY JOIN arrayConcat(CAST(mapKeys(attributes), 'Array(String)'), ['source']) AS key,
  arrayConcat(mapValues(attributes), [toString(source)]) AS value
GROUP BY key, value
HAVING bad > 0
ORDER BY bad DESC, key, value
LIMIT 500` + finalSettings

const slowCauseTotalsQuery = `SELECT countIf(is_bad) AS bad, countIf(is_good) AS good FROM (` + causeRuns + `)` + finalSettings

// failedWindowRuns are the failed terminal runs of the window.
const failedWindowRuns = `FROM runs FINAL
  WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND status = 'failed' AND %[1]s`

// attributeCountsQuery counts the attribute values (and the pseudo-key
// source) of the window's failed runs, and of the good (not failed) and
// seen terminal runs of the baseline (the whole days before the window's
// first day) from the summaries: %[2]s the attributes', %[3]s the
// types'.
const attributeCountsQuery = `SELECT key, value, sum(b) AS bad, sum(g) AS good, sum(sn) AS seen, arraySlice(groupArrayArray(ex), 1, 3) AS examples
FROM (
  SELECT key, value, count() AS b, toUInt64(0) AS g, toUInt64(0) AS sn, groupArray(3)(run_id) AS ex
  FROM (SELECT run_id, source, attributes ` + failedWindowRuns + `)
  ARRAY JOIN arrayConcat(CAST(mapKeys(attributes), 'Array(String)'), ['source']) AS key,
    arrayConcat(mapValues(attributes), [toString(source)]) AS value
  GROUP BY key, value
  UNION ALL
  SELECT toString(key), value, toUInt64(0), good, seen, [] FROM (%[2]s)
  UNION ALL
  SELECT 'source', toString(source), toUInt64(0), toUInt64(terminal - failed), terminal, [] FROM (%[3]s)
)
GROUP BY key, value
HAVING bad > 0
ORDER BY bad DESC, key, value
LIMIT 500` + finalSettings

const causeTotalsQuery = `SELECT (SELECT count() ` + failedWindowRuns + `) AS bad,
  (SELECT toUInt64(sum(terminal) - sum(failed)) FROM (%[3]s)) AS good` + finalSettings

// AttributeCounts returns the attribute values of the window's bad runs
// with their counts among the good and seen runs of the baseline, and the
// totals.
func (s *Store) AttributeCounts(ctx context.Context, q diagnose.CauseQuery) ([]diagnose.AttributeCount, diagnose.Totals, error) {
	p := Params{"bfrom": utcDay(q.BaselineFrom), "dsince": utcDay(q.Since), "since": q.Since, "until": q.Until, "slower_ms": q.SlowerThan * 1000}
	f := diagWhere(q.Filter, p, "f_")
	var counts, totals string
	if q.SlowerThan > 0 {
		counts, totals = fmt.Sprintf(slowAttributeCountsQuery, f), fmt.Sprintf(slowCauseTotalsQuery, f)
	} else {
		pl, err := s.planBaselines(ctx, q.BaselineFrom, q.Since)
		if err != nil {
			return nil, diagnose.Totals{}, fmt.Errorf("attribute counts: %w", err)
		}
		attrs := pl.rows(attributeSummaries, f, p, "bl_")
		types := pl.rows(typeSummaries, f, p, "bt_")
		counts, totals = fmt.Sprintf(attributeCountsQuery, f, attrs, types), fmt.Sprintf(causeTotalsQuery, f, attrs, types)
	}
	// The counts and the totals read the same rows independently: ask
	// them at once.
	var rows []diagnose.AttributeCount
	var tot []diagnose.Totals
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		out, err := s.eng.selectRows(gctx, counts, p)
		if err != nil {
			return fmt.Errorf("attribute counts: %w", err)
		}
		rows, err = decodeRows[diagnose.AttributeCount](out)
		return err
	})
	g.Go(func() error {
		out, err := s.eng.selectRows(gctx, totals, p)
		if err != nil {
			return fmt.Errorf("attribute totals: %w", err)
		}
		tot, err = decodeRows[diagnose.Totals](out)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, diagnose.Totals{}, err
	}
	if len(tot) != 1 {
		return nil, diagnose.Totals{}, fmt.Errorf("attribute totals: %d rows", len(tot))
	}
	return rows, tot[0], nil
}
