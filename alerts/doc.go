// Package alerts holds syncwatch's Prometheus recording and alerting rules
// (rules/), their promtool unit tests (tests/), the Alertmanager configuration
// (alertmanager.yml) and its notification templates (templates/).
//
// The package has no code of its own: its Go tests run promtool and amtool
// over these files, check every alert's labels, annotations and runbook
// section (docs/runbooks.md), check the metric names against syncwatch's
// metrics contract, and drive a real Prometheus and Alertmanager end to end.
// See alerts/README.md.
package alerts
