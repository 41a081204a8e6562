package exporter

import (
	"context"
	"time"
)

// OtherSource is the source label of the runs of every source beyond the
// configured number of sources (see SourceLimiter). It starts with '_',
// which no source name may, so that it never stands for a real source.
const OtherSource = "_other"

// Source answers the window and state queries the ClickHouse-backed
// collector publishes. The ClickHouse store implements it through an
// adapter in cmd/syncwatch; tests use fakes.
type Source interface {
	// WindowStats returns, per source and sync type, figures over the runs
	// whose start lies in [q.Since, q.Until), each run counted once in its
	// latest state.
	WindowStats(ctx context.Context, q WindowQuery) ([]WindowStat, error)
	// TypeStates returns, per source and sync type with a run in the
	// store's retention, its latest activity. InProgress,
	// OldestInProgress and ConsecutiveFailures consider only runs started
	// at or after since; FirstRun, LastRun and LastSuccess the whole
	// retention.
	TypeStates(ctx context.Context, since time.Time) ([]TypeState, error)
}

// WindowQuery selects the runs of a window.
type WindowQuery struct {
	// Since and Until bound the start of the runs: Since ≤ started_at < Until.
	Since, Until time.Time
	// Sources, when not nil, are the sources to report by name; the runs
	// of every other source are reported together under OtherSource.
	Sources []string
}

// WindowStat holds the figures of one source and sync type over a window.
type WindowStat struct {
	Source   string
	SyncType string

	// Runs by latest status.
	Pending, Processing, Success, Failed, Partial uint64

	// RecordsTotal and RecordsSuccess sum total_count and success_count
	// over the terminal runs.
	RecordsTotal, RecordsSuccess uint64

	// Durations is the number of terminal runs with a duration; the
	// duration figures, in seconds, are meaningful only when it is not 0.
	Durations                                          uint64
	DurationAvg, DurationP50, DurationP95, DurationP99 float64
}

// Terminal is the number of runs that ended: success, failed or partial.
func (w WindowStat) Terminal() uint64 { return w.Success + w.Failed + w.Partial }

// TypeState is the latest activity of one source and sync type.
type TypeState struct {
	Source   string
	SyncType string

	// FirstRun is the start of its earliest run in the retention: the
	// order in which sources are admitted under the source cap.
	FirstRun time.Time
	// LastRun is the start of its latest run, whatever its status.
	LastRun time.Time
	// LastSuccess is when its latest successful run completed; zero when
	// none is in the retention.
	LastSuccess time.Time
	// InProgress counts runs whose latest status is pending or processing.
	InProgress uint64
	// OldestInProgress is the start of the oldest of them; zero when none.
	OldestInProgress time.Time
	// ConsecutiveFailures is the number of most recent terminal runs, by
	// start time, that failed, back to the last success or partial run.
	ConsecutiveFailures uint64
}
