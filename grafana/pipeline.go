package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// inst selects the series of the syncwatch instances chosen in the
// pipeline dashboard's variable.
const inst = `instance=~"$instance"`

// Pipeline is the pipeline health dashboard (uid syncwatch-pipeline):
// syncwatch's own ingest API, spool, batcher, ClickHouse inserts and
// exporter, per instance, from Prometheus.
func Pipeline(th Thresholds) (Model, error) {
	b := newModelBuilder("syncwatch: pipeline health").
		Uid(PipelineUID).
		Description("syncwatch itself, per instance: reports received and rejected, HTTP traffic and latency, the durable spool, batches and inserts into ClickHouse, and the exporter that reads the metrics back. From Prometheus; thresholds are those of the alerting rules.").
		Tags([]string{Tag, "pipeline"}).
		Editable().
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(promLabelVar("instance", "Instance",
			`label_values(syncwatch_build_info, instance)`,
			"syncwatch instances (scrape targets) to show."))

	graph := func(title, description, unit, axis string) *timeseries.PanelBuilder {
		return timeseries.NewPanelBuilder().
			Title(title).
			Description(description).
			Datasource(PrometheusDatasource()).
			Unit(unit).Min(0).
			AxisLabel(axis).
			Legend(legend("mean", "max")).
			Tooltip(multiTooltip()).
			Height(8).Span(12)
	}

	b = b.WithRow(dashboard.NewRowBuilder("Ingest")).
		WithPanel(graph("Reports received by outcome",
			"Reports the ingest API received per second: accepted (spooled, so acknowledged to the job), duplicate (a retried event_id, stored once) or rejected.",
			"ops", "reports / s").
			WithTarget(promRange("A", `sum by (outcome) (rate(syncwatch_ingest_reports_total{`+inst+`}[$__rate_interval]))`, "{{outcome}}")).
			Stacking(stacked()).FillOpacity(30).
			OverrideByName("accepted", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("duplicate", []dashboard.DynamicConfigValue{fixedColor("blue")}).
			OverrideByName("rejected", []dashboard.DynamicConfigValue{fixedColor("red")})).
		WithPanel(graph("Rejections by reason",
			fmt.Sprintf("Reports or requests the ingest API refused per minute, by reason (invalid, malformed, too_large, unauthorized, forbidden_source, rate_limited, spool_full, …). SyncwatchIngestRejectionsRising warns when one reason exceeds %g per minute over 10 minutes (dashed line).",
				th.IngestRejectionsPerMinute),
			"opm", "rejections / minute").
			WithTarget(promRange("A", `sum by (reason) (rate(syncwatch_ingest_rejections_total{`+inst+`}[$__rate_interval])) * 60`, "{{reason}}")).
			Thresholds(thresholds("transparent", step{th.IngestRejectionsPerMinute, colorWarning})).
			ThresholdsStyle(thresholdLines())).
		WithPanel(graph("HTTP requests by route and status",
			"Requests served per second, by route pattern and HTTP status code.",
			"reqps", "requests / s").
			WithTarget(promRange("A", `sum by (route, code) (rate(syncwatch_http_requests_total{`+inst+`}[$__rate_interval]))`, "{{route}} {{code}}"))).
		WithPanel(graph("HTTP latency p99 by route",
			"99th percentile of the time to serve a request, by route. Ingest answers once the reports are fsync'd to the spool, so disk latency shows here.",
			"s", "latency").
			WithTarget(promRange("A", `histogram_quantile(0.99, sum by (route, le) (rate(syncwatch_http_request_duration_seconds_bucket{`+inst+`}[$__rate_interval])))`, "{{route}}")))

	b = b.WithRow(dashboard.NewRowBuilder("Spool")).
		WithPanel(graph("Spool usage",
			fmt.Sprintf("Bytes of reports in each instance's spool over its limit. SyncwatchSpoolFilling warns above %s (for 10 minutes), SyncwatchSpoolFull pages above %s; at 100%% ingest answers 503 with Retry-After.",
				percent(th.SpoolUsageWarning), percent(th.SpoolUsageCritical)),
			"percentunit", "of the spool limit").
			WithTarget(promRange("A", `instance:syncwatch_spool_usage:ratio{`+inst+`}`, "{{instance}}")).
			Max(1).
			Thresholds(thresholds("transparent",
				step{th.SpoolUsageWarning, colorWarning},
				step{th.SpoolUsageCritical, colorCritical})).
			ThresholdsStyle(thresholdLines())).
		WithPanel(graph("Spool depth",
			"Reports waiting in each instance's spool for ClickHouse. It drains by itself once ClickHouse takes inserts again.",
			"short", "reports").
			WithTarget(promRange("A", `syncwatch_spool_reports{`+inst+`}`, "{{instance}}")).
			Decimals(0)).
		WithPanel(graph("Spool bytes and limit",
			"Bytes of reports in each instance's spool, and the spool's limit.",
			"bytes", "spool").
			WithTarget(promRange("A", `syncwatch_spool_bytes{`+inst+`}`, "{{instance}} used")).
			WithTarget(promRange("B", `syncwatch_spool_max_bytes{`+inst+`}`, "{{instance}} limit")).
			OverrideByQuery("B", []dashboard.DynamicConfigValue{
				fixedColor("red"),
				prop("custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}}),
			})).
		WithPanel(graph("Oldest spooled report",
			fmt.Sprintf("Age of the oldest report in each instance's spool that ClickHouse does not have yet; 0 when the spool is empty. SyncwatchSpoolStalled pages above %s (dashed line).",
				seconds(th.SpoolOldestAgeSeconds)),
			"s", "age").
			WithTarget(promRange("A", `syncwatch_spool_oldest_age_seconds{`+inst+`}`, "{{instance}}")).
			Thresholds(thresholds("transparent", step{th.SpoolOldestAgeSeconds, colorCritical})).
			ThresholdsStyle(thresholdLines()))

	b = b.WithRow(dashboard.NewRowBuilder("ClickHouse inserts")).
		WithPanel(graph("Batch size",
			"Reports per insert into ClickHouse: median, 99th percentile and mean. Batches grow under load (up to --batch-size) and shrink to single reports when traffic is light.",
			"short", "reports / insert").
			WithTarget(promRange("A", `histogram_quantile(0.5, sum by (le) (rate(syncwatch_batch_size_reports_bucket{`+inst+`}[$__rate_interval])))`, "p50")).
			WithTarget(promRange("B", `histogram_quantile(0.99, sum by (le) (rate(syncwatch_batch_size_reports_bucket{`+inst+`}[$__rate_interval])))`, "p99")).
			WithTarget(promRange("C", `sum(rate(syncwatch_batch_size_reports_sum{`+inst+`}[$__rate_interval])) / sum(rate(syncwatch_batch_size_reports_count{`+inst+`}[$__rate_interval]))`, "mean"))).
		WithPanel(graph("Insert latency",
			"Time of one insert into ClickHouse, failed ones included: median and 99th percentile.",
			"s", "latency").
			WithTarget(promRange("A", `histogram_quantile(0.5, sum by (le) (rate(syncwatch_insert_duration_seconds_bucket{`+inst+`}[$__rate_interval])))`, "p50")).
			WithTarget(promRange("B", `histogram_quantile(0.99, sum by (le) (rate(syncwatch_insert_duration_seconds_bucket{`+inst+`}[$__rate_interval])))`, "p99"))).
		WithPanel(graph("Insert errors",
			"Inserts into ClickHouse that failed, per minute and instance; each is retried with backoff and the reports stay in the spool. Errors with ClickHouse up mean it refuses the data: read syncwatch's log.",
			"opm", "errors / minute").
			WithTarget(promRange("A", `sum by (instance) (rate(syncwatch_insert_errors_total{`+inst+`}[$__rate_interval])) * 60`, "{{instance}}")).
			Thresholds(thresholds("transparent", step{1, colorWarning})).
			ThresholdsStyle(thresholdLines())).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("ClickHouse reachable").
			Description("Whether each instance's last insert or health check reached ClickHouse (syncwatch_clickhouse_up). SyncwatchClickHouseDown pages after 2 minutes of red.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `syncwatch_clickhouse_up{`+inst+`}`, "{{instance}}")).
			Unit("none").
			Mappings(upDown("up", "down")).
			Thresholds(thresholds(colorCritical, step{1, colorOK})).
			ShowValue(common.VisibilityModeNever).
			Tooltip(singleTooltip()).
			Legend(legend()).
			Height(8).Span(12))

	b = b.WithRow(dashboard.NewRowBuilder("Exporter")).
		WithPanel(graph("Exporter query duration",
			"Duration of the ClickHouse queries behind the ClickHouse-backed metrics, by scraper: of the last refresh, or of the running one when it is late. Refreshes slower than the scrape timeout serve cached values.",
			"s", "duration").
			WithTarget(promRange("A", `syncwatch_exporter_scrape_duration_seconds{`+inst+`}`, "{{instance}} {{scraper}}"))).
		WithPanel(graph("Exporter cache age",
			"Age of the ClickHouse-backed values each instance serves; it stays below the cache TTL (15 s by default) while refreshes succeed.",
			"s", "age").
			WithTarget(promRange("A", `syncwatch_exporter_cache_age_seconds{`+inst+`}`, "{{instance}}"))).
		WithPanel(graph("Exporter refreshes",
			"Refreshes of the ClickHouse-backed values per minute, by result (success or error).",
			"opm", "refreshes / minute").
			WithTarget(promRange("A", `sum by (result) (rate(syncwatch_exporter_refreshes_total{`+inst+`}[$__rate_interval])) * 60`, "{{result}}")).
			OverrideByName("success", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("error", []dashboard.DynamicConfigValue{fixedColor("red")})).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Metrics from ClickHouse fresh").
			Description("Whether each instance's ClickHouse-backed values are fresh, by scraper (syncwatch_exporter_scrape_success). SyncwatchExporterScrapeFailing pages after 10 minutes of red: the sync alerts are blind meanwhile.").
			Datasource(PrometheusDatasource()).
			WithTarget(promRange("A", `syncwatch_exporter_scrape_success{`+inst+`}`, "{{instance}} {{scraper}}")).
			Unit("none").
			Mappings(upDown("fresh", "stale")).
			Thresholds(thresholds(colorCritical, step{1, colorOK})).
			ShowValue(common.VisibilityModeNever).
			Tooltip(singleTooltip()).
			Legend(legend()).
			Height(8).Span(12)).
		WithPanel(graph("Sources beyond the cap",
			"Distinct sources beyond --max-sources that the metrics publish as source=\"other\", and terminal reports counted under it per minute. Raise the cap if real sources land here.",
			"short", "sources / reports per minute").
			WithTarget(promRange("A", `max(syncwatch_exporter_folded_sources{`+inst+`})`, "folded sources")).
			WithTarget(promRange("B", `sum(rate(syncwatch_sources_folded_total{`+inst+`}[$__rate_interval])) * 60`, "folded reports / minute"))).
		WithPanel(withColumns(newTable().
			Title("Instances").
			Description("The syncwatch instances Prometheus scrapes, with the version and Go version they run.").
			Datasource(PrometheusDatasource()).
			WithTarget(promInstant("A", `syncwatch_build_info{`+inst+`}`)).
			WithTransformation(hideColumns("Time", "Value", "__name__", "job")).
			Unit("none").
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Instance")}).
			Height(8).Span(12),
			col{name: "instance", header: "Instance"},
			col{name: "version", header: "Version"},
			col{name: "goversion", header: "Go"}))

	return build(b)
}
