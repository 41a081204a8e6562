package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

func TestWindowDays(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name         string
		since, until string
		want         []string // from, to; "*" marks a whole day
	}{
		{"within a day", "2026-11-02T03:00:00Z", "2026-11-02T05:00:00Z", []string{"2026-11-02T03:00:00Z 2026-11-02T05:00:00Z"}},
		{"partial ends", "2026-11-01T07:00:00Z", "2026-11-03T05:00:00Z", []string{
			"2026-11-01T07:00:00Z 2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z 2026-11-03T00:00:00Z *", "2026-11-03T00:00:00Z 2026-11-03T05:00:00Z"}},
		{"whole days", "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", []string{
			"2026-11-01T00:00:00Z 2026-11-02T00:00:00Z *", "2026-11-02T00:00:00Z 2026-11-03T00:00:00Z *"}},
		{"a whole day to a minute", "2026-11-01T00:00:00Z", "2026-11-01T23:59:00Z", []string{"2026-11-01T00:00:00Z 2026-11-01T23:59:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			days := windowDays(at(tc.since), at(tc.until))
			var got []string
			for _, d := range days {
				s := d.from.Format(time.RFC3339) + " " + d.to.Format(time.RFC3339)
				if d.whole() {
					s += " *"
				}
				if !d.day.Equal(utcDay(d.from)) {
					t.Errorf("day %s of %s", d.day, d.from)
				}
				got = append(got, s)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("days %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("day %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestWindowDaysAreKept checks the window questions answered a day at a
// time and the days kept: asked twice, the answers are those of a store
// that keeps nothing; the joined days number the runs and flag the
// failures as one pass over the window does; a change to a kept day that
// leaves no mark is not seen (so the kept day is what answers), and one
// that does — a late report, a delete — is.
func TestWindowDaysAreKept(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	today := utcDay(time.Now())
	base := today.AddDate(0, 0, -24)
	generate(17, 4000, base, 24*24*time.Hour, "wd", true).load(t, s)
	since, until := today.AddDate(0, 0, -5).Add(7*time.Hour), today.AddDate(0, 0, -1).Add(5*time.Hour)
	settle := func() { time.Sleep(baselineMargin + 500*time.Millisecond) }
	settle()
	if _, err := s.BuildBaselines(ctx, base.AddDate(0, 0, -2), today); err != nil {
		t.Fatal(err)
	}
	plain := *s
	plain.window = nil

	want := diagnosisAnswers(t, &plain, since, until)
	cold := diagnosisAnswers(t, s, since, until)
	// The first 4 days of 3 questions (the first computed whole), and
	// the baselines of the 3.
	if n := s.window.days.Len(); n != 15 {
		t.Fatalf("%d answers kept, want 15", n)
	}
	sameAnswers(t, "computed", cold, want)
	warm := diagnosisAnswers(t, s, since, until)
	sameAnswers(t, "from the kept days", warm, want)
	onePass(t, s, since, until)

	oneType := diagnose.Filter{Sources: []string{"erp"}, SyncTypes: []string{"order"}}
	wantOne := windowAnswers(t, &plain, since, until, oneType)

	// A run written to a kept day's runs without a report leaves no mark.
	day := today.AddDate(0, 0, -3)
	if err := s.eng.exec(ctx, `INSERT INTO runs (started_at, run_id, version, event_id, source, sync_type, status, message,
  reported_started_at, completed_at, duration_ms, received_at)
VALUES ({at:DateTime64(3, 'UTC')}, 'wd-unmarked', 1, 'wd-unmarked-1', 'erp', 'order', 'failed', 'gateway timeout',
  {at:DateTime64(3, 'UTC')}, {at:DateTime64(3, 'UTC')} + INTERVAL 40 SECOND, 40000, {at:DateTime64(3, 'UTC')})`,
		Params{"at": day.Add(12 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	changed := diagnosisAnswers(t, &plain, since, until)
	if changed["failure series"] == want["failure series"] {
		t.Fatal("the failed run did not change the failure series")
	}
	stale := diagnosisAnswers(t, s, since, until)
	for _, q := range []string{"duration scores", "failure series", "gaps"} {
		if stale[q] != warm[q] {
			t.Errorf("a kept day without a mark: %s changed: the day was not kept", q)
		}
	}
	// A question of one type, asked for the first time, answers from the
	// days kept for every type.
	if windowAnswers(t, &plain, since, until, oneType)["failure series"] == wantOne["failure series"] {
		t.Fatal("the failed run did not change erp/order's failure series")
	}
	sameAnswers(t, "one type from the days kept for every type", windowAnswers(t, s, since, until, oneType), wantOne)

	// A report of the run marks its day.
	c := day.Add(12*time.Hour + 50*time.Second)
	rep := synclog.Report{RunID: "wd-unmarked", EventID: "wd-unmarked-2", Source: "erp", SyncType: "order", Status: synclog.StatusFailed,
		Message: "gateway timeout", StartedAt: day.Add(12 * time.Hour), CompletedAt: &c, TotalCount: 10, FailedCount: 10}
	rep.Normalize(time.Now())
	rep.RunStartedAt = rep.StartedAt
	if err := s.InsertReports(ctx, []synclog.Report{rep}); err != nil {
		t.Fatal(err)
	}
	reported := diagnosisAnswers(t, &plain, since, until)
	sameAnswers(t, "after a report of a kept day", diagnosisAnswers(t, s, since, until), reported)
	onePass(t, s, since, until)
	settle()
	sameAnswers(t, "kept again", diagnosisAnswers(t, s, since, until), reported)

	// So does deleting it.
	if _, err := s.DeleteRuns(ctx, runs.Filter{Sources: []string{"erp"}, Since: day, Until: day.AddDate(0, 0, 1), Query: "gateway timeout"}, false); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, "after a delete from a kept day", diagnosisAnswers(t, s, since, until), want)
	sameAnswers(t, "one type after a delete", windowAnswers(t, s, since, until, oneType), wantOne)
}

// onePass checks the joined days against one pass over the window: each
// scored run's place and total, the latest runs of each type, and each
// type's failure flags.
func onePass(t *testing.T, s *Store, since, until time.Time) {
	t.Helper()
	ctx := context.Background()
	cfg := diagnose.DefaultConfig()
	cfg.BaselineDays, cfg.SeasonalWeeks = answersBaselineDays, answersSeasonalWeeks
	w := diagnose.Window{Since: since, Until: until, BaselineFrom: since.AddDate(0, 0, -cfg.BaselineDays)}
	const latest = 3
	scored, err := s.DurationScores(ctx, diagnose.ScoreQuery{Window: w, SeasonalFrom: since.AddDate(0, 0, -7*cfg.SeasonalWeeks), Config: cfg, Latest: latest, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.eng.selectRows(ctx, `SELECT run_id, source, sync_type,
  row_number() OVER (PARTITION BY source, sync_type ORDER BY started_at, run_id) AS idx, count() OVER (PARTITION BY source, sync_type) AS total
FROM runs FINAL
WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND `+terminalCond+` AND duration_ms IS NOT NULL`,
		Params{"since": since, "until": until})
	if err != nil {
		t.Fatal(err)
	}
	places, err := decodeRows[struct {
		RunID    string `json:"run_id"`
		Source   string `json:"source"`
		SyncType string `json:"sync_type"`
		Idx      uint64 `json:"idx"`
		Total    uint64 `json:"total"`
	}](out)
	if err != nil {
		t.Fatal(err)
	}
	type place struct{ idx, total uint64 }
	byRun := map[string]place{}
	for _, p := range places {
		byRun[p.RunID] = place{p.Idx, p.Total}
	}
	got := map[string]bool{}
	for _, r := range scored {
		got[r.RunID] = true
		if want := byRun[r.RunID]; r.Index != want.idx || r.Total != want.total {
			t.Errorf("run %s: place %d of %d, want %d of %d", r.RunID, r.Index, r.Total, want.idx, want.total)
		}
	}
	for _, p := range places {
		if p.Idx+latest > p.Total && !got[p.RunID] {
			t.Errorf("%s/%s: latest run %s (%d of %d) missing", p.Source, p.SyncType, p.RunID, p.Idx, p.Total)
		}
	}

	series, err := s.FailureSeries(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	out, err = s.eng.selectRows(ctx, `SELECT source, sync_type,
  arrayStringConcat(arrayMap(x -> if(x.3 = 'failed', '1', '0'), arraySort(x -> (x.1, x.2), groupArray((started_at, run_id, toString(status)))))) AS flags
FROM runs FINAL
WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')} AND `+terminalCond+`
GROUP BY source, sync_type`, Params{"since": since, "until": until})
	if err != nil {
		t.Fatal(err)
	}
	flags, err := decodeRows[struct {
		Source   string `json:"source"`
		SyncType string `json:"sync_type"`
		Flags    string `json:"flags"`
	}](out)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags := map[string]string{}
	for _, f := range flags {
		wantFlags[f.Source+"/"+f.SyncType] = f.Flags
	}
	if len(wantFlags) == 0 {
		t.Fatal("no runs in the window")
	}
	for _, fs := range series {
		k := fs.Source + "/" + fs.SyncType
		if fs.Flags != wantFlags[k] {
			t.Errorf("%s: flags %s, want %s", k, fs.Flags, wantFlags[k])
		}
		for _, f := range fs.Failures {
			if f.Index < 1 || f.Index > len(fs.Flags) || fs.Flags[f.Index-1] != '1' {
				t.Errorf("%s: failure %s at place %d of %s", k, f.RunID, f.Index, fs.Flags)
			}
		}
		delete(wantFlags, k)
	}
	for k, f := range wantFlags {
		if f != "" {
			t.Errorf("%s: no series, want flags %s", k, f)
		}
	}
}
