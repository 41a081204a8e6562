package clickhouse

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// diagnosisAnswers asks every diagnose question of the store over the
// window [since, until) and returns the answers as JSON, to compare.
func diagnosisAnswers(t *testing.T, s *Store, since, until time.Time) map[string]string {
	t.Helper()
	ctx := context.Background()
	cfg := diagnose.DefaultConfig()
	cfg.BaselineDays = 10
	cfg.SeasonalWeeks = 2
	w := diagnose.Window{Since: since, Until: until, BaselineFrom: since.AddDate(0, 0, -cfg.BaselineDays)}
	one := diagnose.Window{Filter: diagnose.Filter{Sources: []string{"erp"}, SyncTypes: []string{"order"}}, Since: since, Until: until, BaselineFrom: w.BaselineFrom}
	out := map[string]string{}
	keep := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	scored, err := s.DurationScores(ctx, diagnose.ScoreQuery{Window: w, SeasonalFrom: since.AddDate(0, 0, -7*cfg.SeasonalWeeks), Config: cfg, Latest: 3, Limit: 1000})
	keep("duration scores", scored, err)
	series, err := s.FailureSeries(ctx, w)
	keep("failure series", series, err)
	gaps, err := s.Gaps(ctx, diagnose.GapQuery{Window: w, LateGrace: cfg.LateGrace, TooOftenRatio: cfg.TooOftenRatio, MinStarts: 8, Limit: 1000})
	keep("gaps", gaps, err)
	attrs, totals, err := s.AttributeCounts(ctx, diagnose.CauseQuery{Window: one, SeenFrom: one.BaselineFrom, Limit: 20})
	keep("attribute counts", []any{attrs, totals}, err)
	fps, err := s.Fingerprints(ctx, diagnose.CauseQuery{Window: one, SeenFrom: one.BaselineFrom, Limit: 20})
	keep("fingerprints", fps, err)
	return out
}

func sameAnswers(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s differ:\n got %.600s\nwant %.600s", what, name, got[name], w)
		}
	}
}

// TestBaselinesAreACache checks that the daily summaries change no answer:
// every question answers the same from the runs alone, from the
// summaries, and, after a late report or a delete touches a summarised
// day, from the runs of that day until it is summarised again.
func TestBaselinesAreACache(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	today := utcDay(time.Now())
	base := today.AddDate(0, 0, -24)
	ds := generate(16, 4000, base, 23*24*time.Hour, "bl", false)
	ds.load(t, s)
	since, until := today.AddDate(0, 0, -5).Add(7*time.Hour), today.AddDate(0, 0, -1)

	fromRuns := diagnosisAnswers(t, s, since, until)
	// A summary records itself as from a little before it read the runs:
	// one made within that margin of the inserts would be stale at once.
	settle := func() { time.Sleep(baselineMargin + 500*time.Millisecond) }
	settle()
	if fromRuns["failure series"] == "null" || fromRuns["duration scores"] == "null" {
		t.Fatalf("the dataset gives empty answers: %v", fromRuns)
	}
	n, err := s.BuildBaselines(ctx, base.AddDate(0, 0, -2), today)
	if err != nil {
		t.Fatal(err)
	}
	if n != 26 {
		t.Fatalf("summarised %d days, want the 26 before today", n)
	}
	pl, err := s.planBaselines(ctx, base, utcDay(since))
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.raw) != 0 || len(pl.days) != 19 {
		t.Fatalf("after building: %d days summarised, %d ranges from the runs; want 19 and 0", len(pl.days), len(pl.raw))
	}
	sameAnswers(t, "summarised", diagnosisAnswers(t, s, since, until), fromRuns)
	if again, err := s.BuildBaselines(ctx, base, today); err != nil || again != 0 {
		t.Fatalf("a second build summarised %d days (%v), want none", again, err)
	}

	// A late failure of a run that started on a summarised day, with an
	// error never seen before.
	late := base.AddDate(0, 0, 12).Add(3 * time.Hour)
	c := late.Add(40 * time.Second)
	rep := synclog.Report{RunID: "bl-late-run", EventID: "bl-late-run-1", Source: "erp", SyncType: "order", Status: synclog.StatusFailed,
		Message: "connection reset by supplier gateway", StartedAt: late, CompletedAt: &c, TotalCount: 10, FailedCount: 10}
	rep.Normalize(time.Now())
	rep.RunStartedAt = late
	if err := s.InsertReports(ctx, []synclog.Report{rep}); err != nil {
		t.Fatal(err)
	}
	pl, err = s.planBaselines(ctx, base, utcDay(since))
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.raw) != 1 || !pl.raw[0][0].Equal(utcDay(late)) || !pl.raw[0][1].Equal(utcDay(late).AddDate(0, 0, 1)) {
		t.Fatalf("after a late report: days from the runs %v, want only %s", pl.raw, utcDay(late).Format(time.DateOnly))
	}
	withLate := diagnosisAnswers(t, s, since, until)
	settle()
	if withLate["failure series"] == fromRuns["failure series"] {
		t.Fatal("the late failure did not reach the failure series' baseline")
	}
	if n, err := s.BuildBaselines(ctx, base, today); err != nil || n != 1 {
		t.Fatalf("rebuilt %d days (%v), want the late report's one", n, err)
	}
	sameAnswers(t, "summarised again after a late report", diagnosisAnswers(t, s, since, until), withLate)

	// Deleting the run inserts no report; the store marks its day itself.
	if _, err := s.DeleteRuns(ctx, runs.Filter{Sources: []string{"erp"}, Since: base, Until: today, Query: "connection reset by supplier gateway"}, false); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, "after deleting the late run", diagnosisAnswers(t, s, since, until), fromRuns)
	settle()
	if n, err := s.BuildBaselines(ctx, base, today); err != nil || n != 1 {
		t.Fatalf("rebuilt %d days after the delete (%v), want one", n, err)
	}
	sameAnswers(t, "summarised again after the delete", diagnosisAnswers(t, s, since, until), fromRuns)
}
