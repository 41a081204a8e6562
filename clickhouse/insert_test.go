package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// monthlyReports returns n finished runs, one report each, whose starts
// fall in n consecutive months back from now: what a backfill sends.
func monthlyReports(prefix string, n int, now time.Time) []synclog.Report {
	reps := make([]synclog.Report, n)
	for i := range reps {
		start := now.AddDate(0, -i, 0).Truncate(time.Millisecond)
		done := start.Add(time.Minute)
		reps[i] = synclog.Report{
			RunID: fmt.Sprintf("%s-run-%d", prefix, i), EventID: fmt.Sprintf("%s-ev-%d", prefix, i),
			Source: "backfill", SyncType: "products", Status: synclog.StatusSuccess,
			StartedAt: start, CompletedAt: &done, ReceivedAt: now, TotalCount: 10, SuccessCount: 10,
		}
	}
	return reps
}

// longRetention keeps s's data for twenty years, so that runs started
// many months ago are not dropped by the retention's TTL while a test
// counts them.
func longRetention(t *testing.T, s *Store) {
	t.Helper()
	s.cfg.Retention = 20 * 365 * 24 * time.Hour
	if err := s.ApplyRetention(context.Background()); err != nil {
		t.Fatalf("apply retention: %v", err)
	}
}

// rowCounts counts the rows of each table as stored, without FINAL, so
// that a repeated insert shows.
func rowCounts(t *testing.T, s *Store, source string) (reports, runs, activityDays uint64) {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), `SELECT
    (SELECT count() FROM reports WHERE source = {s:String}) AS reports,
    (SELECT count() FROM runs WHERE source = {s:String}) AS runs,
    (SELECT countDistinct(day) FROM run_activity WHERE source = {s:String}) AS days`, Params{"s": source})
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	rows, err := decodeRows[struct {
		Reports uint64 `json:"reports"`
		Runs    uint64 `json:"runs"`
		Days    uint64 `json:"days"`
	}](out)
	if err != nil || len(rows) != 1 {
		t.Fatalf("decode counts %s: %v", out, err)
	}
	return rows[0].Reports, rows[0].Runs, rows[0].Days
}

// A batch whose runs started in more months than ClickHouse lets one
// insert write to (max_partitions_per_insert_block, 100) is stored whole:
// before, ClickHouse refused it, the reports table kept it, the runs view
// did not, and the batcher retried it forever.
func TestInsertReportsSpanningManyMonths(t *testing.T) {
	s := newTestStore(t)
	longRetention(t, s)
	now := time.Now().UTC()
	for _, n := range []int{101, 150} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := fmt.Sprintf("backfill%d", n)
			reps := monthlyReports(src, n, now)
			for i := range reps {
				reps[i].Source = src
			}
			if err := s.InsertReports(context.Background(), reps); err != nil {
				t.Fatalf("insert %d months: %v", n, err)
			}
			reports, runs, days := rowCounts(t, s, src)
			if reports != uint64(n) || runs != uint64(n) || days != uint64(n) {
				t.Errorf("stored %d reports, %d runs, %d activity days; want %d of each", reports, runs, days, n)
			}
		})
	}
}

// Inserting the same batch twice, as the batcher does when it cannot tell
// whether an insert landed, stores it once.
func TestInsertReportsRepeatedIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	longRetention(t, s)
	now := time.Now().UTC()
	reps := monthlyReports("again", 30, now)
	for i := range reps {
		reps[i].Source = "again"
	}
	for range 3 {
		if err := s.InsertReports(context.Background(), reps); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	if reports, runs, _ := rowCounts(t, s, "again"); reports != 30 || runs != 30 {
		t.Errorf("after three identical inserts: %d reports, %d runs rows; want 30 and 30", reports, runs)
	}
	// A report sent again later, through another collector replica that
	// did not know it, is not stored again either.
	later := slices.Clone(reps[:1])
	later[0].ReceivedAt = now.Add(time.Second)
	if err := s.InsertReports(context.Background(), later); err != nil {
		t.Fatalf("insert later: %v", err)
	}
	if reports, _, _ := rowCounts(t, s, "again"); reports != 30 {
		t.Errorf("after a later delivery: %d reports rows, want 30", reports)
	}
}

// When the reports table takes an insert and a view refuses it, the retry
// fills the view without adding to the reports table.
func TestInsertRetryAfterViewFailure(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if err := s.eng.exec(ctx, "ALTER TABLE runs ADD CONSTRAINT no_poison CHECK message != 'poison'", nil); err != nil {
		t.Fatalf("add constraint: %v", err)
	}
	reps := monthlyReports("view", 3, time.Now().UTC())
	for i := range reps {
		reps[i].Source, reps[i].Message = "view", "poison"
	}
	err := s.InsertReports(ctx, reps)
	var se *ServerError
	if !errors.As(err, &se) || !se.Permanent() {
		t.Fatalf("insert refused by the view: got %v, want a permanent ServerError", err)
	}
	if reports, runs, _ := rowCounts(t, s, "view"); reports != 3 || runs != 0 {
		t.Fatalf("after the failed insert: %d reports, %d runs; want 3 and 0 (the reports table commits first)", reports, runs)
	}
	if err := s.eng.exec(ctx, "ALTER TABLE runs DROP CONSTRAINT no_poison", nil); err != nil {
		t.Fatalf("drop constraint: %v", err)
	}
	if err := s.InsertReports(ctx, reps); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if reports, runs, _ := rowCounts(t, s, "view"); reports != 3 || runs != 3 {
		t.Errorf("after the retry: %d reports, %d runs rows; want 3 and 3", reports, runs)
	}
}

