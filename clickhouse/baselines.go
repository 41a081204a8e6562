package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The diagnostics' baselines are summarised a UTC day at a time into the
// tables of migration 6 (see its comments). A question reads the days
// whose summary is current from there and computes the others from the
// runs with the SELECT that builds them, so that the answer is the same
// whether or not the builder has run.

const (
	// baselineSample is how many successful durations, and how many gaps,
	// of a type and day the summaries keep.
	baselineSample = 64
	// gapLookback is how far before a day the previous start of its first
	// run is looked for.
	gapLookback = 4 * 24 * time.Hour
	// baselineSettle is how long after a day ends it is first summarised.
	baselineSettle = time.Minute
	// baselineMargin is how much older than its start a computation is
	// recorded, so that an insert under way while the computation read the
	// runs (its mark taken, its rows not yet visible) marks it stale.
	baselineMargin = 2 * time.Second
	// baselineChunkDays bounds the days one statement summarises.
	baselineChunkDays = 7
)

// baselineTable is one of the summary tables: its columns (without
// computed_at) and the SELECT that computes them from the runs kept by the
// condition keep (and read, for the window functions, by look), filtered
// by filter.
type baselineTable struct {
	name    string
	columns string
	stats   func(keep, look, filter string) string
}

// The summary tables: of types, of attribute values, of errors.
var (
	typeSummaries = baselineTable{name: "run_baselines",
		columns: "day, source, sync_type, terminal, failed, timed_success, starts, hour_mask, durations, gap_count, gaps, last_start, last_end",
		stats: func(keep, look, filter string) string {
			return `SELECT toDate(started_at) AS day, source, sync_type,
  countIf(terminal) AS terminal, countIf(st = 'failed') AS failed,
  countIf(st = 'success' AND duration_ms IS NOT NULL) AS timed_success,
  count() AS starts,
  groupBitOr(bitShiftLeft(toUInt32(1), toHour(started_at))) AS hour_mask,
  groupArraySortedIf(` + strconv.Itoa(baselineSample) + `)((draw, started_at, assumeNotNull(duration_ms) / 1000, toFloat64(total_count)), st = 'success' AND duration_ms IS NOT NULL) AS durations,
  countIf(has_prev) AS gap_count,
  groupArraySortedIf(` + strconv.Itoa(baselineSample) + `)((draw, gap, overlap), has_prev) AS gaps,
  max(started_at) AS last_start,
  -- The last start's end, NULL while it runs (argMax skips a NULL value;
  -- a tuple is never NULL).
  argMax(tuple(completed_at), (started_at, run_id)).1 AS last_end
FROM (
  SELECT started_at, run_id, source, sync_type, ` + terminalCond + ` AS terminal, toString(status) AS st,
    duration_ms, total_count, completed_at, cityHash64(run_id) AS draw,
    lagInFrame(started_at) OVER w AS prev, lagInFrame(completed_at) OVER w AS prev_end,
    row_number() OVER w > 1 AS has_prev,
    dateDiff('millisecond', prev, started_at) / 1000 AS gap,
    toUInt8(prev_end IS NOT NULL AND prev_end > started_at) AS overlap
  FROM runs FINAL
  WHERE (` + look + `) AND ` + filter + `
  WINDOW w AS (PARTITION BY source, sync_type ORDER BY started_at, run_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
WHERE ` + keep + `
GROUP BY day, source, sync_type`
		}}
	attributeSummaries = baselineTable{name: "run_baseline_attributes",
		columns: "day, source, sync_type, key, value, good, seen",
		stats: func(keep, _, filter string) string {
			return `SELECT toDate(started_at) AS day, source, sync_type, key, value,
  countIf(status != 'failed') AS good, count() AS seen
FROM runs FINAL
ARRAY JOIN CAST(mapKeys(attributes), 'Array(String)') AS key, mapValues(attributes) AS value
WHERE (` + keep + `) AND ` + terminalCond + ` AND ` + filter + `
GROUP BY day, source, sync_type, key, value`
		}}
	errorSummaries = baselineTable{name: "run_baseline_errors",
		columns: "day, source, sync_type, fingerprint, first_seen, last_seen",
		stats: func(keep, _, filter string) string {
			return `SELECT toDate(started_at) AS day, source, sync_type, fingerprint, min(started_at) AS first_seen, max(started_at) AS last_seen
FROM runs FINAL
WHERE (` + keep + `) AND fingerprint != 0 AND ` + filter + `
GROUP BY day, source, sync_type, fingerprint`
		}}
)

