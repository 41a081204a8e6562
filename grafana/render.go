package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Dashboard is one generated dashboard and the file it is written to.
type Dashboard struct {
	// File is the name of the JSON file in the dashboards directory.
	File      string
	Dashboard Model
}

// Dashboards builds every syncwatch dashboard with the given thresholds.
func Dashboards(th Thresholds) ([]Dashboard, error) {
	var out []Dashboard
	for _, f := range []func(Thresholds) (Model, error){Overview, Drilldown, Pipeline} {
		d, err := f(th)
		if err != nil {
			return nil, err
		}
		out = append(out, Dashboard{File: *d.Uid + ".json", Dashboard: d})
	}
	return out, nil
}

// build finishes a dashboard: it numbers the panels in order (rows
// included), so that panel ids and links to single panels stay stable, and
// drops the placement the SDK gives every link by default (the controls
// menu), so that dashboard links show above the panels as usual and data
// links carry nothing they do not use.
func build(b *modelBuilder) (Model, error) {
	d, err := b.Build()
	if err != nil {
		return Model{}, err
	}
	clearPlacement(d.Links)
	var id uint32
	finish := func(p *dashboard.Panel) {
		id++
		p.Id = cog.ToPtr(id)
		clearPlacement(p.Links)
		if p.FieldConfig != nil {
			clearPlacement(p.FieldConfig.Defaults.Links)
		}
	}
	for i := range d.Panels {
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			finish(p.Panel)
		case p.RowPanel != nil:
			id++
			p.RowPanel.Id = id
			for j := range p.RowPanel.Panels {
				finish(&p.RowPanel.Panels[j])
			}
		}
	}
	return d, nil
}

// clearPlacement removes the placement of links.
func clearPlacement(links []dashboard.DashboardLink) {
	for i := range links {
		links[i].Placement = nil
	}
}

// Render returns the JSON of a dashboard as it is committed: indented by
// two spaces, HTML characters unescaped, with a final newline.
func Render(d Model) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Generate reads the thresholds from the rule file and writes every
// dashboard into dir, replacing the files that are there.
func Generate(ruleFile, dir string) error {
	th, err := LoadThresholds(ruleFile)
	if err != nil {
		return err
	}
	ds, err := Dashboards(th)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range ds {
		b, err := Render(d.Dashboard)
		if err != nil {
			return fmt.Errorf("%s: %w", d.File, err)
		}
		if err := os.WriteFile(filepath.Join(dir, d.File), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
