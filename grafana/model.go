package grafana

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// The dashboards use the foundation SDK's v1 dashboard (Grafana's classic
// JSON model), which the SDK deprecates for its v2 schema. Grafana 12.2,
// the one docker-compose runs, provisions v2 dashboards only behind
// experimental feature toggles (dynamic dashboards and
// kubernetesDashboards) that its documentation says not to enable in
// production, so the v1 model stays until v2 is generally available. These
// are the only places that name it.

// Model is a dashboard in Grafana's classic (v1) JSON model.
//
//lint:ignore SA1019 Grafana 12.2 provisions the v2 schema only behind experimental toggles
type Model = dashboard.Dashboard

// modelBuilder builds a Model.
//
//lint:ignore SA1019 Grafana 12.2 provisions the v2 schema only behind experimental toggles
type modelBuilder = dashboard.DashboardBuilder

// newModelBuilder starts a Model titled title.
func newModelBuilder(title string) *modelBuilder {
	//lint:ignore SA1019 Grafana 12.2 provisions the v2 schema only behind experimental toggles
	return dashboard.NewDashboardBuilder(title)
}
