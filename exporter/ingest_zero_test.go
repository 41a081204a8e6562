package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/syncwatch/syncwatch/synclog"
)

// Prometheus sees no increase in a series whose first sample holds the
// first count. A pair known at start is published at 0, and the reports of
// a new pair count only after a scrape has exported its series at 0:
// before, the first failure of a new pair appeared at 1 and increase()
// missed it.
func TestIngestSeriesStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	in, err := NewIngest(reg, []string{"stock", "prices"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Initialize("haier", "stock")
	in.Initialize("haier", "unknown-type") // not configured: ignored
	now := time.Now()
	failed := func(source string) synclog.Report {
		return synclog.Report{Source: source, SyncType: "stock", Status: synclog.StatusFailed, StartedAt: now, CompletedAt: &now, TotalCount: 3, FailedCount: 3}
	}
	runs := func(source string) string {
		return `syncwatch_runs_total{source="` + source + `",status="failed",sync_type="stock"}`
	}
	scrape := func() map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "syncwatch_runs_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var l []string
				for _, p := range m.GetLabel() {
					l = append(l, p.GetName()+`="`+p.GetValue()+`"`)
				}
				out["syncwatch_runs_total{"+strings.Join(l, ",")+"}"] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	tests := []struct {
		name   string
		before func()
		want   map[string]float64
	}{
		{"known pair at 0 before any report", func() {}, map[string]float64{runs("haier"): 0}},
		{"a new pair shows 0 in its first scrape, a known one its count", func() { in.Observe([]synclog.Report{failed("haier"), failed("edge")}) },
			map[string]float64{runs("haier"): 1, runs("edge"): 0}},
		{"then the new pair's count", func() {}, map[string]float64{runs("haier"): 1, runs("edge"): 1}},
		{"exported pairs count at once", func() { in.Observe([]synclog.Report{failed("edge")}) }, map[string]float64{runs("edge"): 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.before()
			got := scrape()
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
	if n := promtest.CollectAndCount(in, "syncwatch_run_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want haier and edge", n)
	}
}

// Without scrapes, a new pair's reports do not pile up: past maxPending
// they count at once.
func TestIngestPendingIsBounded(t *testing.T) {
	in, err := NewIngest(prometheus.NewRegistry(), []string{"stock"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range maxPending + 5 {
		in.Observe([]synclog.Report{{Source: "s", SyncType: "stock", Status: synclog.StatusSuccess, StartedAt: now, CompletedAt: &now}})
	}
	if v := promtest.ToFloat64(in.runs.WithLabelValues("s", "stock", "success")); v != maxPending+5 {
		t.Errorf("counted %v reports without a scrape, want %d", v, maxPending+5)
	}
}
