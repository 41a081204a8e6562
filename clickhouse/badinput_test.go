package clickhouse

import (
	"context"
	"github.com/syncwatch/syncwatch/runs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreRejectsBadInput checks the store's own validation: each call
// fails before any SQL runs, with an error that says what is wrong.
func TestStoreRejectsBadInput(t *testing.T) {
	s := newTestStore(t)
	until := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	since := until.Add(-24 * time.Hour)
	window := runs.Filter{Since: since, Until: until}
	tests := []struct {
		name string
		call func(ctx context.Context) error
		want []string // parts of the error text
	}{
		{
			name: "list runs with limit 0",
			call: func(ctx context.Context) error { _, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: 0}); return err },
			want: []string{"limit 0", "between 1 and 10000"},
		},
		{
			name: "list runs with a negative limit",
			call: func(ctx context.Context) error { _, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: -5}); return err },
			want: []string{"limit -5", "between 1 and 10000"},
		},
		{
			name: "list runs with limit 10001",
			call: func(ctx context.Context) error {
				_, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: 10001})
				return err
			},
			want: []string{"limit 10001", "between 1 and 10000"},
		},
		{
			name: "stats without since and until",
			call: func(ctx context.Context) error { _, err := s.Stats(ctx, runs.StatsQuery{}); return err },
			want: []string{"since and until are required"},
		},
		{
			name: "stats without until",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Since: since}})
				return err
			},
			want: []string{"since and until are required"},
		},
		{
			name: "stats without since",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Until: until}})
				return err
			},
			want: []string{"since and until are required"},
		},
		{
			name: "stats with since after until",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Since: until, Until: since}})
				return err
			},
			want: []string{"since before until"},
		},
		{
			name: "stats with since equal to until",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Since: since, Until: since}})
				return err
			},
			want: []string{"since before until"},
		},
		{
			name: "stats with an unknown group",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: window, GroupBy: []runs.GroupBy{runs.BySource, "sync_type; DROP TABLE runs"}})
				return err
			},
			want: []string{`unknown group "sync_type; DROP TABLE runs"`, "sync_type", "source", "status"},
		},
		{
			name: "stats with an interval under a minute",
			call: func(ctx context.Context) error {
				_, err := s.Stats(ctx, runs.StatsQuery{Filter: window, Interval: 30 * time.Second})
				return err
			},
			want: []string{"interval 30s", "shorter than a minute"},
		},
		{
			name: "error groups with limit 0",
			call: func(ctx context.Context) error { _, err := s.ErrorGroups(ctx, window, 0); return err },
			want: []string{"limit 0", "between 1 and 1000"},
		},
		{
			name: "error groups with limit 1001",
			call: func(ctx context.Context) error { _, err := s.ErrorGroups(ctx, window, 1001); return err },
			want: []string{"limit 1001", "between 1 and 1000"},
		},
		{
			name: "error groups without a window",
			call: func(ctx context.Context) error { _, err := s.ErrorGroups(ctx, runs.Filter{}, 10); return err },
			want: []string{"since and until are required"},
		},
		{
			name: "error groups with since after until",
			call: func(ctx context.Context) error {
				_, err := s.ErrorGroups(ctx, runs.Filter{Since: until, Until: since}, 10)
				return err
			},
			want: []string{"since before until"},
		},
		{
			name: "delete without until",
			call: func(ctx context.Context) error {
				_, err := s.DeleteRuns(ctx, runs.Filter{Since: since, Sources: []string{"x"}}, false)
				return err
			},
			want: []string{"upper time bound (until) is required"},
		},
		{
			name: "dry-run delete without until",
			call: func(ctx context.Context) error { _, err := s.DeleteRuns(ctx, runs.Filter{}, true); return err },
			want: []string{"upper time bound (until) is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := tt.call(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestOpenRejectsBadConfig checks that Open fails with a useful error on a
// configuration that cannot work. None of the cases starts the embedded
// engine, whose storage path is fixed for the process.
func TestOpenRejectsBadConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "libchdb.so")
	tests := []struct {
		name   string
		cfg    Config
		want   []string // parts of the error text
		reject []string // text the error must not show
	}{
		{
			name: "database name with a dash",
			cfg:  Config{DataDir: t.TempDir(), Database: "bad-name"},
			want: []string{`database name "bad-name"`, "letters, digits and '_'"},
		},
		{
			name: "database name with SQL",
			cfg:  Config{DataDir: t.TempDir(), Database: "x`; DROP DATABASE default; --"},
			want: []string{"database name", "letters, digits and '_'"},
		},
		{
			name: "database name starting with a digit",
			cfg:  Config{DataDir: t.TempDir(), Database: "1abc"},
			want: []string{`database name "1abc"`},
		},
		{
			name: "database name too long",
			cfg:  Config{DataDir: t.TempDir(), Database: strings.Repeat("a", 64)},
			want: []string{"database name"},
		},
		{
			name: "no data directory",
			cfg:  Config{},
			want: []string{"embedded clickhouse needs a data directory"},
		},
		{
			name: "missing libchdb",
			cfg:  Config{DataDir: t.TempDir(), LibchdbPath: missing},
			want: []string{"libchdb not found at " + missing, "scripts/fetch-libchdb.sh", "SYNCWATCH_LIBCHDB", "--clickhouse-dsn"},
		},
		{
			name:   "unreachable server",
			cfg:    Config{DSN: "clickhouse://alice:hunter2@127.0.0.1:1/db?dial_timeout=500ms"},
			want:   []string{"clickhouse://alice:xxxxx@127.0.0.1:1/db"},
			reject: []string{"hunter2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, tt.cfg, testLogger(t))
			if err == nil {
				_ = s.Close()
				t.Fatal("open succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			for _, bad := range tt.reject {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("error %q shows %q", err, bad)
				}
			}
		})
	}
}
