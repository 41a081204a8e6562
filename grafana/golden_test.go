package grafana

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

var update = flag.Bool("update", false, "rewrite grafana/dashboards/*.json with the generator's output")

// TestGolden checks that the committed dashboards are exactly what the
// generator writes from the shipped alerting thresholds. -update rewrites
// them (as go generate ./grafana does).
func TestGolden(t *testing.T) {
	ds, err := Dashboards(repoThresholds(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, d := range ds {
		want[d.File] = true
		got, err := Render(d.Dashboard)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("dashboards", d.File)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		committed, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: run go generate ./grafana", err)
		}
		if !bytes.Equal(committed, got) {
			t.Errorf("%s differs from the generator's output (%d vs %d bytes): run go generate ./grafana (or go test ./grafana -run TestGolden -update) and commit the result", path, len(committed), len(got))
		}
	}
	files, _ := filepath.Glob(filepath.Join("dashboards", "*"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s is not written by the generator: remove it", f)
		}
	}
}

// TestDashboardsLoadStrictly decodes every committed dashboard with the
// SDK's strict decoder (unknown fields, missing required fields and invalid
// queries are errors at every level), then decodes it into the SDK's typed
// model, checks that panels and queries decode to their typed forms, and
// that encoding the model again gives the committed bytes: nothing in the
// JSON is unknown to the SDK.
//
// The SDK (v0.0.22) returns its error lists as typed nils, so that its
// strict decoder reports every real error but drops the panels, queries
// and options it decoded without one; the typed model therefore comes from
// its regular decoder. The test proves that the strict decoder still sees
// an error deep inside a query.
func TestDashboardsLoadStrictly(t *testing.T) {
	RegisterPlugins()
	files, _ := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no committed dashboards")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var strict Model
		if err := sdkError(strict.UnmarshalJSONStrict(raw)); err != nil {
			t.Errorf("%s: strict decoding: %v", f, err)
			continue
		}
		var d Model
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := sdkError(d.Validate()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		panels := 0
		for _, pr := range d.Panels {
			if pr.Panel == nil {
				if pr.RowPanel == nil {
					t.Errorf("%s: a panel decoded as neither panel nor row", f)
				}
				continue
			}
			panels++
			p := pr.Panel
			if p.Options == nil {
				t.Errorf("%s: panel %q has no options", f, deref(p.Title))
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, deref(p.Title))
			}
			for i, q := range p.Targets {
				switch x := q.(type) {
				case *prometheus.Dataquery:
					if x.Expr == "" {
						t.Errorf("%s: panel %q target %d: empty expression", f, deref(p.Title), i)
					}
				case *ClickHouseQuery:
					if err := x.Validate(); err != nil {
						t.Errorf("%s: panel %q target %d: %v", f, deref(p.Title), i, err)
					}
				default:
					t.Errorf("%s: panel %q target %d decoded as %T, not a known query", f, deref(p.Title), i, q)
				}
			}
		}
		if panels == 0 {
			t.Errorf("%s: no panel decoded", f)
		}
		again, err := Render(d)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("%s: decoding and encoding again changes the JSON", f)
		}

		// The strict decoder is not blind below the dashboard: an unknown
		// field in a query, in field options or in panel options is an error.
		for _, mutation := range []struct{ from, to string }{
			{`"refId": "A"`, `"refId": "A", "bogus": 1`},
			{`"custom": {`, `"custom": {"bogus": 1, `},
			{`"options": {`, `"options": {"bogus": 1, `},
		} {
			bad := strings.Replace(string(raw), mutation.from, mutation.to, 1)
			if bad == string(raw) {
				t.Fatalf("%s: nothing to mutate at %s", f, mutation.from)
			}
			var d2 Model
			if err := sdkError(d2.UnmarshalJSONStrict([]byte(bad))); err == nil {
				t.Errorf("%s: the strict decoder accepts an unknown field (%s)", f, mutation.to)
			}
		}
	}
}

