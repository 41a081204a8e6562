package collector

import (
	"bytes"
	"context"
	"github.com/syncwatch/syncwatch/runs"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/synclog"
)

// The monitor URLs of the original module: /api/monitor/dashboard/,
// /api/monitor/records/ (the run list), /api/monitor/statistics/ (the
// statistics) and /api/monitor/clear/ (admin only).

// RecentFailures is how many failed or partial runs the dashboard lists.
const RecentFailures = 20

// maxClearBody bounds the form body of a clear request.
const maxClearBody = 64 << 10

// DashboardSyncType is one sync type on the dashboard.
type DashboardSyncType struct {
	SyncType      string `json:"sync_type"`
	DisplayName   string `json:"display_name"`
	DisplayNameZH string `json:"display_name_zh"`
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
	Health HealthReport `json:"health"`
	// Since and Until bound the window of the totals and the sync types.
	Since     time.Time           `json:"since"`
	Until     time.Time           `json:"until"`
	Totals    runs.Stats          `json:"totals"`
	SyncTypes []DashboardSyncType `json:"sync_types"`
	// RecentFailures are the latest failed or partial runs, newest first.
	RecentFailures []runs.Run `json:"recent_failures"`
}

// DashboardUnavailable is the dashboard's answer when its figures cannot
// be read: the error and the health report that says why.
type DashboardUnavailable struct {
	Error  string       `json:"error"`
	Health HealthReport `json:"health"`
}

// handleDashboard serves GET /api/monitor/dashboard/.
func (a *queryAPI) handleDashboard(c *gin.Context) {
	if _, perr := queryValues(c.Request.URL.RawQuery); perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	now := a.now().UTC().Truncate(time.Millisecond)
	until := now.Add(time.Millisecond)
	window := runs.Filter{Since: until.Add(-24 * time.Hour), Until: until}

	var (
		wg       sync.WaitGroup
		health   HealthReport
		totals   []runs.Stats
		byType   []runs.Stats
		lastOK   map[string]time.Time
		failures []runs.Run
		errs     [4]error
	)
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	run(func() { health = a.s.check(ctx) })
	run(func() { totals, errs[0] = a.q.Stats(ctx, runs.StatsQuery{Filter: window}) })
	run(func() {
		byType, errs[1] = a.q.Stats(ctx, runs.StatsQuery{Filter: window, GroupBy: []runs.GroupBy{runs.BySyncType}})
	})
	run(func() { lastOK, errs[2] = a.q.LastSuccesses(ctx) })
	run(func() {
		failures, _, errs[3] = a.q.ListRuns(ctx, runs.ListOptions{
			Filter: runs.Filter{
				Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial},
				Since:    now.Add(-a.q.Retention()),
			},
			Limit: RecentFailures,
		})
	})
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			logEntry(c).WithError(err).Error("dashboard query failed")
			c.JSON(http.StatusServiceUnavailable, DashboardUnavailable{
				Error:  "the dashboard's figures cannot be read; the health report says which component fails",
				Health: health,
			})
			return
		}
	}
	d := Dashboard{Health: health, Since: window.Since, Until: window.Until, RecentFailures: failures}
	if len(totals) > 0 {
		d.Totals = totals[0]
	}
	if d.RecentFailures == nil {
		d.RecentFailures = []runs.Run{}
	}
	for i := range d.RecentFailures {
		if d.RecentFailures[i].Attributes == nil {
			d.RecentFailures[i].Attributes = map[string]string{}
		}
	}
	// Every configured sync type is listed, a silent one too, followed by
	// any other type the store holds runs of.
	stats := map[string]runs.Stats{}
	for _, st := range byType {
		stats[st.SyncType] = st
	}
	names := a.s.cfg.SyncTypes.Names()
	for _, st := range byType {
		if !a.s.cfg.SyncTypes.Contains(st.SyncType) {
			names = append(names, st.SyncType)
		}
	}
	for name := range lastOK {
		if !a.s.cfg.SyncTypes.Contains(name) && stats[name].SyncType == "" {
			names = append(names, name)
		}
	}
	d.SyncTypes = make([]DashboardSyncType, 0, len(names))
	for _, name := range names {
		st := stats[name]
		row := DashboardSyncType{
			SyncType: name, DisplayName: synclog.SyncTypeDisplayName(name, synclog.English),
			DisplayNameZH: synclog.SyncTypeDisplayName(name, synclog.Chinese),
			Runs:          st.Runs, Success: st.Success, Failed: st.Failed, Partial: st.Partial,
			InProgress: st.Pending + st.Processing, SuccessRatio: st.SuccessRatio, RecordSuccessRatio: st.RecordSuccessRatio,
		}
		if t, ok := lastOK[name]; ok {
			row.LastSuccessAt = &t
		}
		d.SyncTypes = append(d.SyncTypes, row)
	}
	c.JSON(http.StatusOK, d)
}