// baselinePlan says where a question's baseline days come from: the
// summaries of the fresh days (with the computation to read), and the
// runs for the other days, as ranges of whole days.
type baselinePlan struct {
	days, at []string
	raw      [][2]time.Time
}

// utcDay returns the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// planBaselines finds which days of [from, to) (whole UTC days) have a
// current summary.
func (s *Store) planBaselines(ctx context.Context, from, to time.Time) (baselinePlan, error) {
	from, to = utcDay(from), utcDay(to)
	var pl baselinePlan
	if !from.Before(to) {
		return pl, nil
	}
	fresh, err := s.freshBaselineDays(ctx, from, to)
	if err != nil {
		return pl, err
	}
	var open *[2]time.Time
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if at, ok := fresh[d]; ok {
			pl.days = append(pl.days, d.Format(time.DateOnly))
			pl.at = append(pl.at, formatTime(at))
			open = nil
			continue
		}
		if open != nil && open[1].Equal(d) {
			open[1] = d.AddDate(0, 0, 1)
			continue
		}
		pl.raw = append(pl.raw, [2]time.Time{d, d.AddDate(0, 0, 1)})
		open = &pl.raw[len(pl.raw)-1]
	}
	return pl, nil
}

// freshBaselineDays returns the days of [from, to) whose latest
// computation is newer than the latest report that touched them, with that
// computation.
func (s *Store) freshBaselineDays(ctx context.Context, from, to time.Time) (map[time.Time]time.Time, error) {
	out, err := s.eng.selectRows(ctx, `SELECT d.day AS day, d.c AS computed_at
FROM (SELECT day, max(computed_at) AS c FROM run_baseline_days WHERE day >= {from:Date} AND day < {to:Date} GROUP BY day) AS d
LEFT JOIN (SELECT day, max(marked_at) AS m FROM run_baseline_marks WHERE day >= {from:Date} AND day < {to:Date} GROUP BY day) AS k ON k.day = d.day
WHERE d.c > k.m
SETTINGS join_use_nulls = 0`, Params{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly)})
	if err != nil {
		return nil, fmt.Errorf("read baseline days: %w", err)
	}
	rows, err := decodeRows[struct {
		Day        string    `json:"day"`
		ComputedAt time.Time `json:"computed_at"`
	}](out)
	if err != nil {
		return nil, err
	}
	fresh := make(map[time.Time]time.Time, len(rows))
	for _, r := range rows {
		d, err := time.Parse(time.DateOnly, r.Day)
		if err != nil {
			return nil, fmt.Errorf("read baseline days: %w", err)
		}
		fresh[d] = r.ComputedAt.UTC()
	}
	return fresh, nil
}

// rawConds renders the plan's raw days as conditions on the runs: keep
// selects their runs, look those of the gap look-back too. Their values
// go into p under the prefix.
func (pl baselinePlan) rawConds(p Params, prefix string) (keep, look string) {
	if len(pl.raw) == 0 {
		return "", ""
	}
	var k, l []string
	for i, r := range pl.raw {
		n := prefix + "r" + strconv.Itoa(i)
		p[n+"_from"], p[n+"_look"], p[n+"_to"] = r[0], r[0].Add(-gapLookback), r[1]
		k = append(k, "(started_at >= {"+n+"_from:DateTime64(3, 'UTC')} AND started_at < {"+n+"_to:DateTime64(3, 'UTC')})")
		l = append(l, "(started_at >= {"+n+"_look:DateTime64(3, 'UTC')} AND started_at < {"+n+"_to:DateTime64(3, 'UTC')})")
	}
	return strings.Join(k, " OR "), strings.Join(l, " OR ")
}

