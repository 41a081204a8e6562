// Package fakequery is a query store for the tests of the HTTP service
// that must not reach ClickHouse: it answers nothing, or an error, and
// counts what it is asked.
package fakequery

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncwatch/syncwatch/runs"
)

// Querier answers every query with nothing, or with err, or with the
// runs, run and error groups it is given.
type Querier struct {
	// Err is the error of every query.
	Err error
	// Runs answer ListRuns; Detail, when set, answers GetRun; Groups
	// answer ErrorGroups; StatsRows answer Stats; DailyRows answer
	// DailyReport; TrendPoints answer Trends.
	Runs        []runs.Run
	Detail      *runs.RunDetail
	Groups      []runs.ErrorGroup
	StatsRows   []runs.Stats
	DailyRows   []runs.DailyRow
	TrendPoints []runs.TrendPoint
	// Calls counts the queries.
	Calls atomic.Int64
	mu    sync.Mutex
	last  any
}

func (f *Querier) record(v any) error {
	f.Calls.Add(1)
	f.mu.Lock()
	f.last = v
	f.mu.Unlock()
	return f.Err
}

// ListRuns answers nothing, or Err.
func (f *Querier) ListRuns(_ context.Context, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error) {
	return f.Runs, nil, f.record(opt)
}

// GetRun answers nothing, or Err.
func (f *Querier) GetRun(_ context.Context, id string) (runs.RunDetail, error) {
	if err := f.record(id); err != nil {
		return runs.RunDetail{}, err
	}
	if f.Detail != nil {
		return *f.Detail, nil
	}
	return runs.RunDetail{}, runs.ErrNotFound
}

// Stats answers nothing, or Err.
func (f *Querier) Stats(_ context.Context, q runs.StatsQuery) ([]runs.Stats, error) {
	return f.StatsRows, f.record(q)
}

// DailyReport answers DailyRows, or Err.
func (f *Querier) DailyReport(_ context.Context, day time.Time, loc *time.Location) ([]runs.DailyRow, error) {
	return f.DailyRows, f.record(day)
}

// ErrorGroups answers nothing, or Err.
func (f *Querier) ErrorGroups(_ context.Context, fl runs.Filter, limit int) ([]runs.ErrorGroup, error) {
	return f.Groups, f.record(fl)
}

// Trends answers TrendPoints, or Err.
func (f *Querier) Trends(_ context.Context, since, until time.Time, loc *time.Location, baselineDays int) ([]runs.TrendPoint, error) {
	return f.TrendPoints, f.record([]time.Time{since, until})
}

// LastSuccesses answers nothing, or Err.
func (f *Querier) LastSuccesses(context.Context) (map[string]time.Time, error) {
	return nil, f.record(nil)
}

// DeleteRuns answers nothing, or Err.
func (f *Querier) DeleteRuns(_ context.Context, fl runs.Filter, dryRun bool) (runs.DeleteResult, error) {
	return runs.DeleteResult{DryRun: dryRun}, f.record(fl)
}

// Retention answers nothing, or Err.
func (f *Querier) Retention() time.Duration { return 90 * 24 * time.Hour }

// Last is the argument of the last query: its options, filter or id.
func (f *Querier) Last() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
