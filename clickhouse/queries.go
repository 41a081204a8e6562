package clickhouse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/syncwatch/syncwatch/runs"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// finalSettings lets FINAL work partition by partition, in parallel.
const finalSettings = ` SETTINGS do_not_merge_across_partitions_select_final = 1`

// where renders the filter as a WHERE clause over runs, adding its values
// to p. Every value is a bound parameter.
func where(f runs.Filter, p Params) string {
	conds := []string{"1"}
	if len(f.Sources) > 0 {
		conds = append(conds, "source IN {f_sources:Array(String)}")
		p["f_sources"] = f.Sources
	}
	if len(f.SyncTypes) > 0 {
		conds = append(conds, "sync_type IN {f_sync_types:Array(String)}")
		p["f_sync_types"] = f.SyncTypes
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		conds = append(conds, "toString(status) IN {f_statuses:Array(String)}")
		p["f_statuses"] = st
	}
	if !f.Since.IsZero() {
		conds = append(conds, "started_at >= {f_since:DateTime64(3, 'UTC')}")
		p["f_since"] = f.Since
	}
	if !f.Until.IsZero() {
		conds = append(conds, "started_at < {f_until:DateTime64(3, 'UTC')}")
		p["f_until"] = f.Until
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		conds = append(conds, "lowerUTF8(message) LIKE {f_query:String}")
		p["f_query"] = "%" + likeEscaper.Replace(strings.ToLower(q)) + "%"
	}
	if f.Fingerprint != 0 {
		conds = append(conds, "fingerprint = {f_fingerprint:UInt64}")
		p["f_fingerprint"] = f.Fingerprint
	}
	return strings.Join(conds, " AND ")
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

const runColumns = `run_id, event_id, source, sync_type, toString(status) AS status, message, fingerprint,
total_count, success_count, failed_count, started_at, completed_at, duration_ms, received_at, attributes`

// listSpans are how far back from its start ListRuns reads in successive
// queries, until it has a page: the sorting key leads with started_at, so
// a query bounded in time reads only that slice of the table, while one
// without bounds would reconcile (FINAL) every row before its ORDER BY ...
// LIMIT, since ClickHouse reads with FINAL in the key's direct order only.
var listSpans = []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// ListRuns returns runs newest first (by start, then run id) and the cursor
// of the next page, nil on the last page.
//
// It reads the newest slice of time first (from the cursor, Until or now
// back by each of listSpans in turn, then all the rest), and the older ones
// only while the page is not full.
func (s *Store) ListRuns(ctx context.Context, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error) {
	if opt.Limit < 1 || opt.Limit > 10000 {
		return nil, nil, fmt.Errorf("limit %d: must be between 1 and 10000", opt.Limit)
	}
	f := opt.Filter
	base := Params{}
	where := where(f, base)
	from := time.Now()
	if !f.Until.IsZero() && f.Until.Before(from) {
		from = f.Until
	}
	if opt.After != nil {
		where += " AND started_at <= {c_started:DateTime64(3, 'UTC')} AND (started_at, run_id) < ({c_started:DateTime64(3, 'UTC')}, {c_run:String})"
		base["c_started"] = opt.After.StartedAt
		base["c_run"] = opt.After.RunID
		if opt.After.StartedAt.Before(from) {
			from = opt.After.StartedAt
		}
	}
	var found []runs.Run
	var upper time.Time // the older end of the slices read so far
	for i := 0; ; i++ {
		p := maps.Clone(base)
		cond := where
		var lower time.Time
		if i < len(listSpans) {
			lower = from.Add(-listSpans[i])
			if !f.Since.IsZero() && !lower.After(f.Since) {
				lower = time.Time{} // the filter bounds this slice
			}
		}
		if !lower.IsZero() {
			cond += " AND started_at >= {w_lower:DateTime64(3, 'UTC')}"
			p["w_lower"] = lower
		}
		if !upper.IsZero() {
			cond += " AND started_at < {w_upper:DateTime64(3, 'UTC')}"
			p["w_upper"] = upper
		}
		if strings.TrimSpace(f.Query) != "" {
			// The message search is the costly condition under FINAL,
			// which reads and reconciles every message of the slice. The
			// runs with a matching row are found without FINAL first
			// (where the ngram index and the query condition cache help),
			// and only those are reconciled: a run whose latest row
			// matches has a matching row, and the outer condition drops
			// the runs that only an older row matched.
			cond += " AND (started_at, run_id) IN (SELECT started_at, run_id FROM runs WHERE " + cond + ")"
		}
		p["limit"] = opt.Limit + 1 - len(found)
		out, err := s.eng.selectRows(ctx, `SELECT `+runColumns+` FROM runs FINAL WHERE `+cond+`
ORDER BY started_at DESC, run_id DESC LIMIT {limit:UInt32}`+finalSettings, p)
		if err != nil {
			return nil, nil, fmt.Errorf("list runs: %w", err)
		}
		page, err := decodeRows[runs.Run](out)
		if err != nil {
			return nil, nil, err
		}
		found = append(found, page...)
		if len(found) > opt.Limit || lower.IsZero() {
			break
		}
		upper = lower
	}
	var next *runs.Cursor
	if len(found) > opt.Limit {
		found = found[:opt.Limit]
		last := found[len(found)-1]
		next = &runs.Cursor{StartedAt: last.StartedAt, RunID: last.RunID}
	}
	return found, next, nil
}

// GetRun returns a run with every report it sent, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, runID string) (runs.RunDetail, error) {
	// Repeated deliveries of a report (one event_id) are collapsed by
	// LIMIT BY, keeping the highest version as FINAL would: FINAL would
	// reconcile a whole granule of every part for these few rows.
	out, err := s.eng.selectRows(ctx, `SELECT event_id, run_id, source, sync_type, toString(status) AS status, message,
fingerprint, total_count, success_count, failed_count, started_at, completed_at, received_at, run_started_at, version, attributes
FROM reports WHERE run_id = {run_id:String}
ORDER BY event_id, version DESC LIMIT 1 BY event_id`, Params{"run_id": runID})
	if err != nil {
		return runs.RunDetail{}, fmt.Errorf("get run: %w", err)
	}
	type row struct {
		runs.Report
		RunID        string    `json:"run_id"`
		Source       string    `json:"source"`
		SyncType     string    `json:"sync_type"`
		Fingerprint  uint64    `json:"fingerprint"`
		RunStartedAt time.Time `json:"run_started_at"`
		Version      uint64    `json:"version"`
	}
	rows, err := decodeRows[row](out)
	if err != nil {
		return runs.RunDetail{}, err
	}
	if len(rows) == 0 {
		return runs.RunDetail{}, runs.ErrNotFound
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), a.ReceivedAt.Compare(b.ReceivedAt), strings.Compare(a.EventID, b.EventID))
	})
	var d runs.RunDetail
	for _, r := range rows {
		d.Reports = append(d.Reports, r.Report)
	}
	// Timeline by arrival; the latest state is the highest version.
	slices.SortStableFunc(d.Reports, func(a, b runs.Report) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	latest := rows[len(rows)-1]
	d.Run = runs.Run{
		RunID: latest.RunID, EventID: latest.EventID, Source: latest.Source, SyncType: latest.SyncType,
		Status: latest.Status, Message: latest.Message, Fingerprint: runs.Fingerprint(latest.Fingerprint),
		TotalCount: latest.TotalCount, SuccessCount: latest.SuccessCount, FailedCount: latest.FailedCount,
		StartedAt: latest.RunStartedAt, CompletedAt: latest.CompletedAt, ReceivedAt: latest.ReceivedAt,
		Attributes: latest.Attributes,
	}
	if latest.CompletedAt != nil {
		ms := latest.CompletedAt.Sub(latest.RunStartedAt).Milliseconds()
		d.Run.DurationMS = &ms
	}
	return d, nil
}