// TestClickHouseQueryStrictDecoding checks the strict decoder of the
// ClickHouse query refuses what Grafana would not run.
func TestClickHouseQueryStrictDecoding(t *testing.T) {
	cfg := ClickHouseVariantConfig()
	good := `{"refId":"A","datasource":{"type":"grafana-clickhouse-datasource","uid":"clickhouse"},"editorType":"sql","format":1,"rawSql":"SELECT 1"}`
	q, err := cfg.StrictDataqueryUnmarshaler([]byte(good))
	if err != nil {
		t.Fatalf("valid query: %v", err)
	}
	if q.DataqueryType() != ClickHousePluginID {
		t.Errorf("DataqueryType = %q", q.DataqueryType())
	}
	built, _ := NewClickHouseQueryBuilder("SELECT 1").RefId("A").Build()
	if !q.Equals(built) || !built.Equals(q) {
		t.Errorf("decoded query %+v does not equal built query %+v", q, built)
	}
	for name, bad := range map[string]string{
		"unknown field":   `{"editorType":"sql","format":1,"rawSql":"SELECT 1","query":"x"}`,
		"field case":      `{"editorType":"sql","format":1,"rawSQL":"SELECT 1"}`,
		"no rawSql":       `{"editorType":"sql","format":1}`,
		"empty rawSql":    `{"editorType":"sql","format":1,"rawSql":""}`,
		"builder editor":  `{"editorType":"builder","format":1,"rawSql":"SELECT 1"}`,
		"no format":       `{"editorType":"sql","rawSql":"SELECT 1"}`,
		"unknown format":  `{"editorType":"sql","format":7,"rawSql":"SELECT 1"}`,
		"wrong plugin id": `{"datasource":{"type":"prometheus"},"editorType":"sql","format":1,"rawSql":"SELECT 1"}`,
	} {
		if _, err := cfg.StrictDataqueryUnmarshaler([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
	if _, err := NewClickHouseQueryBuilder("").Build(); err == nil {
		t.Error("builder accepted an empty query")
	}
	if _, err := NewClickHouseQueryBuilder("SELECT 1").Format(9).Build(); err == nil {
		t.Error("builder accepted format 9")
	}
}

// sdkError returns nil for the empty cog.BuildErrors that the SDK's
// decoders and validators return, as a non-nil error, when all is well.
func sdkError(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestParseThresholds checks the threshold parser on the shipped rules and
// on broken ones.
func TestParseThresholds(t *testing.T) {
	th := repoThresholds(t)
	if th.RunFailureRatioWarning <= 0 || th.RunFailureRatioWarning >= th.RunFailureRatioCritical {
		t.Errorf("failure ratio thresholds %v, %v", th.RunFailureRatioWarning, th.RunFailureRatioCritical)
	}
	all, err := os.ReadFile(filepath.Join(repoRoot, "alerts", "rules", "recording.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every threshold rule of the file is one the dashboards know, but for
	// those that are no level of any panel.
	notDrawn := map[string]string{
		"warning_escalation_seconds": "how long a warning waits before SyncWarningEscalated pages: a time, not a level",
	}
	for _, line := range strings.Split(string(all), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- record: "+ThresholdPrefix)
		if !ok || notDrawn[name] != "" {
			continue
		}
		if _, known := th.Values()[name]; !known {
			t.Errorf("threshold %s%s is not drawn by any dashboard: add it to Thresholds", ThresholdPrefix, name)
		}
	}

	missing := strings.Replace(string(all), "record: syncwatch:threshold:spool_usage_critical", "record: syncwatch:something_else", 1)
	if _, err := ParseThresholds([]byte(missing)); err == nil || !strings.Contains(err.Error(), "spool_usage_critical") {
		t.Errorf("missing threshold: err = %v", err)
	}
	notConst := strings.Replace(string(all), "expr: vector(0.2)", "expr: vector(0.2) * 2", 1)
	if _, err := ParseThresholds([]byte(notConst)); err == nil {
		t.Error("a threshold that is not vector(<number>) was accepted")
	}
	twice := string(all) + "\n  - name: extra\n    rules:\n      - record: syncwatch:threshold:min_runs_1h\n        expr: vector(4)\n"
	if _, err := ParseThresholds([]byte(twice)); err == nil {
		t.Error("a threshold defined twice was accepted")
	}
	if _, err := ParseThresholds([]byte("groups: [")); err == nil {
		t.Error("broken YAML was accepted")
	}
	v, err := ParseThresholds([]byte(strings.ReplaceAll(string(all), "vector(3)", "vector( 3e0 )")))
	if err != nil || v.ConsecutiveFailuresWarning != 3 {
		t.Errorf("vector( 3e0 ): %v, %v", v.ConsecutiveFailuresWarning, err)
	}
	keys := make([]string, 0, len(th.Values()))
	for k := range th.Values() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) != 15 {
		t.Errorf("thresholds %v", keys)
	}
}