// Errors that repeating a statement cannot mend are told apart from those
// of ClickHouse's state, on errors the engine really returns.
func TestServerErrorPermanent(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if err := s.eng.exec(ctx, "CREATE TABLE perm_t (m UInt8, v String, CONSTRAINT c CHECK v != 'bad') ENGINE = MergeTree PARTITION BY m ORDER BY m", nil); err != nil {
		t.Fatalf("create table: %v", err)
	}
	tests := []struct {
		name      string
		stmt      string
		permanent bool
	}{
		{"constraint violated", "INSERT INTO perm_t VALUES (1, 'bad')", true},
		{"too many partitions", "INSERT INTO perm_t SETTINGS max_partitions_per_insert_block = 1 VALUES (1, 'a'), (2, 'b')", true},
		{"unparsable value", "INSERT INTO perm_t FORMAT JSONEachRow {\"m\": \"x\", \"v\": \"a\"}", true},
		{"unknown table", "INSERT INTO no_such_table VALUES (1)", false},
		{"memory limit", "SELECT count() FROM numbers(10000000) GROUP BY number % 1000000 SETTINGS max_memory_usage = 1000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.eng.exec(ctx, tt.stmt, nil)
			var se *ServerError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a ServerError", err)
			}
			if se.Permanent() != tt.permanent {
				t.Errorf("Permanent() = %v for code %d (%s), want %v", se.Permanent(), se.Code, se.Message, tt.permanent)
			}
		})
	}
	if (&ServerError{Code: codeTooManyParts, Message: "Too many parts (300). Merges are processing significantly slower than inserts"}).Permanent() {
		t.Error("too many parts while merges catch up is transient")
	}
}

func TestSplitByPartition(t *testing.T) {
	base := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	row := func(id string, startMonths, recvMonths int) reportRow {
		return reportRow{EventID: id, RunStartedAt: chTime(base.AddDate(0, -startMonths, 0)), ReceivedAt: chTime(base.AddDate(0, -recvMonths, 0))}
	}
	tests := []struct {
		name string
		rows []reportRow
		max  int
		want [][]string
	}{
		{"one month stays one chunk in order", []reportRow{row("b", 0, 0), row("a", 0, 0)}, 2, [][]string{{"b", "a"}}},
		{"within the limit", []reportRow{row("a", 0, 0), row("b", 1, 0)}, 2, [][]string{{"a", "b"}}},
		{"starts over the limit", []reportRow{row("a", 0, 0), row("b", 1, 0), row("c", 2, 0), row("d", 1, 0)}, 2, [][]string{{"c", "b", "d"}, {"a"}}},
		{"arrivals over the limit", []reportRow{row("a", 0, 0), row("b", 0, 1), row("c", 0, 2)}, 2, [][]string{{"c", "b"}, {"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			for _, c := range splitByPartition(tt.rows, tt.max) {
				var ids []string
				for _, r := range c {
					ids = append(ids, r.EventID)
				}
				got = append(got, ids)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("chunks %v, want %v", got, tt.want)
			}
		})
	}
}

// A clear leaves the activity rollup as if the cleared runs had never been
// reported: before, the last success of a cleared source stayed in the
// exporter's metrics (masking SyncSilent) and in Grafana's variables.
func TestDeleteRunsRebuildsTheActivityRollup(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Millisecond)
	run := func(id, source string, st synclog.Status, start time.Time) synclog.Report {
		done := start.Add(time.Minute)
		return synclog.Report{RunID: id, EventID: id, Source: source, SyncType: "stock", Status: st,
			StartedAt: start, CompletedAt: &done, ReceivedAt: base.Add(2 * time.Hour)}
	}
	reps := []synclog.Report{
		run("edge-ok", "edge", synclog.StatusSuccess, base),
		run("edge-bad", "edge", synclog.StatusFailed, base.Add(time.Hour)),
		run("haier-ok", "haier", synclog.StatusSuccess, base),
	}
	if err := s.InsertReports(ctx, reps); err != nil {
		t.Fatal(err)
	}
	states := func() map[string]ExporterTypeState {
		t.Helper()
		st, err := s.ExporterTypeStates(ctx, base.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]ExporterTypeState{}
		for _, x := range st {
			out[x.Source] = x
		}
		return out
	}
	// A wrongly reported success is cleared: the failure after it stays,
	// and edge has no success any more.
	if _, err := s.DeleteRuns(ctx, runs.Filter{Sources: []string{"edge"}, Statuses: []synclog.Status{synclog.StatusSuccess}, Until: base.Add(24 * time.Hour)}, false); err != nil {
		t.Fatal(err)
	}
	st := states()
	if e := st["edge"]; !e.LastSuccess.IsZero() || !e.LastRun.Equal(base.Add(time.Hour)) || !e.FirstRun.Equal(base.Add(time.Hour)) {
		t.Errorf("edge after clearing its success: first run %v, last run %v, last success %v; want the failed run's start twice and no success",
			e.FirstRun, e.LastRun, e.LastSuccess)
	}
	if h := st["haier"]; !h.LastSuccess.Equal(base.Add(time.Minute)) {
		t.Errorf("haier's last success %v changed by clearing edge, want %v", h.LastSuccess, base.Add(time.Minute))
	}
	// Clearing the rest of edge removes the source.
	if _, err := s.DeleteRuns(ctx, runs.Filter{Sources: []string{"edge"}, Until: base.Add(24 * time.Hour)}, false); err != nil {
		t.Fatal(err)
	}
	if e, ok := states()["edge"]; ok {
		t.Errorf("edge still in the rollup after all its runs were cleared: %+v", e)
	}
	if _, ok := states()["haier"]; !ok {
		t.Error("haier left the rollup")
	}
}