// terminalCond selects terminal runs. It names the statuses rather than
// comparing with 'success' so that it holds both on the Enum8 column and on
// the String alias a status group gives the name status: compared as
// strings, 'failed' and 'partial' sort before 'success'.
const terminalCond = `status IN ('success', 'failed', 'partial')`

// statsAggregates are the aggregate columns shared by statistics queries.
const statsAggregates = `count() AS runs,
countIf(status = 'pending') AS pending,
countIf(status = 'processing') AS processing,
countIf(status = 'success') AS success,
countIf(status = 'failed') AS failed,
countIf(status = 'partial') AS partial,
` + recordsTotalSum + ` AS records_total,
` + recordsSuccessSum + ` AS records_success,
` + recordsFailedSum + ` AS records_failed,
avgIf(duration_ms, ` + terminalCond + `) / 1000 AS duration_avg,
arrayMap(x -> x / 1000, quantilesIf(0.5, 0.95, 0.99)(duration_ms, ` + terminalCond + `)) AS duration_q,
maxIf(duration_ms, ` + terminalCond + `) / 1000 AS duration_max`

type statsRow struct {
	Bucket      *time.Time `json:"bucket"`
	SyncType    string     `json:"sync_type"`
	Source      string     `json:"source"`
	Status      string     `json:"status"`
	Runs        uint64     `json:"runs"`
	Pending     uint64     `json:"pending"`
	Processing  uint64     `json:"processing"`
	Success     uint64     `json:"success"`
	Failed      uint64     `json:"failed"`
	Partial     uint64     `json:"partial"`
	RecTotal    uint64     `json:"records_total"`
	RecSuccess  uint64     `json:"records_success"`
	RecFailed   uint64     `json:"records_failed"`
	DurationAvg *float64   `json:"duration_avg"`
	DurationQ   []*float64 `json:"duration_q"`
	DurationMax *float64   `json:"duration_max"`
}

