package diagnose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/diagnose/synth"
	"github.com/syncwatch/syncwatch/internal/apptest"
)

var update = flag.Bool("update", false, "rewrite the evaluation table in docs/diagnostics.md")

func TestMain(m *testing.M) { apptest.Main(m, nil) }

// evalEnd is the end of the evaluation histories: the start of the
// current week (Unix weeks), so that every run falls on the same hour of
// the week whatever day the test runs, and the scores are the same.
func evalEnd() time.Time {
	return time.Now().UTC().Truncate(7 * 24 * time.Hour)
}

// ingest posts the history to the ingest API of a service on st, as
// NDJSON in large requests, and waits until the batcher has stored it.
func ingest(t *testing.T, st *clickhouse.Store, h synth.History) {
	t.Helper()
	env := apptest.New(t, apptest.Options{Storage: st, RunBatcher: true, SpoolBytes: 512 << 20, LogLevel: logrus.ErrorLevel,
		Ingest:  collector.Config{MaxItems: 20000, MaxBodyBytes: 64 << 20},
		Batcher: collector.BatcherConfig{Size: 20000, MaxSize: 40000, MaxAge: 50 * time.Millisecond}})
	const chunk = 20000
	for i := 0; i < len(h.Reports); i += chunk {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, r := range h.Reports[i:min(i+chunk, len(h.Reports))] {
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
		w := env.Do(http.MethodPost, collector.Route, &b, http.Header{"Content-Type": {"application/x-ndjson"}})
		if w.Code != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", w.Code, w.Body.String()[:min(500, w.Body.Len())])
		}
	}
	env.WaitDrained(t, 2*time.Minute)
}

// accepted are the anomaly kinds that detect each planted event.
var accepted = map[synth.EventKind][]diagnose.Kind{
	synth.Step50:     {diagnose.KindDuration, diagnose.KindRegression},
	synth.Step100:    {diagnose.KindDuration, diagnose.KindRegression},
	synth.Drift:      {diagnose.KindDuration, diagnose.KindRegression},
	synth.Burst:      {diagnose.KindFailureRate},
	synth.Small:      {diagnose.KindTooSmall},
	synth.Fast:       {diagnose.KindTooFast},
	synth.Gap:        {diagnose.KindLate},
	synth.NewVersion: {diagnose.KindFailureRate},
	synth.Outage:     {diagnose.KindFailureRate},
}

// kindOrder is the order of the table's rows.
var kindOrder = []synth.EventKind{synth.Step50, synth.Step100, synth.Drift, synth.Burst, synth.Small, synth.Fast, synth.Gap, synth.NewVersion, synth.Outage}

// score is one kind's row of the table.
type score struct {
	cases, within3, any int
	delays              []int
}

