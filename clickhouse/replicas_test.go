package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// runRows returns the rows of run id in runs FINAL: its start, status and
// duration.
func runRows(t *testing.T, s *Store, id string) []string {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), `SELECT started_at, toString(status) AS status, duration_ms
FROM runs FINAL WHERE run_id = {id:String} ORDER BY started_at`, Params{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := decodeRows[struct {
		StartedAt  time.Time `json:"started_at"`
		Status     string    `json:"status"`
		DurationMS *int64    `json:"duration_ms"`
	}](out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		d := "null"
		if r.DurationMS != nil {
			d = fmt.Sprint(*r.DurationMS)
		}
		got = append(got, fmt.Sprintf("%s %s %s", r.StartedAt.UTC().Format(time.RFC3339Nano), r.Status, d))
	}
	return got
}

// countOf returns the result of a count query with parameter id.
func countOf(t *testing.T, s *Store, query, id string) uint64 {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), query, Params{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := decodeRows[struct {
		N uint64 `json:"n"`
	}](out)
	if err != nil || len(rows) != 1 {
		t.Fatalf("%s: %v %v", query, rows, err)
	}
	return rows[0].N
}

// TestReplicaIndependentInserts checks what makes collector replicas
// interchangeable at the store: whichever replica inserts a run's reports,
// in whatever order, and even when two replicas race, the run ends up
// stored once, under its earliest start, and a retry is stored once.
func TestReplicaIndependentInserts(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	done := start.Add(90 * time.Second)
	report := func(run, event string, status synclog.Status, reportedStart time.Time) synclog.Report {
		r := synclog.Report{
			RunID: run, EventID: event, Source: "alpha", SyncType: "products", Status: status,
			StartedAt: reportedStart, ReceivedAt: time.Now().UTC(), TotalCount: 3, SuccessCount: 3,
		}
		if status.Terminal() {
			r.CompletedAt = &done
		}
		return r
	}
	// raw stores reports as a replica that had not seen the others would,
	// without the look-up and the mending: the two sides of a race.
	raw := func(reps ...synclog.Report) {
		t.Helper()
		rows, _ := reconcile(reps, nil)
		if err := s.eng.insertReports(ctx, rows, dedupToken(rows)); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(reps ...synclog.Report) {
		t.Helper()
		if err := s.InsertReports(ctx, reps); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{start.Format(time.RFC3339Nano) + " success 90000"}
	tests := []struct {
		name  string
		store func(run string)
	}{
		{"in order", func(run string) {
			insert(report(run, "start", synclog.StatusProcessing, start))
			insert(report(run, "end", synclog.StatusSuccess, done))
		}},
		{"the end first, without a start", func(run string) {
			insert(report(run, "end", synclog.StatusSuccess, done))
			insert(report(run, "start", synclog.StatusProcessing, start))
		}},
		{"the end stored by a replica that had not seen the start", func(run string) {
			insert(report(run, "start", synclog.StatusProcessing, start))
			raw(report(run, "end", synclog.StatusSuccess, done))
			if err := s.mendSplitRuns(ctx, []string{run}); err != nil {
				t.Fatal(err)
			}
		}},
		{"two replicas raced, the start last", func(run string) {
			raw(report(run, "end", synclog.StatusSuccess, done))
			raw(report(run, "start", synclog.StatusProcessing, start))
			if err := s.mendSplitRuns(ctx, []string{run}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a mend that failed half-way", func(run string) {
			raw(report(run, "start", synclog.StatusProcessing, start))
			end := report(run, "end", synclog.StatusSuccess, done)
			raw(end)
			// The end was stored again under the start, and deleted
			// from reports under its own; its key and runs row stayed.
			end.RunStartedAt = start
			raw(end)
			if err := s.eng.exec(ctx, `DELETE FROM reports WHERE run_id = {run:String} AND run_started_at = {at:DateTime64(3, 'UTC')}`,
				Params{"run": run, "at": done}); err != nil {
				t.Fatal(err)
			}
			if err := s.mendSplitRuns(ctx, []string{run}); err != nil {
				t.Fatal(err)
			}
		}},
		{"retries through other replicas", func(run string) {
			first := report(run, "start", synclog.StatusProcessing, start)
			insert(first)
			insert(report(run, "end", synclog.StatusSuccess, done))
			again := first
			again.ReceivedAt = time.Now().UTC().Add(time.Second)
			insert(again)
			insert(report(run, "end", synclog.StatusSuccess, done), again)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := fmt.Sprintf("replica-run-%d", i)
			tt.store(run)
			if got := runRows(t, s, run); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("runs FINAL holds %q, want %q", got, want)
			}
			if n := countOf(t, s, `SELECT count() AS n FROM reports FINAL WHERE run_id = {id:String}`, run); n != 2 {
				t.Errorf("%d reports stored, want 2", n)
			}
			if n := countOf(t, s, `SELECT uniqExact(run_started_at) AS n FROM report_keys WHERE run_id = {id:String}`, run); n != 1 {
				t.Errorf("the run's reports are kept under %d starts, want 1", n)
			}
			if n := countOf(t, s, `SELECT count() AS n FROM reports WHERE run_id = {id:String} AND run_started_at != `+
				`(SELECT min(run_started_at) FROM reports WHERE run_id = {id:String})`, run); n != 0 {
				t.Errorf("%d reports left under a later start", n)
			}
		})
	}
	t.Run("the activity rollup forgets the later starts", func(t *testing.T) {
		out, err := s.eng.selectRows(ctx, `SELECT max(last_run_started_at) AS last FROM run_activity WHERE source = 'alpha'`, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := decodeRows[struct {
			Last time.Time `json:"last"`
		}](out)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%v %v", rows, err)
		}
		if !rows[0].Last.Equal(start) {
			t.Errorf("last run started at %s, want %s", rows[0].Last, start)
		}
	})
}

// TestInsertRefusesAnotherSourcesRun checks that a report naming a run
// another source stored is refused for good, so that the batcher sets it
// aside, and that nothing of it is stored.
func TestInsertRefusesAnotherSourcesRun(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	own := synclog.Report{RunID: "owned", EventID: "a1", Source: "alpha", SyncType: "products", Status: synclog.StatusProcessing, StartedAt: now, ReceivedAt: now}
	if err := s.InsertReports(ctx, []synclog.Report{own}); err != nil {
		t.Fatal(err)
	}
	other := own
	other.EventID, other.Source = "b1", "beta"
	err := s.InsertReports(ctx, []synclog.Report{other})
	var ce *RunConflictError
	if !errors.As(err, &ce) || !ce.Permanent() {
		t.Fatalf("InsertReports = %v, want a permanent *RunConflictError", err)
	}
	if want := "b1 (run owned, source beta)"; len(ce.Reports) != 1 || ce.Reports[0] != want {
		t.Errorf("conflicting reports %q, want [%q]", ce.Reports, want)
	}
	if n := countOf(t, s, `SELECT count() AS n FROM reports WHERE run_id = {id:String}`, "owned"); n != 1 {
		t.Errorf("%d reports stored, want 1", n)
	}
}

// TestReportKeysBackfill checks that migration 4 fills report_keys from
// the reports stored before it.
func TestReportKeysBackfill(t *testing.T) {
	s := newTestStore(t)
	m, err := s.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Steps(-1); err != nil {
		t.Fatalf("migrate down to 3: %v", err)
	}
	reps := monthlyReports("keys", 5, time.Now().UTC())
	insertAsVersion1(t, s, reps)
	if err := m.Up(); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if n := countOf(t, s, `SELECT count() AS n FROM report_keys WHERE source = {id:String}`, "backfill"); n != 5 {
		t.Errorf("report_keys holds %d rows, want 5", n)
	}
	// The retries of those reports are now recognised.
	if err := s.InsertReports(context.Background(), reps); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, s, `SELECT count() AS n FROM reports WHERE source = {id:String}`, "backfill"); n != 5 {
		t.Errorf("reports holds %d rows after the retries, want 5", n)
	}
}
