package exporter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
)

// fakeDiagnostics answers fixed states and counts its calls.
type fakeDiagnostics struct {
	mu     sync.Mutex
	calls  int
	err    error
	states []exporter.DiagnosticState
}

func (f *fakeDiagnostics) DiagnosticStates(context.Context, time.Time) ([]exporter.DiagnosticState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.states, f.err
}

// TestDiagnosticsMetrics checks the anomaly and forecast families: every
// kind published per pair with zeros, the folded sources summed under
// _other without thresholds or forecasts, the overrun only when there is
// one, and the scraper's own cache, longer than the others'.
func TestDiagnosticsMetrics(t *testing.T) {
	diag := &fakeDiagnostics{states: []exporter.DiagnosticState{
		{Source: "haier", SyncType: "stock", Detected: map[string]int{"regression": 1, "duration": 2}, Ongoing: map[string]bool{"regression": true},
			FailureBaseline: 0.01, ConsecutiveThreshold: 2,
			Forecasts: map[string]map[string]float64{"duration_p95_seconds": {"7d": 42, "30d": 60}},
			Overrun:   map[string]time.Duration{"max_runtime": 36 * time.Hour}},
		{Source: "acme", SyncType: "order", Detected: map[string]int{"failure_rate": 1}, ConsecutiveThreshold: 3, FailureBaseline: 0.1},
		{Source: "zeta", SyncType: "order", Detected: map[string]int{"failure_rate": 2}, Ongoing: map[string]bool{"failure_rate": true}, ConsecutiveThreshold: 4, FailureBaseline: 0.2},
		{Source: "haier", SyncType: "shoes", Detected: map[string]int{"late": 1}},
	}}
	clk := &clock{now: testNow}
	reg := prometheus.NewPedanticRegistry()
	c, err := exporter.New(exportertest.Model{DS: handDataset()}, exporter.Config{SyncTypes: testTypes, Now: clk.Now,
		Limiter: exporter.NewSourceLimiter(2), Diagnostics: diag}, reg)
	if err != nil {
		t.Fatal(err)
	}
	h := c.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), "/metrics")
	scrape := func() string {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set(exporter.ScrapeTimeoutHeader, "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	body := scrape()
	for _, want := range []string{
		`syncwatch_anomaly_detected{kind="duration",source="haier",sync_type="stock"} 2`,
		`syncwatch_anomaly_detected{kind="overlap",source="haier",sync_type="stock"} 0`,
		`syncwatch_anomaly_ongoing{kind="regression",source="haier",sync_type="stock"} 1`,
		`syncwatch_anomaly_ongoing{kind="duration",source="haier",sync_type="stock"} 0`,
		`syncwatch_anomaly_consecutive_failures_threshold{source="haier",sync_type="stock"} 2`,
		`syncwatch_anomaly_failure_baseline_ratio{source="acme",sync_type="order"} 0.1`,
		`syncwatch_forecast_duration_p95_seconds{horizon="30d",source="haier",sync_type="stock"} 60`,
		`syncwatch_forecast_overrun_seconds{limit="max_runtime",source="haier",sync_type="stock"} 129600`,
		`syncwatch_anomaly_detected{kind="failure_rate",source="_other",sync_type="order"} 2`,
		`syncwatch_anomaly_ongoing{kind="failure_rate",source="_other",sync_type="order"} 1`,
		`syncwatch_exporter_scrape_success{scraper="diagnostics"} 1`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, unwanted := range []string{
		`syncwatch_anomaly_consecutive_failures_threshold{source="_other"`,
		`sync_type="shoes"`,
		`syncwatch_forecast_overrun_seconds{limit="interval"`,
	} {
		if strings.Contains(body, unwanted) {
			t.Errorf("scrape has %s", unwanted)
		}
	}
	// Within the diagnostics interval, refreshes serve its cache.
	clk.Add(exporter.DefaultCacheTTL)
	scrape()
	if diag.calls != 1 {
		t.Errorf("%d calls within the diagnostics interval, want 1", diag.calls)
	}
	// After it, a failure is the diagnostics scraper's alone.
	diag.mu.Lock()
	diag.err = errors.New("too slow")
	diag.mu.Unlock()
	clk.Add(exporter.DefaultDiagnosticsInterval)
	body = scrape()
	for _, want := range []string{`syncwatch_exporter_scrape_success{scraper="diagnostics"} 0`, `syncwatch_exporter_scrape_success{scraper="type_states"} 1`,
		`syncwatch_anomaly_detected{kind="duration",source="haier",sync_type="stock"} 2`} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("after a failure the scrape lacks %s", want)
		}
	}
	// A failure is not retried at every refresh, only after the interval.
	calls := diag.calls
	clk.Add(exporter.DefaultCacheTTL)
	if body = scrape(); !strings.Contains(body, `syncwatch_exporter_scrape_success{scraper="diagnostics"} 0`) || diag.calls != calls {
		t.Errorf("within the interval after a failure: %d more calls, want none, and the failure still shown", diag.calls-calls)
	}
}
