package grafana

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The SQL pieces every drill-down query shares. The runs table holds the
// latest state of each run and is read with FINAL, so that a run whose
// reports have not merged yet counts once; its sorting key starts with
// started_at, so the time filter prunes parts.
const (
	// chSel keeps the runs of the sync types and sources chosen in the
	// variables; "All" expands to every value, and no value to none.
	chSel = `sync_type IN (${sync_type:singlequote}) AND source IN (${source:singlequote})`
	// chRuns filters runs by the dashboard's time range and the variables.
	chRuns = "FROM runs FINAL\nWHERE $__timeFilter(started_at) AND " + chSel
	// chFinal lets FINAL work partition by partition, in parallel.
	chFinal = "\nSETTINGS do_not_merge_across_partitions_select_final = 1"
	// chTerminal keeps the runs that finished.
	chTerminal = "status IN ('success', 'failed', 'partial')"
	// chInProgress keeps the runs still running, started within the
	// exporter's lookback.
	chInProgress = "started_at >= now() - INTERVAL 7 DAY AND status IN ('pending', 'processing')"
)

// sql joins the lines of a query.
func sql(lines ...string) string { return strings.Join(lines, "\n") }

// consoleRunLink opens a run in syncwatch's built-in console.
func consoleRunLink(runIDRef string) dataLink {
	return dataLink{Title: "Open the run in the syncwatch console", URL: "${console_url}/ui/runs/" + runIDRef, TargetBlank: true}
}

