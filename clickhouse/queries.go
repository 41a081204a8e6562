package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// ErrNotFound is returned when a run does not exist.
var ErrNotFound = errors.New("not found")

// RunFilter selects runs by their latest state. Empty fields select all.
type RunFilter struct {
	Sources   []string
	SyncTypes []string
	Statuses  []synclog.Status
	// Since and Until bound the run's start: Since ≤ started_at < Until.
	Since, Until time.Time
	// Query searches the run's latest message, case-insensitively, as a
	// substring.
	Query string
}

// finalSettings lets FINAL work partition by partition, in parallel.
const finalSettings = ` SETTINGS do_not_merge_across_partitions_select_final = 1`

// where renders the filter as a WHERE clause over runs, adding its values
// to p. Every value is a bound parameter.
func (f RunFilter) where(p Params) string {
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
	return strings.Join(conds, " AND ")
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Run is the latest state of a run.
type Run struct {
	RunID        string            `json:"run_id"`
	EventID      string            `json:"event_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       synclog.Status    `json:"status"`
	Message      string            `json:"message"`
	Fingerprint  uint64            `json:"fingerprint,string"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    time.Time         `json:"started_at"`
	CompletedAt  *time.Time        `json:"completed_at"`
	DurationMS   *int64            `json:"duration_ms"`
	ReceivedAt   time.Time         `json:"received_at"`
	Attributes   map[string]string `json:"attributes"`
}

// Duration is how long the run took, or zero while it is in progress.
func (r *Run) Duration() time.Duration {
	if r.DurationMS == nil {
		return 0
	}
	return time.Duration(*r.DurationMS) * time.Millisecond
}

// Cursor marks a position in the newest-first list of runs.
type Cursor struct {
	StartedAt time.Time
	RunID     string
}

// ListOptions selects a page of runs.
type ListOptions struct {
	Filter RunFilter
	// Limit is the page size (1..10000).
	Limit int
	// After continues after the last run of a previous page.
	After *Cursor
}

const runColumns = `run_id, event_id, source, sync_type, toString(status) AS status, message, toString(fingerprint) AS fingerprint,
total_count, success_count, failed_count, started_at, completed_at, duration_ms, received_at, attributes`

// ListRuns returns runs newest first (by start, then run id) and the cursor
// of the next page, nil on the last page.
func (s *Store) ListRuns(ctx context.Context, opt ListOptions) ([]Run, *Cursor, error) {
	if opt.Limit < 1 || opt.Limit > 10000 {
		return nil, nil, fmt.Errorf("limit %d: must be between 1 and 10000", opt.Limit)
	}
	p := Params{"limit": opt.Limit + 1}
	where := opt.Filter.where(p)
	if opt.After != nil {
		where += " AND started_at <= {c_started:DateTime64(3, 'UTC')} AND (started_at, run_id) < ({c_started:DateTime64(3, 'UTC')}, {c_run:String})"
		p["c_started"] = opt.After.StartedAt
		p["c_run"] = opt.After.RunID
	}
	out, err := s.eng.selectRows(ctx, `SELECT `+runColumns+` FROM runs FINAL WHERE `+where+`
ORDER BY started_at DESC, run_id DESC LIMIT {limit:UInt32}`+finalSettings, p)
	if err != nil {
		return nil, nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := decodeRows[Run](out)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	if len(runs) > opt.Limit {
		runs = runs[:opt.Limit]
		last := runs[len(runs)-1]
		next = &Cursor{StartedAt: last.StartedAt, RunID: last.RunID}
	}
	return runs, next, nil
}

// Report is one stored report of a run.
type Report struct {
	EventID      string            `json:"event_id"`
	Status       synclog.Status    `json:"status"`
	Message      string            `json:"message"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    time.Time         `json:"started_at"`
	CompletedAt  *time.Time        `json:"completed_at"`
	ReceivedAt   time.Time         `json:"received_at"`
	Attributes   map[string]string `json:"attributes"`
}

// RunDetail is a run's latest state and the timeline of its reports, oldest
// first.
type RunDetail struct {
	Run     Run      `json:"run"`
	Reports []Report `json:"reports"`
}

// GetRun returns a run with every report it sent, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, runID string) (RunDetail, error) {
	out, err := s.eng.selectRows(ctx, `SELECT event_id, run_id, source, sync_type, toString(status) AS status, message,
fingerprint, total_count, success_count, failed_count, started_at, completed_at, received_at, run_started_at, version, attributes
FROM reports FINAL WHERE run_id = {run_id:String}
ORDER BY version ASC, received_at ASC`, Params{"run_id": runID})
	if err != nil {
		return RunDetail{}, fmt.Errorf("get run: %w", err)
	}
	type row struct {
		Report
		RunID        string    `json:"run_id"`
		Source       string    `json:"source"`
		SyncType     string    `json:"sync_type"`
		Fingerprint  uint64    `json:"fingerprint"`
		RunStartedAt time.Time `json:"run_started_at"`
		Version      uint64    `json:"version"`
	}
	rows, err := decodeRows[row](out)
	if err != nil {
		return RunDetail{}, err
	}
	if len(rows) == 0 {
		return RunDetail{}, ErrNotFound
	}
	var d RunDetail
	for _, r := range rows {
		d.Reports = append(d.Reports, r.Report)
	}
	// Timeline by arrival; the latest state is the highest version.
	slices.SortStableFunc(d.Reports, func(a, b Report) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	latest := rows[len(rows)-1]
	d.Run = Run{
		RunID: latest.RunID, EventID: latest.EventID, Source: latest.Source, SyncType: latest.SyncType,
		Status: latest.Status, Message: latest.Message, Fingerprint: latest.Fingerprint,
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

// GroupBy names a dimension statistics can be grouped by.
type GroupBy string

// The dimensions of statistics.
const (
	BySyncType GroupBy = "sync_type"
	BySource   GroupBy = "source"
	ByStatus   GroupBy = "status"
)

// StatsQuery selects statistics over runs.
type StatsQuery struct {
	// Filter must have Since and Until.
	Filter  RunFilter
	GroupBy []GroupBy
	// Interval, when set, buckets runs by start time (at least a minute).
	Interval time.Duration
}

// Stats are figures over a set of runs.
type Stats struct {
	Bucket   *time.Time `json:"bucket,omitempty"`
	SyncType string     `json:"sync_type,omitempty"`
	Source   string     `json:"source,omitempty"`
	Status   string     `json:"status,omitempty"`

	Runs       uint64 `json:"runs"`
	Pending    uint64 `json:"pending"`
	Processing uint64 `json:"processing"`
	Success    uint64 `json:"success"`
	Failed     uint64 `json:"failed"`
	Partial    uint64 `json:"partial"`
	// SuccessRatio is success runs over terminal runs; nil without any.
	SuccessRatio *float64 `json:"success_ratio"`

	RecordsTotal   uint64 `json:"records_total"`
	RecordsSuccess uint64 `json:"records_success"`
	RecordsFailed  uint64 `json:"records_failed"`
	// RecordSuccessRatio is successful records over all records of
	// terminal runs; nil without any.
	RecordSuccessRatio *float64 `json:"record_success_ratio"`

	// FailedPerHour is failed runs per hour of the window (or bucket).
	FailedPerHour float64 `json:"failed_per_hour"`

	// Durations of terminal runs, in seconds; nil without any.
	DurationAvg *float64 `json:"duration_avg_seconds"`
	DurationP50 *float64 `json:"duration_p50_seconds"`
	DurationP95 *float64 `json:"duration_p95_seconds"`
	DurationP99 *float64 `json:"duration_p99_seconds"`
	DurationMax *float64 `json:"duration_max_seconds"`
}

// statsAggregates are the aggregate columns shared by statistics queries.
const statsAggregates = `count() AS runs,
countIf(status = 'pending') AS pending,
countIf(status = 'processing') AS processing,
countIf(status = 'success') AS success,
countIf(status = 'failed') AS failed,
countIf(status = 'partial') AS partial,
sumIf(total_count, status >= 'success') AS records_total,
sumIf(success_count, status >= 'success') AS records_success,
sumIf(failed_count, status >= 'success') AS records_failed,
avgIf(duration_ms, status >= 'success') / 1000 AS duration_avg,
arrayMap(x -> x / 1000, quantilesIf(0.5, 0.95, 0.99)(duration_ms, status >= 'success')) AS duration_q,
maxIf(duration_ms, status >= 'success') / 1000 AS duration_max`

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

func (r statsRow) stats(hours float64) Stats {
	st := Stats{
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
func (s *Store) Stats(ctx context.Context, q StatsQuery) ([]Stats, error) {
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
		case BySyncType:
			keys = append(keys, "sync_type")
		case BySource:
			keys = append(keys, "source")
		case ByStatus:
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
	out, err := s.eng.selectRows(ctx, `SELECT `+sel+` FROM runs FINAL WHERE `+f.where(p)+group+finalSettings, p)
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
	res := make([]Stats, 0, len(rows))
	for _, r := range rows {
		if r.Runs == 0 {
			continue // an ungrouped query over no runs
		}
		res = append(res, r.stats(hours))
	}
	return res, nil
}

func dedupGroupBy(gs []GroupBy) []GroupBy {
	var out []GroupBy
	for _, g := range gs {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// DayFigures are one sync type's figures for a day.
type DayFigures struct {
	Runs        float64  `json:"runs"`
	Success     float64  `json:"success"`
	Failed      float64  `json:"failed"`
	Partial     float64  `json:"partial"`
	SuccessRate *float64 `json:"success_rate"`
	Records     float64  `json:"records"`
	DurationAvg *float64 `json:"duration_avg_seconds"`
	DurationP95 *float64 `json:"duration_p95_seconds"`
}

// DailyRow is one sync type in the daily report: the day, the day before,
// and the average day of the seven before it.
type DailyRow struct {
	SyncType   string     `json:"sync_type"`
	Day        DayFigures `json:"day"`
	Previous   DayFigures `json:"previous_day"`
	SevenDay   DayFigures `json:"seven_day_average"`
	ChangeRuns float64    `json:"change_runs"`
	// ChangeSuccessRate is the day's success rate minus the previous
	// day's, nil when either has no terminal run.
	ChangeSuccessRate *float64 `json:"change_success_rate"`
}

// DailyReport returns, per sync type, the figures of the day that starts at
// midnight of day in loc, compared with the previous day and the average of
// the seven days before it. Sync types without runs in those eight days are
// left out.
func (s *Store) DailyReport(ctx context.Context, day time.Time, loc *time.Location) ([]DailyRow, error) {
	y, m, d := day.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	from := start.AddDate(0, 0, -7)
	to := start.AddDate(0, 0, 1)
	out, err := s.eng.selectRows(ctx, `SELECT sync_type, toString(toDate(started_at, {tz:String})) AS day,
count() AS runs,
countIf(status = 'success') AS success,
countIf(status = 'failed') AS failed,
countIf(status = 'partial') AS partial,
sum(total_count) AS records,
avgIf(duration_ms, status >= 'success') / 1000 AS duration_avg,
quantileIf(0.95)(duration_ms, status >= 'success') / 1000 AS duration_p95
FROM runs FINAL
WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}
GROUP BY sync_type, day ORDER BY sync_type, day`+finalSettings, Params{"tz": loc.String(), "from": from, "to": to})
	if err != nil {
		return nil, fmt.Errorf("daily report: %w", err)
	}
	type row struct {
		SyncType    string   `json:"sync_type"`
		Day         string   `json:"day"`
		Runs        float64  `json:"runs"`
		Success     float64  `json:"success"`
		Failed      float64  `json:"failed"`
		Partial     float64  `json:"partial"`
		Records     float64  `json:"records"`
		DurationAvg *float64 `json:"duration_avg"`
		DurationP95 *float64 `json:"duration_p95"`
	}
	rows, err := decodeRows[row](out)
	if err != nil {
		return nil, err
	}
	dayKey := start.Format(time.DateOnly)
	prevKey := start.AddDate(0, 0, -1).Format(time.DateOnly)
	byType := map[string]*DailyRow{}
	var order []string
	type acc struct {
		avgSum, p95Sum float64
		avgN, p95N     int
	}
	accs := map[string]*acc{}
	for _, r := range rows {
		dr, ok := byType[r.SyncType]
		if !ok {
			dr = &DailyRow{SyncType: r.SyncType}
			byType[r.SyncType] = dr
			accs[r.SyncType] = &acc{}
			order = append(order, r.SyncType)
		}
		fig := DayFigures{Runs: r.Runs, Success: r.Success, Failed: r.Failed, Partial: r.Partial,
			Records: r.Records, DurationAvg: r.DurationAvg, DurationP95: r.DurationP95}
		fig.SuccessRate = rate(fig.Success, fig.Success+fig.Failed+fig.Partial)
		switch r.Day {
		case dayKey:
			dr.Day = fig
			continue
		case prevKey:
			dr.Previous = fig
		}
		w := &dr.SevenDay
		w.Runs += r.Runs / 7
		w.Success += r.Success / 7
		w.Failed += r.Failed / 7
		w.Partial += r.Partial / 7
		w.Records += r.Records / 7
		a := accs[r.SyncType]
		if r.DurationAvg != nil {
			a.avgSum += *r.DurationAvg
			a.avgN++
		}
		if r.DurationP95 != nil {
			a.p95Sum += *r.DurationP95
			a.p95N++
		}
	}
	res := make([]DailyRow, 0, len(order))
	for _, t := range order {
		dr := byType[t]
		a := accs[t]
		w := &dr.SevenDay
		w.SuccessRate = rate(w.Success, w.Success+w.Failed+w.Partial)
		if a.avgN > 0 {
			v := a.avgSum / float64(a.avgN)
			w.DurationAvg = &v
		}
		if a.p95N > 0 {
			v := a.p95Sum / float64(a.p95N)
			w.DurationP95 = &v
		}
		dr.ChangeRuns = dr.Day.Runs - dr.Previous.Runs
		if dr.Day.SuccessRate != nil && dr.Previous.SuccessRate != nil {
			v := *dr.Day.SuccessRate - *dr.Previous.SuccessRate
			dr.ChangeSuccessRate = &v
		}
		res = append(res, *dr)
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

// ErrorGroup is a set of failed or partial runs whose messages share a
// fingerprint.
type ErrorGroup struct {
	Fingerprint uint64    `json:"fingerprint,string"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	SyncTypes   []string  `json:"sync_types"`
	Sources     []string  `json:"sources"`
	Sample      string    `json:"sample_message"`
	// Previous is the count in the window of equal length before Since.
	Previous uint64 `json:"previous_count"`
	// Rising is true when Count is at least half again Previous and at
	// least two more.
	Rising bool `json:"rising"`
}

// ErrorGroups returns the error groups of the failed and partial runs that
// f selects (Since and Until required), largest first.
func (s *Store) ErrorGroups(ctx context.Context, f RunFilter, limit int) ([]ErrorGroup, error) {
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
	out, err := s.eng.selectRows(ctx, `SELECT toString(fingerprint) AS fingerprint,
countIf(started_at >= {since:DateTime64(3, 'UTC')}) AS count,
countIf(started_at < {since:DateTime64(3, 'UTC')}) AS previous,
minIf(started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS first_seen,
maxIf(started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS last_seen,
arraySort(groupUniqArrayIf(20)(sync_type, started_at >= {since:DateTime64(3, 'UTC')})) AS sync_types,
arraySort(groupUniqArrayIf(20)(source, started_at >= {since:DateTime64(3, 'UTC')})) AS sources,
argMaxIf(message, started_at, started_at >= {since:DateTime64(3, 'UTC')}) AS sample_message
FROM runs FINAL
WHERE `+f.where(p)+` AND fingerprint != 0
GROUP BY fingerprint HAVING count > 0
ORDER BY count DESC, fingerprint LIMIT {limit:UInt32}`+finalSettings+`, prefer_column_name_to_alias = 1`, p)
	if err != nil {
		return nil, fmt.Errorf("error groups: %w", err)
	}
	groups, err := decodeRows[ErrorGroup](out)
	if err != nil {
		return nil, err
	}
	for i := range groups {
		g := &groups[i]
		g.Rising = g.Count >= g.Previous+2 && 2*g.Count >= 3*g.Previous
	}
	return groups, nil
}

// DeleteResult counts what a delete removed, or would remove.
type DeleteResult struct {
	Runs    uint64 `json:"runs"`
	Reports uint64 `json:"reports"`
	DryRun  bool   `json:"dry_run"`
}

// DeleteRuns removes the runs f selects, with all their reports. f must
// have an upper time bound. With dryRun it only counts them.
func (s *Store) DeleteRuns(ctx context.Context, f RunFilter, dryRun bool) (DeleteResult, error) {
	if f.Until.IsZero() {
		return DeleteResult{}, errors.New("delete: an upper time bound (until) is required")
	}
	p := Params{}
	selected := `SELECT run_id FROM runs FINAL WHERE ` + f.where(p)
	out, err := s.eng.selectRows(ctx, `SELECT
(SELECT count() FROM (`+selected+`)) AS runs,
(SELECT count() FROM reports FINAL WHERE run_id IN (`+selected+`)) AS reports`, p)
	if err != nil {
		return DeleteResult{}, fmt.Errorf("count runs to delete: %w", err)
	}
	var res DeleteResult
	if err := json.Unmarshal(firstLine(out), &res); err != nil {
		return DeleteResult{}, fmt.Errorf("decode delete counts: %w", err)
	}
	res.DryRun = dryRun
	if dryRun || res.Runs == 0 {
		return res, nil
	}
	// Reports first: the run ids are read from runs.
	if err := s.eng.exec(ctx, `DELETE FROM reports WHERE run_id IN (`+selected+`)`, p); err != nil {
		return DeleteResult{}, fmt.Errorf("delete reports: %w", err)
	}
	if err := s.eng.exec(ctx, `DELETE FROM runs WHERE run_id IN (`+selected+`)`, p); err != nil {
		return DeleteResult{}, fmt.Errorf("delete runs: %w", err)
	}
	return res, nil
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
