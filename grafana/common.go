package grafana

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// The uids of the provisioned datasources (grafana/provisioning/datasources)
// and of the dashboards. Alert annotations, notification templates and the
// runbooks link to the dashboards by these uids: never change them.
const (
	PrometheusUID = "prometheus"
	ClickHouseUID = "clickhouse"

	OverviewUID  = "syncwatch-overview"
	DrilldownUID = "syncwatch-drilldown"
	PipelineUID  = "syncwatch-pipeline"
)

// PrometheusPluginID is the datasource type of Prometheus.
const PrometheusPluginID = "prometheus"

// Tag is the tag of every syncwatch dashboard; the dashboards link to each
// other through it.
const Tag = "syncwatch"

// DefaultConsoleURL is the default base URL of syncwatch's built-in console,
// the same as the notification templates' syncwatch.console_base_url.
const DefaultConsoleURL = "http://localhost:8080"

// PrometheusDatasource refers to the provisioned Prometheus datasource.
func PrometheusDatasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(PrometheusPluginID), Uid: cog.ToPtr(PrometheusUID)}
}

// ClickHouseDatasource refers to the provisioned ClickHouse datasource.
func ClickHouseDatasource() *common.DataSourceRef {
	return &common.DataSourceRef{Type: cog.ToPtr(ClickHousePluginID), Uid: cog.ToPtr(ClickHouseUID)}
}

// Colours of the threshold steps.
const (
	colorOK       = "green"
	colorWarning  = "orange"
	colorCritical = "red"
	colorNeutral  = "text"
)

// step is one threshold step: from value on, color.
type step struct {
	value float64
	color string
}

// thresholds returns absolute thresholds that start with base and change
// colour at each step.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	out := []dashboard.Threshold{{Color: base}}
	for _, s := range steps {
		out = append(out, dashboard.Threshold{Value: cog.ToPtr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(out)
}

// promRange is a range query of the Prometheus datasource.
func promRange(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(PrometheusDatasource()).
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// promInstant is an instant query of the Prometheus datasource in the table
// format, for tables: one row per series, a column per label.
func promInstant(refID, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(PrometheusDatasource()).
		RefId(refID).
		Expr(expr).
		Instant().
		Format(prometheus.PromQueryFormatTable)
}

// promSeries is an instant query of the Prometheus datasource that keeps
// each series apart with its labels, for stats and bar gauges: one value
// per series, named by the legend, with ${__field.labels.*} for links.
func promSeries(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(PrometheusDatasource()).
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		Instant().
		Format(prometheus.PromQueryFormatTimeSeries)
}

// chQuery is an SQL query of the ClickHouse datasource in the table format.
func chQuery(refID, sql string) *ClickHouseQueryBuilder {
	return NewClickHouseQueryBuilder(sql).RefId(refID)
}

// chSeries is an SQL query of the ClickHouse datasource in the time-series
// format.
func chSeries(refID, sql string) *ClickHouseQueryBuilder {
	return NewClickHouseQueryBuilder(sql).RefId(refID).TimeSeries()
}

// legend shows the legend as a list below the graph, with the given values.
func legend(calcs ...string) *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		DisplayMode(common.LegendDisplayModeList).
		Placement(common.LegendPlacementBottom).
		ShowLegend(true).
		Calcs(append([]string{}, calcs...))
}

// tableLegend shows the legend as a table below the graph.
func tableLegend(calcs ...string) *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		ShowLegend(true).
		Calcs(append([]string{}, calcs...))
}

// singleTooltip shows the series under the pointer in the tooltip.
func singleTooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)
}

// multiTooltip shows every series in the tooltip, largest first.
func multiTooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

// lastValue reduces a series to its last value that is not null.
func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)
}

// thresholdLines draws the thresholds as dashed lines.
func thresholdLines() *common.GraphThresholdsStyleConfigBuilder {
	return common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)
}

// stacked stacks the series of a graph.
func stacked() *common.StackingConfigBuilder {
	return common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A")
}

// prop is one property of a field override. The value is stored as the
// generic JSON value it encodes to (maps, slices, float64s), the form it
// has when a dashboard is read back, so that the rendered JSON is the same
// either way.
func prop(id string, value any) dashboard.DynamicConfigValue {
	b, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("override %s: %v", id, err))
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		panic(fmt.Sprintf("override %s: %v", id, err))
	}
	return dashboard.DynamicConfigValue{Id: id, Value: generic}
}

// fixedColor colours a field.
func fixedColor(color string) dashboard.DynamicConfigValue {
	return prop("color", map[string]any{"mode": "fixed", "fixedColor": color})
}

// dataLink is a link of a field or panel.
type dataLink struct {
	Title       string `json:"title"`
	URL         string `json:"url"`
	TargetBlank bool   `json:"targetBlank,omitempty"`
}

// fieldLinks sets the links of the fields an override matches.
func fieldLinks(links ...dataLink) dashboard.DynamicConfigValue {
	return prop("links", links)
}

// valueText maps values of a field to a text and a colour.
func valueText(pairs ...[3]string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, p := range pairs {
		opts[p[0]] = dashboard.ValueMappingResult{Text: cog.ToPtr(p[1]), Color: cog.ToPtr(p[2]), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// upDown maps 1 and 0 of a health gauge to words.
func upDown(up, down string) []dashboard.ValueMapping {
	return valueText([3]string{"1", up, colorOK}, [3]string{"0", down, colorCritical})
}

// hideColumns hides columns of a table.
func hideColumns(names ...string) dashboard.DataTransformerConfig {
	exclude := map[string]bool{}
	for _, n := range names {
		exclude[n] = true
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": exclude}}
}

// col is a column of a table: the field name the query returns, the
// header to show, and further properties.
type col struct {
	name, header string
	props        []dashboard.DynamicConfigValue
}

// withColumns sets the header and properties of a table's columns by the
// field names the query returns. Headers are display names of the fields,
// not renames, so that every override keeps matching its field.
func withColumns(b *table.PanelBuilder, cols ...col) *table.PanelBuilder {
	for _, c := range cols {
		b = b.OverrideByName(c.name, append([]dashboard.DynamicConfigValue{prop("displayName", c.header)}, c.props...))
	}
	return b
}

// merge joins the results of a panel's table queries into one table.
func merge() dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}
}

// drilldownLink opens the drill-down for the series' source and sync type.
func drilldownLink(sourceRef, syncTypeRef string) dataLink {
	return dataLink{
		Title: "Drill down: runs of this sync type and source",
		URL:   fmt.Sprintf("/d/%s?var-sync_type=%s&var-source=%s&${__url_time_range}", DrilldownUID, syncTypeRef, sourceRef),
	}
}

// dashboardLinks links a dashboard to the other syncwatch dashboards,
// passing on the time range and the variables.
func dashboardLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("syncwatch").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(false).
			IncludeVars(true).
			KeepTime(true).
			Icon("dashboard").
			Tooltip("The other syncwatch dashboards, with the same time range and sync type"),
	}
}

// syncTypeVar and sourceVar are the overview's Prometheus template
// variables; the alerts link to the dashboards with var-sync_type and
// var-source.
func promLabelVar(name, label, query, description string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(PrometheusDatasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(allOption())
}

// allOption is the "All" selection of a variable.
func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

// newTable starts a table panel. Its footer is off; the SDK's strict
// decoder wants the footer's reducer set even so.
func newTable() *table.PanelBuilder {
	return table.NewPanelBuilder().
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}))
}
