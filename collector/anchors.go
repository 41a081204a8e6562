package collector

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// RunAnchors remembers where each run started and which source it belongs
// to, as far as this replica has seen the run. Every report it spools
// carries the start the run's first report here gave, and a report naming
// a run of another source is refused (409), so that no token takes over a
// run outside its sources. The store has the last word on both: it keeps
// a run under the earliest start any of its reports gave, whichever
// replica took them, and refuses (for the quarantine) a report naming a
// run another replica stored for another source (ARCHITECTURE.md,
// "Replicas"). *AnchorCache is the one syncwatch uses.
type RunAnchors interface {
	// Resolve returns the start and source of run runID as its first
	// report gave them, remembering start and source when the run is new.
	Resolve(runID, source string, start time.Time) (anchor time.Time, owner string)
}

// AnchorCache keeps the anchors of recent runs in memory, bounded in size
// with least-recently-used eviction. After a restart it is seeded with the
// runs still in progress (Service.Seed) and those in the spool.
type AnchorCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *anchorEntry, most recent at front
	byID  map[string]*list.Element
}

type anchorEntry struct {
	runID, source string
	start         time.Time
}

// NewAnchorCache returns a cache of at most max runs (200,000 when max < 1).
func NewAnchorCache(max int) *AnchorCache {
	if max < 1 {
		max = 200_000
	}
	return &AnchorCache{max: max, order: list.New(), byID: make(map[string]*list.Element)}
}

// Resolve implements RunAnchors.
func (c *AnchorCache) Resolve(runID, source string, start time.Time) (time.Time, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[runID]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*anchorEntry)
		return e.start, e.source
	}
	// The ids may share memory with the whole report they came from; the
	// cache outlives reports by far.
	e := &anchorEntry{runID: strings.Clone(runID), source: strings.Clone(source), start: start.Truncate(time.Millisecond)}
	c.byID[e.runID] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		delete(c.byID, last.Value.(*anchorEntry).runID)
		c.order.Remove(last)
	}
	return e.start, e.source
}

// History is what the collector reads back from ClickHouse once, at start:
// the runs still in progress, whose later reports must keep their start
// and source, and the reports received recently, whose retries are
// duplicates. The ClickHouse store is one.
type History interface {
	RunsInProgress(ctx context.Context) ([]synclog.RunAnchor, error)
	RecentEvents(ctx context.Context, since time.Time, limit int) ([]synclog.EventRef, error)
}

// Seed remembers what h holds: call it once at start, before serving.
// (The reports left in the spool are remembered by NewService.) It
// returns how many runs in progress and recent reports it remembered.
func (s *Service) Seed(ctx context.Context, h History) (runs, events int, err error) {
	inProgress, err := h.RunsInProgress(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, a := range inProgress {
		s.anchors.Resolve(a.RunID, a.Source, a.StartedAt)
	}
	recent, err := h.RecentEvents(ctx, time.Now().Add(-24*time.Hour), s.cfg.DedupWindow/2)
	if err != nil {
		return len(inProgress), 0, err
	}
	s.RememberEvents(recent)
	return len(inProgress), len(recent), nil
}
