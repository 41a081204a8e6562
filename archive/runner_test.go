package archive_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/syncwatch/syncwatch/archive"
)

// TestRunnerPass runs passes of the automatic archive over a month past the
// retention and a recent one: the old month is archived, verified and
// dropped, the recent one kept; a restored month is kept for
// keep-restored, then dropped again without a new export; a failing
// target drops nothing and says so in the metrics.
func TestRunnerPass(t *testing.T) {
	st := openStore(t, true)
	ctx := context.Background()
	old, recent := mustMonth(t, "2026-06"), mustMonth(t, "2026-11")
	loadMonth(t, st, old, 60)
	loadMonth(t, st, recent, 20)
	before, recentBefore := sums(t, st, old), sums(t, st, recent)
	d, err := archive.NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := archive.New(st, d, testLogger(t))
	newRunner := func(keep time.Duration, a *archive.Archiver) (*archive.Runner, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		r, err := archive.NewRunner(a, archive.RunnerConfig{Retention: 90 * 24 * time.Hour, Interval: time.Hour, KeepRestored: keep}, reg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return r, reg
	}
	metrics := func(reg *prometheus.Registry, want string, names ...string) {
		t.Helper()
		if err := promtest.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
			t.Error(err)
		}
	}

	// A failing target: nothing is dropped, the month is overdue.
	broken, breg := newRunner(time.Nanosecond, archive.New(st, failingTarget{d}, testLogger(t)))
	res := broken.Pass(ctx)
	if res.Err == nil || !reflect.DeepEqual(res.Overdue, []string{"2026-06"}) || len(res.Dropped) != 0 {
		t.Fatalf("failing pass: %+v", res)
	}
	metrics(breg, `
# HELP syncwatch_archive_passes_total Passes of the automatic archive, by outcome (success: every month past the retention archived and dropped; failure: one failed).
# TYPE syncwatch_archive_passes_total counter
syncwatch_archive_passes_total{outcome="failure"} 1
syncwatch_archive_passes_total{outcome="success"} 0
# HELP syncwatch_archive_overdue_months Months past the retention still in the tables after the latest pass because archiving them failed.
# TYPE syncwatch_archive_overdue_months gauge
syncwatch_archive_overdue_months 1
# HELP syncwatch_archive_last_success_timestamp_seconds When a pass of the automatic archive last succeeded; 0 before the first.
# TYPE syncwatch_archive_last_success_timestamp_seconds gauge
syncwatch_archive_last_success_timestamp_seconds 0
# HELP syncwatch_archive_last_pass_success 1 when the latest pass of the automatic archive succeeded (or none has run yet), 0 when it failed.
# TYPE syncwatch_archive_last_pass_success gauge
syncwatch_archive_last_pass_success 0
`, "syncwatch_archive_passes_total", "syncwatch_archive_overdue_months", "syncwatch_archive_last_success_timestamp_seconds",
		"syncwatch_archive_last_pass_success")
	if got := sums(t, st, old); !reflect.DeepEqual(got, before) {
		t.Fatalf("a failing pass changed the month: %+v", got)
	}

	r, reg := newRunner(time.Nanosecond, a)
	res = r.Pass(ctx)
	if res.Err != nil || !reflect.DeepEqual(res.Exported, []string{"2026-06"}) || !reflect.DeepEqual(res.Dropped, []string{"2026-06"}) {
		t.Fatalf("pass: %+v", res)
	}
	if got := sums(t, st, old); got["reports"].Rows != 0 || got["runs"].Rows != 0 {
		t.Fatalf("old month not dropped: %+v", got)
	}
	if got := sums(t, st, recent); !reflect.DeepEqual(got, recentBefore) {
		t.Fatalf("recent month changed: %+v", got)
	}
	metrics(reg, fmt.Sprintf(`
# HELP syncwatch_archive_last_archived_month_timestamp_seconds Start of the newest month whose archive the automatic archive verified; 0 before the first.
# TYPE syncwatch_archive_last_archived_month_timestamp_seconds gauge
syncwatch_archive_last_archived_month_timestamp_seconds %d
# HELP syncwatch_archive_overdue_months Months past the retention still in the tables after the latest pass because archiving them failed.
# TYPE syncwatch_archive_overdue_months gauge
syncwatch_archive_overdue_months 0
# HELP syncwatch_archive_exported_months_total Months the automatic archive exported to Parquet, with their manifest.
# TYPE syncwatch_archive_exported_months_total counter
syncwatch_archive_exported_months_total 1
# HELP syncwatch_archive_dropped_months_total Months the automatic archive dropped from the tables once their archive verified.
# TYPE syncwatch_archive_dropped_months_total counter
syncwatch_archive_dropped_months_total 1
`, old.Start.Unix()), "syncwatch_archive_last_archived_month_timestamp_seconds", "syncwatch_archive_overdue_months",
		"syncwatch_archive_exported_months_total", "syncwatch_archive_dropped_months_total")
	if res := r.Pass(ctx); res.Err != nil || len(res.Exported)+len(res.Dropped) != 0 {
		t.Fatalf("second pass: %+v", res)
	}

	// Restored: kept for keep-restored.
	if _, err := a.Restore(ctx, old); err != nil {
		t.Fatal(err)
	}
	keeping, _ := newRunner(7*24*time.Hour, a)
	if res := keeping.Pass(ctx); res.Err != nil || len(res.Dropped) != 0 || len(res.Overdue) != 0 {
		t.Fatalf("pass over a restored month: %+v", res)
	}
	if got := sums(t, st, old); !reflect.DeepEqual(got, before) {
		t.Fatalf("restored month: %+v", got)
	}
	// Past keep-restored: dropped again, from the archive it has.
	res = r.Pass(ctx)
	if res.Err != nil || len(res.Exported) != 0 || !reflect.DeepEqual(res.Dropped, []string{"2026-06"}) {
		t.Fatalf("pass after keep-restored: %+v", res)
	}
}
