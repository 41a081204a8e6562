package apptest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/synclog"
)

// FakeStorage is an in-memory Storage for tests about HTTP behaviour.
type FakeStorage struct {
	mu      sync.Mutex
	reports []synclog.Report
	inserts int
	// Down makes InsertReports and ServerVersion fail while set.
	Down atomic.Bool
	// InsertDown makes only InsertReports fail.
	InsertDown atomic.Bool
	// Discard drops inserted reports instead of keeping them.
	Discard bool
	// OnInsert, when set, sees every batch inserted.
	OnInsert func([]synclog.Report)
}

// ErrDown is the error of a store switched off.
var ErrDown = errors.New("clickhouse is down (test switch)")

// InsertReports keeps the reports, or fails while switched off.
func (f *FakeStorage) InsertReports(ctx context.Context, reports []synclog.Report) error {
	if f.Down.Load() || f.InsertDown.Load() {
		return ErrDown
	}
	if f.OnInsert != nil {
		f.OnInsert(reports)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserts++
	if !f.Discard {
		f.reports = append(f.reports, reports...)
	}
	return nil
}

// ServerVersion answers a fake version, or fails while switched off.
func (f *FakeStorage) ServerVersion(ctx context.Context) (string, error) {
	if f.Down.Load() {
		return "", ErrDown
	}
	return "26.5-fake", nil
}

// Stored returns the reports inserted so far.
func (f *FakeStorage) Stored() []synclog.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]synclog.Report(nil), f.reports...)
}

// SwitchStorage wraps a real store with a switch that makes it look
// unreachable.
type SwitchStorage struct {
	collector.Storage
	// Down makes InsertReports and ServerVersion fail while set.
	Down atomic.Bool
}

// InsertReports inserts into the real store unless switched off.
func (s *SwitchStorage) InsertReports(ctx context.Context, reports []synclog.Report) error {
	if s.Down.Load() {
		return ErrDown
	}
	return s.Storage.InsertReports(ctx, reports)
}

// ServerVersion asks the real store unless switched off.
func (s *SwitchStorage) ServerVersion(ctx context.Context) (string, error) {
	if s.Down.Load() {
		return "", ErrDown
	}
	return s.Storage.ServerVersion(ctx)
}