func (r statsRow) stats(hours float64) runs.Stats {
	st := runs.Stats{
		Bucket: r.Bucket, SyncType: r.SyncType, Source: r.Source, Status: r.Status,
		Runs: r.Runs, Pending: r.Pending, Processing: r.Processing,
		Success: r.Success, Failed: r.Failed, Partial: r.Partial,
		RecordsTotal: r.RecTotal, RecordsSuccess: r.RecSuccess, RecordsFailed: r.RecFailed,
	}
	if terminal := r.Success + r.Failed + r.Partial; terminal > 0 {
		v := float64(r.Success) / float64(terminal)
		st.SuccessRatio = &v
		st.DurationAvg = r.DurationAvg
		st.DurationMax = r.DurationMax
		if len(r.DurationQ) == 3 {
			st.DurationP50, st.DurationP95, st.DurationP99 = r.DurationQ[0], r.DurationQ[1], r.DurationQ[2]
		}
	}
	if r.RecTotal > 0 {
		v := float64(r.RecSuccess) / float64(r.RecTotal)
		st.RecordSuccessRatio = &v
	}
	if hours > 0 {
		st.FailedPerHour = float64(r.Failed) / hours
	}
	return st
}

// Stats computes statistics over the runs q selects, one row per group
// (and per time bucket when q.Interval is set), ordered by bucket and
// group.
func (s *Store) Stats(ctx context.Context, q runs.StatsQuery) ([]runs.Stats, error) {
	f := q.Filter
	if f.Since.IsZero() || f.Until.IsZero() || !f.Since.Before(f.Until) {
		return nil, errors.New("stats: since and until are required, since before until")
	}
	p := Params{}
	var keys []string
	if q.Interval > 0 {
		if q.Interval < time.Minute {
			return nil, fmt.Errorf("stats: interval %s is shorter than a minute", q.Interval)
		}
		keys = append(keys, "toStartOfInterval(started_at, toIntervalSecond({interval:UInt32})) AS bucket")
		p["interval"] = uint32(q.Interval / time.Second)
	}
	for _, g := range dedupGroupBy(q.GroupBy) {
		switch g {
		case runs.BySyncType:
			keys = append(keys, "sync_type")
		case runs.BySource:
			keys = append(keys, "source")
		case runs.ByStatus:
			keys = append(keys, "toString(status) AS status")
		default:
			return nil, fmt.Errorf("stats: unknown group %q: allowed are sync_type, source, status", g)
		}
	}
	sel := statsAggregates
	group := ""
	if len(keys) > 0 {
		sel = strings.Join(keys, ", ") + ",\n" + sel
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k[strings.LastIndex(k, " ")+1:]
		}
		group = " GROUP BY " + strings.Join(names, ", ") + " ORDER BY " + strings.Join(names, ", ")
	}
	out, err := s.eng.selectRows(ctx, `SELECT `+sel+` FROM runs FINAL WHERE `+where(f, p)+group+finalSettings, p)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	rows, err := decodeRows[statsRow](out)
	if err != nil {
		return nil, err
	}
	hours := f.Until.Sub(f.Since).Hours()
	if q.Interval > 0 {
		hours = q.Interval.Hours()
	}
	res := make([]runs.Stats, 0, len(rows))
	for _, r := range rows {
		if r.Runs == 0 {
			continue // an ungrouped query over no runs
		}
		res = append(res, r.stats(hours))
	}
	return res, nil
}

