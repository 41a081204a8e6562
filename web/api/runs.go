package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"
)

// RunsPage is a page of runs.
type RunsPage struct {
	Runs []RunView `json:"runs"`
	// NextCursor continues the list; null on the last page.
	NextCursor *string `json:"next_cursor"`
}

// RunsParams are the parameters of the run list.
var RunsParams = []string{"source", "sync_type", "status", "since", "until", "q", "limit", "cursor", "format"}

// RunsRequest is a parsed request for a page of runs.
type RunsRequest struct {
	Opt runs.ListOptions
	// Format is the output format.
	Format string
}

// ParseRunsRequest reads the parameters of the run list.
func ParseRunsRequest(raw, accept string, env Env) (RunsRequest, *ParamError) {
	var r RunsRequest
	v, perr := QueryValues(raw, RunsParams...)
	if perr != nil {
		return r, perr
	}
	if r.Opt.Filter, perr = parseFilter(v, env, filterOptions{statuses: true}); perr != nil {
		return r, perr
	}
	if r.Opt.Limit, perr = parseLimit(v, "limit", DefaultPageSize, MaxPageSize); perr != nil {
		return r, perr
	}
	cur, perr := Single(v, "cursor")
	if perr != nil {
		return r, perr
	}
	if cur != "" {
		if r.Opt.After, perr = decodeCursor(cur); perr != nil {
			return r, perr
		}
	}
	r.Format, perr = parseFormat(v, accept, FormatJSON, FormatCSV)
	return r, perr
}

// handleRuns serves GET /api/v1/runs and /api/monitor/records/.
// With archive=YYYY-MM it lists the runs of that archived month instead,
// read in place from the archive.
func (a *API) handleRuns(c *gin.Context) {
	month, raw, perr := splitArchiveParam(c.Request.URL.RawQuery)
	if !paramsOK(c, perr) {
		return
	}
	req, perr := ParseRunsRequest(raw, c.GetHeader("Accept"), a.env())
	if !paramsOK(c, perr) {
		return
	}
	var next *runs.Cursor
	var list []runs.Run
	var ok bool
	if !month.IsZero() {
		list, next, ok = a.listArchivedRuns(c, month, req.Opt)
	} else {
		list, ok = fetch(c, "listing runs", func(ctx context.Context) (l []runs.Run, err error) {
			l, next, err = a.q.ListRuns(ctx, req.Opt)
			return l, err
		})
	}
	if !ok {
		return
	}
	list = withAttributes(list)
	page := RunsPage{Runs: runViews(list, langOf(c))}
	if next != nil {
		s := EncodeCursor(next)
		page.NextCursor = &s
		c.Header("X-Next-Cursor", s)
	}
	if req.Format == FormatCSV {
		WriteCSV(c, "runs.csv", RunCSVHeader, RunCSVRows(list))
		return
	}
	c.JSON(http.StatusOK, page)
}

// RunDetailResponse is a run's latest state, its duration and every
// report it sent, in order of arrival.
type RunDetailResponse struct {
	Run RunView `json:"run"`
	// DurationSeconds is null while the run is in progress.
	DurationSeconds *float64     `json:"duration_seconds"`
	Reports         []ReportView `json:"reports"`
	// Diagnosis is why a failed or anomalous run is so; null for the
	// others, and when diagnostics are not available.
	Diagnosis *diagnose.Diagnosis `json:"diagnosis"`
}

// handleRun serves GET /api/v1/runs/{run_id}.
func (a *API) handleRun(c *gin.Context) {
	if _, perr := QueryValues(c.Request.URL.RawQuery); !paramsOK(c, perr) {
		return
	}
	id := c.Param("run_id")
	if !RunIDPattern.MatchString(id) {
		RespondParamError(c, BadParam("run_id", "run_id must be 1-128 letters, digits, '-', '_', '.' or ':'"))
		return
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	d, err := a.q.GetRun(ctx, id)
	if errors.Is(err, runs.ErrNotFound) {
		c.JSON(http.StatusNotFound, web.ErrorResponse{Error: fmt.Sprintf("no run %q is stored", id), Field: "run_id"})
		return
	}
	if err != nil {
		QueryFailed(c, "reading the run", err)
		return
	}
	resp := runDetailOf(d, langOf(c))
	resp.Diagnosis = a.diagnoseRun(ctx, c, d.Run).In(langOf(c))
	c.JSON(http.StatusOK, resp)
}

// diagnoseRun returns the diagnosis of a terminal run, or nil. A failed
// diagnosis is logged and leaves the run's answer without one: the run
// itself was read.
func (a *API) diagnoseRun(ctx context.Context, c *gin.Context, r runs.Run) *diagnose.Diagnosis {
	if a.diag == nil || !r.Status.Terminal() {
		return nil
	}
	d, err := a.diag.DiagnoseRun(ctx, diagnose.RunRef{RunID: r.RunID, Source: r.Source, SyncType: r.SyncType,
		Failed: r.Status == synclog.StatusFailed, StartedAt: r.StartedAt})
	if err != nil {
		web.Log(c).WithError(err).WithField("run_id", r.RunID).Warn("diagnosis of the run failed; answered without it")
		return nil
	}
	return d
}

// runDetailOf renders a run's detail, with empty maps and lists rather
// than nulls.
func runDetailOf(d runs.RunDetail, lang synclog.Language) RunDetailResponse {
	resp := RunDetailResponse{Run: runView(d.Run, lang), Reports: make([]ReportView, len(d.Reports))}
	for i, r := range d.Reports {
		if r.Attributes == nil {
			r.Attributes = map[string]string{}
		}
		resp.Reports[i] = ReportView{Report: r, StatusDisplay: r.Status.DisplayName(lang)}
	}
	if d.Run.DurationMS != nil {
		v := float64(*d.Run.DurationMS) / 1000
		resp.DurationSeconds = &v
	}
	return resp
}
