package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/chsource"
	"github.com/syncwatch/syncwatch/exporter/diagsource"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// syncwatchServer runs syncwatch's HTTP service in process as `syncwatch
// serve` wires it: the collector (ingest API, durable spool, batcher into
// the store, pipeline metrics), the ingest instruments and the
// ClickHouse-backed exporter on one registry behind /metrics.
func syncwatchServer(t *testing.T, st *clickhouse.Store) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	log := quietLogger()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "syncwatch_build_info", Help: "Always 1."}, []string{"version", "goversion"})
	buildInfo.WithLabelValues("test", runtime.Version()).Set(1)
	reg.MustRegister(buildInfo)

	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	metrics := collector.NewMetrics(reg)
	limiter := exporter.NewSourceLimiter(exporter.DefaultMaxSources)
	ingest, err := exporter.NewIngest(reg, types.Names(), limiter)
	if err != nil {
		t.Fatal(err)
	}
	diag, err := diagnose.New(st, diagnose.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.New(chsource.New(st), exporter.Config{
		SyncTypes:         types.Names(),
		CacheTTL:          time.Second,
		ExpectedIntervals: exporter.DefaultExpectedIntervals(),
		MaxRuntimes:       exporter.DefaultMaxRuntimes(),
		Limiter:           limiter,
		Log:               log,
		Diagnostics:       diagsource.New(diag),
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	spool, err := collector.OpenSpool(filepath.Join(t.TempDir(), "spool"), 64<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	quarantine, err := collector.OpenQuarantine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	batcher := collector.NewBatcher(spool, quarantine, st, collector.BatcherConfig{Size: 200, MaxAge: 100 * time.Millisecond}, log, metrics)
	srv, err := app.New(app.Config{Ingest: collector.Config{SyncTypes: types, OnAccepted: ingest.Observe}}, app.Deps{
		Log: log, Spool: spool, Batcher: batcher, Quarantine: quarantine, Storage: st, Metrics: metrics, Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	go batcher.Run()
	ts := httptest.NewServer(exp.WrapHandler(srv.Handler(), "/metrics"))
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = batcher.Stop(ctx)
		_ = spool.Close()
	})
	return ts
}

// wireReport is a report as a job sends it.
func wireReport(r synclog.Report) map[string]any {
	m := map[string]any{
		"run_id": r.RunID, "event_id": r.EventID, "source": r.Source, "sync_type": r.SyncType,
		"status": string(r.Status), "total_count": r.TotalCount, "success_count": r.SuccessCount,
		"failed_count": r.FailedCount, "started_at": r.StartedAt.Format(time.RFC3339Nano),
	}
	if r.Message != "" {
		m["message"] = r.Message
	}
	if r.CompletedAt != nil {
		m["completed_at"] = r.CompletedAt.Format(time.RFC3339Nano)
	}
	if len(r.Attributes) > 0 {
		m["attributes"] = r.Attributes
	}
	return m
}

// postReports sends reports to the ingest API as NDJSON.
func postReports(base string, reports []map[string]any) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, r := range reports {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	resp, err := http.Post(base+"/api/v1/runs", "application/x-ndjson", &body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusBadRequest {
		return fmt.Errorf("ingest: %s: %s", resp.Status, b)
	}
	return nil
}

// immediateRules copies the rule files of alerts/rules into dir with every
// alert's `for:` removed, so that an alert whose condition holds fires at
// the next evaluation.
func immediateRules(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "alerts", "rules", "*.yml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		groups, _ := doc["groups"].([]any)
		for _, g := range groups {
			rules, _ := g.(map[string]any)["rules"].([]any)
			for _, r := range rules {
				delete(r.(map[string]any), "for")
			}
		}
		b, err = yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// startPrometheus runs a Prometheus server that scrapes target as job
// syncwatch every second and evaluates syncwatch's rules every second, and
// returns the base URL of its API.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := testutil.Tool(t, "prometheus")
	dir := t.TempDir()
	rules := immediateRules(t, dir)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: syncwatch
    static_configs:
      - targets: [%q]
`, strings.Join(rules, ", "), target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := testutil.FreeAddr(t)
	var logs testutil.Buffer
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	return "http://" + listen
}

// instantQuery runs a PromQL query and returns how many series it
// answers; an error when Prometheus refuses the query.
func instantQuery(api, query string) (int, error) {
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, nil // not up yet
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("decode: %w", err)
	}
	if body.Status != "success" {
		if body.ErrorType == "bad_data" {
			return 0, fmt.Errorf("%s", body.Error)
		}
		return 0, nil
	}
	if body.Data.ResultType == "scalar" {
		return 1, nil
	}
	return len(body.Data.Result), nil
}

// TestPrometheusPanelQueriesReturnData has a real Prometheus (Debian's)
// scrape syncwatch's HTTP service, run in process as serve wires it and
// fed a known dataset through its ingest API, evaluate syncwatch's
// recording and alerting rules, and answer every Prometheus query of the
// dashboards (panels and variables, variables set to All): each must be
// accepted and return at least one series.
func TestPrometheusPanelQueriesReturnData(t *testing.T) {
	st := newTestStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := dataset(now, 600)
	var reports []map[string]any
	for _, b := range ds.Batches {
		for _, r := range b {
			reports = append(reports, wireReport(r))
		}
	}
	srv := syncwatchServer(t, st)

	// Half the dataset now, then the rest while Prometheus scrapes, so that
	// counters grow between scrapes; and a report the API rejects.
	half := len(reports) / 2
	if err := postReports(srv.URL, reports[:half]); err != nil {
		t.Fatal(err)
	}
	bad := wireReport(ds.Batches[0][0])
	bad["status"] = "bogus"
	if err := postReports(srv.URL, []map[string]any{bad}); err != nil {
		t.Fatal(err)
	}
	api := startPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))
	ctx, stopFeeding := context.WithCancel(context.Background())
	fed := make(chan error, 1)
	go func() {
		rest := reports[half:]
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				fed <- nil
				return
			case <-tick.C:
			}
			n := min(len(rest), 40)
			chunk := rest[:n]
			rest = rest[n:]
			if n == 0 {
				// Keep the counters moving with retries of sent reports.
				chunk = reports[:5]
			}
			if err := postReports(srv.URL, chunk); err != nil {
				fed <- err
				return
			}
		}
	}()
	defer func() {
		stopFeeding()
		if err := <-fed; err != nil {
			t.Errorf("feeding reports: %v", err)
		}
	}()

	queries := prometheusQueries(t)
	pending := map[string]string{}
	for where, q := range queries {
		pending[where] = q
	}
	deadline := time.Now().Add(150 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		for where, q := range pending {
			n, err := instantQuery(api, q)
			if err != nil {
				t.Errorf("%s: Prometheus refuses the query: %v\n%s", where, err, q)
				delete(pending, where)
				continue
			}
			if n > 0 {
				delete(pending, where)
			}
		}
	}
	var missing []string
	for where, q := range pending {
		missing = append(missing, where+":\n    "+q)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no data from %s", m)
	}
	if len(queries) < 30 {
		t.Errorf("only %d queries", len(queries))
	}
}
