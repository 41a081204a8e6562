package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// sel selects the series of the sync types and sources chosen in the
// overview's variables.
const sel = `sync_type=~"$sync_type", source=~"$source"`

// Overview is the sync overview (uid syncwatch-overview): every sync type
// at a glance, from Prometheus. The figures of the last hour are the
// ClickHouse-backed window gauges, de-duplicated by the recording rules,
// so they agree with the alerts; rates come from the ingest counters.
func Overview(th Thresholds) (Model, error) {
	b := newModelBuilder("syncwatch: sync overview").
		Uid(OverviewUID).
		Description("Every sync job watched by syncwatch: failure and success ratios, runs by status, error frequency, durations, records, silent and stuck jobs, failure streaks, firing alerts and syncwatch's own health. From Prometheus; thresholds are those of the alerting rules.").
		Tags([]string{Tag, "overview"}).
		Editable().
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(promLabelVar("sync_type", "Sync type",
			`label_values(syncwatch_window_runs, sync_type)`,
			"Sync types to show; alert notifications preselect one.")).
		WithVariable(promLabelVar("source", "Source",
			`label_values(syncwatch_window_runs{sync_type=~"$sync_type"}, source)`,
			"Sources (integrations, suppliers) to show; alert notifications preselect one."))

	sourceLink := drilldownLink("${__field.labels.source}", "${__field.labels.sync_type}")

	// Row: the last hour.
	b = b.WithRow(dashboard.NewRowBuilder("Last hour")).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Failure ratio, last hour").
			Description(fmt.Sprintf("Failed runs over runs that finished (success, failed or partial) in the last hour, per source and sync type, from ClickHouse. SyncFailureRateHigh warns above %s and pages above %s when at least %g runs finished. Click a bar for the drill-down.",
				percent(th.RunFailureRatioWarning), percent(th.RunFailureRatioCritical), th.MinRuns1h)).
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `source_sync_type:syncwatch_window_run_failure:ratio_1h{`+sel+`}`, "{{source}} / {{sync_type}}")).
			Unit("percentunit").Min(0).Max(1).Decimals(1).
			Thresholds(thresholds(colorOK,
				step{th.RunFailureRatioWarning, colorWarning},
				step{th.RunFailureRatioCritical, colorCritical})).
			DisplayMode(common.BarGaugeDisplayModeGradient).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{linkBuilder(sourceLink)}).
			NoValue("no finished runs").
			Height(8).Span(8)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Success ratio by sync type").
			Description("Successful runs over runs that finished in the hour before each point, per sync type (all selected sources together). From the ClickHouse-backed window gauges, so restarts and replicas do not distort it.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A",
				`sum by (sync_type) (source_sync_type_status:syncwatch_window_runs:1h{status="success", `+sel+`})
/ sum by (sync_type) (source_sync_type:syncwatch_window_runs_finished:1h{`+sel+`} > 0)`, "{{sync_type}}")).
			Unit("percentunit").Min(0).Max(1).
			AxisLabel("success ratio").
			Legend(tableLegend("lastNotNull", "min")).
			Tooltip(multiTooltip()).
			LineWidth(2).FillOpacity(5).
			Height(8).Span(16))

	// Row: runs and errors.
	b = b.WithRow(dashboard.NewRowBuilder("Runs and errors")).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Runs of the last hour, by status").
			Description("Runs that finished in the hour before each point by their final status, and runs started in it that are still pending or processing. From ClickHouse, over every replica; a run counts once however many reports it sent.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `sum by (status) (source_sync_type_status:syncwatch_window_runs:1h{`+sel+`})`, "{{status}}")).
			Unit("short").Min(0).Decimals(0).
			AxisLabel("runs").
			Stacking(stacked()).
			FillOpacity(30).
			Legend(legend("lastNotNull")).
			Tooltip(multiTooltip()).
			OverrideByName("success", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("failed", []dashboard.DynamicConfigValue{fixedColor("red")}).
			OverrideByName("partial", []dashboard.DynamicConfigValue{fixedColor("orange")}).
			OverrideByName("processing", []dashboard.DynamicConfigValue{fixedColor("blue")}).
			OverrideByName("pending", []dashboard.DynamicConfigValue{fixedColor("purple")}).
			Height(8).Span(8)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Error frequency").
			Description("Failed or partial runs per hour, per sync type: over the last hour (solid) and as the average of the last 24 hours (dashed). From ClickHouse.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `sum by (sync_type) (max by (source, sync_type) (syncwatch_window_errors_per_hour{window="1h", `+sel+`}))`, "{{sync_type}}")).
			WithTarget(promRange("B", `sum by (sync_type) (source_sync_type:syncwatch_window_errors_per_hour:24h{`+sel+`})`, "{{sync_type}} (24h average)")).
			Unit("short").Min(0).
			AxisLabel("failed or partial runs / hour").
			Legend(legend("lastNotNull", "max")).
			Tooltip(multiTooltip()).
			OverrideByQuery("B", []dashboard.DynamicConfigValue{prop("custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}})}).
			Height(8).Span(8)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Finished runs per minute").
			Description("Terminal reports (success, failed, partial) accepted per minute by status, summed over every collector replica: what jobs are reporting right now. A retried delivery is counted once.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `sum by (status) (rate(syncwatch_runs_total{`+sel+`}[$__rate_interval])) * 60`, "{{status}}")).
			Unit("opm").Min(0).
			AxisLabel("runs / minute").
			Stacking(stacked()).
			FillOpacity(30).
			Legend(legend("mean")).
			Tooltip(multiTooltip()).
			OverrideByName("success", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("failed", []dashboard.DynamicConfigValue{fixedColor("red")}).
			OverrideByName("partial", []dashboard.DynamicConfigValue{fixedColor("orange")}).
			Height(8).Span(8))

	// Row: durations and records.
	b = b.WithRow(dashboard.NewRowBuilder("Durations and records")).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Run duration p50 and p95, last hour").
			Description(fmt.Sprintf("Median and 95th percentile of the duration of the runs that finished in the hour before each point, per sync type, from the ingest histogram. SyncDurationRegression warns when a source's p95 exceeds %gx its 7-day baseline and %s (dashed line).",
				th.DurationRegressionFactor, seconds(th.DurationRegressionFloorSeconds))).
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `histogram_quantile(0.5, sum by (sync_type, le) (source_sync_type_le:syncwatch_run_duration_seconds_bucket:rate1h{`+sel+`}))`, "{{sync_type}} p50")).
			WithTarget(promRange("B", `histogram_quantile(0.95, sum by (sync_type, le) (source_sync_type_le:syncwatch_run_duration_seconds_bucket:rate1h{`+sel+`}))`, "{{sync_type}} p95")).
			Unit("s").Min(0).
			AxisLabel("duration").
			Thresholds(thresholds("transparent", step{th.DurationRegressionFloorSeconds, colorWarning})).
			ThresholdsStyle(thresholdLines()).
			Legend(tableLegend("lastNotNull", "max")).
			Tooltip(multiTooltip()).
			Height(8).Span(10)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Records synced and failed per minute").
			Description("Records reported by finished runs per minute: success_count (synced) and failed_count (failed), summed over every collector replica.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `sum by (outcome) (rate(syncwatch_records_total{`+sel+`}[$__rate_interval])) * 60`, "{{outcome}}")).
			Unit("recpm").Min(0).
			AxisLabel("records / minute").
			Legend(legend("mean", "max")).
			Tooltip(multiTooltip()).
			OverrideByName("success", []dashboard.DynamicConfigValue{fixedColor("green"), prop("displayName", "synced")}).
			OverrideByName("failed", []dashboard.DynamicConfigValue{fixedColor("red")}).
			Height(8).Span(8)).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Records not synced, last hour").
			Description(fmt.Sprintf("Share of the records of the runs finished in the last hour that were not synced (1 - success_count / total_count), per source and sync type. SyncRecordFailuresHigh warns above %s while runs still end success or partial.",
				percent(th.RecordFailureRatio))).
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `source_sync_type:syncwatch_window_record_failure:ratio_1h{`+sel+`}`, "{{source}} / {{sync_type}}")).
			Unit("percentunit").Min(0).Max(1).Decimals(1).
			Thresholds(thresholds(colorOK, step{th.RecordFailureRatio, colorWarning})).
			DisplayMode(common.BarGaugeDisplayModeGradient).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{linkBuilder(sourceLink)}).
			NoValue("no records").
			Height(8).Span(6))

	// Row: silent jobs, stuck runs and streaks.
	b = b.WithRow(dashboard.NewRowBuilder("Silent, stuck and failing jobs")).
		WithPanel(withColumns(newTable().
			Title("Time since the last success").
			Description(fmt.Sprintf("Per source and sync type: how long ago the latest successful run completed, the sync type's expected interval, their ratio, and how long ago the latest run of any status started. SyncSilent warns after %g and pages after %g intervals without success. Sync types without an expected interval (manual) are not watched. Click a sync type for the drill-down.",
				th.SilentGraceFactorWarning, th.SilentGraceFactorCritical)).
			Datasource(PrometheusDatasource()).
			WithTarget(promInstant("A", `time() - max by (source, sync_type) (syncwatch_last_success_timestamp_seconds{`+sel+`} > 0)`)).
			WithTarget(promInstant("B", `max by (source, sync_type) (syncwatch_last_success_timestamp_seconds{`+sel+`} > 0) * 0
+ on (sync_type) group_left () max by (sync_type) (syncwatch_expected_interval_seconds)`)).
			WithTarget(promInstant("C", `(time() - max by (source, sync_type) (syncwatch_last_success_timestamp_seconds{`+sel+`} > 0))
/ on (sync_type) group_left () max by (sync_type) (syncwatch_expected_interval_seconds)`)).
			WithTarget(promInstant("D", `time() - max by (source, sync_type) (syncwatch_last_run_timestamp_seconds{`+sel+`})`)).
			WithTransformation(merge()).
			WithTransformation(hideColumns("Time")).
			Unit("s").
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Intervals without success").Desc(true),
			}).
			Height(9).Span(12),
			col{name: "source", header: "Source"},
			col{name: "sync_type", header: "Sync type", props: []dashboard.DynamicConfigValue{
				fieldLinks(drilldownLink("${__data.fields.source}", "${__value.raw}")),
			}},
			col{name: "Value #A", header: "Since last success"},
			col{name: "Value #B", header: "Expected interval"},
			col{name: "Value #C", header: "Intervals without success", props: []dashboard.DynamicConfigValue{
				prop("unit", "suffix:×"),
				prop("decimals", 2),
				prop("thresholds", thresholdsValue(colorOK,
					step{th.SilentGraceFactorWarning, colorWarning},
					step{th.SilentGraceFactorCritical, colorCritical})),
				prop("custom.cellOptions", map[string]any{"type": "color-background"}),
			}},
			col{name: "Value #D", header: "Since last run"})).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Consecutive failures").
			Description(fmt.Sprintf("The latest finished runs of each source and sync type that all failed, back to the last success or partial run (within 7 days). SyncConsecutiveFailures warns from %g and pages from %g. Click a bar for the drill-down.",
				th.ConsecutiveFailuresWarning, th.ConsecutiveFailuresCritical)).
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `max by (source, sync_type) (syncwatch_consecutive_failures{`+sel+`})`, "{{source}} / {{sync_type}}")).
			Unit("short").Min(0).Decimals(0).
			Thresholds(thresholds(colorOK,
				step{th.ConsecutiveFailuresWarning, colorWarning},
				step{th.ConsecutiveFailuresCritical, colorCritical})).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{linkBuilder(sourceLink)}).
			Height(9).Span(6)).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Oldest run in progress").
			Description("How long the oldest pending or processing run of each source and sync type has been running, as a share of the sync type's maximum runtime. SyncRunStuck warns above 100%. The runs in progress are listed in the drill-down.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `(time() - min by (source, sync_type) (syncwatch_oldest_in_progress_start_timestamp_seconds{`+sel+`} > 0))
/ on (sync_type) group_left () max by (sync_type) (syncwatch_max_runtime_seconds)`, "{{source}} / {{sync_type}}")).
			Unit("percentunit").Min(0).Max(1.5).Decimals(0).
			Thresholds(thresholds(colorOK, step{0.8, colorWarning}, step{1, colorCritical})).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{linkBuilder(sourceLink)}).
			NoValue("nothing in progress").
			Height(9).Span(6)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Runs in progress").
			Description("Runs started in the last 7 days whose latest status is pending or processing, per sync type. A count that only grows means runs that never report their end.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `sum by (sync_type) (max by (source, sync_type) (syncwatch_runs_in_progress{`+sel+`}))`, "{{sync_type}}")).
			Unit("short").Min(0).Decimals(0).
			AxisLabel("runs").
			Legend(legend("lastNotNull", "max")).
			Tooltip(multiTooltip()).
			Height(7).Span(24))

	// Row: diagnostics.
	b = b.WithRow(dashboard.NewRowBuilder("Diagnostics")).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Anomalies of the last 24 hours, by kind").
			Description("Anomalies the diagnostics detected in the last 24 hours over the selected sources and sync types, by kind: each type judged against its own history (robust z of durations and record counts, seasonal when the history is; failure streaks against the adaptive threshold; late, too frequent and overlapping starts). SyncAnomaly tells chat when a regression, a failure streak, a too-small success or a late job is ongoing. The console's Diagnosis page has the evidence and the likely cause.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `sum by (kind) (max by (source, sync_type, kind) (syncwatch_anomaly_detected{`+sel+`}))`, "{{kind}}")).
			Unit("short").Min(0).Decimals(0).
			Thresholds(thresholds(colorOK, step{1, colorWarning})).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			Height(8).Span(12)).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Adaptive consecutive-failure threshold").
			Description("For each source and sync type, ceil(ln α / ln p0): the number of failures in a row that is improbable (α = 0.001) at its baseline failure rate p0 of the 28 days before. A flaky job needs a longer streak than a steady one; SyncConsecutiveFailures uses one fixed threshold for all. Click a bar for the drill-down.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `max by (source, sync_type) (syncwatch_anomaly_consecutive_failures_threshold{`+sel+`})`, "{{source}} / {{sync_type}}")).
			Unit("short").Min(0).Decimals(0).
			Thresholds(thresholds(colorNeutral)).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(lastValue()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{linkBuilder(sourceLink)}).
			Height(8).Span(12))

	// Row: alerts and syncwatch itself.
	b = b.WithRow(dashboard.NewRowBuilder("Alerts and syncwatch itself")).
		WithPanel(stat.NewPanelBuilder().
			Title("syncwatch instances up").
			Description("syncwatch targets Prometheus scrapes successfully (job syncwatch). SyncwatchDown pages while any is down or none exists; the sync alerts are muted meanwhile.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `sum(up{job="syncwatch"})`, "up")).
			Unit("short").Decimals(0).
			Thresholds(thresholds(colorCritical, step{1, colorOK})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(lastValue()).
			NoValue("no target").
			Height(4).Span(4)).
		WithPanel(stat.NewPanelBuilder().
			Title("ClickHouse").
			Description("Whether every syncwatch instance reached ClickHouse with its last insert or health check (syncwatch_clickhouse_up). SyncwatchClickHouseDown pages after 2 minutes; reports wait in the spool meanwhile.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `min(syncwatch_clickhouse_up)`, "ClickHouse")).
			Unit("none").
			Mappings(upDown("reachable", "unreachable")).
			Thresholds(thresholds(colorCritical, step{1, colorOK})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(lastValue()).
			Height(4).Span(4)).
		WithPanel(stat.NewPanelBuilder().
			Title("Metrics from ClickHouse").
			Description("Whether the ClickHouse-backed metrics (windows, last success, streaks) are fresh on every instance (syncwatch_exporter_scrape_success). While stale, SyncwatchExporterScrapeFailing pages and the sync alerts are blind.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `min(syncwatch_exporter_scrape_success)`, "exporter")).
			Unit("none").
			Mappings(upDown("fresh", "stale")).
			Thresholds(thresholds(colorCritical, step{1, colorOK})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(lastValue()).
			Height(4).Span(4)).
		WithPanel(stat.NewPanelBuilder().
			Title("Spool usage").
			Description(fmt.Sprintf("The fullest spool: bytes waiting for ClickHouse over the spool's limit. SyncwatchSpoolFilling warns above %s, SyncwatchSpoolFull pages above %s; at 100%% ingest answers 503.",
				percent(th.SpoolUsageWarning), percent(th.SpoolUsageCritical))).
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `max(instance:syncwatch_spool_usage:ratio)`, "spool")).
			Unit("percentunit").Min(0).Max(1).Decimals(1).
			Thresholds(thresholds(colorOK,
				step{th.SpoolUsageWarning, colorWarning},
				step{th.SpoolUsageCritical, colorCritical})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(lastValue()).
			Height(4).Span(4)).
		WithPanel(stat.NewPanelBuilder().
			Title("Oldest spooled report").
			Description(fmt.Sprintf("Age of the oldest report accepted but not yet in ClickHouse, over every instance. SyncwatchSpoolStalled pages above %s.",
				seconds(th.SpoolOldestAgeSeconds))).
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `max(syncwatch_spool_oldest_age_seconds)`, "oldest")).
			Unit("s").Min(0).
			Thresholds(thresholds(colorOK, step{th.SpoolOldestAgeSeconds, colorCritical})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(lastValue()).
			Height(4).Span(4)).
		WithPanel(stat.NewPanelBuilder().
			Title("Insert errors, last hour").
			Description("Inserts into ClickHouse that failed in the last hour, over every instance; each is retried, and the spool keeps the reports meanwhile. The pipeline dashboard has the details.").
			Datasource(PrometheusDatasource()).
			WithTarget(promSeries("A", `sum(increase(syncwatch_insert_errors_total[1h]))`, "errors")).
			Unit("short").Min(0).Decimals(0).
			Thresholds(thresholds(colorOK, step{1, colorWarning})).
			ColorMode(common.BigValueColorModeBackground).
			Orientation(common.VizOrientationAuto).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(lastValue()).
			Height(4).Span(4)).
		WithPanel(withColumns(newTable().
			Title("Firing alerts").
			Description("Every syncwatch alert firing in Prometheus now, with its severity, sync type and source. Silence or inspect them in Alertmanager; their runbooks are in docs/runbooks.md.").
			Datasource(PrometheusDatasource()).
			WithTarget(promInstant("A", `ALERTS{alertstate="firing"}`)).
			WithTransformation(hideColumns("Time", "Value", "__name__", "alertstate", "job")).
			Unit("none").
			NoValue("no alert is firing").
			Height(7).Span(24),
			col{name: "alertname", header: "Alert"},
			col{name: "severity", header: "Severity", props: []dashboard.DynamicConfigValue{
				prop("mappings", valueText([3]string{"critical", "critical", colorCritical}, [3]string{"warning", "warning", colorWarning})),
				prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			}},
			col{name: "sync_type", header: "Sync type", props: []dashboard.DynamicConfigValue{
				fieldLinks(drilldownLink("${__data.fields.source}", "${__value.raw}")),
			}},
			col{name: "source", header: "Source"},
			col{name: "instance", header: "Instance"},
			col{name: "reason", header: "Reason"}))

	return build(b)
}

// linkBuilder turns a data link into the SDK's link builder.
func linkBuilder(l dataLink) cog.Builder[dashboard.DashboardLink] {
	lb := dashboard.NewDashboardLinkBuilder(l.Title).Url(l.URL).Type(dashboard.DashboardLinkTypeLink).Tags([]string{})
	if l.TargetBlank {
		lb = lb.TargetBlank(true)
	}
	return lb
}

// thresholdsValue renders thresholds for a field override.
func thresholdsValue(base string, steps ...step) dashboard.ThresholdsConfig {
	t, _ := thresholds(base, steps...).Build()
	return t
}

// percent formats a ratio as a percentage for descriptions.
func percent(r float64) string { return fmt.Sprintf("%g%%", r*100) }

// seconds formats a duration in seconds for descriptions.
func seconds(s float64) string {
	switch {
	case s >= 3600 && int(s)%3600 == 0:
		return fmt.Sprintf("%d h", int(s)/3600)
	case s >= 60 && int(s)%60 == 0:
		return fmt.Sprintf("%d min", int(s)/60)
	}
	return fmt.Sprintf("%g s", s)
}
