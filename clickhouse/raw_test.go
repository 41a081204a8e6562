package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

func TestReadOnlyQuery(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string
		ok   bool
	}{
		{"SELECT 1", "SELECT 1", true},
		{"  select 1 ;; ", "select 1", true},
		{"WITH 1 AS x SELECT x", "WITH 1 AS x SELECT x", true},
		{"-- comment\nSELECT 1", "-- comment\nSELECT 1", true},
		{"/* c */ SELECT(1)", "/* c */ SELECT(1)", true},
		{"INSERT INTO runs VALUES (1)", "", false},
		{"DROP TABLE runs", "", false},
		{"ALTER TABLE runs DELETE WHERE 1", "", false},
		{"-- SELECT\nDELETE FROM runs WHERE 1", "", false},
		{"SELECTX 1", "", false},
		{"", "", false},
		{"-- only a comment", "", false},
	} {
		got, err := readOnlyQuery(c.sql)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("readOnlyQuery(%q) = %q, %v; want %q, ok %v", c.sql, got, err, c.want, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNotReadOnly) {
			t.Errorf("readOnlyQuery(%q): error %v is not ErrNotReadOnly", c.sql, err)
		}
	}
}

func TestQueryJSONAndColumns(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	done := start.Add(90 * time.Second)
	rep := synclog.Report{
		RunID: "raw-1", EventID: "raw-1-e1", Source: "haier", SyncType: "stock", Status: synclog.StatusFailed,
		Message: "HTTP 503 from supplier", TotalCount: 10, FailedCount: 10,
		StartedAt: start, CompletedAt: &done, ReceivedAt: done, RunStartedAt: start, Fingerprint: 42,
	}
	if err := s.InsertReports(ctx, []synclog.Report{rep}); err != nil {
		t.Fatal(err)
	}

	rows, err := s.QueryJSON(ctx, `SELECT run_id, toString(status) AS state, duration_ms, started_at FROM runs FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows = %v, want one", rows)
	}
	r := rows[0]
	if r["run_id"] != "raw-1" || r["state"] != "failed" {
		t.Errorf("row = %v", r)
	}
	if n, ok := r["duration_ms"].(json.Number); !ok || n.String() != "90000" {
		t.Errorf("duration_ms = %#v, want json.Number 90000", r["duration_ms"])
	}

	// Columns are known without rows.
	cols, err := s.QueryColumns(ctx, `SELECT run_id, toString(status) AS state, duration_ms / 1000 AS duration_s FROM runs FINAL WHERE 0`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{"run_id", "String"}, {"state", "String"}, {"duration_s", "Nullable(Float64)"}}
	if len(cols) != len(want) {
		t.Fatalf("columns = %v, want %v", cols, want)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Errorf("column %d = %v, want %v", i, cols[i], want[i])
		}
	}

	// Anything but a query is refused before it reaches ClickHouse.
	for _, q := range []string{"TRUNCATE TABLE runs", "INSERT INTO runs SELECT * FROM runs"} {
		if _, err := s.QueryJSON(ctx, q); !errors.Is(err, ErrNotReadOnly) {
			t.Errorf("QueryJSON(%q) = %v, want ErrNotReadOnly", q, err)
		}
		if _, err := s.QueryColumns(ctx, q); !errors.Is(err, ErrNotReadOnly) {
			t.Errorf("QueryColumns(%q) = %v, want ErrNotReadOnly", q, err)
		}
	}
	rows, err = s.QueryJSON(ctx, `SELECT count() AS n FROM runs`)
	if err != nil || len(rows) != 1 || rows[0]["n"].(json.Number).String() != "1" {
		t.Errorf("runs after refused statements: %v, %v", rows, err)
	}

	// A bad query reports ClickHouse's error.
	if _, err := s.QueryJSON(ctx, `SELECT no_such_column FROM runs`); err == nil {
		t.Error("QueryJSON of an unknown column: no error")
	}
}