// ClearFilter is the filter a clear applied.
type ClearFilter struct {
	Sources   []string   `json:"sources"`
	SyncTypes []string   `json:"sync_types"`
	Statuses  []string   `json:"statuses"`
	Since     *time.Time `json:"since"`
	Until     time.Time  `json:"until"`
	Q         string     `json:"q"`
}

// ClearResponse says what a clear removed, or with dry_run would remove.
type ClearResponse struct {
	DryRun  bool        `json:"dry_run"`
	Runs    uint64      `json:"runs"`
	Reports uint64      `json:"reports"`
	Filter  ClearFilter `json:"filter"`
}

var clearParams = []string{"source", "sync_type", "status", "since", "until", "q", "dry_run"}

type clearRequest struct {
	filter runs.Filter
	dryRun bool
}

// parseClearRequest reads the parameters of a clear, from the query
// string and a form body together. An upper bound is required.
func parseClearRequest(raw string, env parseEnv) (clearRequest, *paramError) {
	var r clearRequest
	v, perr := queryValues(raw, clearParams...)
	if perr != nil {
		return r, perr
	}
	if strings.TrimSpace(v.Get("until")) == "" {
		return r, badParam("until", "until is required: a clear deletes only the runs started before an upper time bound")
	}
	if r.filter, perr = parseFilter(v, env, filterOptions{statuses: true, anyRange: true}); perr != nil {
		return r, perr
	}
	dr, perr := single(v, "dry_run")
	if perr != nil {
		return r, perr
	}
	// A given dry_run must say what it means: a blank one is not taken
	// for false, which would delete.
	if _, given := v["dry_run"]; given {
		b, err := strconv.ParseBool(strings.TrimSpace(dr))
		if err != nil {
			return r, badParam("dry_run", "dry_run %q: must be true or false", clip(dr))
		}
		r.dryRun = b
	}
	return r, nil
}

// clearQuery joins the query string and a form body.
func clearQuery(c *gin.Context) (string, int, string) {
	raw := c.Request.URL.RawQuery
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxClearBody+1))
	if err != nil {
		return "", http.StatusBadRequest, "cannot read the body: " + err.Error()
	}
	if len(body) > maxClearBody {
		return "", http.StatusRequestEntityTooLarge, "the body is larger than " + strconv.Itoa(maxClearBody) + " bytes"
	}
	if body = bytes.TrimSpace(body); len(body) == 0 {
		return raw, 0, ""
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return "", http.StatusUnsupportedMediaType, "send the parameters in the query string or as an application/x-www-form-urlencoded body"
	}
	if raw == "" {
		return string(body), 0, ""
	}
	return raw + "&" + string(body), 0, ""
}

// handleClear serves POST /api/monitor/clear/: it deletes the runs a filter
// selects, or with dry_run=true counts them. Every clear is logged and
// counted.
func (a *queryAPI) handleClear(c *gin.Context) {
	raw, code, msg := clearQuery(c)
	if code != 0 {
		c.JSON(code, ErrorResponse{Error: msg})
		return
	}
	req, perr := parseClearRequest(raw, a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	f := req.filter
	cf := ClearFilter{Sources: f.Sources, SyncTypes: f.SyncTypes, Statuses: []string{}, Until: f.Until, Q: f.Query}
	if cf.Sources == nil {
		cf.Sources = []string{}
	}
	if cf.SyncTypes == nil {
		cf.SyncTypes = []string{}
	}
	for _, st := range f.Statuses {
		cf.Statuses = append(cf.Statuses, string(st))
	}
	if !f.Since.IsZero() {
		since := f.Since
		cf.Since = &since
	}
	token := "anonymous"
	if t := tokenOf(c); t != nil {
		token = t.Name
	}
	entry := logEntry(c).WithFields(logrus.Fields{"filter": cf, "dry_run": req.dryRun, "token": token})
	// A clear runs to its end once started, even if the client leaves.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), queryTimeout)
	defer cancel()
	res, err := a.q.DeleteRuns(ctx, f, req.dryRun)
	if err != nil {
		entry.WithError(err).Error("monitor clear failed")
		a.queryFailed(c, "the clear", err)
		return
	}
	a.clears.WithLabelValues(strconv.FormatBool(req.dryRun)).Inc()
	entry = entry.WithFields(logrus.Fields{"runs": res.Runs, "reports": res.Reports})
	if req.dryRun {
		entry.Info("monitor clear (dry run)")
	} else {
		entry.Warn("monitor clear: runs deleted")
	}
	c.JSON(http.StatusOK, ClearResponse{DryRun: req.dryRun, Runs: res.Runs, Reports: res.Reports, Filter: cf})
}
