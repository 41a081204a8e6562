package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// The -update flag rewrites testdata/metrics.golden. Another test file of
// this package may define the same flag; then that one is used.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// metricFamily is a family as the metric listing and docs/metrics.md
// give it.
type metricFamily struct {
	Name   string
	Type   string
	Labels []string
}

func (f metricFamily) String() string {
	labels := strings.Join(f.Labels, ",")
	if labels == "" {
		labels = "-"
	}
	return f.Name + " " + f.Type + " " + labels
}

// familiesOf parses a text exposition into its families.
func familiesOf(t testing.TB, exposition string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return mfs
}

// listing returns the syncwatch_* families of an exposition, sorted.
func listing(mfs map[string]*dto.MetricFamily) []metricFamily {
	var out []metricFamily
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "syncwatch_") {
			continue
		}
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		if mf.GetType() == dto.MetricType_SUMMARY {
			labels["quantile"] = true // a label of the summary's lines
		}
		f := metricFamily{Name: name, Type: strings.ToLower(mf.GetType().String())}
		for l := range labels {
			f.Labels = append(f.Labels, l)
		}
		slices.Sort(f.Labels)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b metricFamily) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var docRow = regexp.MustCompile("^\\|\\s*`([a-z0-9_]+)`\\s*\\|\\s*([a-z]+)\\s*\\|([^|]*)\\|")
var docLabel = regexp.MustCompile("`([a-z_]+)`")

// documentedFamilies reads the metric table of docs/metrics.md.
func documentedFamilies(t testing.TB) ([]metricFamily, string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatalf("read docs/metrics.md: %v", err)
	}
	var out []metricFamily
	for _, line := range strings.Split(string(body), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(m[1], "syncwatch_") {
			continue
		}
		f := metricFamily{Name: m[1], Type: m[2]}
		for _, l := range docLabel.FindAllStringSubmatch(m[3], -1) {
			f.Labels = append(f.Labels, l[1])
		}
		slices.Sort(f.Labels)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b metricFamily) int { return strings.Compare(a.Name, b.Name) })
	return out, string(body)
}

func diffFamilies(got, want []metricFamily) []string {
	index := func(fs []metricFamily) map[string]metricFamily {
		m := map[string]metricFamily{}
		for _, f := range fs {
			m[f.Name] = f
		}
		return m
	}
	g, w := index(got), index(want)
	var d []string
	for _, f := range want {
		if h, ok := g[f.Name]; !ok {
			d = append(d, "missing: "+f.String())
		} else if h.String() != f.String() {
			d = append(d, fmt.Sprintf("differs: %s, want %s", h, f))
		}
	}
	for _, f := range got {
		if _, ok := w[f.Name]; !ok {
			d = append(d, "unexpected: "+f.String())
		}
	}
	return d
}

// postReports sends reports to a running serve and checks the answer.
func postReports(t *testing.T, base string, reports ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(reports)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/v1/runs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/runs: %s", resp.Status)
	}
}

