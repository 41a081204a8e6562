package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// fixedSource answers one pair, and a new value at every call.
type fixedSource struct{ calls int }

func (s *fixedSource) WindowStats(_ context.Context, q WindowQuery) ([]WindowStat, error) {
	s.calls++
	return []WindowStat{{Source: "haier", SyncType: "stock", Success: uint64(s.calls)}}, nil
}

func (s *fixedSource) TypeStates(context.Context, time.Time) ([]TypeState, error) {
	t := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return []TypeState{{Source: "haier", SyncType: "stock", FirstRun: t, LastRun: t}}, nil
}

// fixedDiagnostics answers the same state every time.
type fixedDiagnostics struct{}

func (fixedDiagnostics) DiagnosticStates(context.Context, time.Time) ([]DiagnosticState, error) {
	return []DiagnosticState{{Source: "haier", SyncType: "stock", Detected: map[string]int{"late": 1}}}, nil
}

// TestHandlerEncodesOncePerChange checks which cached parts a refresh
// renews: those of the scrapers that queried (type states, windows), not
// the diagnostics' between their computations, nor the configuration's;
// and that a new computation renews the diagnostics' part.
func TestHandlerEncodesOncePerChange(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c, err := New(&fixedSource{}, Config{
		SyncTypes: []string{"stock"}, Now: func() time.Time { return now }, Diagnostics: fixedDiagnostics{},
		CacheTTL: time.Minute, DiagnosticsInterval: 10 * time.Minute, MaxStaleness: time.Hour,
		ExpectedIntervals: map[string]time.Duration{"stock": time.Hour},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.WrapHandler(c.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}), "")
	parts := func() map[int]*cachedPart {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		c.encoded.mu.Lock()
		defer c.encoded.mu.Unlock()
		out := map[int]*cachedPart{}
		for k, p := range c.encoded.parts {
			out[k.index] = p
		}
		return out
	}
	const types, windows, diagnostics, static = 0, 1, 2, 3
	first := parts()
	if len(first) != 4 {
		t.Fatalf("%d cached parts, want 4", len(first))
	}
	same := parts()
	for i, p := range first {
		if same[i] != p {
			t.Errorf("part %d renewed without a refresh", i)
		}
	}
	now = now.Add(2 * time.Minute)
	refreshed := parts()
	for _, i := range []int{types, windows} {
		if refreshed[i] == first[i] {
			t.Errorf("part %d was not renewed by a refresh", i)
		}
	}
	for _, i := range []int{diagnostics, static} {
		if refreshed[i] != first[i] {
			t.Errorf("part %d renewed by a refresh that left it as it was", i)
		}
	}
	now = now.Add(10 * time.Minute)
	if parts()[diagnostics] == first[diagnostics] {
		t.Error("the diagnostics' part was not renewed by a new computation")
	}
}

// TestDiagnosticsRebuiltWhenLabelsChange checks that the diagnostics'
// metrics answered again between computations are rebuilt when the source
// cap gives a folded source its name back.
func TestDiagnosticsRebuiltWhenLabelsChange(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	limiter := NewSourceLimiter(1)
	limiter.Label("acme")
	s := &diagnosticsScraper{src: fixedDiagnostics{}, interval: time.Hour, d: newDescs()}
	run := func() []prometheus.Metric {
		t.Helper()
		ms, err := s.scrape(context.Background(), &scrapeRun{now: now, types: map[string]bool{"stock": true}, limiter: limiter, folded: map[string]bool{}})
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	folded := run()
	if again := run(); !sameMetrics(folded, again) {
		t.Error("the same computation with the same labels was rebuilt")
	}
	// acme stops running: haier takes its place.
	limiter.Rebalance(map[string]time.Time{"haier": now}, now, time.Hour)
	named := run()
	if sameMetrics(folded, named) {
		t.Fatal("the metrics of the folded source were answered again under its own name")
	}
	for _, m := range named {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "source" && l.GetValue() != "haier" {
				t.Fatalf("source %q after the rebalance, want haier", l.GetValue())
			}
		}
	}
}
