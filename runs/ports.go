package runs

import (
	"context"
	"time"
)

// Reader is what the read-side use cases need of the store; the
// clickhouse package's Store is one.
type Reader interface {
	// ListRuns returns a page of runs, newest first, and the cursor of the
	// next page (nil on the last).
	ListRuns(ctx context.Context, opt ListOptions) ([]Run, *Cursor, error)
	// Stats computes figures over runs, grouped and bucketed.
	Stats(ctx context.Context, q StatsQuery) ([]Stats, error)
	// LastSuccesses returns when each sync type last succeeded.
	LastSuccesses(ctx context.Context) (map[string]time.Time, error)
	// Retention is how long runs are kept.
	Retention() time.Duration
}

// TypeStater is a store that knows each source and sync type's latest
// activity, from a rollup, better than the runs of one window tell it.
type TypeStater interface {
	// TypeStates returns the state of every source and sync type, with
	// the runs in progress and the failure streaks since since.
	TypeStates(ctx context.Context, since time.Time) ([]TypeState, error)
}
