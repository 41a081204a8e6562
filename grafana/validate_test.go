package grafana

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDashboardStructure checks what every dashboard must have: its stable
// uid and file name, a title, description and tag, variables with
// descriptions, and panels with a title, a description, a datasource, a
// unit, unique ids and query refIds, and a place on the grid that no other
// panel takes.
func TestDashboardStructure(t *testing.T) {
	var uids []string
	for _, d := range committedDashboards(t) {
		uids = append(uids, d.UID)
		if d.file != d.UID+".json" {
			t.Errorf("%s holds dashboard %s: the file is named after the uid", d.file, d.UID)
		}
		if d.Title == "" || d.Description == "" || !slices.Contains(d.Tags, Tag) {
			t.Errorf("%s: title %q, description %q, tags %v: all required, tags with %q", d.UID, d.Title, d.Description, d.Tags, Tag)
		}
		if len(d.Links) == 0 {
			t.Errorf("%s: no links to the other dashboards", d.UID)
		}
		for _, v := range d.Templating.List {
			if v.Description == "" {
				t.Errorf("%s: variable %s has no description", d.UID, v.Name)
			}
		}

		ids := map[int]string{}
		type cell struct{ x, y int }
		taken := map[cell]string{}
		for _, p := range d.Panels {
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("%s: panel %q has id %d, like %q", d.UID, p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q is at %+v, outside the 24-column grid", d.UID, p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Errorf("%s: panels %q and %q overlap at (%d, %d)", d.UID, other, p.Title, x, y)
					}
					taken[cell{x, y}] = p.Title
				}
			}
			if p.Type == "row" {
				if p.Title == "" {
					t.Errorf("%s: a row has no title", d.UID)
				}
				continue
			}
			where := fmt.Sprintf("%s: panel %q", d.UID, p.Title)
			if p.Title == "" || len(p.Description) < 30 || !strings.HasSuffix(p.Description, ".") {
				t.Errorf("%s: needs a title and a description of full sentences, has %q", where, p.Description)
			}
			if p.Datasource == nil || p.Datasource.UID == "" {
				t.Errorf("%s: no datasource", where)
			}
			// Every visualisation states its unit: graphs on their axes,
			// stats and gauges on their values, tables and timelines
			// ("none" where the values are words or labels).
			if p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s (%s): no unit", where, p.Type)
			}
			if p.Type == "timeseries" && p.FieldConfig.Defaults.Unit == "none" {
				t.Errorf("%s: a graph's axis needs a real unit", where)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			refs := map[string]bool{}
			for _, q := range p.Targets {
				if q.RefID == "" || refs[q.RefID] {
					t.Errorf("%s: query refId %q empty or repeated", where, q.RefID)
				}
				refs[q.RefID] = true
				if q.Datasource == nil || p.Datasource == nil || *q.Datasource != *p.Datasource {
					t.Errorf("%s: query %s runs on %v, the panel on %v", where, q.RefID, q.Datasource, p.Datasource)
				}
				if (q.Expr == "") == (q.RawSQL == "") {
					t.Errorf("%s: query %s needs exactly one of expr and rawSql", where, q.RefID)
				}
				// Prometheus: a table wants one row per series (instant,
				// table format); stats and bar gauges one value per series
				// with its labels (time-series format), or they would show
				// a single bar and lose ${__field.labels.*}.
				if q.Expr != "" {
					format := strings.Trim(string(q.Format), `"`)
					switch p.Type {
					case "table":
						if !q.Instant || format != "table" {
							t.Errorf("%s: query %s: a table needs an instant query in the table format", where, q.RefID)
						}
					case "stat", "bargauge":
						if !q.Instant || format == "table" {
							t.Errorf("%s: query %s: a %s needs an instant query in the time-series format", where, q.RefID, p.Type)
						}
					}
				}
			}
		}
	}
	slices.Sort(uids)
	if want := []string{DrilldownUID, OverviewUID, PipelineUID}; !slices.Equal(uids, want) {
		t.Errorf("dashboard uids %v, want %v", uids, want)
	}

	// The variables the alert links and the console links rely on.
	for uid, names := range map[string][]string{
		OverviewUID:  {"sync_type", "source"},
		DrilldownUID: {"sync_type", "source", "status", "console_url"},
		PipelineUID:  {"instance"},
	} {
		d := dashboardByUID(t, uid)
		for _, name := range names {
			if _, ok := d.variable(name); !ok {
				t.Errorf("%s: no variable %s", uid, name)
			}
		}
	}
}

