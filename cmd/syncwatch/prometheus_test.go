package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// startPrometheus runs a Prometheus server that scrapes target every
// second and returns the base URL of its HTTP API.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := testutil.Tool(t, "prometheus")
	dir := metricsTestDir(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: syncwatch
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := testutil.FreeAddr(t)
	logs := &testutil.Buffer{}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs)
		}
	})
	return "http://" + listen
}

// promQuery runs an instant query and returns the value of its single
// series; ok is false while the query has no result yet.
func promQuery(api, query string) (value float64, ok bool, err error) {
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, false, nil // not up yet
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, fmt.Errorf("decode answer to %s: %w", query, err)
	}
	if body.Status != "success" {
		return 0, false, fmt.Errorf("query %s: %s", query, body.Error)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("query %s: %d series, want one", query, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("query %s: value %q: %w", query, s, err)
	}
	return v, true, nil
}

// TestPrometheusScrapesExporter has a real Prometheus scrape the exporter
// over the embedded engine and checks the values PromQL answers with
// against the model of the dataset.
func TestPrometheusScrapesExporter(t *testing.T) {
	st := openMetricsTestStore(t, metricsTestDir(t))
	defer st.Close()
	// Every run starts within the last 20 hours: the 24h window holds all
	// of them however long the test takes.
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := exportertest.Generate(exportertest.Options{Seed: 11, Runs: 1500, Now: now, Span: 20 * time.Hour})
	insertDataset(t, st, ds.Batches)
	model := exportertest.Model{DS: ds}
	stats, _ := model.WindowStats(context.Background(), exporter.WindowQuery{Since: now.Add(-24 * time.Hour), Until: now.Add(time.Hour)})
	var erp exporter.WindowStat
	for _, s := range stats {
		if s.Source == "erp" && s.SyncType == "products" {
			erp = s
		}
	}
	if erp.Terminal() == 0 {
		t.Fatal("the dataset has no terminal erp/products run")
	}

	// The registry as serve builds it for metrics: base collectors, the
	// ingest instruments and the ClickHouse-backed collector.
	reg := newRegistry()
	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	o := defaultExporterOptions(t)
	limiter := exporter.NewSourceLimiter(o.maxSources)
	ingest, err := exporter.NewIngest(reg, types.Names(), limiter)
	if err != nil {
		t.Fatal(err)
	}
	diag, err := diagnose.New(st, diagnose.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.newExporter(nil, types, limiter, st, diag, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ds.Runs[:100] {
		ingest.Observe(r.Reports)
	}
	srv := httptest.NewServer(c.WrapHandler(c.Handler(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}), "/metrics"))
	defer srv.Close()
	api := startPrometheus(t, srv.Listener.Addr().String())

	var terminal100 float64
	for _, r := range ds.Runs[:100] {
		for _, rep := range r.Reports {
			if rep.Status.Terminal() {
				terminal100++
			}
		}
	}
	checks := []struct {
		query string
		want  float64
		tol   float64
	}{
		{`up{job="syncwatch"}`, 1, 0},
		{`min(syncwatch_exporter_scrape_success)`, 1, 0},
		{`count(syncwatch_exporter_scrape_success)`, 3, 0}, // one per scraper: type_states, window_stats, diagnostics
		{`syncwatch_window_success_ratio{source="erp",sync_type="products",window="24h"}`, float64(erp.Success) / float64(erp.Terminal()), 1e-9},
		{`syncwatch_window_runs{source="erp",sync_type="products",status="failed",window="24h"}`, float64(erp.Failed), 0},
		{`syncwatch_window_duration_seconds{source="erp",sync_type="products",window="24h",quantile="0.95"}`, erp.DurationP95, 0.01 * erp.DurationP95},
		{`syncwatch_consecutive_failures{source="erp",sync_type="products"}`, 3, 0},
		{`syncwatch_expected_interval_seconds{sync_type="products"}`, 6 * 3600, 0},
		{`sum(syncwatch_runs_total)`, terminal100, 0},
		// The silent-job check of the alerting rules: erp/products ran a
		// minute ago, within its expected interval.
		{`count(time() - syncwatch_last_run_timestamp_seconds{source="erp",sync_type="products"} < on (sync_type) syncwatch_expected_interval_seconds)`, 1, 0},
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, c := range checks {
		for {
			v, ok, err := promQuery(api, c.query)
			if err != nil {
				t.Fatal(err)
			}
			if ok && math.Abs(v-c.want) <= c.tol {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v (has a result: %v), want %v", c.query, v, ok, c.want)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}