// rows renders the rows of the summary table t for the plan's days and
// the filter: the table's for the fresh days, computed from the runs for
// the others. Its values go into p under the prefix.
func (pl baselinePlan) rows(t baselineTable, filter string, p Params, prefix string) string {
	p[prefix+"days"], p[prefix+"at"] = orEmpty(pl.days), orEmpty(pl.at)
	q := `SELECT ` + t.columns + ` FROM ` + t.name + `
  WHERE day IN {` + prefix + `days:Array(Date)}
    AND computed_at = arrayElement({` + prefix + `at:Array(DateTime64(3, 'UTC'))}, indexOf({` + prefix + `days:Array(Date)}, day))
    AND ` + filter
	if keep, look := pl.rawConds(p, prefix); keep != "" {
		q += "\n  UNION ALL\n" + t.stats(keep, look, filter)
	}
	return q
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// BuildBaselines summarises the days of [from, until) (whole UTC days,
// none later than the day before the last minute) whose summary is
// missing or stale, and returns how many it summarised. A day is
// summarised from the runs as they are; a report that touches it later
// marks it stale (run_baseline_marks_mv) and it is summarised again at the
// next call.
func (s *Store) BuildBaselines(ctx context.Context, from, until time.Time) (int, error) {
	nowOut, err := s.eng.selectRows(ctx, `SELECT now64(3, 'UTC') AS now`, nil)
	if err != nil {
		return 0, fmt.Errorf("build baselines: %w", err)
	}
	var now struct {
		Now time.Time `json:"now"`
	}
	if err := json.Unmarshal(firstLine(nowOut), &now); err != nil {
		return 0, fmt.Errorf("build baselines: decode the time: %w", err)
	}
	until = minTime(until, utcDay(now.Now.Add(-baselineSettle)))
	pl, err := s.planBaselines(ctx, from, until)
	if err != nil {
		return 0, fmt.Errorf("build baselines: %w", err)
	}
	built := 0
	for _, r := range pl.raw {
		for d := r[0]; d.Before(r[1]); d = d.AddDate(0, 0, baselineChunkDays) {
			end := minTime(r[1], d.AddDate(0, 0, baselineChunkDays))
			n, err := s.buildBaselineDays(ctx, d, end)
			if err != nil {
				return built, fmt.Errorf("build baselines: %w", err)
			}
			built += n
		}
	}
	return built, nil
}

// buildBaselineDays summarises the days of [from, to) from the runs.
func (s *Store) buildBaselineDays(ctx context.Context, from, to time.Time) (int, error) {
	out, err := s.eng.selectRows(ctx, `SELECT now64(3, 'UTC') - toIntervalMillisecond({settle:UInt64}) AS at`,
		Params{"settle": uint64(baselineMargin.Milliseconds())})
	if err != nil {
		return 0, err
	}
	var row struct {
		At time.Time `json:"at"`
	}
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		return 0, fmt.Errorf("decode the time: %w", err)
	}
	p := Params{"from": from, "to": to, "look": from.Add(-gapLookback), "at": row.At}
	keep := "started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}"
	look := "started_at >= {look:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}"
	for _, t := range []baselineTable{typeSummaries, attributeSummaries, errorSummaries} {
		// insert_deduplicate off: a computation equal to an earlier one
		// (computed_at aside) is still this computation's.
		q := `INSERT INTO ` + t.name + ` (` + t.columns + `, computed_at)
SELECT *, {at:DateTime64(3, 'UTC')} FROM (` + t.stats(keep, look, "1") + `)` + finalSettings + `, insert_deduplicate = 0`
		if err := s.eng.exec(ctx, q, p); err != nil {
			return 0, fmt.Errorf("summarise %s to %s into %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), t.name, err)
		}
	}
	var days []string
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	p["days"] = days
	if err := s.eng.exec(ctx, `INSERT INTO run_baseline_days (day, computed_at)
SELECT arrayJoin({days:Array(Date)}), {at:DateTime64(3, 'UTC')} SETTINGS insert_deduplicate = 0`, p); err != nil {
		return 0, fmt.Errorf("record the summaries of %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	return len(days), nil
}

// markBaselines marks the days of the runs keys selects (a subquery of
// one Date column, with its parameters p) stale: the store calls it after
// deleting runs, which inserts no report to mark them.
func (s *Store) markBaselines(ctx context.Context, keys string, p Params) error {
	if err := s.eng.exec(ctx, `INSERT INTO run_baseline_marks (day, marked_at)
SELECT day, now64(3, 'UTC') FROM (`+keys+`) SETTINGS insert_deduplicate = 0`, p); err != nil {
		return fmt.Errorf("mark the baselines of removed runs stale: %w", err)
	}
	return nil
}