// chVar is a template variable whose values a ClickHouse query lists.
func chVar(name, label, query, description string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(*ClickHouseDatasource()).
		Query(dashboard.StringOrMap{Map: map[string]any{"editorType": ClickHouseEditorSQL, "rawSql": query}}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		Current(allOption())
}

// statusColors colours the series or cells of each run status.
var statusColors = map[string]string{
	"success": "green", "failed": "red", "partial": "orange", "processing": "blue", "pending": "purple",
}

// statusOrder lists the run statuses in the order of their lifecycle.
var statusOrder = []string{"pending", "processing", "success", "failed", "partial"}

// Drilldown is the sync drill-down (uid syncwatch-drilldown): the runs of
// the chosen sync types and sources, straight from ClickHouse: summary,
// trends of runs, success, duration and records, the run timeline, the
// recent failed and partial runs with their messages and a link to each in
// the console, the top error groups, the last run and success, and the
// runs in progress.
func Drilldown(th Thresholds) (Model, error) {
	statusDefault := dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"failed", "partial"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"failed", "partial"}},
	}
	b := newModelBuilder("syncwatch: sync drill-down").
		Uid(DrilldownUID).
		Description("The runs of the chosen sync types and sources, from ClickHouse: failure and success ratios, durations, records, the run timeline, recent failed and partial runs with their error messages, the top error groups, and runs in progress. Alert notifications open it with the sync type and source preselected.").
		Tags([]string{Tag, "drilldown"}).
		Editable().
		Refresh("5m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(chVar("sync_type", "Sync type",
			"SELECT DISTINCT sync_type FROM run_activity ORDER BY sync_type",
			"Sync types to show; alert notifications preselect one.")).
		WithVariable(chVar("source", "Source",
			"SELECT DISTINCT source FROM run_activity WHERE sync_type IN (${sync_type:singlequote}) ORDER BY source",
			"Sources (integrations, suppliers) to show; alert notifications preselect one.")).
		WithVariable(chVar("status", "Status",
			`SELECT arrayJoin(extractAll(type, '\'([a-z]+)\'')) AS status FROM system.columns WHERE database = currentDatabase() AND table = 'runs' AND name = 'status'`,
			"Statuses of the runs listed in the run table (the statuses of the schema).").
			Sort(dashboard.VariableSortDisabled).
			Current(statusDefault)).
		WithVariable(dashboard.NewTextBoxVariableBuilder("console_url").
			Label("Console").
			Description("Base URL of syncwatch's built-in console, which the run links open.").
			DefaultValue(dashboard.StringOrMap{String: cog.ToPtr(DefaultConsoleURL)}).
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultConsoleURL)},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultConsoleURL)},
			}))

	summary := func(title, description, query, unit string) *stat.PanelBuilder {
		return stat.NewPanelBuilder().
			Title(title).
			Description(description).
			Datasource(*ClickHouseDatasource()).
			WithTarget(chQuery("A", query)).
			Unit(unit).
			ColorMode(common.BigValueColorModeValue).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(lastValue()).
			Height(4).Span(4)
	}
	b = b.WithRow(dashboard.NewRowBuilder("Summary of the time range")).
		WithPanel(summary("Runs",
			"Runs started in the time range, whatever their status.",
			sql("SELECT count() AS runs", chRuns+chFinal), "short").
			Thresholds(thresholds(colorNeutral)).Decimals(0)).
		WithPanel(summary("Failure ratio",
			fmt.Sprintf("Failed runs over finished runs (success, failed or partial) started in the time range. SyncFailureRateHigh judges the last hour against %s (warning) and %s (critical).",
				percent(th.RunFailureRatioWarning), percent(th.RunFailureRatioCritical)),
			sql("SELECT countIf(status = 'failed') / countIf("+chTerminal+") AS failure_ratio",
				chRuns,
				"HAVING countIf("+chTerminal+") > 0"+chFinal), "percentunit").
			Thresholds(thresholds(colorOK,
				step{th.RunFailureRatioWarning, colorWarning},
				step{th.RunFailureRatioCritical, colorCritical})).
			Decimals(1).NoValue("no finished run")).
		WithPanel(summary("Records synced",
			fmt.Sprintf("success_count over total_count of the finished runs started in the time range. SyncRecordFailuresHigh judges the last hour: it warns when more than %s of the records fail.",
				percent(th.RecordFailureRatio)),
			sql("SELECT sum(toUInt128(success_count)) / sum(toUInt128(total_count)) AS record_success_ratio",
				chRuns+" AND "+chTerminal,
				"HAVING sum(total_count) > 0"+chFinal), "percentunit").
			Thresholds(thresholds(colorCritical, step{1 - th.RecordFailureRatio, colorOK})).
			Decimals(1).NoValue("no records")).
		WithPanel(summary("Runs in progress",
			"Runs started in the last 7 days whose latest status is pending or processing, whatever the time range. The table at the bottom lists them.",
			sql("SELECT count() AS in_progress",
				"FROM runs FINAL",
				"WHERE "+chInProgress+" AND "+chSel+chFinal), "short").
			Thresholds(thresholds(colorNeutral)).Decimals(0)).
		WithPanel(summary("Since the last success",
			"How long ago the latest successful run of the chosen sync types and sources completed, over the whole retention. Compare it with the sync type's expected interval (SyncSilent).",
			sql("SELECT dateDiff('second', max(last_success_at), now64(3)) AS since_last_success",
				"FROM run_activity",
				"WHERE "+chSel,
				"HAVING toUnixTimestamp64Milli(max(last_success_at)) > 0"), "s").
			Thresholds(thresholds(colorNeutral)).NoValue("never")).
		WithPanel(summary("Since the last run",
			"How long ago the latest run of any status started, over the whole retention. A job that stopped reporting altogether shows here first.",
			sql("SELECT dateDiff('second', max(last_run_started_at), now64(3)) AS since_last_run",
				"FROM run_activity",
				"WHERE "+chSel,
				"HAVING count() > 0"), "s").
			Thresholds(thresholds(colorNeutral)).NoValue("never"))

	var statusCounts []string
	runsByStatus := timeseries.NewPanelBuilder()
	for _, s := range statusOrder {
		statusCounts = append(statusCounts, fmt.Sprintf("countIf(status = '%s') AS %s", s, s))
		runsByStatus = runsByStatus.OverrideByName(s, []dashboard.DynamicConfigValue{fixedColor(statusColors[s])})
	}
	b = b.WithRow(dashboard.NewRowBuilder("Trends")).
		WithPanel(runsByStatus.
			Title("Runs by status").
			Description("Runs started in each interval, by their latest status: pending and processing runs have not reported their end yet.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time, "+strings.Join(statusCounts, ", "),
				chRuns,
				"GROUP BY time ORDER BY time"+chFinal))).
			Unit("short").Min(0).Decimals(0).
			AxisLabel("runs").
			DrawStyle(common.GraphDrawStyleBars).
			FillOpacity(80).
			Stacking(stacked()).
			Legend(legend("sum")).
			Tooltip(multiTooltip()).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Success ratio by sync type").
			Description("Successful runs over finished runs started in each interval, per sync type.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time, sync_type,",
				"  countIf(status = 'success') / countIf("+chTerminal+") AS success_ratio",
				chRuns,
				"GROUP BY time, sync_type",
				"HAVING countIf("+chTerminal+") > 0",
				"ORDER BY time"+chFinal))).
			Unit("percentunit").Min(0).Max(1).
			AxisLabel("success ratio").
			DisplayName("${__field.labels.sync_type}").
			Legend(tableLegend("mean", "min")).
			Tooltip(multiTooltip()).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Failure ratio by source and sync type").
			Description(fmt.Sprintf("Failed runs over finished runs started in each interval, per source and sync type. The dashed lines are SyncFailureRateHigh's thresholds (%s warning, %s critical), which the alert applies to the last hour with at least %g finished runs.",
				percent(th.RunFailureRatioWarning), percent(th.RunFailureRatioCritical), th.MinRuns1h)).
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time, concat(source, ' / ', sync_type) AS pair,",
				"  countIf(status = 'failed') / countIf("+chTerminal+") AS failure_ratio",
				chRuns,
				"GROUP BY time, pair",
				"HAVING countIf("+chTerminal+") > 0",
				"ORDER BY time"+chFinal))).
			Unit("percentunit").Min(0).Max(1).
			AxisLabel("failure ratio").
			DisplayName("${__field.labels.pair}").
			Thresholds(thresholds("transparent",
				step{th.RunFailureRatioWarning, colorWarning},
				step{th.RunFailureRatioCritical, colorCritical})).
			ThresholdsStyle(thresholdLines()).
			Legend(tableLegend("mean", "max")).
			Tooltip(multiTooltip()).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Run duration p50 and p95 by sync type").
			Description(fmt.Sprintf("Median and 95th percentile of the duration (completed_at minus start) of the finished runs started in each interval. SyncDurationRegression warns when the hourly p95 exceeds %gx its 7-day baseline and %s (dashed line).",
				th.DurationRegressionFactor, seconds(th.DurationRegressionFloorSeconds))).
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time, sync_type,",
				"  quantile(0.5)(duration_ms) / 1000 AS p50, quantile(0.95)(duration_ms) / 1000 AS p95",
				chRuns+" AND "+chTerminal+" AND duration_ms IS NOT NULL",
				"GROUP BY time, sync_type",
				"ORDER BY time"+chFinal))).
			Unit("s").Min(0).
			AxisLabel("duration").
			DisplayName("${__field.labels.sync_type} ${__field.name}").
			Thresholds(thresholds("transparent", step{th.DurationRegressionFloorSeconds, colorWarning})).
			ThresholdsStyle(thresholdLines()).
			Legend(tableLegend("mean", "max")).
			Tooltip(multiTooltip()).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Daily p95 duration, last 28 days").
			Description(fmt.Sprintf("The 95th percentile duration of each day's finished runs over the 28 days before now, whatever the time range: the series the diagnostics fit their forecast on (docs/diagnostics.md). SyncForecastOverrun warns when its trend reaches the maximum runtime or the interval within %s; the forecast itself, with its interval, is at /api/v1/diagnostics/forecasts and on the console's Diagnosis page.",
				seconds(th.ForecastOverrunSeconds))).
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT toStartOfDay(started_at) AS time, sync_type,",
				"  quantile(0.95)(duration_ms) / 1000 AS p95",
				"FROM runs FINAL",
				"WHERE started_at >= toStartOfDay(now()) - INTERVAL 28 DAY AND "+chSel+" AND "+chTerminal+" AND duration_ms IS NOT NULL",
				"GROUP BY time, sync_type",
				"ORDER BY time"+chFinal))).
			Unit("s").Min(0).
			AxisLabel("p95 duration").
			DisplayName("${__field.labels.sync_type}").
			Legend(tableLegend("first", "lastNotNull", "max")).
			Tooltip(multiTooltip()).
			Height(8).Span(24)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Records per interval").
			Description("Records handled by the finished runs started in each interval: total_count, and how many were synced (success_count) or failed (failed_count). Growing totals with growing durations mean more data rather than a slower supplier.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time,",
				"  sum(toUInt128(total_count)) AS total, sum(toUInt128(success_count)) AS synced, sum(toUInt128(failed_count)) AS failed",
				chRuns+" AND "+chTerminal,
				"GROUP BY time ORDER BY time"+chFinal))).
			Unit("short").Min(0).
			AxisLabel("records").
			Legend(legend("sum")).
			Tooltip(multiTooltip()).
			OverrideByName("synced", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("failed", []dashboard.DynamicConfigValue{fixedColor("red")}).
			OverrideByName("total", []dashboard.DynamicConfigValue{fixedColor("blue")}).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Record success ratio by sync type").
			Description(fmt.Sprintf("success_count over total_count of the finished runs started in each interval, per sync type. Below the dashed line more than %s of the records failed, where SyncRecordFailuresHigh warns (over the last hour).",
				percent(th.RecordFailureRatio))).
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT $__timeInterval(started_at) AS time, sync_type,",
				"  sum(toUInt128(success_count)) / sum(toUInt128(total_count)) AS record_success_ratio",
				chRuns+" AND "+chTerminal,
				"GROUP BY time, sync_type",
				"HAVING sum(total_count) > 0",
				"ORDER BY time"+chFinal))).
			Unit("percentunit").Min(0).Max(1).
			AxisLabel("records synced").
			DisplayName("${__field.labels.sync_type}").
			Thresholds(thresholds(colorCritical, step{1 - th.RecordFailureRatio, "transparent"})).
			ThresholdsStyle(thresholdLines()).
			Legend(tableLegend("mean", "min")).
			Tooltip(multiTooltip()).
			Height(8).Span(12))

	var statusMappings [][3]string
	for i, s := range statusOrder {
		statusMappings = append(statusMappings, [3]string{fmt.Sprint(i + 1), s, statusColors[s]})
	}
	var stateMappings [][3]string
	for _, s := range statusOrder {
		stateMappings = append(stateMappings, [3]string{s, s, statusColors[s]})
	}
	b = b.WithRow(dashboard.NewRowBuilder("Runs")).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Run timeline").
			Description("The latest status of each run at its start, per source and sync type (the newest 5,000 runs of the time range): a row of red is a failure streak, a gap is a silent job, a long blue stretch a run that does not finish.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chSeries("A", sql("SELECT time, pair, status FROM (",
				"  SELECT started_at AS time, concat(source, ' / ', sync_type) AS pair, toUInt8(status) AS status",
				"  "+strings.ReplaceAll(chRuns, "\n", "\n  "),
				"  ORDER BY time DESC LIMIT 5000",
				")",
				"ORDER BY time"+chFinal))).
			Unit("none").
			Mappings(valueText(statusMappings...)).
			DisplayName("${__field.labels.pair}").
			ShowValue(common.VisibilityModeNever).
			Tooltip(singleTooltip()).
			MergeValues(false).
			RowHeight(0.8).
			Legend(legend()).
			Height(9).Span(24)).
		WithPanel(withColumns(newTable().
			Title("Recent runs").
			Description("The newest 500 runs of the time range with the statuses chosen in the Status variable (failed and partial by default), with their counts and error messages. Click a run id to open the run in syncwatch's console; inspect a cell to read a long message.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chQuery("A", sql("SELECT started_at, completed_at, source, sync_type, toString(status) AS state,",
				"  duration_ms / 1000 AS duration_s, total_count, success_count, failed_count, message, run_id",
				chRuns+" AND status IN (${status:singlequote})",
				"ORDER BY started_at DESC",
				"LIMIT 500"+chFinal))).
			Unit("none").
			Filterable(true).
			NoValue("no run with these statuses").
			Height(12).Span(24),
			col{name: "started_at", header: "Started"},
			col{name: "completed_at", header: "Completed"},
			col{name: "source", header: "Source"},
			col{name: "sync_type", header: "Sync type"},
			col{name: "state", header: "Status", props: []dashboard.DynamicConfigValue{
				prop("mappings", valueText(stateMappings...)),
				prop("custom.cellOptions", map[string]any{"type": "color-text"}),
				prop("custom.width", 90),
			}},
			col{name: "duration_s", header: "Duration", props: []dashboard.DynamicConfigValue{prop("unit", "s"), prop("custom.width", 90)}},
			col{name: "total_count", header: "Total", props: []dashboard.DynamicConfigValue{prop("unit", "short")}},
			col{name: "success_count", header: "Synced", props: []dashboard.DynamicConfigValue{prop("unit", "short")}},
			col{name: "failed_count", header: "Failed", props: []dashboard.DynamicConfigValue{prop("unit", "short")}},
			col{name: "message", header: "Message", props: []dashboard.DynamicConfigValue{prop("custom.inspect", true), prop("custom.minWidth", 300)}},
			col{name: "run_id", header: "Run", props: []dashboard.DynamicConfigValue{fieldLinks(consoleRunLink("${__value.raw}"))}})).
		WithPanel(withColumns(newTable().
			Title("Top error groups").
			Description("Failed and partial runs of the time range grouped by the fingerprint of their message (the message with numbers, ids and secrets taken out): how many, of which sync types and sources, when first and last seen, and the latest message. Click the latest run to open it in the console.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chQuery("A", sql("SELECT lower(leftPad(hex(fingerprint), 16, '0')) AS error_group, count() AS runs,",
				"  countIf(status = 'failed') AS failed, countIf(status = 'partial') AS partial,",
				"  arrayStringConcat(arraySort(groupUniqArray(10)(sync_type)), ', ') AS sync_types,",
				"  arrayStringConcat(arraySort(groupUniqArray(10)(source)), ', ') AS sources,",
				"  min(started_at) AS first_seen, max(started_at) AS last_seen,",
				"  argMax(message, started_at) AS latest_message, argMax(run_id, started_at) AS latest_run_id",
				chRuns+" AND status IN ('failed', 'partial') AND fingerprint != 0",
				"GROUP BY fingerprint",
				"ORDER BY runs DESC, error_group",
				"LIMIT 20"+chFinal))).
			Unit("none").
			NoValue("no failed or partial run").
			Height(9).Span(24),
			col{name: "error_group", header: "Group"},
			col{name: "runs", header: "Runs", props: []dashboard.DynamicConfigValue{
				prop("unit", "short"),
				prop("custom.cellOptions", map[string]any{"type": "gauge", "mode": "basic"}),
				prop("color", map[string]any{"mode": "continuous-YlRd"}),
			}},
			col{name: "failed", header: "Failed", props: []dashboard.DynamicConfigValue{prop("unit", "short")}},
			col{name: "partial", header: "Partial", props: []dashboard.DynamicConfigValue{prop("unit", "short")}},
			col{name: "sync_types", header: "Sync types"},
			col{name: "sources", header: "Sources"},
			col{name: "first_seen", header: "First seen"},
			col{name: "last_seen", header: "Last seen"},
			col{name: "latest_message", header: "Latest message", props: []dashboard.DynamicConfigValue{prop("custom.inspect", true), prop("custom.minWidth", 300)}},
			col{name: "latest_run_id", header: "Latest run", props: []dashboard.DynamicConfigValue{fieldLinks(consoleRunLink("${__value.raw}"))}})).
		WithPanel(withColumns(newTable().
			Title("Last run and last success").
			Description("For each source and sync type, over the whole retention: when the latest run started, when the latest successful run completed, and how long ago that was. A source whose last run is recent but whose last success is old fails every time; one whose last run is old stopped reporting.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chQuery("A", sql("SELECT source, sync_type, max(last_run_started_at) AS last_run,",
				"  if(toUnixTimestamp64Milli(max(last_success_at)) > 0, max(last_success_at), NULL) AS last_success,",
				"  if(toUnixTimestamp64Milli(max(last_success_at)) > 0, dateDiff('second', max(last_success_at), now64(3)), NULL) AS since_last_success",
				"FROM run_activity",
				"WHERE "+chSel,
				"GROUP BY source, sync_type",
				"ORDER BY source, sync_type"))).
			Unit("none").
			NoValue("no run").
			Height(8).Span(12),
			col{name: "source", header: "Source"},
			col{name: "sync_type", header: "Sync type"},
			col{name: "last_run", header: "Last run"},
			col{name: "last_success", header: "Last success"},
			col{name: "since_last_success", header: "Since last success", props: []dashboard.DynamicConfigValue{prop("unit", "s")}})).
		WithPanel(withColumns(newTable().
			Title("Runs in progress").
			Description("Runs started in the last 7 days whose latest status is pending or processing, oldest first, with how long they have been running and the host that reported them. SyncRunStuck fires when the oldest exceeds the sync type's maximum runtime. Click a run id to open it in the console.").
			Datasource(*ClickHouseDatasource()).
			WithTarget(chQuery("A", sql("SELECT started_at, source, sync_type, toString(status) AS state,",
				"  dateDiff('second', started_at, now64(3)) AS running_for, attributes['host'] AS host, run_id",
				"FROM runs FINAL",
				"WHERE "+chInProgress+" AND "+chSel,
				"ORDER BY started_at",
				"LIMIT 200"+chFinal))).
			Unit("none").
			NoValue("nothing in progress").
			Height(8).Span(12),
			col{name: "started_at", header: "Started"},
			col{name: "source", header: "Source"},
			col{name: "sync_type", header: "Sync type"},
			col{name: "state", header: "Status"},
			col{name: "running_for", header: "Running for", props: []dashboard.DynamicConfigValue{prop("unit", "s")}},
			col{name: "host", header: "Host"},
			col{name: "run_id", header: "Run", props: []dashboard.DynamicConfigValue{fieldLinks(consoleRunLink("${__value.raw}"))}}))

	return build(b)
}
