package diagnose_test

import (
	"context"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
)

// timedStore logs how long each question to the store takes.
type timedStore struct {
	diagnose.Store
	t testing.TB
}

func (s timedStore) DurationScores(ctx context.Context, q diagnose.ScoreQuery) ([]diagnose.ScoredRun, error) {
	defer s.since("duration scores", time.Now())
	return s.Store.DurationScores(ctx, q)
}

func (s timedStore) FailureSeries(ctx context.Context, q diagnose.Window) ([]diagnose.FailureSeries, error) {
	defer s.since("failure series", time.Now())
	return s.Store.FailureSeries(ctx, q)
}

func (s timedStore) Gaps(ctx context.Context, q diagnose.GapQuery) ([]diagnose.TypeGaps, error) {
	defer s.since("gaps", time.Now())
	return s.Store.Gaps(ctx, q)
}

func (s timedStore) since(what string, t0 time.Time) { s.t.Logf("%s: %s", what, time.Since(t0)) }
