package clickhouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// durationScoreQuery scores the window's terminal runs against their
// type's baseline, which the store lays out per type and slot (hour of
// the day and weekday) as array parameters: the type of source i and sync
// type j of {t_sources} and {t_types} is number {t_grid}[(i-1)·len(t_types)
// + j] (0: none; two look-ups on the columns' dictionaries rather than a
// comparison per run); {t_n} holds its history, and the x_ (durations)
// and c_ (record counts) arrays, per slot, whether the slot judges in log
// space (seasonal), its centre, scale and expected value. Each run costs
// a few look-ups and a division.
const durationScoreQuery = `SELECT source, sync_type, run_id, status, started_at, idx AS index, total, history, seconds, expected, z, seasonal,
  records, expected_records, records_z, kind
FROM (
  SELECT source, sync_type, run_id, status, started_at, idx, total, d AS seconds, c AS records,
    indexOf({t_sources:Array(String)}, source) AS si, indexOf({t_types:Array(String)}, sync_type) AS yi,
    if(si = 0 OR yi = 0, 0, {t_grid:Array(UInt64)}[(si - 1) * length({t_types:Array(String)}) + yi]) AS ti,
    {t_n:Array(UInt64)}[ti] AS history,
    if(ti = 0, 0, (ti - 1) * 168 + toHour(started_at) * 7 + toDayOfWeek(started_at)) AS k,
    {x_log:Array(UInt8)}[k] = 1 AS seasonal,
    {x_expected:Array(Float64)}[k] AS expected,
    if(k = 0, 0, 0.6745 * (if(seasonal, ld, d) - {x_center:Array(Float64)}[k]) / {x_scale:Array(Float64)}[k]) AS z,
    {c_expected:Array(Float64)}[k] AS expected_records,
    if(k = 0, 0, 0.6745 * (if({c_log:Array(UInt8)}[k] = 1, lc, c) - {c_center:Array(Float64)}[k]) / {c_scale:Array(Float64)}[k]) AS records_z,
    multiIf(history < {min_history:UInt32}, '',
      z > {z:Float64}, 'duration',
      status = 'success' AND records_z < -{z:Float64} AND c < {small:Float64} * expected_records, 'too_small',
      z < -{z:Float64} AND d < {fast:Float64} * expected, 'too_fast',
      '') AS kind
  FROM (
    SELECT source, sync_type, run_id, toString(status) AS status, started_at,
      duration_ms / 1000 AS d, ` + logDuration + ` AS ld, toFloat64(total_count) AS c, ` + logRecords + ` AS lc,
      row_number() OVER (PARTITION BY source, sync_type ORDER BY started_at, run_id) AS idx,
      count() OVER (PARTITION BY source, sync_type) AS total
    FROM runs FINAL
    WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}
      AND ` + terminalCond + ` AND duration_ms IS NOT NULL AND %[1]s
  )
)
WHERE kind != '' OR idx + {latest:UInt32} > total
ORDER BY source, sync_type, started_at DESC
LIMIT {limit:UInt32} BY source, sync_type` + finalSettings

// DurationScores scores the window's terminal runs against their type's
// baseline: typeSamplesQuery reads the baselines' samples, typeBaselines
// computes the medians, durationScoreQuery judges the runs.
func (s *Store) DurationScores(ctx context.Context, q diagnose.ScoreQuery) ([]diagnose.ScoredRun, error) {
	c := q.Config
	pl, err := s.planBaselines(ctx, minTime(q.SeasonalFrom, q.BaselineFrom), q.Since)
	if err != nil {
		return nil, fmt.Errorf("duration scores: %w", err)
	}
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
		if types[i], err = ts.baseline(c); err != nil {
			return nil, fmt.Errorf("duration baselines: %w", err)
		}
	}
	p = Params{"since": q.Since, "until": q.Until, "min_history": c.MinHistory, "z": c.ZThreshold,
		"small": c.TooSmallRatio, "fast": c.TooFastRatio, "latest": q.Latest, "limit": q.Limit}
	baselineParams(types, c, p)
	out, err = s.eng.selectRows(ctx, fmt.Sprintf(durationScoreQuery, diagWhere(q.Filter, p, "f_")), p)
	if err != nil {
		return nil, fmt.Errorf("duration scores: %w", err)
	}
	rows, err := decodeRows[struct {
		diagnose.ScoredRun
		Expected        *float64 `json:"expected"`
		Z               *float64 `json:"z"`
		ExpectedRecords *float64 `json:"expected_records"`
		RecordsZ        *float64 `json:"records_z"`
		Records         float64  `json:"records"`
		Seasonal        uint8    `json:"seasonal"`
	}](out)
	if err != nil {
		return nil, err
	}
	res := make([]diagnose.ScoredRun, len(rows))
	for i, r := range rows {
		sr := r.ScoredRun
		sr.Expected, sr.Z, sr.ExpectedRecords, sr.RecordsZ = deref(r.Expected), deref(r.Z), deref(r.ExpectedRecords), deref(r.RecordsZ)
		sr.Records, sr.Seasonal = uint64(r.Records), r.Seasonal == 1
		sr.Started = sr.Started.UTC()
		res[i] = sr
	}
	return res, nil
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

