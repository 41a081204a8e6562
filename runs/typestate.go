package runs

import "time"

// TypeState is the latest activity of one source and sync type, as the
// overview shows it.
type TypeState struct {
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
