package runs

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// OverviewWindow is the span the overview's figures cover, ending now.
const OverviewWindow = 24 * time.Hour

// OverviewQuery says what an overview shows.
type OverviewQuery struct {
	// Now ends the window.
	Now time.Time
	// SyncTypes are the configured sync types: they come first, a silent
	// one too, followed by any other type the store holds runs of.
	SyncTypes []string
	// Totals asks for the figures of all types together.
	Totals bool
	// Hourly asks for each type's figures by hour, over the 24 hours that
	// end with Now's hour (see HourlyStart).
	Hourly bool
	// StatesSince, when set and the store knows type states, takes the
	// runs in progress, failure streaks and last successes from them,
	// looking back to it; otherwise the runs in progress are those of the
	// window and the last successes come from the store's rollup.
	StatesSince time.Time
	// Failures is how many recent failed or partial runs to list, started
	// since FailuresSince.
	Failures      int
	FailuresSince time.Time
}

// HourlyStart is the first hour of the hourly figures of an overview at now.
func HourlyStart(now time.Time) time.Time { return now.Truncate(time.Hour).Add(-23 * time.Hour) }

// TypeOverview is one sync type at a glance.
type TypeOverview struct {
	SyncType string
	// Window are the figures of the runs started in the window; zero
	// without any.
	Window Stats
	// InProgress counts the runs in progress; OldestInProgress is the
	// start of the oldest of them when the store knows it.
	InProgress       uint64
	OldestInProgress time.Time
	// ConsecutiveFailures is the longest streak of failures, by source,
	// since the last success or partial run (with type states only).
	ConsecutiveFailures uint64
	// LastSuccess is when its latest successful run completed; zero when
	// none did in the retention.
	LastSuccess time.Time
	// Hourly are its figures by hour, when asked for.
	Hourly []Stats
}

// Overview is the pipeline at a glance: every sync type's figures over the
// window, its last success and its runs in progress, and the recent
// failures.
type Overview struct {
	// Since and Until bound the window.
	Since, Until time.Time
	Totals       Stats
	Types        []TypeOverview
	// Hourly are the figures of every type by hour, when asked for.
	Hourly   []Stats
	Failures []Run
	// KnowsStates says whether the type states were used.
	KnowsStates bool
}

// Overviews computes overviews from a store.
type Overviews struct {
	r      Reader
	states TypeStater
}

// NewOverviews returns the overview use case over r. states, when not nil,
// gives the per-type states that queries asking for them use.
func NewOverviews(r Reader, states TypeStater) *Overviews {
	return &Overviews{r: r, states: states}
}

// overviewData is what the overview's queries return.
type overviewData struct {
	totals, window, hourly []Stats
	states                 []TypeState
	lastOK                 map[string]time.Time
	failures               []Run
}

// Overview runs the queries q asks for, concurrently, and assembles them.
func (o *Overviews) Overview(ctx context.Context, q OverviewQuery) (Overview, error) {
	until := q.Now.Truncate(time.Millisecond).Add(time.Millisecond)
	window := Filter{Since: until.Add(-OverviewWindow), Until: until}
	useStates := o.states != nil && !q.StatesSince.IsZero()
	d, err := o.fetch(ctx, q, window, useStates)
	if err != nil {
		return Overview{}, err
	}
	ov := Overview{Since: window.Since, Until: window.Until, Hourly: d.hourly, Failures: d.failures, KnowsStates: useStates}
	if len(d.totals) > 0 {
		ov.Totals = d.totals[0]
	}
	ov.Types = assemble(q.SyncTypes, d, useStates)
	return ov, nil
}

// fetch runs the overview's queries concurrently.
func (o *Overviews) fetch(ctx context.Context, q OverviewQuery, window Filter, useStates bool) (overviewData, error) {
	var (
		d    overviewData
		wg   sync.WaitGroup
		errs [5]error
	)
	byType := []GroupBy{BySyncType}
	if q.Totals {
		wg.Go(func() { d.totals, errs[0] = o.r.Stats(ctx, StatsQuery{Filter: window}) })
	}
	wg.Go(func() { d.window, errs[1] = o.r.Stats(ctx, StatsQuery{Filter: window, GroupBy: byType}) })
	if q.Hourly {
		hours := Filter{Since: HourlyStart(q.Now), Until: window.Until}
		wg.Go(func() {
			d.hourly, errs[2] = o.r.Stats(ctx, StatsQuery{Filter: hours, GroupBy: byType, Interval: time.Hour})
		})
	}
	wg.Go(func() {
		if useStates {
			d.states, errs[3] = o.states.TypeStates(ctx, q.StatesSince)
		} else {
			d.lastOK, errs[3] = o.r.LastSuccesses(ctx)
		}
	})
	if q.Failures > 0 {
		wg.Go(func() {
			d.failures, _, errs[4] = o.r.ListRuns(ctx, ListOptions{
				Filter: Filter{Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}, Since: q.FailuresSince},
				Limit:  q.Failures,
			})
		})
	}
	wg.Wait()
	return d, errors.Join(errs[:]...)
}

// assemble builds the per-type rows: the configured types first, then the
// others in the order the figures name them.
func assemble(configured []string, d overviewData, useStates bool) []TypeOverview {
	rows := map[string]*TypeOverview{}
	names := slices.Clone(configured)
	row := func(st string) *TypeOverview {
		r, ok := rows[st]
		if !ok {
			r = &TypeOverview{SyncType: st}
			rows[st] = r
			if !slices.Contains(names, st) {
				names = append(names, st) // a type no longer configured
			}
		}
		return r
	}
	for _, st := range configured {
		row(st)
	}
	for _, s := range d.window {
		r := row(s.SyncType)
		r.Window = s
		if !useStates {
			r.InProgress = s.Pending + s.Processing
		}
	}
	for _, s := range d.states {
		r := row(s.SyncType)
		r.InProgress += s.InProgress
		if !s.OldestInProgress.IsZero() && (r.OldestInProgress.IsZero() || s.OldestInProgress.Before(r.OldestInProgress)) {
			r.OldestInProgress = s.OldestInProgress
		}
		r.ConsecutiveFailures = max(r.ConsecutiveFailures, s.ConsecutiveFailures)
		if s.LastSuccess.After(r.LastSuccess) {
			r.LastSuccess = s.LastSuccess
		}
	}
	for _, st := range slices.Sorted(maps.Keys(d.lastOK)) {
		if r, t := row(st), d.lastOK[st]; t.After(r.LastSuccess) {
			r.LastSuccess = t
		}
	}
	for _, s := range d.hourly {
		r := row(s.SyncType)
		r.Hourly = append(r.Hourly, s)
	}
	out := make([]TypeOverview, len(names))
	for i, st := range names {
		out[i] = *rows[st]
	}
	return out
}