// TestThresholdsMatchAlertRules checks that the panels that show a figure
// an alert watches colour it at the alert's thresholds, as recorded in
// alerts/rules/recording.yml.
func TestThresholdsMatchAlertRules(t *testing.T) {
	th := repoThresholds(t)
	cases := []struct {
		uid, title string
		want       []float64
	}{
		{OverviewUID, "Failure ratio, last hour", []float64{th.RunFailureRatioWarning, th.RunFailureRatioCritical}},
		{OverviewUID, "Consecutive failures", []float64{th.ConsecutiveFailuresWarning, th.ConsecutiveFailuresCritical}},
		{OverviewUID, "Records not synced, last hour", []float64{th.RecordFailureRatio}},
		{OverviewUID, "Run duration p50 and p95, last hour", []float64{th.DurationRegressionFloorSeconds}},
		{OverviewUID, "Spool usage", []float64{th.SpoolUsageWarning, th.SpoolUsageCritical}},
		{OverviewUID, "Oldest spooled report", []float64{th.SpoolOldestAgeSeconds}},
		{DrilldownUID, "Failure ratio", []float64{th.RunFailureRatioWarning, th.RunFailureRatioCritical}},
		{DrilldownUID, "Failure ratio by source and sync type", []float64{th.RunFailureRatioWarning, th.RunFailureRatioCritical}},
		{DrilldownUID, "Records synced", []float64{1 - th.RecordFailureRatio}},
		{DrilldownUID, "Record success ratio by sync type", []float64{1 - th.RecordFailureRatio}},
		{DrilldownUID, "Run duration p50 and p95 by sync type", []float64{th.DurationRegressionFloorSeconds}},
		{PipelineUID, "Rejections by reason", []float64{th.IngestRejectionsPerMinute}},
		{PipelineUID, "Spool usage", []float64{th.SpoolUsageWarning, th.SpoolUsageCritical}},
		{PipelineUID, "Oldest spooled report", []float64{th.SpoolOldestAgeSeconds}},
	}
	for _, c := range cases {
		p := dashboardByUID(t, c.uid).panel(t, c.title)
		if got := stepValues(p.FieldConfig.Defaults.Thresholds); !floatsEqual(got, c.want) {
			t.Errorf("%s: panel %q thresholds %v, want %v (alerts/rules/recording.yml)", c.uid, c.title, got, c.want)
		}
	}

	// The silence table colours the intervals without success at the
	// grace factors.
	p := dashboardByUID(t, OverviewUID).panel(t, "Time since the last success")
	var got []float64
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID == "thresholds" {
				var th2 jsonThresholds
				if err := jsonUnmarshal(prop.Value, &th2); err != nil {
					t.Fatal(err)
				}
				got = stepValues(&th2)
			}
		}
	}
	if want := []float64{th.SilentGraceFactorWarning, th.SilentGraceFactorCritical}; !floatsEqual(got, want) {
		t.Errorf("silence table thresholds %v, want %v", got, want)
	}
}

func floatsEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) < 1e-9 })
}

// provisionedDatasources reads grafana/provisioning/datasources/*.yaml.
type provisionedDatasource struct {
	Name           string            `yaml:"name"`
	UID            string            `yaml:"uid"`
	Type           string            `yaml:"type"`
	URL            string            `yaml:"url"`
	JSONData       map[string]any    `yaml:"jsonData"`
	SecureJSONData map[string]string `yaml:"secureJsonData"`
}

