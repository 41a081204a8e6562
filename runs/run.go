package runs

import (
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// Run is the latest state of a run.
type Run struct {
	RunID        string            `json:"run_id"`
	EventID      string            `json:"event_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       synclog.Status    `json:"status"`
	Message      string            `json:"message"`
	Fingerprint  Fingerprint       `json:"fingerprint"`
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
