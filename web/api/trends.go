package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"

	"github.com/gin-gonic/gin"
)

// TrendRule states the regression rule of the trend report.
var TrendRule = fmt.Sprintf("a day regresses when its p95 duration is more than %g times the baseline p95 and at least %gs above it, "+
	"or when its success ratio is more than %g below the baseline success ratio; the baseline is the median of the daily values "+
	"of the trailing baseline days with terminal runs, and needs at least %d such days (all of them for a shorter baseline)",
	runs.TrendP95Factor, runs.TrendP95MinIncrease, runs.TrendSuccessDrop, runs.TrendMinBaselineDays)

// TrendsResponse is the trend report.
type TrendsResponse struct {
	Since        time.Time        `json:"since"`
	Until        time.Time        `json:"until"`
	TZ           string           `json:"tz"`
	BaselineDays int              `json:"baseline_days"`
	Rule         string           `json:"rule"`
	Points       []TrendPointView `json:"points"`
}

var trendsParams = []string{"since", "until", "tz", "baseline_days", "sync_type"}

type trendsRequest struct {
	since, until time.Time
	loc          *time.Location
	baseline     int
	syncTypes    []string
}

// parseTrendsRequest reads the parameters of the trend report. Dates are
// days of tz; by default the report covers the last DefaultTrendDays days,
// today included.
func parseTrendsRequest(raw string, env Env) (trendsRequest, *ParamError) {
	var r trendsRequest
	v, perr := QueryValues(raw, trendsParams...)
	if perr != nil {
		return r, perr
	}
	if r.loc, perr = parseTZ(v); perr != nil {
		return r, perr
	}
	today := env.now.In(r.loc)
	y, m, d := today.Date()
	defaults := v.Get("since") == "" && v.Get("until") == ""
	if r.since, r.until, perr = timeRange(v, env, r.loc, 24*time.Hour, false); perr != nil {
		return r, perr
	}
	if defaults {
		r.since = time.Date(y, m, d-DefaultTrendDays+1, 0, 0, 0, 0, r.loc).UTC()
		r.until = time.Date(y, m, d+1, 0, 0, 0, 0, r.loc).UTC()
	}
	if r.baseline, perr = parseLimit(v, "baseline_days", DefaultBaselineDays, runs.MaxTrendBaselineDays); perr != nil {
		return r, perr
	}
	for _, st := range ParamList(v, "sync_type") {
		st = strings.ToLower(st)
		if !env.types.Contains(st) {
			return r, BadParam("sync_type", "unknown sync_type %q: allowed are %s", Clip(st), env.types)
		}
		if !slices.Contains(r.syncTypes, st) {
			r.syncTypes = append(r.syncTypes, st)
		}
	}
	return r, nil
}

// handleTrends serves GET /api/v1/reports/trends.
func (a *API) handleTrends(c *gin.Context) {
	req, perr := parseTrendsRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) {
		return
	}
	points, ok := fetch(c, "the trend report", func(ctx context.Context) ([]runs.TrendPoint, error) {
		return a.q.Trends(ctx, req.since, req.until, req.loc, req.baseline)
	})
	if !ok {
		return
	}
	out := []TrendPointView{}
	lang := langOf(c)
	for _, p := range points {
		if len(req.syncTypes) == 0 || slices.Contains(req.syncTypes, p.SyncType) {
			p.Reasons = orEmpty(p.Reasons)
			out = append(out, TrendPointView{TrendPoint: p, SyncTypeDisplay: synclog.SyncTypeDisplayName(p.SyncType, lang)})
		}
	}
	c.JSON(http.StatusOK, TrendsResponse{
		Since: req.since, Until: req.until, TZ: req.loc.String(), BaselineDays: req.baseline,
		Rule: TrendRule, Points: out,
	})
}