// TestEvaluation ingests labelled histories through the ingest API into
// the embedded engine and scores the detectors against the issue's
// targets: recall within 3 runs of at least 0.9 for duration steps of
// 50 % and more and for failure bursts, at most one false anomaly per type
// and week on the clean seasonal histories, and the planted cause ranked
// first in at least 80 % of the root-cause cases. It keeps the table of
// docs/diagnostics.md equal to what it measured (-update rewrites it).
func TestEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("the evaluation ingests eight weeks of histories")
	}
	end := evalEnd()
	h := synth.Generate(synth.EvaluationSpec(end))
	st := apptest.NewRealStore(t)
	t0 := time.Now()
	ingest(t, st, h)
	t.Logf("ingested %d reports in %s", len(h.Reports), time.Since(t0))

	cfg := diagnose.DefaultConfig()
	svc, err := diagnose.New(timedStore{st, t}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 = time.Now()
	since := end.Add(-synth.EvalWindow)
	rep, err := svc.Anomalies(ctx, diagnose.Query{Since: since, Until: end})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("anomalies in %s", time.Since(t0))
	byJob := map[string][]diagnose.Anomaly{}
	for _, a := range rep.Anomalies {
		k := synth.Key(a.Source, a.SyncType)
		byJob[k] = append(byJob[k], a)
	}

	scores := map[synth.EventKind]*score{}
	for _, e := range h.Events {
		sc := scores[e.Kind]
		if sc == nil {
			sc = &score{}
			scores[e.Kind] = sc
		}
		sc.cases++
		runs := e.Runs
		if len(runs) == 0 {
			t.Fatalf("%s of %s/%s affects no run", e.Kind, e.Source, e.Type)
		}
		// The third affected run's start (or the last one's) bounds a
		// detection within 3 runs; a detection counts at all until three
		// intervals after the event.
		every := interval(h.Starts[synth.Key(e.Source, e.Type)])
		third := runs[min(2, len(runs)-1)]
		if e.Kind == synth.Gap {
			third = runs[0].Add(3 * every)
		}
		last := e.Start.Add(e.Length + 3*every)
		best := time.Time{}
		for _, a := range byJob[synth.Key(e.Source, e.Type)] {
			if !slices.Contains(accepted[e.Kind], a.Kind) || a.Detected.Before(e.Start) || a.Detected.After(last) {
				continue
			}
			if best.IsZero() || a.Detected.Before(best) {
				best = a.Detected
			}
		}
		if best.IsZero() {
			t.Logf("missed: %s of %s/%s at %s", e.Kind, e.Source, e.Type, e.Start.Format(time.RFC3339))
			for _, a := range byJob[synth.Key(e.Source, e.Type)] {
				if a.Detected.After(e.Start.Add(-3*every)) && a.Detected.Before(last) {
					t.Logf("  near: %s %s detected %s", a.Kind, a.Summary, a.Detected.Format(time.RFC3339))
				}
			}
			continue
		}
		sc.any++
		if !best.After(third) {
			sc.within3++
		}
		delay := 0
		for _, r := range runs {
			if r.Before(best) {
				delay++
			}
		}
		sc.delays = append(sc.delays, delay)
	}

	// False anomalies on the clean histories.
	var falses int
	cleanTypes := 0
	for _, src := range synth.CleanSources {
		for _, typ := range []string{"stock", "prices", "products"} {
			cleanTypes++
			for _, a := range byJob[synth.Key(src, typ)] {
				falses++
				t.Logf("false anomaly on clean %s/%s: %s %s at %s", src, typ, a.Kind, a.Summary, a.Detected.Format(time.RFC3339))
			}
		}
	}
	typeWeeks := float64(cleanTypes) * synth.EvalWindow.Hours() / (7 * 24)
	falseRate := float64(falses) / typeWeeks

	// Root cause: the new version ranked first for its jobs, the
	// supplier-wide scope for each type of an outage.
	var causeCases, causeFirst int
	var causeLines []string
	for _, e := range h.Events {
		var want func(diagnose.Hint) bool
		var until time.Time
		switch e.Kind {
		case synth.NewVersion:
			want = func(h diagnose.Hint) bool {
				return h.Kind == diagnose.HintAttribute && h.Key == "version" && h.Value == "2.0.0" && h.New
			}
			until = e.Start.Add(12 * time.Hour)
		case synth.Outage:
			want = func(h diagnose.Hint) bool { return h.Kind == diagnose.HintScope && h.Scope == diagnose.ScopeSupplier }
			until = e.Start.Add(e.Length + time.Hour)
		default:
			continue
		}
		causeCases++
		rc, err := svc.RootCause(ctx, diagnose.CauseRequest{Source: e.Source, SyncType: e.Type, Since: e.Start.Add(-time.Hour), Until: until})
		if err != nil {
			t.Fatal(err)
		}
		top := "none"
		if len(rc.Hints) > 0 {
			top = rc.Hints[0].Summary
			if want(rc.Hints[0]) {
				causeFirst++
			}
		}
		causeLines = append(causeLines, fmt.Sprintf("%s %s/%s: %s", e.Kind, e.Source, e.Type, top))
	}
	for _, l := range causeLines {
		t.Log("root cause:", l)
	}

	table := renderTable(scores, falses, typeWeeks, causeFirst, causeCases)
	t.Log("\n" + table)
	checkDoc(t, table)

	for _, k := range []synth.EventKind{synth.Step50, synth.Step100, synth.Burst} {
		sc := scores[k]
		if r := float64(sc.within3) / float64(sc.cases); r < 0.9 {
			t.Errorf("%s: recall within 3 runs %.2f (%d of %d), want at least 0.9", k, r, sc.within3, sc.cases)
		}
	}
	if falseRate > 1 {
		t.Errorf("%.2f false anomalies per type-week on clean histories (%d in %.0f), want at most 1", falseRate, falses, typeWeeks)
	}
	if r := float64(causeFirst) / float64(causeCases); r < 0.8 {
		t.Errorf("planted cause ranked first in %.2f of cases (%d of %d), want at least 0.8", r, causeFirst, causeCases)
	}
}

// interval is the median gap between starts.
func interval(starts []time.Time) time.Duration {
	gaps := make([]time.Duration, 0, len(starts))
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Sub(starts[i-1]))
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

func renderTable(scores map[synth.EventKind]*score, falses int, typeWeeks float64, causeFirst, causeCases int) string {
	var b strings.Builder
	b.WriteString("| planted event | cases | recall within 3 runs | recall | median delay (runs) |\n|---|---|---|---|---|\n")
	for _, k := range kindOrder {
		sc := scores[k]
		if sc == nil {
			continue
		}
		med := "—"
		if len(sc.delays) > 0 {
			d := slices.Sorted(slices.Values(sc.delays))
			med = fmt.Sprint(d[len(d)/2])
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %s |\n", k, sc.cases, float64(sc.within3)/float64(sc.cases), float64(sc.any)/float64(sc.cases), med)
	}
	fmt.Fprintf(&b, "\nFalse anomalies on clean seasonal histories: %d in %.0f type-weeks (%.2f per type-week).\n", falses, typeWeeks, float64(falses)/typeWeeks)
	fmt.Fprintf(&b, "Planted cause ranked first: %d of %d root-cause cases (%.2f).\n", causeFirst, causeCases, float64(causeFirst)/float64(causeCases))
	return b.String()
}

const (
	tableBegin = "<!-- evaluation:begin (TestEvaluation -update rewrites this block) -->\n"
	tableEnd   = "<!-- evaluation:end -->"
)

// checkDoc compares the table with the block of docs/diagnostics.md, or
// rewrites the block with -update.
func checkDoc(t *testing.T, table string) {
	t.Helper()
	path := filepath.Join("..", "docs", "diagnostics.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no evaluation block", path)
	}
	got := s[i+len(tableBegin) : j]
	if *update {
		if err := os.WriteFile(path, []byte(s[:i+len(tableBegin)]+table+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != table {
		t.Errorf("the evaluation table of %s differs from the measured one (go test ./diagnose -run TestEvaluation -update):\n--- doc\n%s\n--- measured\n%s", path, got, table)
	}
}
