package diagnose

import (
	"context"
	"time"
)

// Store is what diagnosis needs of the runs store: the statistics are
// computed where the runs are (medians, MADs, quantiles, counts), and the
// store returns only their results and the runs they flag. The clickhouse
// package's Store is one.
type Store interface {
	// DurationScores scores the terminal runs that started in the
	// question's window against the successful runs of their type before
	// it, and returns the flagged runs and the latest runs of each type.
	DurationScores(ctx context.Context, q ScoreQuery) ([]ScoredRun, error)
	// FailureSeries returns, per type, the baseline's failures and the
	// window's terminal runs in order, as flags.
	FailureSeries(ctx context.Context, q Window) ([]FailureSeries, error)
	// Gaps returns, per type, the median interval between starts in the
	// baseline, the window's last start and the gaps and overlaps of the
	// window beyond the question's bounds.
	Gaps(ctx context.Context, q GapQuery) ([]TypeGaps, error)
	// DailySeries returns, per type and day of the window, the p95
	// duration, the failure ratio and the record volume.
	DailySeries(ctx context.Context, q Window) ([]DailyPoint, error)
	// Fingerprints returns the error fingerprints of the window's failed
	// runs of one type with when each was first and last seen before.
	Fingerprints(ctx context.Context, q CauseQuery) ([]FingerprintCount, error)
	// AttributeCounts returns, per attribute key and value (and the
	// pseudo-key "source"), how many bad runs of the window and how many
	// good and seen runs of the baseline carry it, and the totals.
	AttributeCounts(ctx context.Context, q CauseQuery) ([]AttributeCount, Totals, error)
}

// Filter selects the types a question covers; empty fields select all.
type Filter struct {
	Sources   []string
	SyncTypes []string
}

// Window is a question over the runs started in [Since, Until) of the
// filtered types, with a baseline that starts at BaselineFrom.
type Window struct {
	Filter       Filter
	Since, Until time.Time
	BaselineFrom time.Time
}

// ScoreQuery is a Window with the thresholds the store flags runs by.
type ScoreQuery struct {
	Window
	// SeasonalFrom starts the span of the hour-of-week slots.
	SeasonalFrom time.Time
	Config       Config
	// Latest is how many of the latest runs of each type are returned
	// flagged or not; Limit bounds the flagged runs per type.
	Latest, Limit int
}

// ScoredRun is one terminal run with its robust scores.
type ScoredRun struct {
	Source   string    `json:"source"`
	SyncType string    `json:"sync_type"`
	RunID    string    `json:"run_id"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started_at"`
	// Index is the run's place among the window's terminal runs of its
	// type, from 1; Total is their number.
	Index uint64 `json:"index"`
	Total uint64 `json:"total"`
	// History is the number of successful baseline runs.
	History uint64 `json:"history"`
	// Seconds is the duration and Expected the baseline's median (the
	// slot's, when Seasonal); Z is the robust z of the duration.
	Seconds  float64 `json:"seconds"`
	Expected float64 `json:"expected"`
	Z        float64 `json:"z"`
	Seasonal bool    `json:"seasonal"`
	// Records is the run's total_count, ExpectedRecords the baseline's
	// median and RecordsZ their robust z.
	Records         uint64  `json:"records"`
	ExpectedRecords float64 `json:"expected_records"`
	RecordsZ        float64 `json:"records_z"`
	// Kind is what the store flagged: KindDuration, KindTooFast,
	// KindTooSmall or empty.
	Kind Kind `json:"kind"`
}

// FailureSeries is one type's failures: Failed of the baseline's
// BaselineRuns terminal runs failed; Flags holds one byte per terminal run
// of the window in start order, '1' for a failure, and Failures the failed
// ones.
type FailureSeries struct {
	Source       string      `json:"source"`
	SyncType     string      `json:"sync_type"`
	BaselineRuns uint64      `json:"base_n"`
	Failed       uint64      `json:"base_failed"`
	Flags        string      `json:"flags"`
	Failures     []FailedRun `json:"failures"`
}

// FailedRun is a failed run of a window; Index is its place in Flags, from 1.
type FailedRun struct {
	Index   int       `json:"index"`
	RunID   string    `json:"run_id"`
	Started time.Time `json:"started_at"`
}

// GapQuery asks for the gaps longer than (1 + LateGrace) times each type's
// expected interval and shorter than TooOftenRatio times it, and the
// overlapping runs. Intervals are the configured ones; a type without one
// uses the median interval of its baseline.
type GapQuery struct {
	Window
	Intervals     map[string]time.Duration
	LateGrace     float64
	TooOftenRatio float64
	// MinStarts is the number of baseline starts a median interval needs.
	MinStarts int
	// Limit bounds the gaps returned per type.
	Limit int
}

// TypeGaps are one type's cadence in a window.
type TypeGaps struct {
	Source   string `json:"source"`
	SyncType string `json:"sync_type"`
	// MedianGap is the median seconds between starts in the baseline;
	// Interval the seconds the gaps were judged by.
	MedianGap float64 `json:"median_gap"`
	Interval  float64 `json:"interval"`
	// Starts counts the baseline's starts.
	Starts    uint64    `json:"starts"`
	LastStart time.Time `json:"last_start"`
	Gaps      []Gap     `json:"gaps"`
}

// Gap is the span between two consecutive starts of one type, flagged as
// late, too often, or overlapping (the run started before the previous
// one completed).
type Gap struct {
	RunID    string    `json:"run_id"`
	Started  time.Time `json:"started_at"`
	Previous time.Time `json:"previous_started_at"`
	Seconds  float64   `json:"seconds"`
	Kind     Kind      `json:"kind"`
}

// DailyPoint is one type's day.
type DailyPoint struct {
	Source      string    `json:"source"`
	SyncType    string    `json:"sync_type"`
	Day         time.Time `json:"day"`
	Terminal    uint64    `json:"terminal"`
	Failed      uint64    `json:"failed"`
	DurationP95 float64   `json:"p95"`
	Records     float64   `json:"records"`
}

// CauseQuery asks about the bad runs of one source (or all) and sync type
// in a window: the failed ones, or those slower than SlowerThan seconds
// when it is positive.
type CauseQuery struct {
	Window
	SlowerThan float64
	// SeenFrom starts the span in which a fingerprint counts as seen.
	SeenFrom time.Time
	Limit    int
}

// FingerprintCount is one error group of a window's failed runs.
type FingerprintCount struct {
	Fingerprint uint64    `json:"fingerprint"`
	Message     string    `json:"message"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"first_seen"`
	// LastBefore is the latest run before the window with it; zero when
	// none since SeenFrom.
	LastBefore time.Time `json:"last_before"`
	Examples   []string  `json:"examples"`
}

// AttributeCount is one attribute value's counts.
type AttributeCount struct {
	Key      string   `json:"key"`
	Value    string   `json:"value"`
	Bad      uint64   `json:"bad"`
	Good     uint64   `json:"good"`
	Seen     uint64   `json:"seen"`
	Examples []string `json:"examples"`
}

// Totals are the numbers of bad and good runs attribute counts are out of.
type Totals struct {
	Bad  uint64 `json:"bad"`
	Good uint64 `json:"good"`
}
