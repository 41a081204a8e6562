package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// diagnosisAnswers asks every diagnose question of the store over the
// window [since, until) and returns the answers as JSON, to compare: the
// window questions of every type (windowAnswers) and the root-cause
// questions of erp/order.
func diagnosisAnswers(t *testing.T, s *Store, since, until time.Time) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := windowAnswers(t, s, since, until, diagnose.Filter{})
	one := diagnose.Window{Filter: diagnose.Filter{Sources: []string{"erp"}, SyncTypes: []string{"order"}}, Since: since, Until: until,
		BaselineFrom: since.AddDate(0, 0, -answersBaselineDays)}
	attrs, totals, err := s.AttributeCounts(ctx, diagnose.CauseQuery{Window: one, SeenFrom: one.BaselineFrom, Limit: 20})
	keepAnswer(t, out, "attribute counts", []any{attrs, totals}, err)
	fps, err := s.Fingerprints(ctx, diagnose.CauseQuery{Window: one, SeenFrom: one.BaselineFrom, Limit: 20})
	keepAnswer(t, out, "fingerprints", fps, err)
	return out
}

// answersBaselineDays and answersSeasonalWeeks are the baselines of
// diagnosisAnswers' questions.
const answersBaselineDays, answersSeasonalWeeks = 10, 2

// windowAnswers asks the window questions (duration scores, failure
// series, gaps) of the filter's types and returns the answers as JSON.
func windowAnswers(t *testing.T, s *Store, since, until time.Time, f diagnose.Filter) map[string]string {
	t.Helper()
	ctx := context.Background()
	cfg := diagnose.DefaultConfig()
	cfg.BaselineDays, cfg.SeasonalWeeks = answersBaselineDays, answersSeasonalWeeks
	w := diagnose.Window{Filter: f, Since: since, Until: until, BaselineFrom: since.AddDate(0, 0, -cfg.BaselineDays)}
	out := map[string]string{}
	scored, err := s.DurationScores(ctx, diagnose.ScoreQuery{Window: w, SeasonalFrom: since.AddDate(0, 0, -7*cfg.SeasonalWeeks), Config: cfg, Latest: 3, Limit: 1000})
	keepAnswer(t, out, "duration scores", scored, err)
	series, err := s.FailureSeries(ctx, w)
	keepAnswer(t, out, "failure series", series, err)
	gaps, err := s.Gaps(ctx, diagnose.GapQuery{Window: w, LateGrace: cfg.LateGrace, TooOftenRatio: cfg.TooOftenRatio, MinStarts: 8, Limit: 1000})
	keepAnswer(t, out, "gaps", gaps, err)
	return out
}

