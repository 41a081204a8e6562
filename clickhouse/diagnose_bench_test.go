package clickhouse

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
)

// BenchmarkDiagnoseQueries times each of the diagnose store's queries on
// the large dataset (SYNCWATCH_BENCH_ROWS), to see where a diagnosis
// spends its time.
func BenchmarkDiagnoseQueries(b *testing.B) {
	env := os.Getenv("SYNCWATCH_BENCH_ROWS")
	if env == "" {
		b.Skip("set SYNCWATCH_BENCH_ROWS (e.g. 10000000) to run the large dataset benchmark")
	}
	rows, err := strconv.ParseUint(env, 10, 64)
	if err != nil || rows == 0 {
		b.Fatalf("SYNCWATCH_BENCH_ROWS=%q: want a positive number", env)
	}
	d := openLargeDataset(b, rows)
	s, end := d.s, d.end
	buildBenchBaselines(b, s, end)
	ctx := context.Background()
	cfg := diagnose.DefaultConfig()
	since := end.Add(-7 * 24 * time.Hour)
	w := diagnose.Window{Since: since, Until: end, BaselineFrom: since.AddDate(0, 0, -cfg.BaselineDays)}
	for _, q := range []struct {
		name string
		run  func() error
	}{
		{"duration-scores-7d", func() error {
			_, err := s.DurationScores(ctx, diagnose.ScoreQuery{Window: w, SeasonalFrom: since.AddDate(0, 0, -7*cfg.SeasonalWeeks), Config: cfg, Latest: 3, Limit: 1000})
			return err
		}},
		{"failure-series-7d", func() error { _, err := s.FailureSeries(ctx, w); return err }},
		{"gaps-7d", func() error {
			_, err := s.Gaps(ctx, diagnose.GapQuery{Window: w, LateGrace: cfg.LateGrace, TooOftenRatio: cfg.TooOftenRatio, MinStarts: 8, Limit: 1000})
			return err
		}},
		{"attribute-counts-24h", func() error {
			rs := end.Add(-24 * time.Hour)
			_, _, err := s.AttributeCounts(ctx, diagnose.CauseQuery{Window: diagnose.Window{Filter: diagnose.Filter{Sources: []string{"erp"}, SyncTypes: []string{"order"}},
				Since: rs, Until: end, BaselineFrom: rs.AddDate(0, 0, -cfg.BaselineDays)}, SeenFrom: rs.AddDate(0, 0, -cfg.BaselineDays), Limit: 20})
			return err
		}},
		{"fingerprints-24h", func() error {
			rs := end.Add(-24 * time.Hour)
			_, err := s.Fingerprints(ctx, diagnose.CauseQuery{Window: diagnose.Window{Filter: diagnose.Filter{Sources: []string{"erp"}, SyncTypes: []string{"order"}},
				Since: rs, Until: end, BaselineFrom: rs.AddDate(0, 0, -cfg.BaselineDays)}, SeenFrom: rs.AddDate(0, 0, -cfg.BaselineDays), Limit: 20})
			return err
		}},
		{"daily-series-28d", func() error {
			_, err := s.DailySeries(ctx, diagnose.Window{Since: end.AddDate(0, 0, -28), Until: end})
			return err
		}},
	} {
		b.Run(q.name, func(b *testing.B) { measureLatency(b, func(int) error { return q.run() }) })
	}
}
