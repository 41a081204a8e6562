package clickhouse

import (
	"context"
	"fmt"
	"math"
	"time"
)

// The queries of the Prometheus exporter. They return this package's own
// types; cmd/syncwatch adapts them to the exporter's interface, so that the
// exporter does not depend on storage.

// ExporterOtherSource is the source that ExporterWindowStats reports the
// runs of unlisted sources under.
const ExporterOtherSource = "other"

// ExporterWindowStat holds the figures of one source and sync type over a
// window, each run counted once in its latest state: a terminal run in the
// window in which it finished, a run in progress in the one it started in.
type ExporterWindowStat struct {
	Source   string
	SyncType string

	Pending, Processing, Success, Failed, Partial uint64

	// RecordsTotal and RecordsSuccess sum total_count and success_count
	// over the terminal runs; a sum beyond the range of uint64 is
	// math.MaxUint64 rather than wrapping around.
	RecordsTotal, RecordsSuccess uint64

	// Durations counts the terminal runs with a duration. The duration
	// figures are in seconds, NaN when Durations is 0.
	Durations                                          uint64
	DurationAvg, DurationP50, DurationP95, DurationP99 float64
}

type exporterWindowRow struct {
	Source         string     `json:"source_label"`
	SyncType       string     `json:"sync_type"`
	Pending        uint64     `json:"pending"`
	Processing     uint64     `json:"processing"`
	Success        uint64     `json:"success"`
	Failed         uint64     `json:"failed"`
	Partial        uint64     `json:"partial"`
	RecordsTotal   uint64     `json:"records_total"`
	RecordsSuccess uint64     `json:"records_success"`
	Durations      uint64     `json:"durations"`
	DurationAvg    *float64   `json:"duration_avg"`
	DurationQ      []*float64 `json:"duration_q"`
}

// recordsTotalSum, recordsSuccessSum and recordsFailedSum sum the counts
// of the terminal runs as UInt128, so that the sums cannot wrap around,
// and cap them at the largest UInt64. Ingest bounds each count at
// synclog.MaxCount, but runs stored before it did, or 18 million runs at
// the bound, would otherwise wrap a UInt64 sum (records_total 1 beside a
// record success ratio of 1.8e19); capped, the ratio stays at most 1.
const (
	recordsTotalSum   = `toUInt64(least(sumIf(toUInt128(total_count), ` + terminalCond + `), toUInt128(18446744073709551615)))`
	recordsSuccessSum = `toUInt64(least(sumIf(toUInt128(success_count), ` + terminalCond + `), toUInt128(18446744073709551615)))`
	recordsFailedSum  = `toUInt64(least(sumIf(toUInt128(failed_count), ` + terminalCond + `), toUInt128(18446744073709551615)))`
)

// exporterWindowQuery computes the window figures. {source_expr} is
// replaced by the source column, or by an expression that folds unlisted
// sources; NaN becomes NULL so that both engines render it alike.
const exporterWindowQuery = `SELECT %s AS source_label, sync_type,
countIf(status = 'pending') AS pending,
countIf(status = 'processing') AS processing,
countIf(status = 'success') AS success,
countIf(status = 'failed') AS failed,
countIf(status = 'partial') AS partial,
` + recordsTotalSum + ` AS records_total,
` + recordsSuccessSum + ` AS records_success,
countIf(` + terminalCond + ` AND duration_ms IS NOT NULL) AS durations,
if(durations = 0, NULL, avgIf(duration_ms, ` + terminalCond + `) / 1000) AS duration_avg,
arrayMap(x -> if(isNaN(x), NULL, x / 1000), quantilesIf(0.5, 0.95, 0.99)(duration_ms, ` + terminalCond + `)) AS duration_q
FROM runs FINAL
WHERE started_at >= {started_from:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}
  AND if(` + terminalCond + `,
         completed_at >= {since:DateTime64(3, 'UTC')} AND completed_at < {until:DateTime64(3, 'UTC')},
         started_at >= {since:DateTime64(3, 'UTC')})
GROUP BY source_label, sync_type
ORDER BY source_label, sync_type` + finalSettings

// MaxWindowRunLength bounds how long before a window a run may have
// started and still count in it by its end: the window query prunes the
// runs table by start, which is its sorting key.
const MaxWindowRunLength = 7 * 24 * time.Hour

// ExporterWindowStats returns, per source and sync type, the figures of
// the runs of the window [since, until): a terminal run belongs to the
// window in which it finished (if it started at most MaxWindowRunLength
// before the window), a run in progress to the window in which it
// started. When sources is not nil, the runs of
// every source not in it are reported together under ExporterOtherSource.
// Quantiles are ClickHouse's quantiles (exact up to 8,192 runs per group,
// sampled beyond), the same the statistics API gives.
func (s *Store) ExporterWindowStats(ctx context.Context, since, until time.Time, sources []string) ([]ExporterWindowStat, error) {
	if !since.Before(until) {
		return nil, fmt.Errorf("exporter window: since %s is not before until %s", since, until)
	}
	p := Params{"since": since, "until": until, "started_from": since.Add(-MaxWindowRunLength)}
	sourceExpr := "source"
	if sources != nil {
		sourceExpr = "if(source IN {keep:Array(String)}, toString(source), {other:String})"
		p["keep"] = sources
		p["other"] = ExporterOtherSource
	}
	out, err := s.eng.selectRows(ctx, fmt.Sprintf(exporterWindowQuery, sourceExpr), p)
	if err != nil {
		return nil, fmt.Errorf("exporter window stats: %w", err)
	}
	rows, err := decodeRows[exporterWindowRow](out)
	if err != nil {
		return nil, err
	}
	res := make([]ExporterWindowStat, len(rows))
	for i, r := range rows {
		w := ExporterWindowStat{
			Source: r.Source, SyncType: r.SyncType,
			Pending: r.Pending, Processing: r.Processing, Success: r.Success, Failed: r.Failed, Partial: r.Partial,
			RecordsTotal: r.RecordsTotal, RecordsSuccess: r.RecordsSuccess, Durations: r.Durations,
			DurationAvg: nanIfNil(r.DurationAvg),
			DurationP50: math.NaN(), DurationP95: math.NaN(), DurationP99: math.NaN(),
		}
		if len(r.DurationQ) == 3 {
			w.DurationP50, w.DurationP95, w.DurationP99 = nanIfNil(r.DurationQ[0]), nanIfNil(r.DurationQ[1]), nanIfNil(r.DurationQ[2])
		}
		res[i] = w
	}
	return res, nil
}

