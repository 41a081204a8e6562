package api

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
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

var clearParams = []string{"source", "sync_type", "status", "since", "until", "q", "dry_run", "confirm"}

// ConfirmHeader is the header a clear that deletes must carry when the
// service has no tokens: a browser cannot send it on behalf of another
// site without asking first, and syncwatch never agrees.
const ConfirmHeader = "X-Requested-With"

type clearRequest struct {
	filter runs.Filter
	dryRun bool
}

// parseClearRequest reads the parameters of a clear, from the query
// string and a form body together. An upper bound is required; a date
// given as until means the start of that day, the first instant the clear
// keeps. A clear only counts unless confirm=true or dry_run=false says
// otherwise.
func parseClearRequest(raw string, env Env) (clearRequest, *ParamError) {
	r := clearRequest{dryRun: true}
	v, perr := QueryValues(raw, clearParams...)
	if perr != nil {
		return r, perr
	}
	uv := strings.TrimSpace(v.Get("until"))
	if uv == "" {
		return r, BadParam("until", "until is required: a clear deletes only the runs started before an upper time bound")
	}
	if r.filter, perr = parseFilter(v, env, filterOptions{statuses: true, anyRange: true}); perr != nil {
		return r, perr
	}
	if len(uv) == len(time.DateOnly) {
		// The runs started before that day, not through it.
		if r.filter.Until, perr = parseTimeParam("until", uv, time.UTC, false); perr != nil {
			return r, perr
		}
		if !r.filter.Since.IsZero() && !r.filter.Since.Before(r.filter.Until) {
			return r, BadParam("since", "since (%s) must be before until (%s, the start of that day)",
				r.filter.Since.Format(time.RFC3339Nano), r.filter.Until.Format(time.RFC3339Nano))
		}
	}
	dryRun, dryGiven, perr := boolParam(v, "dry_run")
	if perr != nil {
		return r, perr
	}
	confirm, confirmGiven, perr := boolParam(v, "confirm")
	if perr != nil {
		return r, perr
	}
	switch {
	case dryGiven && confirmGiven && dryRun == confirm:
		return r, BadParam("confirm", "confirm=%t and dry_run=%t contradict each other", confirm, dryRun)
	case dryGiven:
		r.dryRun = dryRun
	case confirmGiven:
		r.dryRun = !confirm
	}
	return r, nil
}

// boolParam reads a boolean parameter and whether it was given. A given
// one must say what it means: a blank one is not taken for false.
func boolParam(v url.Values, name string) (val, given bool, perr *ParamError) {
	s, perr := Single(v, name)
	if perr != nil {
		return false, false, perr
	}
	if _, given = v[name]; !given {
		return false, false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, true, BadParam(name, "%s %q: must be true or false", name, Clip(s))
	}
	return b, true, nil
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

// handleClear serves POST /api/monitor/clear/: it counts the runs a filter
// selects, or with confirm=true (or dry_run=false) deletes them. Without
// tokens, a clear that deletes must carry ConfirmHeader. Every clear is
// logged and counted.
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
	if !req.dryRun && auth.TokenOf(c) == nil && c.GetHeader(ConfirmHeader) == "" {
		web.Fail(c, http.StatusForbidden, "this syncwatch has no tokens: a clear that deletes must carry the header "+
			ConfirmHeader+" (any value), which web pages of other sites cannot send")
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
