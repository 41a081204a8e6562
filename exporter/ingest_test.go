package exporter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/synclog"
)

func TestIngestInstruments(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	in, err := exporter.NewIngest(reg, testTypes, exporter.NewSourceLimiter(0))
	if err != nil {
		t.Fatal(err)
	}
	start := mins(-10)
	done := func(secs float64) *time.Time {
		c := start.Add(time.Duration(secs * float64(time.Second)))
		return &c
	}
	// A pair known from ClickHouse at start, exported at 0 by a scrape:
	// its reports count at once.
	in.Initialize("haier", "stock")
	testutil.CollectAndCount(in)
	in.Observe([]synclog.Report{
		// Not terminal: not counted.
		{RunID: "a", Source: "haier", SyncType: "stock", Status: synclog.StatusProcessing, StartedAt: start, RunStartedAt: start},
		// Terminal without started_at: the duration runs from the run's start.
		{RunID: "a", Source: "haier", SyncType: "stock", Status: synclog.StatusSuccess, StartedAt: *done(0.3), RunStartedAt: start,
			CompletedAt: done(0.3), TotalCount: 10, SuccessCount: 10},
		{RunID: "b", Source: "haier", SyncType: "stock", Status: synclog.StatusPartial, StartedAt: start,
			CompletedAt: done(7200), TotalCount: 10, SuccessCount: 6, FailedCount: 4},
		{RunID: "c", Source: "haier", SyncType: "stock", Status: synclog.StatusFailed, StartedAt: start, RunStartedAt: start,
			CompletedAt: done(4), TotalCount: 5, FailedCount: 5},
		// A sync type outside the configured set: ignored.
		{RunID: "d", Source: "haier", SyncType: "prices", Status: synclog.StatusFailed, StartedAt: start, CompletedAt: done(1)},
	})
	want := `
# HELP syncwatch_runs_total Terminal run reports accepted by this collector, by source, sync type and status (success, failed, partial); each report counted once whatever the number of deliveries.
# TYPE syncwatch_runs_total counter
syncwatch_runs_total{source="haier",status="failed",sync_type="stock"} 1
syncwatch_runs_total{source="haier",status="partial",sync_type="stock"} 1
syncwatch_runs_total{source="haier",status="success",sync_type="stock"} 1
# HELP syncwatch_records_total Records processed by terminal runs, by source, sync type and outcome: success (success_count) or failed (failed_count).
# TYPE syncwatch_records_total counter
syncwatch_records_total{outcome="failed",source="haier",sync_type="stock"} 9
syncwatch_records_total{outcome="success",source="haier",sync_type="stock"} 16
# HELP syncwatch_run_duration_seconds Duration of terminal runs (completed_at minus the run's start), by source and sync type.
# TYPE syncwatch_run_duration_seconds histogram
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="0.1"} 0
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="0.5"} 1
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="1"} 1
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="2.5"} 1
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="5"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="10"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="30"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="60"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="120"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="300"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="600"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="1200"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="1800"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="3600"} 2
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="7200"} 3
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="14400"} 3
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="21600"} 3
syncwatch_run_duration_seconds_bucket{source="haier",sync_type="stock",le="+Inf"} 3
syncwatch_run_duration_seconds_sum{source="haier",sync_type="stock"} 7204.3
syncwatch_run_duration_seconds_count{source="haier",sync_type="stock"} 3
# HELP syncwatch_sources_folded_total Terminal reports whose source was beyond the source cap (--max-sources) and was counted under source="other".
# TYPE syncwatch_sources_folded_total counter
syncwatch_sources_folded_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestIngestNeedsSyncTypes(t *testing.T) {
	if _, err := exporter.NewIngest(prometheus.NewRegistry(), nil, nil); err == nil {
		t.Error("NewIngest without sync types succeeded")
	}
}

func TestParseDurations(t *testing.T) {
	types := synclog.DefaultSyncTypes
	got, err := exporter.ParseDurations([]string{"products=4h", " manual = 0 ", "order=2d"}, types)
	if err != nil {
		t.Fatal(err)
	}
	if got["products"] != 4*time.Hour || got["manual"] != 0 || got["order"] != 48*time.Hour || len(got) != 3 {
		t.Errorf("parsed %v", got)
	}
	merged := exporter.MergeDurations(exporter.DefaultExpectedIntervals(), got, []string{"products", "stock", "custom"})
	if len(merged) != 2 || merged["products"] != 4*time.Hour || merged["stock"] != 15*time.Minute {
		t.Errorf("merged %v", merged)
	}
	for _, bad := range [][]string{{"products"}, {"products="}, {"=1h"}, {"bogus=1h"}, {"products=soon"}, {"products=-1h"}} {
		if _, err := exporter.ParseDurations(bad, types); err == nil {
			t.Errorf("ParseDurations(%q) succeeded", bad)
		}
	}
}

func TestSourceLimiter(t *testing.T) {
	l := exporter.NewSourceLimiter(2)
	for _, c := range []struct {
		source, label string
		folded        bool
	}{
		{"a", "a", false}, {"other", "other", false}, {"b", "b", false}, {"c", "other", true}, {"a", "a", false}, {"c", "other", true},
	} {
		if label, folded := l.Label(c.source); label != c.label || folded != c.folded {
			t.Errorf("Label(%q) = %q, %v; want %q, %v", c.source, label, folded, c.label, c.folded)
		}
	}
	if !l.Full() || len(l.Kept()) != 2 || l.Max() != 2 {
		t.Errorf("full %v, kept %v", l.Full(), l.Kept())
	}
	if exporter.NewSourceLimiter(0).Max() != exporter.DefaultMaxSources {
		t.Error("default max sources")
	}
}
