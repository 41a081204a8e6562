package api

import (
	"net/http"
	"time"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
)

// The monitor URLs of the original module: /api/monitor/dashboard/,
// /api/monitor/records/ (the run list), /api/monitor/statistics/ (the
// statistics) and /api/monitor/clear/ (admin only).

// RecentFailures is how many failed or partial runs the dashboard lists.
const RecentFailures = 20

// DashboardSyncType is one sync type on the dashboard.
type DashboardSyncType struct {
	SyncType      string `json:"sync_type"`
	DisplayName   string `json:"display_name"`
	DisplayNameZH string `json:"display_name_zh"`
	// SyncTypeDisplay is its display name in the language asked for.
	SyncTypeDisplay string `json:"sync_type_display"`
	// Runs of the window by latest status; InProgress is pending plus
	// processing.
	Runs       uint64 `json:"runs"`
	Success    uint64 `json:"success"`
	Failed     uint64 `json:"failed"`
	Partial    uint64 `json:"partial"`
	InProgress uint64 `json:"in_progress"`
	// SuccessRatio is by runs and RecordSuccessRatio by records, over the
	// window's terminal runs; null without any.
	SuccessRatio       *float64 `json:"success_ratio"`
	RecordSuccessRatio *float64 `json:"record_success_ratio"`
	// LastSuccessAt is when its latest successful run in the retention
	// completed; null when none did.
	LastSuccessAt *time.Time `json:"last_success_at"`
}

// Dashboard is the answer of /api/monitor/dashboard/: the health of the
// pipeline and the last 24 hours at a glance.
type Dashboard struct {
	Health web.HealthReport `json:"health"`
	// Since and Until bound the window of the totals and the sync types.
	Since     time.Time           `json:"since"`
	Until     time.Time           `json:"until"`
	Totals    runs.Stats          `json:"totals"`
	SyncTypes []DashboardSyncType `json:"sync_types"`
	// RecentFailures are the latest failed or partial runs, newest first.
	RecentFailures []RunView `json:"recent_failures"`
}

// DashboardUnavailable is the dashboard's answer when its figures cannot
// be read: the error and the health report that says why.
type DashboardUnavailable struct {
	Error  string           `json:"error"`
	Health web.HealthReport `json:"health"`
}

// handleDashboard serves GET /api/monitor/dashboard/.
func (a *API) handleDashboard(c *gin.Context) {
	if _, perr := QueryValues(c.Request.URL.RawQuery); !paramsOK(c, perr) {
		return
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	now := a.now().UTC()
	var health web.HealthReport
	done := make(chan struct{})
	go func() {
		defer close(done)
		health = a.health.Report(ctx)
	}()
	ov, err := a.overview.Overview(ctx, runs.OverviewQuery{
		Now: now, SyncTypes: a.types.Names(), Totals: true,
		Failures: RecentFailures, FailuresSince: now.Truncate(time.Millisecond).Add(-a.q.Retention()),
	})
	<-done
	if err != nil {
		web.Log(c).WithError(err).Error("dashboard query failed")
		c.JSON(http.StatusServiceUnavailable, DashboardUnavailable{
			Error:  "the dashboard's figures cannot be read; the health report says which component fails",
			Health: health,
		})
		return
	}
	c.JSON(http.StatusOK, dashboardOf(ov, health, langOf(c)))
}

// dashboardOf renders an overview as the dashboard's answer.
func dashboardOf(ov runs.Overview, health web.HealthReport, lang synclog.Language) Dashboard {
	d := Dashboard{
		Health: health, Since: ov.Since, Until: ov.Until, Totals: ov.Totals,
		RecentFailures: runViews(ov.Failures, lang), SyncTypes: make([]DashboardSyncType, 0, len(ov.Types)),
	}
	for _, t := range ov.Types {
		st := t.Window
		row := DashboardSyncType{
			SyncType: t.SyncType, DisplayName: synclog.SyncTypeDisplayName(t.SyncType, synclog.English),
			DisplayNameZH:   synclog.SyncTypeDisplayName(t.SyncType, synclog.Chinese),
			SyncTypeDisplay: synclog.SyncTypeDisplayName(t.SyncType, lang),
			Runs:            st.Runs, Success: st.Success, Failed: st.Failed, Partial: st.Partial,
			InProgress: t.InProgress, SuccessRatio: st.SuccessRatio, RecordSuccessRatio: st.RecordSuccessRatio,
		}
		if !t.LastSuccess.IsZero() {
			last := t.LastSuccess
			row.LastSuccessAt = &last
		}
		d.SyncTypes = append(d.SyncTypes, row)
	}
	return d
}
