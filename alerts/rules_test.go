package alerts

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const runbookBase = "https://github.com/syncwatch/syncwatch/blob/main/docs/runbooks.md#"

// TestPromtoolCheckRules validates syntax, types and templates of the rule
// files and lints them for duplicate rules.
func TestPromtoolCheckRules(t *testing.T) {
	args := append([]string{"check", "rules"}, shippedRuleFiles(t)...)
	out, err := run(t, time.Minute, "promtool", args...)
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtoolTestRules runs the rule unit tests in tests/*.yml.
func TestPromtoolTestRules(t *testing.T) {
	args := append([]string{"test", "rules"}, globFiles(t, filepath.Join("tests", "*.yml"))...)
	out, err := run(t, 2*time.Minute, "promtool", args...)
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ruleTestFile is the promtool unit-test format, as far as the coverage check needs it.
type ruleTestFile struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func loadRuleTests(t *testing.T) map[string]ruleTestFile {
	t.Helper()
	files := map[string]ruleTestFile{}
	for _, f := range globFiles(t, filepath.Join("tests", "*.yml")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf ruleTestFile
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		files[f] = tf
	}
	return files
}

// TestEveryAlertHasFiringAndQuietCases keeps the promtool tests complete: each
// alert (and each of its severities) must be shown firing somewhere, and each
// alert must be shown staying quiet somewhere.
func TestEveryAlertHasFiringAndQuietCases(t *testing.T) {
	firing := map[string]bool{} // alertname or alertname/severity
	quiet := map[string]bool{}
	for _, tf := range loadRuleTests(t) {
		for _, tc := range tf.Tests {
			for _, art := range tc.AlertRuleTest {
				if len(art.ExpAlerts) == 0 {
					quiet[art.Alertname] = true
				}
				for _, ea := range art.ExpAlerts {
					firing[art.Alertname] = true
					firing[art.Alertname+"/"+ea.ExpLabels["severity"]] = true
					if len(ea.ExpAnnotations) == 0 {
						t.Errorf("test %q: %s at %s: exp_annotations missing (promtool then expects none)", tc.Name, art.Alertname, art.EvalTime)
					}
				}
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if !firing[r.Alert+"/"+r.Labels["severity"]] {
			t.Errorf("%s (severity %s): no promtool test shows it firing", r.Alert, r.Labels["severity"])
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: no promtool test shows it staying quiet", r.Alert)
		}
	}
}

// TestSyncwatchDownOnlyCaseIsTested makes sure the guard against false silence
// alerts stays tested: some promtool test must expect SyncwatchDown firing and
// SyncSilent and SyncRunStuck quiet at the same evaluation time.
func TestSyncwatchDownOnlyCaseIsTested(t *testing.T) {
	for _, tf := range loadRuleTests(t) {
		for _, tc := range tf.Tests {
			down := map[string]bool{}
			quiet := map[string]map[string]bool{}
			for _, art := range tc.AlertRuleTest {
				if art.Alertname == "SyncwatchDown" && len(art.ExpAlerts) > 0 {
					down[art.EvalTime] = true
				}
				if len(art.ExpAlerts) == 0 {
					if quiet[art.EvalTime] == nil {
						quiet[art.EvalTime] = map[string]bool{}
					}
					quiet[art.EvalTime][art.Alertname] = true
				}
			}
			for at := range down {
				if quiet[at]["SyncSilent"] && quiet[at]["SyncRunStuck"] {
					return
				}
			}
		}
	}
	t.Fatal("no promtool test expects SyncwatchDown firing while SyncSilent and SyncRunStuck stay quiet")
}

// TestAlertLabelsAndAnnotations checks what every notification and the
// runbook links rely on.
func TestAlertLabelsAndAnnotations(t *testing.T) {
	anchors := runbookAnchors(t)
	seen := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		seen[r.Alert] = true
		name := r.Alert + "/" + r.Labels["severity"]
		// Anomaly and forecast alerts say "look", never "wake up".
		if (r.Alert == "SyncAnomaly" || strings.HasPrefix(r.Alert, "SyncForecast")) && r.Labels["severity"] != "warning" {
			t.Errorf("%s: diagnostics alerts must be warnings, routed to chat, never paging", name)
		}
		switch r.Labels["severity"] {
		case "critical", "warning":
		default:
			t.Errorf("%s: severity label %q, want critical or warning", name, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url", "dashboard_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: annotation %s missing", name, a)
			}
		}
		// The figure: $value, or a query for one (SyncwatchDown has none: up is 0).
		if text := r.Annotations["summary"] + r.Annotations["description"]; !strings.Contains(text, "$value") && !strings.Contains(text, "query") && r.Alert != "SyncwatchDown" {
			t.Errorf("%s: neither summary nor description shows a figure ($value or a query)", name)
		}
		rb := r.Annotations["runbook_url"]
		if !strings.HasPrefix(rb, runbookBase) {
			t.Errorf("%s: runbook_url %q does not start with %s", name, rb, runbookBase)
		} else if anchor := strings.TrimPrefix(rb, runbookBase); !anchors[anchor] {
			t.Errorf("%s: runbook_url anchor #%s is not a heading of docs/runbooks.md", name, anchor)
		}
		if d := r.Annotations["dashboard_url"]; !strings.HasPrefix(d, "/d/syncwatch-overview") && !strings.HasPrefix(d, "/d/syncwatch-drilldown") {
			t.Errorf("%s: dashboard_url %q is not a link to the syncwatch-overview or syncwatch-drilldown dashboard", name, d)
		}
		// A sync alert links to its sync type in Grafana and in the console.
		if strings.HasPrefix(r.Alert, "Sync") && !strings.HasPrefix(r.Alert, "Syncwatch") {
			if !strings.Contains(r.Annotations["dashboard_url"], "var-sync_type={{ $labels.sync_type") {
				t.Errorf("%s: dashboard_url does not select the alert's sync_type", name)
			}
			if !strings.HasPrefix(r.Annotations["console_url"], "/ui/runs?sync_type={{ $labels.sync_type") {
				t.Errorf("%s: console_url %q does not open the console's runs of the alert's sync_type", name, r.Annotations["console_url"])
			}
		}
	}
	// Every section of the runbook belongs to an alert, so that none goes stale.
	for a := range anchors {
		found := false
		for s := range seen {
			if strings.ToLower(s) == a {
				found = true
			}
		}
		if !found && !runbookGeneralSections[a] {
			t.Errorf("docs/runbooks.md section #%s has no alert", a)
		}
	}
}

// runbookGeneralSections are the headings of docs/runbooks.md that are not alerts.
var runbookGeneralSections = map[string]bool{
	"syncwatch-runbooks":    true,
	"before-you-start":      true,
	"sync-alerts":           true,
	"alerts-on-syncwatch":   true,
	"silencing-and-testing": true,
	"clearing-runs":         true,
}

// runbookAnchors returns the GitHub anchors of the headings of docs/runbooks.md.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		anchors[githubAnchor(strings.TrimLeft(line, "#"))] = true
	}
	return anchors
}

// githubAnchor is the id GitHub gives a Markdown heading: lower case,
// punctuation other than '-' and '_' dropped, spaces turned into '-'.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubAnchor(t *testing.T) {
	for in, want := range map[string]string{
		" SyncFailureRateHigh":         "syncfailureratehigh",
		" Silencing and testing":       "silencing-and-testing",
		" Before you start: the links": "before-you-start-the-links",
	} {
		if got := githubAnchor(in); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", in, got, want)
		}
	}
}

// contractMetrics are the metric names syncwatch exports (the metrics
// contract; histograms are listed by their base name).
var contractMetrics = []string{
	// ingest instruments, per collector replica
	"syncwatch_runs_total", "syncwatch_records_total", "syncwatch_run_duration_seconds",
	// ClickHouse-backed gauges
	"syncwatch_window_runs", "syncwatch_window_success_ratio", "syncwatch_window_record_success_ratio",
	"syncwatch_window_errors_per_hour", "syncwatch_window_duration_seconds", "syncwatch_window_duration_avg_seconds",
	"syncwatch_last_success_timestamp_seconds", "syncwatch_last_run_timestamp_seconds",
	"syncwatch_runs_in_progress", "syncwatch_oldest_in_progress_start_timestamp_seconds",
	"syncwatch_consecutive_failures", "syncwatch_expected_interval_seconds", "syncwatch_max_runtime_seconds",
	"syncwatch_exporter_scrape_success", "syncwatch_exporter_scrape_duration_seconds",
	// diagnostics
	"syncwatch_anomaly_detected", "syncwatch_anomaly_ongoing", "syncwatch_anomaly_consecutive_failures_threshold",
	"syncwatch_anomaly_failure_baseline_ratio", "syncwatch_forecast_duration_p95_seconds", "syncwatch_forecast_failure_ratio",
	"syncwatch_forecast_records_per_day", "syncwatch_forecast_overrun_seconds",
	// pipeline
	"syncwatch_http_requests_total", "syncwatch_http_request_duration_seconds",
	"syncwatch_ingest_reports_total", "syncwatch_ingest_rejections_total",
	"syncwatch_spool_reports", "syncwatch_spool_bytes", "syncwatch_spool_max_bytes", "syncwatch_spool_oldest_age_seconds",
	"syncwatch_quarantine_reports", "syncwatch_quarantined_reports_total",
	"syncwatch_batch_size_reports", "syncwatch_insert_duration_seconds", "syncwatch_insert_errors_total",
	"syncwatch_clickhouse_up", "syncwatch_build_info",
	// the automatic archive (serve --archive)
	"syncwatch_archive_last_pass_success", "syncwatch_archive_overdue_months",
	// digests (docs/digests.md)
	"syncwatch_digest_delivery_failing", "syncwatch_digest_scheduler_errors_total", "syncwatch_digest_deliveries_total",
	// the scrape's own
	"up",
	// Prometheus's own series of its alerts (the escalation reads them)
	"ALERTS", "ALERTS_FOR_STATE",
}

var contractHistograms = []string{
	"syncwatch_run_duration_seconds", "syncwatch_http_request_duration_seconds",
	"syncwatch_batch_size_reports", "syncwatch_insert_duration_seconds",
}

// PromQL words that look like names but are not metrics.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "atan2": true,
}

var (
	reStringLit    = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	reMatchers     = regexp.MustCompile(`\{[^{}]*\}`)
	reRanges       = regexp.MustCompile(`\[[^\[\]]*\]`)
	reGroupingList = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	reIdentifier   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames extracts the metric names an expression selects. It is a
// regexp-based scan, not a PromQL parser: string literals, label matchers,
// range and subquery brackets and grouping label lists are removed, then
// every remaining identifier that is neither a keyword nor followed by '('
// (a function or aggregation) is a metric name. The rules here use nothing
// beyond what this handles (no {__name__=...} selectors); the Prometheus
// parser (github.com/prometheus/prometheus/promql/parser) would pull the
// whole Prometheus module into go.mod for this one check.
func metricNames(expr string) []string {
	s := reStringLit.ReplaceAllString(expr, `""`)
	s = reMatchers.ReplaceAllString(s, " ")
	s = reRanges.ReplaceAllString(s, " ")
	s = reGroupingList.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range reIdentifier.FindAllStringIndex(s, -1) {
		start, end := loc[0], loc[1]
		// Part of a number or a duration (1.5e3, 5m) rather than a name.
		if start > 0 && strings.ContainsRune("0123456789.", rune(s[start-1])) {
			continue
		}
		name := s[start:end]
		if promqlKeywords[strings.ToLower(name)] {
			continue
		}
		// A function or an aggregation: followed by '('.
		if rest := strings.TrimLeft(s[end:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNamesExtraction(t *testing.T) {
	expr := `sum by (source, sync_type) (rate(syncwatch_runs_total{status=~"success|failed"}[1h] offset 1d))
	  / on (sync_type) group_left () max(syncwatch_expected_interval_seconds) > scalar(syncwatch:threshold:x) * 1.5e3
	  and min_over_time(timestamp(foo:bar:baz)[7d:5m]) unless on () absent(up{job="syncwatch"}) == bool 0`
	got := metricNames(expr)
	want := []string{"syncwatch_runs_total", "syncwatch_expected_interval_seconds", "syncwatch:threshold:x", "foo:bar:baz", "up"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("metricNames = %v, want %v", got, want)
	}
}

var reAnnotationMetric = regexp.MustCompile(`\b(syncwatch_[a-z0-9_]+|[a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b`)

// TestRuleMetricNamesAreInTheContract fails when a rule selects a metric
// that syncwatch does not export and no recording rule produces: such a rule
// would silently never fire.
func TestRuleMetricNamesAreInTheContract(t *testing.T) {
	known := map[string]string{}
	for _, m := range contractMetrics {
		known[m] = "contract"
	}
	for _, h := range contractHistograms {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			known[h+s] = "contract"
		}
	}
	rules := loadRules(t)
	for _, r := range rules {
		if r.Record != "" {
			known[r.Record] = "recording rule"
		}
	}
	used := map[string]bool{}
	for _, r := range rules {
		name := r.Record + r.Alert
		for _, m := range metricNames(r.Expr) {
			used[m] = true
			if known[m] == "" {
				t.Errorf("%s: expression selects %s, which is neither in the metrics contract nor a recording rule", name, m)
			}
		}
		// Queries inside annotation templates.
		for a, text := range r.Annotations {
			if a == "runbook_url" || a == "dashboard_url" || a == "console_url" {
				continue
			}
			for _, m := range reAnnotationMetric.FindAllString(text, -1) {
				if known[m] == "" {
					t.Errorf("%s: annotation %s queries %s, which is neither in the metrics contract nor a recording rule", name, a, m)
				}
			}
		}
	}
	// Each threshold is used by some alert.
	var unused []string
	for m, src := range known {
		if src == "recording rule" && strings.HasPrefix(m, "syncwatch:threshold:") && !used[m] {
			unused = append(unused, m)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("thresholds no rule uses: %v", unused)
	}
}
