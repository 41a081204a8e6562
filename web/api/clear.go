package api

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
)

// maxClearBody bounds the form body of a clear request.
const maxClearBody = 64 << 10

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
func parseClearRequest(raw string, env Env) (clearRequest, *ParamError) {
	var r clearRequest
	v, perr := QueryValues(raw, clearParams...)
	if perr != nil {
		return r, perr
	}
	if strings.TrimSpace(v.Get("until")) == "" {
		return r, BadParam("until", "until is required: a clear deletes only the runs started before an upper time bound")
	}
	if r.filter, perr = parseFilter(v, env, filterOptions{statuses: true, anyRange: true}); perr != nil {
		return r, perr
	}
	dr, perr := Single(v, "dry_run")
	if perr != nil {
		return r, perr
	}
	// A given dry_run must say what it means: a blank one is not taken
	// for false, which would delete.
	if _, given := v["dry_run"]; given {
		b, err := strconv.ParseBool(strings.TrimSpace(dr))
		if err != nil {
			return r, BadParam("dry_run", "dry_run %q: must be true or false", Clip(dr))
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
func (a *API) handleClear(c *gin.Context) {
	raw, code, msg := clearQuery(c)
	if code != 0 {
		c.JSON(code, web.ErrorResponse{Error: msg})
		return
	}
	req, perr := parseClearRequest(raw, a.env())
	if !paramsOK(c, perr) {
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
	if t := auth.TokenOf(c); t != nil {
		token = t.Name
	}
	entry := web.Log(c).WithFields(logrus.Fields{"filter": cf, "dry_run": req.dryRun, "token": token})
	// A clear runs to its end once started, even if the client leaves.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), queryTimeout)
	defer cancel()
	res, err := a.q.DeleteRuns(ctx, f, req.dryRun)
	if err != nil {
		entry.WithError(err).Error("monitor clear failed")
		QueryFailed(c, "the clear", err)
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
