package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository's root, seen from this package's directory
// (go test runs in it).
const repoRoot = ".."

// testDataDir is the embedded ClickHouse engine's directory for this test
// process: the engine keeps one storage path per process, and each test
// gets its own database inside it.
var testDataDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncwatch-grafanatest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDataDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// jsonDS is a datasource reference in dashboard JSON.
type jsonDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// jsonTarget is a panel query: Prometheus (expr) or ClickHouse (rawSql).
type jsonTarget struct {
	RefID      string          `json:"refId"`
	Datasource *jsonDS         `json:"datasource"`
	Expr       string          `json:"expr"`
	RawSQL     string          `json:"rawSql"`
	EditorType string          `json:"editorType"`
	Format     json.RawMessage `json:"format"`
	Instant    bool            `json:"instant"`
}

// jsonLink is a dashboard, panel or data link.
type jsonLink struct {
	Title string   `json:"title"`
	Type  string   `json:"type"`
	URL   string   `json:"url"`
	Tags  []string `json:"tags"`
}

// jsonThresholds are the thresholds of a field config.
type jsonThresholds struct {
	Mode  string `json:"mode"`
	Steps []struct {
		Value *float64 `json:"value"`
		Color string   `json:"color"`
	} `json:"steps"`
}

// jsonOverride is one field override.
type jsonOverride struct {
	Matcher struct {
		ID      string `json:"id"`
		Options any    `json:"options"`
	} `json:"matcher"`
	Properties []struct {
		ID    string          `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// jsonPanel is a panel or a row of dashboard JSON.
type jsonPanel struct {
	ID          int          `json:"id"`
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Datasource  *jsonDS      `json:"datasource"`
	Targets     []jsonTarget `json:"targets"`
	GridPos     struct {
		X, Y, W, H int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit        string          `json:"unit"`
			DisplayName string          `json:"displayName"`
			Thresholds  *jsonThresholds `json:"thresholds"`
			Links       []jsonLink      `json:"links"`
			Mappings    json.RawMessage `json:"mappings"`
		} `json:"defaults"`
		Overrides []jsonOverride `json:"overrides"`
	} `json:"fieldConfig"`
	Transformations []struct {
		ID      string         `json:"id"`
		Options map[string]any `json:"options"`
	} `json:"transformations"`
	Links  []jsonLink  `json:"links"`
	Panels []jsonPanel `json:"panels"`
}

// jsonVariable is a template variable.
type jsonVariable struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Query       json.RawMessage `json:"query"`
	Datasource  *jsonDS         `json:"datasource"`
	Multi       bool            `json:"multi"`
	IncludeAll  bool            `json:"includeAll"`
	AllValue    *string         `json:"allValue"`
	Current     struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// jsonDashboard is the part of dashboard JSON the tests look at.
type jsonDashboard struct {
	file        string
	UID         string     `json:"uid"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Tags        []string   `json:"tags"`
	Links       []jsonLink `json:"links"`
	Templating  struct {
		List []jsonVariable `json:"list"`
	} `json:"templating"`
	Panels []jsonPanel `json:"panels"`
}

// allPanels returns the dashboard's panels, rows left out and the panels
// of collapsed rows included.
func (d *jsonDashboard) allPanels() []jsonPanel {
	var out []jsonPanel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// variable returns the dashboard's variable of that name.
func (d *jsonDashboard) variable(name string) (jsonVariable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return jsonVariable{}, false
}

// panel returns the dashboard's panel with that title; the test fails when
// there is none.
func (d *jsonDashboard) panel(t *testing.T, title string) jsonPanel {
	t.Helper()
	for _, p := range d.allPanels() {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("%s: no panel titled %q", d.UID, title)
	return jsonPanel{}
}

// variableSQL returns the SQL of a ClickHouse query variable.
func (v jsonVariable) variableSQL() (string, error) {
	var q struct {
		RawSQL string `json:"rawSql"`
	}
	if err := json.Unmarshal(v.Query, &q); err != nil {
		var s string
		if err2 := json.Unmarshal(v.Query, &s); err2 != nil {
			return "", err
		}
		return s, nil
	}
	return q.RawSQL, nil
}

// variablePromQL returns the query of a Prometheus query variable.
func (v jsonVariable) variablePromQL() (string, error) {
	var s string
	err := json.Unmarshal(v.Query, &s)
	return s, err
}

// committedDashboards reads the committed dashboards/*.json.
func committedDashboards(t *testing.T) []*jsonDashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards in grafana/dashboards: run go generate ./grafana")
	}
	sort.Strings(files)
	var out []*jsonDashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := &jsonDashboard{file: filepath.Base(f)}
		if err := json.Unmarshal(b, d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, d)
	}
	return out
}

// dashboardByUID returns the committed dashboard with that uid.
func dashboardByUID(t *testing.T, uid string) *jsonDashboard {
	t.Helper()
	for _, d := range committedDashboards(t) {
		if d.UID == uid {
			return d
		}
	}
	t.Fatalf("no committed dashboard with uid %s", uid)
	return nil
}

// repoThresholds reads the thresholds of the shipped alerting rules.
func repoThresholds(t *testing.T) Thresholds {
	t.Helper()
	th, err := LoadThresholds(filepath.Join(repoRoot, "alerts", "rules", "recording.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// overrideNames returns the field names that a panel's byName overrides
// match.
func (p jsonPanel) overrideNames() []string {
	var out []string
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID == "byName" {
			if s, ok := o.Matcher.Options.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// organizedNames returns the field names an organize transformation
// renames or hides.
func (p jsonPanel) organizedNames() []string {
	var out []string
	for _, tr := range p.Transformations {
		if tr.ID != "organize" {
			continue
		}
		for _, key := range []string{"renameByName", "excludeByName"} {
			m, _ := tr.Options[key].(map[string]any)
			for name := range m {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// linkURLs returns every link URL of a panel: panel links, data links and
// links set by overrides.
func (p jsonPanel) linkURLs() []string {
	var out []string
	for _, l := range p.Links {
		out = append(out, l.URL)
	}
	for _, l := range p.FieldConfig.Defaults.Links {
		out = append(out, l.URL)
	}
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID != "links" {
				continue
			}
			var links []jsonLink
			if err := json.Unmarshal(prop.Value, &links); err == nil {
				for _, l := range links {
					out = append(out, l.URL)
				}
			}
		}
	}
	return out
}

// stepValues returns the values of the threshold steps after the base.
func stepValues(th *jsonThresholds) []float64 {
	if th == nil {
		return nil
	}
	var out []float64
	for _, s := range th.Steps {
		if s.Value != nil {
			out = append(out, *s.Value)
		}
	}
	return out
}

// quote formats values for messages.
func quote(vs []string) string { return "[" + strings.Join(vs, ", ") + "]" }

// jsonUnmarshal decodes raw JSON.
func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