func dedupGroupBy(gs []runs.GroupBy) []runs.GroupBy {
	var out []runs.GroupBy
	for _, g := range gs {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// dailyPeriods are the periods of the daily report, as conditions on the
// start of a run over the bound parameters day (midnight of the day) and
// prev (midnight of the day before).
var dailyPeriods = []struct{ name, cond string }{
	{"day", "started_at >= {day:DateTime64(3, 'UTC')}"},
	{"prev", "started_at >= {prev:DateTime64(3, 'UTC')} AND started_at < {day:DateTime64(3, 'UTC')}"},
	{"week", "started_at < {day:DateTime64(3, 'UTC')}"},
}

// dailyQuery computes, per sync type, the figures of each daily period.
var dailyQuery = func() string {
	var cols []string
	for _, p := range dailyPeriods {
		term := p.cond + " AND " + terminalCond
		cols = append(cols,
			fmt.Sprintf("countIf(%s) AS %s_runs", p.cond, p.name),
			fmt.Sprintf("countIf(%s AND status = 'success') AS %s_success", p.cond, p.name),
			fmt.Sprintf("countIf(%s AND status = 'failed') AS %s_failed", p.cond, p.name),
			fmt.Sprintf("countIf(%s AND status = 'partial') AS %s_partial", p.cond, p.name),
			fmt.Sprintf("toUInt64(least(sumIf(toUInt128(total_count), %s), toUInt128(18446744073709551615))) AS %s_records", term, p.name),
			fmt.Sprintf("avgIf(duration_ms, %s) / 1000 AS %s_duration_avg", term, p.name),
			fmt.Sprintf("quantileIf(0.95)(duration_ms, %s) / 1000 AS %s_duration_p95", term, p.name),
		)
	}
	return "SELECT sync_type,\n" + strings.Join(cols, ",\n") + `
FROM runs FINAL
WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}
GROUP BY sync_type ORDER BY sync_type` + finalSettings
}()

// DailyReport returns, per sync type, the figures of the day that starts at
// midnight of day in loc (UTC when nil), compared with the previous day and
// with the average day of the seven days before it (the previous day
// included). The average day's counts are the week's divided by seven; its
// success rate and durations are those of all the week's runs together.
// Days follow loc's calendar, so a day may last 23 or 25 hours. Sync types
// without runs in those eight days are left out.
func (s *Store) DailyReport(ctx context.Context, day time.Time, loc *time.Location) ([]runs.DailyRow, error) {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := day.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	p := Params{
		"day":  start,
		"prev": start.AddDate(0, 0, -1),
		"from": start.AddDate(0, 0, -7),
		"to":   start.AddDate(0, 0, 1),
	}
	out, err := s.eng.selectRows(ctx, dailyQuery, p)
	if err != nil {
		return nil, fmt.Errorf("daily report: %w", err)
	}
	rows, err := decodeRows[map[string]any](out)
	if err != nil {
		return nil, err
	}
	res := make([]runs.DailyRow, 0, len(rows))
	for _, r := range rows {
		num := func(name string) float64 {
			v, _ := r[name].(float64)
			return v
		}
		opt := func(name string) *float64 {
			v, ok := r[name].(float64)
			if !ok || math.IsNaN(v) {
				return nil
			}
			return &v
		}
		figures := func(period string, days float64) runs.DayFigures {
			f := runs.DayFigures{
				Runs: num(period+"_runs") / days, Success: num(period+"_success") / days,
				Failed: num(period+"_failed") / days, Partial: num(period+"_partial") / days,
				Records: num(period+"_records") / days,
			}
			f.SuccessRate = rate(f.Success, f.Success+f.Failed+f.Partial)
			if f.SuccessRate != nil {
				f.DurationAvg = opt(period + "_duration_avg")
				f.DurationP95 = opt(period + "_duration_p95")
			}
			return f
		}
		syncType, _ := r["sync_type"].(string)
		dr := runs.DailyRow{
			SyncType: syncType,
			Day:      figures("day", 1),
			Previous: figures("prev", 1),
			SevenDay: figures("week", 7),
		}
		dr.ChangeRuns = dr.Day.Runs - dr.Previous.Runs
		if dr.Day.SuccessRate != nil && dr.Previous.SuccessRate != nil {
			v := *dr.Day.SuccessRate - *dr.Previous.SuccessRate
			dr.ChangeSuccessRate = &v
		}
		res = append(res, dr)
	}
	return res, nil
}

func rate(num, den float64) *float64 {
	if den <= 0 {
		return nil
	}
	v := num / den
	return &v
}

// ErrorGroups returns the error groups of the failed and partial runs that
// f selects (Since and Until required), largest first.
func (s *Store) ErrorGroups(ctx context.Context, f runs.Filter, limit int) ([]runs.ErrorGroup, error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Since.Before(f.Until) {
		return nil, errors.New("error groups: since and until are required, since before until")
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("limit %d: must be between 1 and 1000", limit)
	}
	since := f.Since
	f.Since = since.Add(-f.Until.Sub(since))
	f.Statuses = []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}
	p := Params{"since": since, "limit": limit}
	out, err := s.eng.selectRows(ctx, `SELECT fingerprint,
countIf(started_at >= {since:DateTime64(3, 'UTC')}) AS count,
countIf(started_at < {since:DateTime64(3, 'UTC')}) AS previous_count,
minIf(started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS first_seen,
maxIf(started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS last_seen,
arraySort(groupUniqArrayIf(20)(sync_type, started_at >= {since:DateTime64(3, 'UTC')})) AS sync_types,
arraySort(groupUniqArrayIf(20)(source, started_at >= {since:DateTime64(3, 'UTC')})) AS sources,
argMaxIf(message, started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS sample_message
FROM runs FINAL
WHERE `+where(f, p)+` AND fingerprint != 0
GROUP BY fingerprint HAVING count > 0
ORDER BY count DESC, fingerprint LIMIT {limit:UInt32}`+finalSettings+`, prefer_column_name_to_alias = 1`, p)
	if err != nil {
		return nil, fmt.Errorf("error groups: %w", err)
	}
	groups, err := decodeRows[runs.ErrorGroup](out)
	if err != nil {
		return nil, err
	}
	for i := range groups {
		g := &groups[i]
		g.Rising = g.Count >= g.Previous+2 && 2*g.Count >= 3*g.Previous
	}
	return groups, nil
}

// DeleteRuns removes the runs f selects, with all their reports. f must
// have an upper time bound. With dryRun it only counts them.
func (s *Store) DeleteRuns(ctx context.Context, f runs.Filter, dryRun bool) (runs.DeleteResult, error) {
	if f.Until.IsZero() {
		return runs.DeleteResult{}, errors.New("delete: an upper time bound (until) is required")
	}
	if s.cfg.Cluster != "" {
		return runs.DeleteResult{}, errClusterDelete
	}
	p := Params{}
	selected := `SELECT run_id, source, sync_type, started_at FROM runs FINAL WHERE ` + where(f, p)
	if dryRun {
		out, err := s.eng.selectRows(ctx, `SELECT
(SELECT count() FROM (`+selected+`)) AS runs,
(SELECT count() FROM reports FINAL WHERE run_id IN (SELECT run_id FROM (`+selected+`))) AS reports`+finalSettings, p)
		if err != nil {
			return runs.DeleteResult{}, fmt.Errorf("count runs to delete: %w", err)
		}
		res := runs.DeleteResult{DryRun: true}
		if err := json.Unmarshal(firstLine(out), &res); err != nil {
			return runs.DeleteResult{}, fmt.Errorf("decode delete counts: %w", err)
		}
		return res, nil
	}
	// The runs to delete are fixed in a table first. A DELETE from runs
	// whose IN subquery reads runs may evaluate the subquery part by part:
	// once a run's latest row is gone from one part, its older rows in
	// another no longer match the filter, stay, and bring back a stale
	// state of the run.
	tmp := "syncwatch_delete_" + strings.ReplaceAll(synclog.NewID(), "-", "_")
	if err := s.eng.exec(ctx, `CREATE TABLE `+tmp+` ENGINE = Memory AS `+selected+finalSettings, p); err != nil {
		return runs.DeleteResult{}, fmt.Errorf("select runs to delete: %w", err)
	}
	defer func() {
		_ = s.eng.exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+tmp, nil)
	}()
	ids := `(SELECT run_id FROM ` + tmp + `)`
	out, err := s.eng.selectRows(ctx, `SELECT
(SELECT count() FROM `+tmp+`) AS runs,
(SELECT count() FROM reports FINAL WHERE run_id IN `+ids+`) AS reports`+finalSettings, nil)
	if err != nil {
		return runs.DeleteResult{}, fmt.Errorf("count runs to delete: %w", err)
	}
	var res runs.DeleteResult
	if err := json.Unmarshal(firstLine(out), &res); err != nil {
		return runs.DeleteResult{}, fmt.Errorf("decode delete counts: %w", err)
	}
	if res.Runs == 0 {
		return res, nil
	}
	if err := s.eng.exec(ctx, `DELETE FROM reports WHERE run_id IN `+ids, nil); err != nil {
		return runs.DeleteResult{}, fmt.Errorf("delete reports: %w", err)
	}
	if err := s.eng.exec(ctx, `DELETE FROM runs WHERE run_id IN `+ids, nil); err != nil {
		return runs.DeleteResult{}, fmt.Errorf("delete runs: %w", err)
	}
	// The reports' keys go too: a report sent again after a clear is new.
	if err := s.eng.exec(ctx, `DELETE FROM report_keys WHERE run_id IN `+ids, nil); err != nil {
		return runs.DeleteResult{}, fmt.Errorf("delete report keys: %w", err)
	}
	if err := s.rebuildActivity(ctx, `(SELECT DISTINCT source, sync_type, toDate(started_at) FROM `+tmp+`)`, nil); err != nil {
		return runs.DeleteResult{}, err
	}
	if err := s.markBaselines(ctx, `SELECT DISTINCT toDate(started_at) AS day FROM `+tmp, nil); err != nil {
		return runs.DeleteResult{}, err
	}
	return res, nil
}

