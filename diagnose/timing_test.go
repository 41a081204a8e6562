package diagnose_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/internal/apptest"
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

// windows records the windows of the window questions asked.
type windows struct {
	diagnose.Store
	mu    sync.Mutex
	asked map[string][]diagnose.Window
}

func (s *windows) ask(what string, w diagnose.Window) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[what] = append(s.asked[what], w)
}

func (s *windows) DurationScores(ctx context.Context, q diagnose.ScoreQuery) ([]diagnose.ScoredRun, error) {
	s.ask("duration scores", q.Window)
	return s.Store.DurationScores(ctx, q)
}

func (s *windows) FailureSeries(ctx context.Context, q diagnose.Window) ([]diagnose.FailureSeries, error) {
	s.ask("failure series", q)
	return s.Store.FailureSeries(ctx, q)
}

func (s *windows) Gaps(ctx context.Context, q diagnose.GapQuery) ([]diagnose.TypeGaps, error) {
	s.ask("gaps", q.Window)
	return s.Store.Gaps(ctx, q)
}

// TestKeepWarm checks that KeepWarm asks each window question once, of
// every type, over the Diagnosis page's window ending now.
func TestKeepWarm(t *testing.T) {
	st := &windows{Store: apptest.NewRealStore(t), asked: map[string][]diagnose.Window{}}
	svc, err := diagnose.New(st, diagnose.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := svc.KeepWarm(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for _, what := range []string{"duration scores", "failure series", "gaps"} {
		ws := st.asked[what]
		if len(ws) != 1 {
			t.Fatalf("%s asked %d times, want once", what, len(ws))
		}
		w := ws[0]
		if len(w.Filter.Sources) > 0 || len(w.Filter.SyncTypes) > 0 || w.Until.Before(before) || w.Until.After(after) ||
			!w.Since.Equal(w.Until.Add(-diagnose.DiagnosisWindow)) {
			t.Errorf("%s asked %+v, want every type over the %s before now", what, w, diagnose.DiagnosisWindow)
		}
	}
}
