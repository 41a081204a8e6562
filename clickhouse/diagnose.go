package clickhouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
)

// The store answers the diagnose package's questions: every median, MAD,
// quantile, gap and count is computed here, where the runs are; the
// service gets the flagged runs and the counts.

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

// durationScoreQuery scores the window's terminal runs against the
// successful runs of the whole UTC days before the window's first day.
//
// The plain baseline is the last BaselineDays: the median and MAD of
// durations and of record counts, and the number of runs (the history a
// type needs before it is judged).
//
// The seasonal baseline is the last SeasonalWeeks, in log space: the
// median log-duration of each hour of the day (when the type runs in at
// least 12 different hours; else one slot), then the median of what is
// left per weekday, and the MAD of the pooled residuals, widened by the
// uncertainty of the two slot medians, sqrt(1 + π/2·(1/n_hour +
// 1/n_weekday)). A type is seasonal when that residual MAD is at most
// {gain} times the MAD of its log-durations around their median; its runs
// are judged against their slots unless a slot has fewer than {min_slot}
// runs. Record counts are judged the same way, on their own.
//
// The medians are of the daily samples of the baselines (%[2]s: up to
// baselineSample runs per type and day, the same at every computation);
// the history count is exact.
const durationScoreQuery = `WITH
bl AS MATERIALIZED (
  SELECT *, day >= {bfrom:Date} AS recent FROM (%[2]s)
),
spread AS MATERIALIZED (
  SELECT source, sync_type, bitCount(groupBitOr(hour_mask)) >= 12 AS hourly, sumIf(timed_success, recent) AS n_recent
  FROM bl GROUP BY source, sync_type
),
base AS MATERIALIZED (
  SELECT b.source AS source, b.sync_type AS sync_type,
    if(sp.hourly, toHour(b.xs), 0) AS hour, toDayOfWeek(b.xs) AS wd,
    b.xd AS d, log(greatest(b.xd, 0.001)) AS ld, b.xc AS c, log(b.xc + 1) AS lc, b.recent AS recent
  FROM (SELECT source, sync_type, recent, x.2 AS xs, x.3 AS xd, x.4 AS xc FROM bl ARRAY JOIN durations AS x) AS b
  INNER JOIN spread AS sp ON sp.source = b.source AND sp.sync_type = b.sync_type
),
hours AS MATERIALIZED (
  SELECT source, sync_type, hour, count() AS nh, quantileExact(0.5)(ld) AS hmed, quantileExact(0.5)(lc) AS hcmed
  FROM base GROUP BY source, sync_type, hour
),
r1 AS MATERIALIZED (
  SELECT b.source AS source, b.sync_type AS sync_type, b.wd AS wd, b.ld - h.hmed AS r, b.lc - h.hcmed AS rc, h.nh AS nh
  FROM base AS b INNER JOIN hours AS h ON h.source = b.source AND h.sync_type = b.sync_type AND h.hour = b.hour
),
wds AS MATERIALIZED (
  SELECT source, sync_type, wd, count() AS nd, quantileExact(0.5)(r) AS dmed, quantileExact(0.5)(rc) AS dcmed
  FROM r1 GROUP BY source, sync_type, wd
),
resid AS (
  SELECT r1.source AS source, r1.sync_type AS sync_type,
    groupArrayIf(r1.r - w.dmed, r1.nh >= {min_slot:UInt32} AND w.nd >= {min_slot:UInt32}) AS res,
    groupArrayIf(r1.rc - w.dcmed, r1.nh >= {min_slot:UInt32} AND w.nd >= {min_slot:UInt32}) AS cres
  FROM r1 INNER JOIN wds AS w ON w.source = r1.source AND w.sync_type = r1.sync_type AND w.wd = r1.wd
  GROUP BY source, sync_type
),
plain AS (
  SELECT source, sync_type,
    groupArrayIf(d, recent) AS ds, length(ds) AS n,
    arrayReduce('quantileExact(0.5)', ds) AS med,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - med), ds)) AS mad,
    groupArrayIf(c, recent) AS cs,
    arrayReduce('quantileExact(0.5)', cs) AS cmed,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - cmed), cs)) AS cmad,
    groupArray(ld) AS lds,
    arrayReduce('quantileExact(0.5)', lds) AS lmed,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - lmed), lds)) AS lmad,
    groupArray(lc) AS lcs,
    arrayReduce('quantileExact(0.5)', lcs) AS lcmed,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - lcmed), lcs)) AS lcmad
  FROM base GROUP BY source, sync_type
),
types AS MATERIALIZED (
  SELECT p.source AS source, p.sync_type AS sync_type, sp.n_recent AS n, p.med AS med, p.mad AS mad, p.cmed AS cmed, p.cmad AS cmad,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x), r.res)) AS rmad,
    arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x), r.cres)) AS rcmad,
    length(r.res) >= {min_history:UInt32} AND rmad <= {gain:Float64} * p.lmad AS seasonal,
    length(r.cres) >= {min_history:UInt32} AND rcmad <= {gain:Float64} * p.lcmad AS cseasonal
  FROM plain AS p INNER JOIN resid AS r ON r.source = p.source AND r.sync_type = p.sync_type
  INNER JOIN spread AS sp ON sp.source = p.source AND sp.sync_type = p.sync_type
)
SELECT source, sync_type, run_id, status, started_at, idx AS index, total, history, seconds, expected, z, seasonal,
  records, expected_records, records_z, kind
FROM (
  SELECT w.source AS source, w.sync_type AS sync_type, w.run_id AS run_id, w.status AS status, w.started_at AS started_at,
    w.idx AS idx, w.total AS total, t.n AS history, w.d AS seconds, w.c AS records,
    t.seasonal AND h.nh >= {min_slot:UInt32} AND dd.nd >= {min_slot:UInt32} AS seasonal,
    t.cseasonal AND h.nh >= {min_slot:UInt32} AND dd.nd >= {min_slot:UInt32} AS cseasonal,
    sqrt(1 + 1.5708 * (1 / greatest(h.nh, 1) + 1 / greatest(dd.nd, 1))) AS widen,
    h.hmed + dd.dmed AS elog,
    h.hcmed + dd.dcmed AS eclog,
    if(seasonal, exp(elog), t.med) AS expected,
    if(seasonal,
      0.6745 * (w.ld - elog) / greatest(t.rmad * widen, log(1 + {floor_ratio:Float64}), log(1 + {floor_sec:Float64} / exp(elog))),
      0.6745 * (w.d - t.med) / greatest(t.mad, {floor_ratio:Float64} * t.med, {floor_sec:Float64})) AS z,
    if(cseasonal, exp(eclog) - 1, t.cmed) AS expected_records,
    if(cseasonal,
      0.6745 * (w.lc - eclog) / greatest(t.rcmad * widen, log(1 + {floor_ratio:Float64})),
      0.6745 * (w.c - t.cmed) / greatest(t.cmad, {floor_ratio:Float64} * t.cmed, 1)) AS records_z,
    multiIf(t.n < {min_history:UInt32}, '',
      z > {z:Float64}, 'duration',
      w.status = 'success' AND records_z < -{z:Float64} AND w.c < {small:Float64} * expected_records, 'too_small',
      z < -{z:Float64} AND w.d < {fast:Float64} * expected, 'too_fast',
      '') AS kind
  FROM (
    SELECT r.source AS source, r.sync_type AS sync_type, r.run_id AS run_id, r.status AS status, r.started_at AS started_at,
      r.d AS d, r.ld AS ld, r.c AS c, r.lc AS lc, if(sp.hourly, toHour(r.started_at), 0) AS hour, toDayOfWeek(r.started_at) AS wd,
      r.idx AS idx, r.total AS total
    FROM (
      SELECT source, sync_type, run_id, toString(status) AS status, started_at,
        duration_ms / 1000 AS d, ` + logDuration + ` AS ld, toFloat64(total_count) AS c, ` + logRecords + ` AS lc,
        row_number() OVER (PARTITION BY source, sync_type ORDER BY started_at, run_id) AS idx,
        count() OVER (PARTITION BY source, sync_type) AS total
      FROM runs FINAL
      WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}
        AND ` + terminalCond + ` AND duration_ms IS NOT NULL AND %[1]s
    ) AS r
    LEFT JOIN spread AS sp ON sp.source = r.source AND sp.sync_type = r.sync_type
  ) AS w
  LEFT JOIN types AS t ON t.source = w.source AND t.sync_type = w.sync_type
  LEFT JOIN hours AS h ON h.source = w.source AND h.sync_type = w.sync_type AND h.hour = w.hour
  LEFT JOIN wds AS dd ON dd.source = w.source AND dd.sync_type = w.sync_type AND dd.wd = w.wd
)
WHERE kind != '' OR idx + {latest:UInt32} > total
ORDER BY source, sync_type, started_at DESC
LIMIT {limit:UInt32} BY source, sync_type` + finalSettings + `, enable_materialized_cte = 1`