// rebuildActivity recomputes the run_activity rollup of the sources, sync
// types and days keys selects (a subquery of source, sync_type and day,
// with its parameters p) from the reports left, so that a clear (or a run
// moved to an earlier start) leaves the rollup (and the last-run and
// last-success metrics and Grafana variables read from it) as if the
// removed rows had never been reported. Its minima and maxima are idempotent, so reports inserted
// meanwhile, counted twice, change nothing. insert_deduplicate is off: a
// recomputed block may equal one inserted before, and must not be dropped.
// Its SELECT is run_activity_mv's (migration 2): change them together.
func (s *Store) rebuildActivity(ctx context.Context, keys string, p Params) error {
	if err := s.eng.exec(ctx, `DELETE FROM run_activity WHERE (source, sync_type, day) IN `+keys, p); err != nil {
		return fmt.Errorf("clear the activity rollup of removed runs: %w", err)
	}
	if err := s.eng.exec(ctx, `INSERT INTO run_activity
SELECT
    toDate(run_started_at) AS day,
    source,
    sync_type,
    min(run_started_at) AS first_run_started_at,
    max(run_started_at) AS last_run_started_at,
    maxIf(assumeNotNull(completed_at), status = 'success' AND completed_at IS NOT NULL) AS last_success_at
FROM reports
WHERE (source, sync_type, toDate(run_started_at)) IN `+keys+`
GROUP BY day, source, sync_type
SETTINGS insert_deduplicate = 0`, p); err != nil {
		return fmt.Errorf("rebuild the activity rollup of removed runs: %w", err)
	}
	return nil
}

// decodeRows decodes JSONEachRow output into a slice of T.
func decodeRows[T any](out []byte) ([]T, error) {
	lines := splitLines(out)
	rows := make([]T, 0, len(lines))
	for _, line := range lines {
		var r T
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("decode row %.200q: %w", line, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
