package runs

import "time"

// DayFigures are one sync type's figures for a day, or for the average day
// of a week.
type DayFigures struct {
	Runs        float64  `json:"runs"`
	Success     float64  `json:"success"`
	Failed      float64  `json:"failed"`
	Partial     float64  `json:"partial"`
	SuccessRate *float64 `json:"success_rate"`
	// Records is the total_count of the terminal runs, as in Stats.
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

// ErrorGroup is a set of failed or partial runs whose messages share a
// fingerprint.
type ErrorGroup struct {
	Fingerprint Fingerprint `json:"fingerprint"`
	Count       uint64      `json:"count"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	SyncTypes   []string    `json:"sync_types"`
	Sources     []string    `json:"sources"`
	Sample      string      `json:"sample_message"`
	// Previous is the count in the window of equal length before Since.
	Previous uint64 `json:"previous_count"`
	// Rising is true when Count is at least half again Previous and at
	// least two more.
	Rising bool `json:"rising"`
}