// DurationScores scores the window's terminal runs against their type's
// baseline; see durationScoreQuery.
func (s *Store) DurationScores(ctx context.Context, q diagnose.ScoreQuery) ([]diagnose.ScoredRun, error) {
	c := q.Config
	pl, err := s.planBaselines(ctx, minTime(q.SeasonalFrom, q.BaselineFrom), q.Since)
	if err != nil {
		return nil, fmt.Errorf("duration scores: %w", err)
	}
	p := Params{
		"bfrom": utcDay(q.BaselineFrom).Format(time.DateOnly), "since": q.Since, "until": q.Until,
		"min_slot": c.SeasonalMinSlotRuns, "min_history": c.MinHistory, "gain": c.SeasonalGain,
		"floor_ratio": c.MADFloorRatio, "floor_sec": c.MADFloorSeconds, "z": c.ZThreshold,
		"small": c.TooSmallRatio, "fast": c.TooFastRatio, "latest": q.Latest, "limit": q.Limit,
	}
	f := diagWhere(q.Filter, p, "f_")
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(durationScoreQuery, f, pl.rows(baselineTableNamed("run_baselines"), f, p, "bl_")), p)
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
// days before the window's first day, from their summaries) and the
// window's terminal runs in start order, as a string of flags and the
// failed runs' places, ids and starts.
const failureSeriesQuery = `SELECT source, sync_type, base_n, base_failed, flags, fail_idx, fail_ids, fail_starts FROM (
SELECT source, sync_type, base_n, base_failed,
  arrayMap(x -> x.2, w) AS fl,
  arrayStringConcat(arrayMap(x -> toString(x), fl)) AS flags,
  arrayFilter((i, f) -> f = 1, arrayEnumerate(w), fl) AS fail_idx,
  arrayFilter((id, f) -> f = 1, arrayMap(x -> x.3, w), fl) AS fail_ids,
  arrayFilter((t, f) -> f = 1, arrayMap(x -> x.1, w), fl) AS fail_starts
FROM (
  SELECT source, sync_type, sum(terminal) AS base_n, sum(failed) AS base_failed FROM (%[2]s) GROUP BY source, sync_type
) AS b
FULL OUTER JOIN (
  SELECT source, sync_type, arraySort(x -> (x.1, x.3), groupArray((started_at, toUInt8(status = 'failed'), run_id))) AS w
  FROM runs FINAL
  WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND ` + terminalCond + ` AND %[1]s
  GROUP BY source, sync_type
) AS n USING (source, sync_type))
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
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(failureSeriesQuery, f, pl.rows(baselineTableNamed("run_baselines"), f, p, "bl_")), p)
	if err != nil {
		return nil, fmt.Errorf("failure series: %w", err)
	}
	rows, err := decodeRows[struct {
		diagnose.FailureSeries
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
		fs.Failures = make([]diagnose.FailedRun, len(r.Idx))
		for j := range r.Idx {
			fs.Failures[j] = diagnose.FailedRun{Index: r.Idx[j], RunID: r.IDs[j], Started: r.Starts[j].UTC()}
		}
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
base AS MATERIALIZED (
  SELECT source, sync_type, sum(gap_count) AS starts, groupArrayArray(arrayMap(g -> (g.2, g.3), gaps)) AS sample,
    max(last_start) AS b_last, argMax(last_end, last_start) AS b_last_end
  FROM (%[2]s) GROUP BY source, sync_type
),
win AS (
  SELECT source, sync_type, max(started_at) AS w_last,
    arraySort(x -> (x.2, x.1), groupArrayIf((run_id, started_at, prev, gap, overlap), started_at >= {since:DateTime64(3, 'UTC')} AND has_prev)) AS cand
  FROM (
    SELECT r.source AS source, r.sync_type AS sync_type, r.run_id AS run_id, r.started_at AS started_at,
      r.rn > 1 OR b.b_last > toDateTime64(0, 3, 'UTC') AS has_prev,
      if(r.rn = 1, b.b_last, r.prev0) AS prev, if(r.rn = 1, b.b_last_end, r.prev_end0) AS prev_end,
      dateDiff('millisecond', prev, r.started_at) / 1000 AS gap,
      prev_end IS NOT NULL AND prev_end > r.started_at AS overlap
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
SELECT source, sync_type, median_gap, interval, starts, last_start,
  arrayMap(x -> x.1, flagged) AS g_ids, arrayMap(x -> x.2, flagged) AS g_starts,
  arrayMap(x -> x.3, flagged) AS g_prev, arrayMap(x -> x.4, flagged) AS g_secs,
  arrayMap(x -> multiIf(x.5 AND overlap_ok, 'overlap', x.4 > interval * (1 + {grace:Float64}), 'late', 'too_often'), flagged) AS g_kinds
FROM (
  SELECT source, sync_type, median_gap, interval, starts, last_start,
    arrayCount(x -> x.1 > interval * (1 + {grace:Float64}), sample) <= length(sample) / 100 AS late_ok,
    arrayCount(x -> x.1 < {often:Float64} * interval, sample) <= length(sample) / 100 AS often_ok,
    arrayCount(x -> x.2 = 1, sample) <= length(sample) / 100 AS overlap_ok,
    arraySlice(arrayFilter(x -> interval > 0 AND (
      (late_ok AND x.4 > interval * (1 + {grace:Float64})) OR (often_ok AND x.4 < {often:Float64} * interval) OR (overlap_ok AND x.5)), cand),
      -{limit:UInt32}) AS flagged
  FROM (
    SELECT source, sync_type, starts, sample, cand,
      if(length(sample) > 0, arrayReduce('quantileExact(0.5)', arrayMap(x -> x.1, sample)), 0) AS median_gap,
      greatest(b_last, w_last) AS last_start,
      arrayElement(arrayMap(x -> toFloat64(x), {iv_secs:Array(String)}), indexOf({iv_types:Array(String)}, sync_type)) AS configured,
      if(configured > 0, configured, if(starts >= {min_history:UInt32}, median_gap, 0)) AS interval
    FROM base FULL OUTER JOIN win USING (source, sync_type)
  )
)
ORDER BY source, sync_type` + finalSettings + `, join_use_nulls = 0, enable_materialized_cte = 1`

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
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(gapsQuery, f, pl.rows(baselineTableNamed("run_baselines"), f, p, "bl_")), p)
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
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(fingerprintsQuery, f, pl.rows(baselineTableNamed("run_baseline_errors"), f, p, "bl_")), p)
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
		attrs := pl.rows(baselineTableNamed("run_baseline_attributes"), f, p, "bl_")
		types := pl.rows(baselineTableNamed("run_baselines"), f, p, "bt_")
		counts, totals = fmt.Sprintf(attributeCountsQuery, f, attrs, types), fmt.Sprintf(causeTotalsQuery, f, attrs, types)
	}
	out, err := s.eng.selectRows(ctx, counts, p)
	if err != nil {
		return nil, diagnose.Totals{}, fmt.Errorf("attribute counts: %w", err)
	}
	rows, err := decodeRows[diagnose.AttributeCount](out)
	if err != nil {
		return nil, diagnose.Totals{}, err
	}
	out, err = s.eng.selectRows(ctx, totals, p)
	if err != nil {
		return nil, diagnose.Totals{}, fmt.Errorf("attribute totals: %w", err)
	}
	tot, err := decodeRows[diagnose.Totals](out)
	if err != nil {
		return nil, diagnose.Totals{}, err
	}
	if len(tot) != 1 {
		return nil, diagnose.Totals{}, fmt.Errorf("attribute totals: %d rows", len(tot))
	}
	return rows, tot[0], nil
}
