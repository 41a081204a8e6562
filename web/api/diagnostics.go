package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/web"
)

// Diagnoser answers the diagnostics API; *diagnose.Service is one.
type Diagnoser interface {
	Anomalies(ctx context.Context, q diagnose.Query) (diagnose.AnomalyReport, error)
	Forecasts(ctx context.Context, q diagnose.ForecastQuery) ([]diagnose.Forecast, error)
	RootCause(ctx context.Context, req diagnose.CauseRequest) (diagnose.RootCause, error)
	DiagnoseRun(ctx context.Context, r diagnose.RunRef) (*diagnose.Diagnosis, error)
}

// Windows of the diagnostics API.
const (
	// DefaultDiagnosticsWindow is the window of anomalies and root causes
	// when since and until are missing.
	DefaultDiagnosticsWindow = 24 * time.Hour
	// MaxDiagnosticsWindow bounds their window.
	MaxDiagnosticsWindow = 31 * 24 * time.Hour
)

// AnomaliesResponse answers GET /api/v1/diagnostics/anomalies.
type AnomaliesResponse = diagnose.AnomalyReport

// ForecastsResponse answers GET /api/v1/diagnostics/forecasts.
type ForecastsResponse struct {
	Forecasts []diagnose.Forecast `json:"forecasts"`
}

var (
	anomaliesParams = []string{"source", "sync_type", "kind", "since", "until"}
	forecastsParams = []string{"source", "sync_type"}
	rootCauseParams = []string{"source", "sync_type", "since", "until"}
)

// diagWindow reads since and until: the last DefaultDiagnosticsWindow by
// default, at most MaxDiagnosticsWindow long, and not older than the
// retention.
func diagWindow(v url.Values, env Env) (since, until time.Time, perr *ParamError) {
	since, until, perr = timeRange(v, env, time.UTC, DefaultDiagnosticsWindow, false)
	if perr != nil {
		return
	}
	if d := until.Sub(since); d > MaxDiagnosticsWindow {
		return since, until, BadParam("since", "the window from since to until spans %.1f days: at most %s", d.Hours()/24, formatDays(MaxDiagnosticsWindow))
	}
	return since, until, nil
}

// parseDiagFilter reads the source and sync_type lists.
func parseDiagFilter(v url.Values, env Env) (diagnose.Filter, *ParamError) {
	f, perr := parseFilter(url.Values{"source": v["source"], "sync_type": v["sync_type"]}, env, filterOptions{anyRange: true})
	return diagnose.Filter{Sources: f.Sources, SyncTypes: f.SyncTypes}, perr
}

// ParseAnomaliesRequest reads the parameters of the anomalies.
func ParseAnomaliesRequest(raw string, env Env) (diagnose.Query, *ParamError) {
	var q diagnose.Query
	v, perr := QueryValues(raw, anomaliesParams...)
	if perr != nil {
		return q, perr
	}
	if q.Filter, perr = parseDiagFilter(v, env); perr != nil {
		return q, perr
	}
	for _, k := range ParamList(v, "kind") {
		kind, ok := diagnose.ParseKind(strings.ToLower(k))
		if !ok {
			names := make([]string, len(diagnose.Kinds))
			for i, k := range diagnose.Kinds {
				names[i] = string(k)
			}
			return q, BadParam("kind", "unknown kind %q: allowed are %s", Clip(k), strings.Join(names, ", "))
		}
		if !slices.Contains(q.Kinds, kind) {
			q.Kinds = append(q.Kinds, kind)
		}
	}
	q.Since, q.Until, perr = diagWindow(v, env)
	return q, perr
}

// ParseForecastsRequest reads the parameters of the forecasts.
func ParseForecastsRequest(raw string, env Env) (diagnose.ForecastQuery, *ParamError) {
	var q diagnose.ForecastQuery
	v, perr := QueryValues(raw, forecastsParams...)
	if perr != nil {
		return q, perr
	}
	q.Filter, perr = parseDiagFilter(v, env)
	q.Until = env.now
	return q, perr
}

// ParseRootCauseRequest reads the parameters of a root-cause question:
// one sync_type, at most one source.
func ParseRootCauseRequest(raw string, env Env) (diagnose.CauseRequest, *ParamError) {
	var r diagnose.CauseRequest
	v, perr := QueryValues(raw, rootCauseParams...)
	if perr != nil {
		return r, perr
	}
	f, perr := parseDiagFilter(v, env)
	if perr != nil {
		return r, perr
	}
	switch len(f.SyncTypes) {
	case 0:
		return r, BadParam("sync_type", "sync_type is required: the root cause is asked of one sync type")
	case 1:
		r.SyncType = f.SyncTypes[0]
	default:
		return r, BadParam("sync_type", "give one sync_type, not %d", len(f.SyncTypes))
	}
	switch len(f.Sources) {
	case 0:
	case 1:
		r.Source = f.Sources[0]
	default:
		return r, BadParam("source", "give at most one source, not %d", len(f.Sources))
	}
	r.Since, r.Until, perr = diagWindow(v, env)
	return r, perr
}

// diagnosticsAvailable answers 503 when no diagnoser is configured.
func (a *API) diagnosticsAvailable(c *gin.Context) bool {
	if a.diag == nil {
		c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: "diagnostics are not available: they need the ClickHouse store"})
		return false
	}
	return true
}

// diagFailed answers a failed diagnosis: 400 for a question the service
// refuses, else as a failed query.
func diagFailed(c *gin.Context, what string, err error) {
	var qe *diagnose.QueryError
	if errors.As(err, &qe) {
		RespondParamError(c, BadParam(qe.Param, "%s", qe.Error()))
		return
	}
	QueryFailed(c, what, err)
}

// handleAnomalies serves GET /api/v1/diagnostics/anomalies. The
// summaries and notes of the diagnostics are in the answer's language
// (lang, else Accept-Language; English by default), as display names are.
func (a *API) handleAnomalies(c *gin.Context) {
	q, perr := ParseAnomaliesRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) || !a.diagnosticsAvailable(c) {
		return
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	rep, err := a.diag.Anomalies(ctx, q)
	if err != nil {
		diagFailed(c, "the anomalies", err)
		return
	}
	c.JSON(http.StatusOK, rep.In(langOf(c)))
}

// handleForecasts serves GET /api/v1/diagnostics/forecasts.
func (a *API) handleForecasts(c *gin.Context) {
	q, perr := ParseForecastsRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) || !a.diagnosticsAvailable(c) {
		return
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	fs, err := a.diag.Forecasts(ctx, q)
	if err != nil {
		diagFailed(c, "the forecasts", err)
		return
	}
	c.JSON(http.StatusOK, ForecastsResponse{Forecasts: orEmpty(diagnose.ForecastsIn(fs, langOf(c)))})
}

// handleRootCause serves GET /api/v1/diagnostics/root-cause.
func (a *API) handleRootCause(c *gin.Context) {
	r, perr := ParseRootCauseRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) || !a.diagnosticsAvailable(c) {
		return
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	rc, err := a.diag.RootCause(ctx, r)
	if err != nil {
		diagFailed(c, "the root cause", err)
		return
	}
	c.JSON(http.StatusOK, rc.In(langOf(c)))
}