// failureSeriesQuery returns each type's baseline failures (the whole
// days before the window's first day, from their summaries), the number of
// the window's terminal runs and its failed runs with their places in
// start order (the store writes the flags from them).
const failureSeriesQuery = `SELECT source, sync_type, base_n, base_failed, total,
  arraySort(failed) AS f, arrayMap(x -> x.1, f) AS fail_idx, arrayMap(x -> x.2, f) AS fail_ids, arrayMap(x -> x.3, f) AS fail_starts
FROM (
  SELECT source, sync_type, sum(terminal) AS base_n, sum(failed) AS base_failed FROM (%[2]s) GROUP BY source, sync_type
) AS b
FULL OUTER JOIN (
  SELECT source, sync_type, max(idx) AS total, groupArrayIf((idx, run_id, started_at), status = 'failed') AS failed
  FROM (
    SELECT source, sync_type, run_id, started_at, status,
      row_number() OVER (PARTITION BY source, sync_type ORDER BY started_at, run_id) AS idx
    FROM runs FINAL
    WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND ` + terminalCond + ` AND %[1]s
  )
  GROUP BY source, sync_type
) AS n USING (source, sync_type)
ORDER BY source, sync_type` + finalSettings + `, join_use_nulls = 0`

// FailureSeries returns each type's failures in the window and its
// baseline's failure count.
func (s *Store) FailureSeries(ctx context.Context, q diagnose.Window) ([]diagnose.FailureSeries, error) {
	pl, err := s.planBaselines(ctx, q.BaselineFrom, q.Since)
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	p := Params{"since": q.Since, "until": q.Until}
	f := diagWhere(q.Filter, p, "f_")
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(failureSeriesQuery, f, pl.rows(typeSummaries, f, p, "bl_")), p)
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	rows, err := decodeRows[struct {
		diagnose.FailureSeries
		Total  int         `json:"total"`
		Idx    []int       `json:"fail_idx"`
		IDs    []string    `json:"fail_ids"`
		Starts []time.Time `json:"fail_starts"`
	}](out)
	if err != nil {
		return nil, err
	}
	res := make([]diagnose.FailureSeries, len(rows))
	for i, r := range rows {
		fs := r.FailureSeries
		if len(r.IDs) != len(r.Idx) || len(r.Starts) != len(r.Idx) {
			return nil, fmt.Errorf("failure series: %d places, %d ids, %d starts", len(r.Idx), len(r.IDs), len(r.Starts))
		}
		flags := []byte(strings.Repeat("0", r.Total))
		fs.Failures = make([]diagnose.FailedRun, len(r.Idx))
		for j, at := range r.Idx {
			if at < 1 || at > r.Total {
				return nil, fmt.Errorf("failure series: failed run %s at place %d of %d", r.IDs[j], at, r.Total)
			}
			flags[at-1] = '1'
			fs.Failures[j] = diagnose.FailedRun{Index: at, RunID: r.IDs[j], Started: r.Starts[j].UTC()}
		}
		fs.Flags = string(flags)
		res[i] = fs
	}
	return res, nil
}

