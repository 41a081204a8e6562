// Package chsource adapts the ClickHouse store to the exporter's Source,
// so that the exporter itself never imports the storage package. The type
// conversions fail to compile when the two packages' types drift apart.
package chsource

import (
	"context"
	"time"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/exporter"
)

// Source answers the exporter's window and state queries from a store.
type Source struct {
	store *clickhouse.Store
}

// New returns a Source reading from store.
func New(store *clickhouse.Store) Source { return Source{store: store} }

var _ exporter.Source = Source{}

// WindowStats returns the figures of each source and sync type in q's window.
func (s Source) WindowStats(ctx context.Context, q exporter.WindowQuery) ([]exporter.WindowStat, error) {
	rows, err := s.store.ExporterWindowStats(ctx, q.Since, q.Until, q.Sources)
	if err != nil {
		return nil, err
	}
	out := make([]exporter.WindowStat, len(rows))
	for i, r := range rows {
		out[i] = exporter.WindowStat(r)
	}
	return out, nil
}

// TypeStates returns the state of each source and sync type since since.
func (s Source) TypeStates(ctx context.Context, since time.Time) ([]exporter.TypeState, error) {
	rows, err := s.store.ExporterTypeStates(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]exporter.TypeState, len(rows))
	for i, r := range rows {
		out[i] = exporter.TypeState(r)
	}
	return out, nil
}
