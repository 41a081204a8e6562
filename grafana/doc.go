// Package grafana builds syncwatch's Grafana dashboards as code.
//
// The dashboards are written in Go with the Grafana Foundation SDK
// (github.com/grafana/grafana-foundation-sdk/go) and rendered to JSON in
// dashboards/, which Grafana loads through the file provider in
// provisioning/dashboards/. The datasources they query are provisioned by
// provisioning/datasources/ with fixed uids: Prometheus as "prometheus" and
// ClickHouse (the grafana-clickhouse-datasource plugin) as "clickhouse".
//
//   - syncwatch-overview: every sync type at a glance, from Prometheus.
//   - syncwatch-drilldown: the runs themselves, from ClickHouse.
//   - syncwatch-pipeline: syncwatch's own ingest, spool, inserts and exporter.
//
// The thresholds the panels draw are read from the alerting thresholds in
// alerts/rules/recording.yml (the syncwatch:threshold:* recording rules), so
// a dashboard turns red exactly where an alert fires. After changing a
// dashboard or a threshold, regenerate the JSON:
//
//	go generate ./grafana
//
// The tests fail when the committed JSON differs from what the generator
// writes (go test ./grafana -run TestGolden -update rewrites it).
package grafana

//go:generate go run ./gen -rules ../alerts/rules/recording.yml -out dashboards
