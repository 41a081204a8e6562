package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/runs"

	"github.com/gin-gonic/gin"
)

// DailyReportResponse is the daily report of one day.
type DailyReportResponse struct {
	Date string `json:"date"`
	TZ   string `json:"tz"`
	// Start and End bound the day (a day may last 23 or 25 hours).
	Start     time.Time      `json:"start"`
	End       time.Time      `json:"end"`
	SyncTypes []DailyRowView `json:"sync_types"`
}

var dailyParams = []string{"date", "tz", "format"}

// DailyRequest is a parsed request for the daily report.
type DailyRequest struct {
	// Day is the midnight that starts the day, in Loc.
	Day time.Time
	Loc *time.Location
	// Format is the output format.
	Format string
}

// ParseDailyRequest reads the parameters of the daily report.
func ParseDailyRequest(raw, accept string, env Env) (DailyRequest, *ParamError) {
	var r DailyRequest
	v, perr := QueryValues(raw, dailyParams...)
	if perr != nil {
		return r, perr
	}
	if r.Loc, perr = parseTZ(v); perr != nil {
		return r, perr
	}
	ds, perr := Single(v, "date")
	if perr != nil {
		return r, perr
	}
	today := env.now.In(r.Loc)
	r.Day = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, r.Loc)
	if ds != "" {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(ds), r.Loc)
		if err != nil {
			return r, BadParam("date", "date %q is not a valid date (YYYY-MM-DD)", Clip(ds))
		}
		if d.Before(minParamTime) || !d.Before(maxParamTime) {
			return r, BadParam("date", "date must lie between 1970-01-01 and 2199-12-31")
		}
		if env.now.Sub(d) > env.retention+24*time.Hour {
			return r, BadParam("date", "date %s is older than the retention of %s", ds, formatDays(env.retention))
		}
		r.Day = d
	}
	r.Format, perr = parseFormat(v, accept, FormatJSON, FormatCSV, FormatMarkdown)
	return r, perr
}

// handleDaily serves GET /api/v1/reports/daily.
func (a *API) handleDaily(c *gin.Context) {
	req, perr := ParseDailyRequest(c.Request.URL.RawQuery, c.GetHeader("Accept"), a.env())
	if !paramsOK(c, perr) {
		return
	}
	rows, ok := fetch(c, "the daily report", func(ctx context.Context) ([]runs.DailyRow, error) {
		return a.q.DailyReport(ctx, req.Day, req.Loc)
	})
	if !ok {
		return
	}
	rows = orEmpty(rows)
	resp := DailyReportResponse{
		Date: req.Day.Format(time.DateOnly), TZ: req.Loc.String(), Start: req.Day.UTC(),
		End:       time.Date(req.Day.Year(), req.Day.Month(), req.Day.Day()+1, 0, 0, 0, 0, req.Loc).UTC(),
		SyncTypes: dailyViews(rows, langOf(c)),
	}
	switch req.Format {
	case FormatCSV:
		WriteCSV(c, "daily-"+resp.Date+".csv", DailyCSVHeader, DailyCSVRows(rows))
	case FormatMarkdown:
		c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte(dailyMarkdown(resp)))
	default:
		c.JSON(http.StatusOK, resp)
	}
}

// ErrorReportResponse lists the error groups of a window.
type ErrorReportResponse struct {
	Since  time.Time        `json:"since"`
	Until  time.Time        `json:"until"`
	Groups []ErrorGroupView `json:"groups"`
}

var errorsParams = []string{"source", "sync_type", "since", "until", "q", "limit"}

// ErrorsRequest is a parsed request for the error report.
type ErrorsRequest struct {
	Filter runs.Filter
	// Limit bounds the groups answered.
	Limit int
}

// ParseErrorsRequest reads the parameters of the error report.
func ParseErrorsRequest(raw string, env Env) (ErrorsRequest, *ParamError) {
	var r ErrorsRequest
	v, perr := QueryValues(raw, errorsParams...)
	if perr != nil {
		return r, perr
	}
	if r.Filter, perr = parseFilter(v, env, filterOptions{defaultSpan: 24 * time.Hour}); perr != nil {
		return r, perr
	}
	r.Limit, perr = parseLimit(v, "limit", DefaultErrorGroups, MaxErrorGroups)
	return r, perr
}

// handleErrors serves GET /api/v1/reports/errors.
func (a *API) handleErrors(c *gin.Context) {
	req, perr := ParseErrorsRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) {
		return
	}
	groups, ok := fetch(c, "the error report", func(ctx context.Context) ([]runs.ErrorGroup, error) {
		return a.q.ErrorGroups(ctx, req.Filter, req.Limit)
	})
	if !ok {
		return
	}
	c.JSON(http.StatusOK, ErrorReportResponse{Since: req.Filter.Since, Until: req.Filter.Until, Groups: errorGroupViews(groups, langOf(c))})
}
