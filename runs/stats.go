package runs

import "time"

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
	Filter  Filter
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
