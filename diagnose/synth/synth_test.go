package synth

import (
	"testing"
	"time"
)

// TestEvaluationSpec checks that every planted event affects runs, that
// the history is deterministic and ends before its end.
func TestEvaluationSpec(t *testing.T) {
	end := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	h := Generate(EvaluationSpec(end))
	h2 := Generate(EvaluationSpec(end))
	if len(h.Reports) != len(h2.Reports) || h.Reports[len(h.Reports)/2].RunID != h2.Reports[len(h2.Reports)/2].RunID ||
		*h.Reports[100].CompletedAt != *h2.Reports[100].CompletedAt {
		t.Fatal("two generations of one spec differ")
	}
	counts := map[EventKind]int{}
	for _, e := range h.Events {
		counts[e.Kind]++
		if len(e.Runs) == 0 {
			t.Errorf("%s of %s/%s at %s affects no run", e.Kind, e.Source, e.Type, e.Start)
		}
		if e.Start.Before(end.Add(-EvalWindow)) {
			t.Errorf("%s of %s/%s at %s is before the window", e.Kind, e.Source, e.Type, e.Start)
		}
	}
	for _, k := range []EventKind{Step50, Step100, Drift, Burst, Small, Fast, Gap, NewVersion, Outage} {
		if counts[k] == 0 {
			t.Errorf("no %s planted", k)
		}
	}
	t.Logf("%d reports, events %v", len(h.Reports), counts)
	for _, r := range h.Reports {
		if !r.CompletedAt.Before(end.Add(time.Hour)) || r.StartedAt.Before(end.AddDate(0, 0, -7*EvalWeeks)) {
			t.Fatalf("run %s from %s to %s is outside the history", r.RunID, r.StartedAt, r.CompletedAt)
		}
	}
}
