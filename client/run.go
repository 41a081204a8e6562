package client

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// Run describes a run about to start.
type Run struct {
	// SyncType is the kind of sync, such as products or prices. Required.
	SyncType string
	// Source is the integration or supplier, such as haier; the server
	// uses "default" when it is empty.
	Source string
	// Attributes are optional context (host, version, trigger), sent with
	// both reports of the run.
	Attributes map[string]string
	// RunID identifies the run; a new UUIDv7 when empty.
	RunID string
	// StartedAt is when the run started; now when zero.
	StartedAt time.Time
}

// Result is how a run ended.
type Result struct {
	// Status is success, failed or partial. When empty it follows from
	// the counts: partial when some records failed and some succeeded,
	// failed when records failed and none succeeded, success otherwise.
	Status Status
	// Total, Success and Failed count the records of the run. A Total of
	// zero becomes Success + Failed.
	Total, Success, Failed uint64
	// Message is a summary or the error; secrets in it are redacted.
	Message string
	// Attributes are added to (and override) the run's attributes.
	Attributes map[string]string
	// CompletedAt is when the run ended; now when zero.
	CompletedAt time.Time
}

// RunHandle is a run in progress. Its reports share the run's run_id and
// started_at, and each of its two reports keeps one event_id however often
// it is sent, so repeating Start or Finish after an error never makes a
// second report.
type RunHandle struct {
	c             *Client
	runID         string
	source        string
	syncType      string
	startedAt     time.Time
	attributes    map[string]string
	startEventID  string
	finishEventID string
}

// NewRun returns the handle of a run without reporting anything, for a
// caller that sends the start report itself (with Start, perhaps in the
// background).
func (c *Client) NewRun(r Run) *RunHandle {
	start := r.StartedAt
	if start.IsZero() {
		start = c.now()
	}
	runID := strings.TrimSpace(r.RunID)
	if runID == "" {
		runID = synclog.NewID()
	}
	return &RunHandle{
		c:        c,
		runID:    runID,
		source:   r.Source,
		syncType: r.SyncType,
		// ClickHouse keeps milliseconds: every report of the run must give
		// the same value.
		startedAt:     start.UTC().Truncate(time.Millisecond),
		attributes:    maps.Clone(r.Attributes),
		startEventID:  synclog.NewID(),
		finishEventID: synclog.NewID(),
	}
}

// StartRun reports that a run started (status processing, with a new
// run_id unless r names one) and returns its handle. The handle is
// returned even when the report failed, so that a job that cannot reach
// syncwatch can still do its work and Finish.
func (c *Client) StartRun(ctx context.Context, r Run) (*RunHandle, error) {
	h := c.NewRun(r)
	return h, h.Start(ctx)
}

// RunID returns the run's id.
func (h *RunHandle) RunID() string { return h.runID }

// StartedAt returns the start of the run as its reports give it.
func (h *RunHandle) StartedAt() time.Time { return h.startedAt }

// StartReport returns the report Start sends.
func (h *RunHandle) StartReport() Report {
	return Report{
		RunID: h.runID, EventID: h.startEventID, Source: h.source, SyncType: h.syncType,
		Status: StatusProcessing, StartedAt: h.startedAt, Attributes: maps.Clone(h.attributes),
	}
}

// Start reports the run as processing.
func (h *RunHandle) Start(ctx context.Context) error {
	if _, err := h.c.Send(ctx, h.StartReport()); err != nil {
		return fmt.Errorf("report the start of run %s: %w", h.runID, err)
	}
	return nil
}

// FinishReport returns the report Finish sends for res, or an error when
// res is not a terminal result.
func (h *RunHandle) FinishReport(res Result) (Report, error) {
	status := res.Status
	if status == "" {
		switch {
		case res.Failed > 0 && res.Success > 0:
			status = StatusPartial
		case res.Failed > 0:
			status = StatusFailed
		default:
			status = StatusSuccess
		}
	}
	if !status.Terminal() {
		return Report{}, fmt.Errorf("finish run %s: status %q does not end a run: use success, failed or partial", h.runID, status)
	}
	total := res.Total
	if total == 0 {
		total = res.Success + res.Failed
	}
	completed := res.CompletedAt
	if completed.IsZero() {
		completed = h.c.now()
	}
	completed = completed.UTC().Truncate(time.Millisecond)
	if completed.Before(h.startedAt) {
		completed = h.startedAt
	}
	attrs := maps.Clone(h.attributes)
	if len(res.Attributes) > 0 {
		if attrs == nil {
			attrs = make(map[string]string, len(res.Attributes))
		}
		maps.Copy(attrs, res.Attributes)
	}
	return Report{
		RunID: h.runID, EventID: h.finishEventID, Source: h.source, SyncType: h.syncType,
		Status: status, Message: res.Message,
		TotalCount: total, SuccessCount: res.Success, FailedCount: res.Failed,
		StartedAt: h.startedAt, CompletedAt: completed, Attributes: attrs,
	}, nil
}

// Finish reports how the run ended, with the run's run_id and started_at.
// After an error it may be called again: the report keeps its event_id,
// so syncwatch stores it once even if the first attempt did arrive.
func (h *RunHandle) Finish(ctx context.Context, res Result) error {
	r, err := h.FinishReport(res)
	if err != nil {
		return err
	}
	if _, err := h.c.Send(ctx, r); err != nil {
		return fmt.Errorf("report the end of run %s: %w", h.runID, err)
	}
	return nil
}