// gapsQuery finds each type's gaps between starts. The interval a type is
// judged by is its configured one, else the median gap of its baseline
// (the whole days before the window's first day, with at least
// {min_history} starts). A kind of gap (late, too often, overlapping) is
// flagged only for a type whose baseline has it in at most one gap in a
// hundred: a job that starts at random, or overlaps by design, has no
// cadence to break. The median and the shares are of the daily samples of
// the baselines; the window's gaps are all read, from its first day on
// (the first start's previous is the baseline's last).
const gapsQuery = `WITH
base AS (
  SELECT source, sync_type, starts, median_gap, interval, b_last, b_last_end, toUInt8(1) AS in_base,
    arrayCount(x -> x.1 > interval * (1 + {grace:Float64}), sample) <= length(sample) / 100 AS late_ok,
    arrayCount(x -> x.1 < {often:Float64} * interval, sample) <= length(sample) / 100 AS often_ok,
    arrayCount(x -> x.2 = 1, sample) <= length(sample) / 100 AS overlap_ok
  FROM (
    SELECT source, sync_type, sum(gap_count) AS starts, groupArrayArray(arrayMap(g -> (g.2, g.3), gaps)) AS sample,
      max(last_start) AS b_last, argMax(last_end, last_start) AS b_last_end,
      if(length(sample) > 0, arrayReduce('quantileExact(0.5)', arrayMap(x -> x.1, sample)), 0) AS median_gap,
      ` + configuredInterval + ` AS configured,
      if(configured > 0, configured, if(starts >= {min_history:UInt32}, median_gap, 0)) AS interval
    FROM (%[2]s) GROUP BY source, sync_type
  )
),
-- The window's gaps, only those flagged kept: a type without a baseline
-- is judged by its configured interval alone.
win AS (
  SELECT source, sync_type, max(started_at) AS w_last,
    arraySlice(arraySort(x -> (x.2, x.1), groupArrayIf((run_id, started_at, prev, gap, kind), kind != '')), -{limit:UInt32}) AS flagged
  FROM (
    SELECT r.source AS source, r.sync_type AS sync_type, r.run_id AS run_id, r.started_at AS started_at,
      b.in_base = 1 AS known,
      r.rn > 1 OR b.b_last > toDateTime64(0, 3, 'UTC') AS has_prev,
      if(r.rn = 1, b.b_last, r.prev0) AS prev, if(r.rn = 1, b.b_last_end, r.prev_end0) AS prev_end,
      dateDiff('millisecond', prev, r.started_at) / 1000 AS gap,
      prev_end IS NOT NULL AND prev_end > r.started_at AS overlap,
      if(known, b.interval, ` + configuredInterval + `) AS interval,
      NOT known OR b.late_ok AS late_ok, NOT known OR b.often_ok AS often_ok, NOT known OR b.overlap_ok AS overlap_ok,
      multiIf(r.started_at < {since:DateTime64(3, 'UTC')} OR NOT has_prev OR interval <= 0, '',
        overlap AND overlap_ok, 'overlap',
        late_ok AND gap > interval * (1 + {grace:Float64}), 'late',
        often_ok AND gap < {often:Float64} * interval, 'too_often',
        '') AS kind
    FROM (
      SELECT source, sync_type, run_id, started_at,
        lagInFrame(started_at) OVER w AS prev0, lagInFrame(completed_at) OVER w AS prev_end0, row_number() OVER w AS rn
      FROM runs FINAL
      WHERE started_at >= {dsince:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND %[1]s
      WINDOW w AS (PARTITION BY source, sync_type ORDER BY started_at, run_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ) AS r
    LEFT JOIN base AS b ON b.source = r.source AND b.sync_type = r.sync_type
  )
  GROUP BY source, sync_type
)
SELECT source, sync_type, median_gap, if(in_base = 1, b.interval, ` + configuredInterval + `) AS interval, starts,
  greatest(b_last, w_last) AS last_start,
  arrayMap(x -> x.1, flagged) AS g_ids, arrayMap(x -> x.2, flagged) AS g_starts,
  arrayMap(x -> x.3, flagged) AS g_prev, arrayMap(x -> x.4, flagged) AS g_secs, arrayMap(x -> x.5, flagged) AS g_kinds
FROM base AS b FULL OUTER JOIN win USING (source, sync_type)
ORDER BY source, sync_type` + finalSettings + `, join_use_nulls = 0`

// configuredInterval is the configured interval of a run's sync type in
// seconds, 0 when none is.
const configuredInterval = `arrayElement(arrayMap(x -> toFloat64(x), {iv_secs:Array(String)}), indexOf({iv_types:Array(String)}, sync_type))`

// Gaps returns each type's cadence in the window; see gapsQuery.
func (s *Store) Gaps(ctx context.Context, q diagnose.GapQuery) ([]diagnose.TypeGaps, error) {
	types := slices.Sorted(maps.Keys(q.Intervals))
	secs := make([]string, len(types))
	for i, t := range types {
		secs[i] = strconv.FormatFloat(q.Intervals[t].Seconds(), 'f', -1, 64)
	}
	pl, err := s.planBaselines(ctx, q.BaselineFrom, q.Since)
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	p := Params{"dsince": utcDay(q.Since), "since": q.Since, "until": q.Until, "grace": q.LateGrace, "often": q.TooOftenRatio,
		"iv_types": types, "iv_secs": secs, "min_history": q.MinStarts, "limit": q.Limit}
	f := diagWhere(q.Filter, p, "f_")
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(gapsQuery, f, pl.rows(typeSummaries, f, p, "bl_")), p)
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	rows, err := decodeRows[struct {
		diagnose.TypeGaps
		MedianGap *float64    `json:"median_gap"`
		IDs       []string    `json:"g_ids"`
		Starts    []time.Time `json:"g_starts"`
		Prev      []time.Time `json:"g_prev"`
		Secs      []float64   `json:"g_secs"`
		Kinds     []string    `json:"g_kinds"`
	}](out)
	if err != nil {
		return nil, err
	}
	res := make([]diagnose.TypeGaps, len(rows))
	for i, r := range rows {
		tg := r.TypeGaps
		tg.MedianGap = deref(r.MedianGap)
		tg.LastStart = tg.LastStart.UTC()
		for j := range r.IDs {
			tg.Gaps = append(tg.Gaps, diagnose.Gap{RunID: r.IDs[j], Started: r.Starts[j].UTC(), Previous: r.Prev[j].UTC(),
				Seconds: r.Secs[j], Kind: diagnose.Kind(r.Kinds[j])})
		}
		res[i] = tg
	}
	return res, nil
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