// TestServeMetrics runs `syncwatch serve`, reports runs to it, and checks
// the full exposition of /metrics: promtool finds nothing to complain
// about, the families are those of testdata/metrics.golden, and
// docs/metrics.md documents exactly them.
func TestServeMetrics(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	// A digest, so that the scheduler's families are served (at 0: it
	// fires on 1 January only and catches nothing up).
	// A Feishu robot, so that the relay's family is served too.
	cfgDir := t.TempDir()
	digests := filepath.Join(cfgDir, "digests.yml")
	robotURL := filepath.Join(cfgDir, "robot-url")
	if err := os.WriteFile(robotURL, []byte("http://127.0.0.1:9/open-apis/bot/v2/hook/x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(digests, []byte("channels: [{name: hook, type: webhook, url: 'http://127.0.0.1:9/'}, {name: robot, type: feishu, url_file: '"+robotURL+"'}]\n"+
		"digests: [{name: yearly, schedule: '0 0 1 1 *', period: month, catch_up: 0s, channels: [hook]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startCommand(t, runServe, []string{
		"--listen", addr, "--data-dir", metricsTestDir(t), "--libchdb", libchdb(t), "--log-level", "warn",
		"--max-sources", "2", "--batch-max-age", "50ms", "--exporter-cache-ttl", "1s", "--exporter-diagnostics-interval", "1s", "--config", digests,
		// The automatic archive's metrics are part of the listing.
		"--archive", "--archive-dir", t.TempDir(),
	}, base+"/healthz")

	now := time.Now().UTC()
	at := func(min int) string { return now.Add(time.Duration(min) * time.Minute).Format(time.RFC3339Nano) }
	report := func(run, event, source, syncType, status string, start, end int, total, succ, failed int) map[string]any {
		r := map[string]any{
			"run_id": run, "event_id": event, "source": source, "sync_type": syncType, "status": status,
			"started_at": at(start), "total_count": total, "success_count": succ, "failed_count": failed,
		}
		if end != 0 {
			r["completed_at"] = at(end)
		}
		return r
	}
	postReports(t, base, report("s1", "s1-a", "alpha", "stock", "processing", -10, 0, 0, 0, 0))
	postReports(t, base,
		report("s1", "s1-b", "alpha", "stock", "success", -10, -9, 10, 10, 0),
		report("s2", "s2-a", "alpha", "stock", "failed", -8, -7, 5, 0, 5),
		report("o1", "o1-a", "beta", "order", "partial", -6, -5, 4, 3, 1),
		report("o2", "o2-a", "beta", "order", "processing", -4, 0, 0, 0, 0),
		// Beyond --max-sources 2, and the least recently active: published
		// as source="_other".
		report("p1", "p1-a", "gamma", "prices", "success", -20, -19, 1, 1, 0),
	)
	// A week of daily runs before them, longer every day, gives
	// alpha/stock a forecast that overruns its 15-minute max runtime.
	var week []map[string]any
	for d := 1; d <= 8; d++ {
		week = append(week, report(fmt.Sprintf("w%d", d), fmt.Sprintf("w%d-a", d), "alpha", "stock", "success", -d*24*60, -d*24*60+2*(9-d), 10, 10, 0))
	}
	postReports(t, base, week...)
	// A retried delivery is a duplicate and counted once.
	postReports(t, base, report("s2", "s2-a", "alpha", "stock", "failed", -8, -7, 5, 0, 5))

	var exposition string
	deadline := time.Now().Add(time.Minute)
	for {
		exposition = fetchMetrics(t, base+"/metrics")
		// Every report shows in one refresh (a refresh may read some
		// tables before an insert and others after it).
		complete := true
		for _, want := range []string{
			`syncwatch_oldest_in_progress_start_timestamp_seconds{source="beta"`,
			`syncwatch_window_success_ratio{source="_other"`,
			`syncwatch_last_success_timestamp_seconds{source="_other"`,
			`syncwatch_last_run_timestamp_seconds{source="beta"`,
			`syncwatch_window_record_success_ratio{source="alpha"`,
			`syncwatch_window_duration_seconds{source="beta"`,
			"\n" + `syncwatch_exporter_scrape_success{scraper="type_states"} 1` + "\n",
			"\n" + `syncwatch_exporter_scrape_success{scraper="window_stats"} 1` + "\n",
			"\n" + `syncwatch_exporter_scrape_success{scraper="diagnostics"} 1` + "\n",
			`syncwatch_forecast_duration_p95_seconds{horizon="7d",source="alpha",sync_type="stock"}`,
			`syncwatch_anomaly_consecutive_failures_threshold{source="alpha",sync_type="stock"}`,
			`syncwatch_forecast_overrun_seconds{limit="max_runtime",source="alpha",sync_type="stock"}`,
		} {
			complete = complete && strings.Contains(exposition, want)
		}
		if complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stored runs never showed in /metrics:\n%s", exposition)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{
		`syncwatch_runs_total{source="alpha",status="failed",sync_type="stock"} 1`,
		`syncwatch_runs_total{source="_other",status="success",sync_type="prices"} 1`,
		"syncwatch_sources_folded_total 1",
		`syncwatch_window_runs{source="alpha",status="success",sync_type="stock",window="1h"} 1`,
		`syncwatch_window_runs{source="alpha",status="processing",sync_type="stock",window="1h"} 0`,
		`syncwatch_consecutive_failures{source="alpha",sync_type="stock"} 1`,
		`syncwatch_ingest_reports_total{outcome="duplicate"} 1`,
	} {
		if !strings.Contains(exposition, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	t.Run("promtool", func(t *testing.T) {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(exposition)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})

	mfs := familiesOf(t, exposition)
	got := listing(mfs)
	t.Run("golden", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("# Every syncwatch_* family of a running serve: name, type, labels.\n# Regenerate with: go test ./cmd/syncwatch -run TestServeMetrics -update\n")
		for _, f := range got {
			b.WriteString(f.String() + "\n")
		}
		golden := filepath.Join("testdata", "metrics.golden")
		if updatingGolden() {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run the test with -update to create it)", err)
		}
		if b.String() != string(want) {
			t.Errorf("the metric families differ from %s (run with -update when the change is intended, and update docs/metrics.md):\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
		}
	})

	t.Run("documented", func(t *testing.T) {
		documented, doc := documentedFamilies(t)
		for _, d := range diffFamilies(got, documented) {
			t.Errorf("docs/metrics.md and the registry differ: %s", d)
		}
		for name := range mfs {
			if !strings.HasPrefix(name, "syncwatch_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("%s is neither syncwatch_*, go_* nor process_*: document it", name)
			}
		}
		for _, note := range []string{"`go_*`", "`process_*`"} {
			if !strings.Contains(doc, note) {
				t.Errorf("docs/metrics.md does not mention %s", note)
			}
		}
	})
}
