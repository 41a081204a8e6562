package grafana

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// promParser parses PromQL as Prometheus does by default.
var promParser = parser.NewParser(parser.Options{})

// metricFamily is one family of docs/metrics.md, syncwatch's metrics
// contract.
type metricFamily struct {
	name   string
	typ    string
	labels []string
}

// metricsRow matches a row of the "All metrics" table of docs/metrics.md.
var metricsRow = regexp.MustCompile("^\\| `(syncwatch_[a-z0-9_]+)` \\| (counter|gauge|histogram|summary) \\| ([^|]*) \\|")

// contractMetrics reads the metric families of docs/metrics.md.
func contractMetrics(t *testing.T) map[string]metricFamily {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "metrics.md"))
	if err != nil {
		t.Fatalf("the metrics contract: %v", err)
	}
	out := map[string]metricFamily{}
	for _, line := range strings.Split(string(b), "\n") {
		m := metricsRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := metricFamily{name: m[1], typ: m[2]}
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			f.labels = append(f.labels, l[1])
		}
		out[f.name] = f
	}
	if len(out) < 20 {
		t.Fatalf("docs/metrics.md lists %d metric families: has its table changed?", len(out))
	}
	return out
}

// seriesNames returns the series names a family exposes, with the labels
// each may carry.
func (f metricFamily) seriesNames() map[string][]string {
	base := append([]string{"instance", "job"}, f.labels...)
	switch f.typ {
	case "histogram":
		return map[string][]string{
			f.name + "_bucket": append(slices.Clone(base), "le"),
			f.name + "_sum":    base,
			f.name + "_count":  base,
		}
	case "summary":
		return map[string][]string{
			f.name:            append(slices.Clone(base), "quantile"),
			f.name + "_sum":   base,
			f.name + "_count": base,
		}
	}
	return map[string][]string{f.name: base}
}

// recordedSeries returns the names the recording rules of alerts/rules
// define.
func recordedSeries(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "alerts", "rules", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no rule files in alerts/rules")
	}
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

// promVars are the values the PromQL checks give Grafana's variables: All
// for the dashboards' own, and typical intervals for Grafana's.
var promVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "30s",
	"$sync_type", ".*",
	"$source", ".*",
	"$instance", ".*",
)

// prometheusQueries returns every PromQL expression of the dashboards,
// variable queries (label_values(<selector>, <label>)) as their selector,
// with Grafana's variables expanded, by where they are.
func prometheusQueries(t *testing.T) map[string]string {
	t.Helper()
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-z_]+)\)$`)
	out := map[string]string{}
	for _, d := range committedDashboards(t) {
		for _, p := range d.allPanels() {
			for _, q := range p.Targets {
				if q.Expr == "" {
					continue
				}
				if q.Datasource == nil || q.Datasource.Type != PrometheusPluginID {
					t.Errorf("%s: panel %q: a PromQL expression on datasource %v", d.UID, p.Title, q.Datasource)
				}
				out[d.UID+": panel "+p.Title+" query "+q.RefID] = promVars.Replace(q.Expr)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" || v.Datasource == nil || v.Datasource.Type != PrometheusPluginID {
				continue
			}
			q, err := v.variablePromQL()
			if err != nil {
				t.Fatalf("%s: variable %s: %v", d.UID, v.Name, err)
			}
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: variable %s: %q is not label_values(<selector>, <label>)", d.UID, v.Name, q)
				continue
			}
			out[d.UID+": variable "+v.Name] = promVars.Replace("count by (" + m[2] + ") (" + m[1] + ")")
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d Prometheus queries found", len(out))
	}
	return out
}

// synthetic are series that Prometheus itself makes: up for each target
// (the alerts watch up{job="syncwatch"}) and ALERTS for each alert.
var synthetic = map[string][]string{
	"up":     {"job", "instance"},
	"ALERTS": {"alertname", "alertstate", "severity", "source", "sync_type", "instance", "job", "reason"},
}

// TestPrometheusQueriesParse checks that every PromQL expression of the
// dashboards parses, and selects only series that syncwatch exports (the
// metrics contract, docs/metrics.md), that the recording rules of
// alerts/rules define, or that Prometheus makes (up, ALERTS), with label
// matchers only on labels those series carry.
func TestPrometheusQueriesParse(t *testing.T) {
	exported := map[string][]string{}
	for _, f := range contractMetrics(t) {
		for name, ls := range f.seriesNames() {
			exported[name] = ls
		}
	}
	recorded := recordedSeries(t)
	for where, expr := range prometheusQueries(t) {
		e, err := promParser.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
			continue
		}
		selectors := 0
		parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			name := vs.Name
			if name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
						name = m.Value
					}
				}
			}
			var known []string
			switch {
			case exported[name] != nil:
				known = exported[name]
			case synthetic[name] != nil:
				known = synthetic[name]
			case recorded[name]:
				return nil // recorded series keep the labels their rules aggregate by
			default:
				t.Errorf("%s: selects %q, which neither syncwatch exports (docs/metrics.md) nor a recording rule defines", where, name)
				return nil
			}
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel && !slices.Contains(known, m.Name) {
					t.Errorf("%s: matches label %q of %s, which has only %s", where, m.Name, name, quote(known))
				}
			}
			return nil
		})
		if selectors == 0 {
			t.Errorf("%s: selects no series: %s", where, expr)
		}
	}
}

// TestPromQLCheckCatchesMistakes makes sure the checks above are not
// vacuous: an unknown metric, a label it lacks and a syntax error are all
// found by the same machinery.
func TestPromQLCheckCatchesMistakes(t *testing.T) {
	if _, err := promParser.ParseExpr(`sum by (sync_type (rate(syncwatch_runs_total[5m]))`); err == nil {
		t.Error("a syntax error parses")
	}
	f := contractMetrics(t)["syncwatch_runs_total"]
	if !slices.Contains(f.seriesNames()["syncwatch_runs_total"], "status") || slices.Contains(f.seriesNames()["syncwatch_runs_total"], "reason") {
		t.Errorf("syncwatch_runs_total labels %v", f.seriesNames())
	}
	if _, ok := contractMetrics(t)["syncwatch_no_such_metric"]; ok {
		t.Error("an unknown metric is in the contract")
	}
	h := contractMetrics(t)["syncwatch_run_duration_seconds"].seriesNames()
	if !slices.Contains(h["syncwatch_run_duration_seconds_bucket"], "le") {
		t.Errorf("histogram series %v", h)
	}
	if !recordedSeries(t)["source_sync_type:syncwatch_window_run_failure:ratio_1h"] {
		t.Error("recording rules not read")
	}
}