func nanIfNil(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// ExporterTypeState is the latest activity of one source and sync type.
type ExporterTypeState struct {
	Source   string
	SyncType string
	// FirstRun and LastRun are the starts of its earliest and latest runs
	// in the retention.
	FirstRun, LastRun time.Time
	// LastSuccess is when its latest successful run completed; zero when
	// none is in the retention.
	LastSuccess time.Time
	// InProgress counts the runs started since the lookback whose latest
	// status is pending or processing; OldestInProgress is the start of
	// the oldest (zero when none).
	InProgress       uint64
	OldestInProgress time.Time
	// ConsecutiveFailures is the number of the most recent terminal runs
	// started since the lookback, by start, that failed, back to the last
	// success or partial run.
	ConsecutiveFailures uint64
}

// exporterActivityQuery reads the run_activity rollup: a few rows per
// source, sync type and day of the retention.
const exporterActivityQuery = `SELECT source, sync_type,
min(first_run_started_at) AS first_run,
max(last_run_started_at) AS last_run,
max(last_success_at) AS last_success
FROM run_activity
WHERE day >= toDate({from:DateTime64(3, 'UTC')})
GROUP BY source, sync_type
ORDER BY source, sync_type`

// exporterProgressQuery reads the latest state of the runs of the
// lookback. Failed runs started after the last success or partial run of
// their group are its consecutive failures; without such a run, all the
// failed runs of the lookback are.
const exporterProgressQuery = `SELECT source, sync_type,
countIf(status IN ('pending', 'processing')) AS in_progress,
minIf(started_at, status IN ('pending', 'processing')) AS oldest_in_progress,
maxIf(started_at, status IN ('success', 'partial')) AS last_ok,
arrayCount(x -> x > last_ok, groupArrayIf(started_at, status = 'failed')) AS consecutive_failures
FROM runs FINAL
WHERE started_at >= {since:DateTime64(3, 'UTC')}
GROUP BY source, sync_type
ORDER BY source, sync_type` + finalSettings

// ExporterTypeStates returns the latest activity of every source and sync
// type with a run in the retention. Runs in progress and consecutive
// failures consider the runs started since since; the first and last run
// and the last success the whole retention, from the run_activity rollup.
func (s *Store) ExporterTypeStates(ctx context.Context, since time.Time) ([]ExporterTypeState, error) {
	out, err := s.eng.selectRows(ctx, exporterActivityQuery, Params{"from": time.Now().Add(-s.cfg.Retention)})
	if err != nil {
		return nil, fmt.Errorf("exporter activity: %w", err)
	}
	activity, err := decodeRows[struct {
		Source      string    `json:"source"`
		SyncType    string    `json:"sync_type"`
		FirstRun    time.Time `json:"first_run"`
		LastRun     time.Time `json:"last_run"`
		LastSuccess time.Time `json:"last_success"`
	}](out)
	if err != nil {
		return nil, err
	}
	out, err = s.eng.selectRows(ctx, exporterProgressQuery, Params{"since": since})
	if err != nil {
		return nil, fmt.Errorf("exporter runs in progress: %w", err)
	}
	progress, err := decodeRows[struct {
		Source              string    `json:"source"`
		SyncType            string    `json:"sync_type"`
		InProgress          uint64    `json:"in_progress"`
		OldestInProgress    time.Time `json:"oldest_in_progress"`
		ConsecutiveFailures uint64    `json:"consecutive_failures"`
	}](out)
	if err != nil {
		return nil, err
	}
	type key struct{ source, syncType string }
	index := make(map[key]int, len(activity))
	res := make([]ExporterTypeState, 0, len(activity))
	for _, a := range activity {
		index[key{a.Source, a.SyncType}] = len(res)
		res = append(res, ExporterTypeState{
			Source: a.Source, SyncType: a.SyncType,
			FirstRun: validTime(a.FirstRun), LastRun: validTime(a.LastRun), LastSuccess: validTime(a.LastSuccess),
		})
	}
	for _, p := range progress {
		i, ok := index[key{p.Source, p.SyncType}]
		if !ok {
			// Not in the rollup: only when the retention cut it off.
			i = len(res)
			res = append(res, ExporterTypeState{Source: p.Source, SyncType: p.SyncType})
		}
		st := &res[i]
		st.InProgress = p.InProgress
		if p.InProgress > 0 {
			st.OldestInProgress = validTime(p.OldestInProgress)
		}
		st.ConsecutiveFailures = p.ConsecutiveFailures
	}
	return res, nil
}

// validTime maps ClickHouse's default time, the Unix epoch, which empty
// aggregates return, to the zero time.
func validTime(t time.Time) time.Time {
	if t.UnixMilli() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