// keepAnswer puts the answer v under name in out as JSON; a question that
// failed fails the test.
func keepAnswer(t *testing.T, out map[string]string, name string, v any, err error) {
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

// TestGaps checks the cadence question on a store, from the runs and from
// the summaries, and again with the window's days kept: a late start, one
// too soon and one overlapping its predecessor of a type with an hourly
// baseline, a late start of a type with no baseline, judged by its
// configured interval, and, across the window's midnight, a late start and
// an overlap (the store judges those gaps itself, joining the days). The
// baseline's last run is still running and the one before it ended after
// the window's first start: the previous run has no end, so that start
// overlaps nothing (the baseline's last end once skipped the running
// run's missing end and took the run before it's).
func TestGaps(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	today := utcDay(time.Now())
	since, until := today.AddDate(0, 0, -3), today.AddDate(0, 0, -1)
	var reps []synclog.Report
	run := func(source, syncType string, start time.Time, took time.Duration) {
		id := fmt.Sprintf("gap-%s-%s-%d", source, syncType, start.UnixMilli())
		c := start.Add(took)
		r := synclog.Report{RunID: id, EventID: id + "-1", Source: source, SyncType: syncType, Status: synclog.StatusSuccess,
			StartedAt: start, CompletedAt: &c, TotalCount: 5, SuccessCount: 5}
		if took < 0 { // still running
			r.Status, r.CompletedAt, r.SuccessCount = synclog.StatusProcessing, nil, 0
		}
		r.Normalize(start.Add(time.Second))
		r.RunStartedAt = start
		reps = append(reps, r)
	}
	late := since.Add(10 * time.Hour) // 3 h after the start before it
	soon := since.Add(20*time.Hour + 10*time.Minute)
	overlap := since.Add(30*time.Hour + 30*time.Second)
	midnight := since.AddDate(0, 0, 1) // 3 h after the start before it
	for at := today.AddDate(0, 0, -20); at.Before(until); at = at.Add(time.Hour) {
		if at.After(late.Add(-3*time.Hour)) && at.Before(late) || at.After(midnight.Add(-3*time.Hour)) && at.Before(midnight) {
			continue
		}
		took := time.Minute
		switch at {
		case since.Add(-2 * time.Hour):
			took = 150 * time.Minute // ends half an hour into the window
		case since.Add(-time.Hour):
			took = -1 // still running
		}
		run("erp", "stock", at, took)
	}
	run("erp", "stock", late, time.Minute)
	run("erp", "stock", soon, time.Minute)
	run("erp", "stock", overlap, time.Minute)
	orderLate := since.Add(12 * time.Hour)
	for at := since; at.Before(until); at = at.Add(time.Hour) {
		if at.After(orderLate.Add(-4*time.Hour)) && at.Before(orderLate) {
			continue
		}
		took := time.Minute
		if at.Equal(midnight.Add(-time.Hour)) {
			took = 90 * time.Minute // the next day's first start overlaps it
		}
		run("shopify", "order", at, took)
	}
	for len(reps) > 0 {
		n := min(500, len(reps))
		if err := s.InsertReports(ctx, reps[:n]); err != nil {
			t.Fatal(err)
		}
		reps = reps[n:]
	}
	q := diagnose.GapQuery{Window: diagnose.Window{Since: since, Until: until, BaselineFrom: since.AddDate(0, 0, -10)},
		Intervals: map[string]time.Duration{"order": time.Hour}, LateGrace: 0.5, TooOftenRatio: 0.25, MinStarts: 8, Limit: 100}
	want := map[string][]diagnose.Gap{
		"erp/stock": {
			{Started: late, Previous: late.Add(-3 * time.Hour), Seconds: 3 * 3600, Kind: diagnose.KindLate},
			{Started: soon, Previous: soon.Add(-10 * time.Minute), Seconds: 600, Kind: diagnose.KindTooOften},
			{Started: midnight, Previous: midnight.Add(-3 * time.Hour), Seconds: 3 * 3600, Kind: diagnose.KindLate},
			{Started: overlap, Previous: overlap.Add(-30 * time.Second), Seconds: 30, Kind: diagnose.KindOverlap},
		},
		"shopify/order": {
			{Started: orderLate, Previous: orderLate.Add(-4 * time.Hour), Seconds: 4 * 3600, Kind: diagnose.KindLate},
			{Started: midnight, Previous: midnight.Add(-time.Hour), Seconds: 3600, Kind: diagnose.KindOverlap},
		},
	}
	check := func(what string) {
		t.Helper()
		got, err := s.Gaps(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%s: %d types %+v, want 2", what, len(got), got)
		}
		for _, tg := range got {
			key := tg.Source + "/" + tg.SyncType
			if tg.Interval != 3600 {
				t.Errorf("%s: %s judged by an interval of %gs, want 3600", what, key, tg.Interval)
			}
			if len(tg.Gaps) != len(want[key]) {
				t.Errorf("%s: %s gaps %+v, want %+v", what, key, tg.Gaps, want[key])
				continue
			}
			for i, g := range tg.Gaps {
				w := want[key][i]
				if !g.Started.Equal(w.Started) || !g.Previous.Equal(w.Previous) || g.Seconds != w.Seconds || g.Kind != w.Kind {
					t.Errorf("%s: %s gap %d: %+v, want %+v", what, key, i, g, w)
				}
			}
		}
	}
	check("from the runs")
	time.Sleep(baselineMargin + 500*time.Millisecond)
	if _, err := s.BuildBaselines(ctx, today.AddDate(0, 0, -30), today); err != nil {
		t.Fatal(err)
	}
	check("from the summaries")
	check("with the window's days kept")
	if s.window.days.Len() == 0 {
		t.Fatal("no day of the window was kept")
	}
	// A window that starts within its first day, after the late start of
	// erp/stock: the day is read (and kept) whole, its gaps before the
	// window left out.
	q.Since = late.Add(30 * time.Minute)
	want["erp/stock"] = want["erp/stock"][1:]
	check("from within the first day")
	check("from within the first day, kept")
}