func provisionedDatasources(t *testing.T) map[string]provisionedDatasource {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("provisioning", "datasources", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no datasource provisioning files")
	}
	out := map[string]provisionedDatasource{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			APIVersion  int                     `yaml:"apiVersion"`
			Datasources []provisionedDatasource `yaml:"datasources"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if doc.APIVersion != 1 {
			t.Errorf("%s: apiVersion %d, want 1", f, doc.APIVersion)
		}
		for _, ds := range doc.Datasources {
			if _, dup := out[ds.UID]; dup || ds.UID == "" {
				t.Errorf("%s: datasource %q has uid %q, empty or repeated", f, ds.Name, ds.UID)
			}
			out[ds.UID] = ds
		}
	}
	return out
}

// envRef is a value Grafana takes from its environment when it reads a
// provisioning file.
var envRef = regexp.MustCompile(`^\$(\{[A-Z_][A-Z0-9_]*\}|[A-Z_][A-Z0-9_]*)$`)

// TestDatasourcesProvisioned checks that every datasource a panel, query
// or variable uses is provisioned with that uid and type, and that the
// provisioned credentials come from the environment.
func TestDatasourcesProvisioned(t *testing.T) {
	dss := provisionedDatasources(t)
	check := func(where string, ref *jsonDS) {
		if ref == nil {
			t.Errorf("%s: no datasource", where)
			return
		}
		ds, ok := dss[ref.UID]
		if !ok {
			t.Errorf("%s: datasource uid %q is not provisioned", where, ref.UID)
			return
		}
		if ds.Type != ref.Type {
			t.Errorf("%s: datasource %s is of type %q, the dashboard says %q", where, ref.UID, ds.Type, ref.Type)
		}
	}
	used := map[string]bool{}
	for _, d := range committedDashboards(t) {
		for _, p := range d.allPanels() {
			check(d.UID+": panel "+p.Title, p.Datasource)
			for _, q := range p.Targets {
				check(d.UID+": panel "+p.Title+" query "+q.RefID, q.Datasource)
				if q.Datasource != nil {
					used[q.Datasource.UID] = true
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				check(d.UID+": variable "+v.Name, v.Datasource)
			}
		}
	}
	for uid, want := range map[string]string{PrometheusUID: PrometheusPluginID, ClickHouseUID: ClickHousePluginID} {
		if ds := dss[uid]; ds.Type != want {
			t.Errorf("datasource %s: type %q, want %q", uid, ds.Type, want)
		}
		if !used[uid] {
			t.Errorf("datasource %s is provisioned but no dashboard queries it", uid)
		}
	}
	for uid, ds := range dss {
		for k, v := range ds.SecureJSONData {
			if !envRef.MatchString(v) {
				t.Errorf("datasource %s: secureJsonData.%s is not an environment variable reference ($VAR or ${VAR})", uid, k)
			}
		}
	}
	ch := dss[ClickHouseUID]
	if ch.JSONData["defaultDatabase"] != "syncwatch" || ch.JSONData["protocol"] != "native" {
		t.Errorf("ClickHouse datasource jsonData %v: the dashboards' SQL names syncwatch's tables without a database", ch.JSONData)
	}
	if _, ok := ch.SecureJSONData["password"]; !ok {
		t.Error("ClickHouse datasource has no password")
	}

	// The dashboard provider loads files.
	b, err := os.ReadFile(filepath.Join("provisioning", "dashboards", "syncwatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &prov); err != nil {
		t.Fatal(err)
	}
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || !filepath.IsAbs(prov.Providers[0].Options.Path) {
		t.Errorf("dashboard provider %+v: want one file provider with an absolute path", prov)
	}
}

// dashboardLink matches a link to a Grafana dashboard by uid, with its
// query string.
var dashboardLink = regexp.MustCompile(`/d/([A-Za-z0-9_-]+)(\?[^\s"'` + "`" + `)]*)?`)

// linkVar matches the variables a dashboard link sets.
var linkVar = regexp.MustCompile(`[?&]var-([A-Za-z0-9_]+)=`)

// TestDashboardLinksResolve checks that every link to a dashboard in the
// runbooks, the alerting rules, the notification templates, the READMEs and
// the dashboards themselves names an existing uid and only its variables,
// and that the runbooks name only existing dashboards.
func TestDashboardLinksResolve(t *testing.T) {
	dashboards := map[string]*jsonDashboard{}
	for _, d := range committedDashboards(t) {
		dashboards[d.UID] = d
	}
	files := []string{
		filepath.Join(repoRoot, "docs", "runbooks.md"),
		filepath.Join(repoRoot, "README.md"),
		filepath.Join(repoRoot, "alerts", "README.md"),
	}
	for _, pattern := range []string{"alerts/templates/*.tmpl", "alerts/rules/*.yml", "grafana/dashboards/*.json"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
		if len(m) == 0 {
			t.Fatalf("no files match %s", pattern)
		}
		files = append(files, m...)
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range dashboardLink.FindAllStringSubmatch(string(b), -1) {
			found++
			d, ok := dashboards[m[1]]
			if !ok {
				t.Errorf("%s links to dashboard %q, which does not exist", f, m[1])
				continue
			}
			for _, v := range linkVar.FindAllStringSubmatch(m[2], -1) {
				if _, ok := d.variable(v[1]); !ok {
					t.Errorf("%s sets var-%s of dashboard %s, which has no such variable", f, v[1], m[1])
				}
			}
		}
	}
	if found < 10 {
		t.Errorf("only %d dashboard links found: is the pattern right?", found)
	}

	// The runbooks name dashboards in backquotes.
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("(?:Grafana|dashboard) `(syncwatch-[a-z-]+)`").FindAllStringSubmatch(string(b), -1)
	if len(named) == 0 {
		t.Error("the runbooks name no dashboard")
	}
	for _, m := range named {
		if _, ok := dashboards[m[1]]; !ok {
			t.Errorf("docs/runbooks.md names dashboard %q, which does not exist", m[1])
		}
	}
}
