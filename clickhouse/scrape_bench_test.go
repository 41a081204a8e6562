package clickhouse

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/diagsource"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/synclog"
)

// scrapesPerOp is how many scrapes one iteration of BenchmarkServedScrape
// makes, so that its p99 means something at make bench's -benchtime 3x.
const scrapesPerOp = 100

// BenchmarkServedScrape measures what Prometheus waits for when it scrapes
// syncwatch serve with the cache warm (issue 16: p99 ≤ 20 ms): GET
// /metrics over loopback HTTP from the service as serve assembles it
// (internal/app's handler behind the exporter's WrapHandler; one registry
// with the Go and process collectors, the ingest and HTTP instruments,
// served by the exporter's Handler beside the ClickHouse-backed collector
// with the diagnostics of exporter/diagsource) over benchStore's runs (200,000, or
// SYNCWATCH_BENCH_ROWS). The cache and the diagnostics live an hour here,
// so that every sample is a cached scrape; the cold refresh is
// BenchmarkScrape's and the diagnostics' own benchmarks'. It reports p50,
// p95 and p99 of one scrape in milliseconds, the exposition's size and
// its number of samples; "without diagnostics" is the same service with
// no diagnostics registered, for comparison.
func BenchmarkServedScrape(b *testing.B) {
	s, err := benchStore()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serve", func(b *testing.B) { servedScrape(b, s, true) })
	b.Run("without diagnostics", func(b *testing.B) { servedScrape(b, s, false) })
}

func servedScrape(b *testing.B, s *Store, withDiagnostics bool) {
	gin.SetMode(gin.ReleaseMode) // as cmd/syncwatch's main
	log := logrus.New()
	log.SetOutput(io.Discard)
	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)

	// The registry and instruments of serve (cmd/syncwatch newRegistry,
	// the ingest instruments, the exporter with its diagnostics).
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	limiter := exporter.NewSourceLimiter(exporter.DefaultMaxSources)
	if _, err := exporter.NewIngest(reg, types.Names(), limiter); err != nil {
		b.Fatal(err)
	}
	dcfg := diagnose.DefaultConfig()
	dcfg.MaxRuntimes = synclog.DefaultMaxRuntimes()
	diag, err := diagnose.New(s, dcfg)
	if err != nil {
		b.Fatal(err)
	}
	cfg := exporter.Config{
		SyncTypes: types.Names(), CacheTTL: time.Hour, DiagnosticsInterval: time.Hour, RefreshTimeout: 10 * time.Minute,
		ExpectedIntervals: synclog.DefaultExpectedIntervals(), MaxRuntimes: synclog.DefaultMaxRuntimes(),
		Limiter: limiter, Log: log,
	}
	if withDiagnostics {
		cfg.Diagnostics = diagsource.New(diag)
	}
	// Registered nowhere: its Handler serves it beside reg, as serve does.
	exp, err := exporter.New(exporterSource{s}, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}

	// The service around it, as serve wires it.
	dir := b.TempDir()
	spool, err := collector.OpenSpool(filepath.Join(dir, "spool"), 64<<20, log)
	if err != nil {
		b.Fatal(err)
	}
	defer spool.Close()
	quarantine, err := collector.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		b.Fatal(err)
	}
	metrics := collector.NewMetrics(reg)
	tokens, err := auth.NewAuth(nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := app.New(app.Config{Ingest: collector.Config{SyncTypes: types}}, app.Deps{
		Log: log, Auth: tokens, Spool: spool, Batcher: collector.NewBatcher(spool, quarantine, s, collector.BatcherConfig{}, log, metrics),
		Quarantine: quarantine, Storage: s, Metrics: metrics, Registerer: reg, Gatherer: reg, Query: s, States: s,
		MetricsHandler: exp.Handler(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}),
		Checks:         exp.HealthChecks(), Diagnose: diag,
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(exp.WrapHandler(srv.Handler(), "/metrics"))
	defer ts.Close()
	client := ts.Client()

	var size int
	scrape := func() error {
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
		if err != nil {
			return err
		}
		// What Prometheus 3 sends.
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
		req.Header.Set(exporter.ScrapeTimeoutHeader, "10")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/metrics: %d %.300s", resp.StatusCode, body)
		}
		size = len(body)
		return nil
	}

	// Warm the cache, and check that the scrape carries what it should:
	// the diagnostics computed, not only registered.
	start := time.Now()
	if err := scrape(); err != nil {
		b.Fatal(err)
	}
	b.Logf("the first scrape (cold: every scraper queries ClickHouse) took %s", time.Since(start).Round(time.Millisecond))
	text, err := gatherText(ts.URL, client)
	if err != nil {
		b.Fatal(err)
	}
	want := []string{"syncwatch_window_runs", "go_goroutines", "syncwatch_http_"}
	if withDiagnostics {
		want = append(want, "syncwatch_forecast_", "syncwatch_anomaly_", "syncwatch_anomaly_consecutive_failures_threshold",
			`syncwatch_exporter_scrape_success{scraper="diagnostics"} 1`)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			b.Fatalf("the scrape lacks %s", w)
		}
	}
	samples := 0
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "#") {
			samples++
		}
	}

	lat := make([]time.Duration, 0, scrapesPerOp*8)
	for b.Loop() {
		for range scrapesPerOp {
			t0 := time.Now()
			if err := scrape(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(percentileMs(lat, 0.50), "p50-ms")
	b.ReportMetric(percentileMs(lat, 0.95), "p95-ms")
	b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
	b.ReportMetric(float64(size)/1024, "KiB/scrape")
	b.ReportMetric(float64(samples), "samples/scrape")
	b.ReportMetric(float64(len(lat)), "scrapes")
}

// gatherText is one exposition of /metrics in the text format.
func gatherText(base string, client *http.Client) (string, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
