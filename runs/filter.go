package runs

import (
	"errors"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// ErrNotFound is returned when a run does not exist.
var ErrNotFound = errors.New("not found")

// Filter selects runs by their latest state. Empty fields select all.
type Filter struct {
	Sources   []string
	SyncTypes []string
	Statuses  []synclog.Status
	// Since and Until bound the run's start: Since ≤ started_at < Until.
	Since, Until time.Time
	// Query searches the run's latest message, case-insensitively, as a
	// substring.
	Query string
	// Fingerprint, when not zero, selects the runs whose latest message
	// has this fingerprint (an error group).
	Fingerprint uint64
}

// Cursor marks a position in the newest-first list of runs.
type Cursor struct {
	StartedAt time.Time
	RunID     string
}

// ListOptions selects a page of runs.
type ListOptions struct {
	Filter Filter
	// Limit is the page size (1..10000).
	Limit int
	// After continues after the last run of a previous page.
	After *Cursor
}

// DeleteResult counts what a delete removed, or would remove.
type DeleteResult struct {
	Runs    uint64 `json:"runs"`
	Reports uint64 `json:"reports"`
	DryRun  bool   `json:"dry_run"`
}
