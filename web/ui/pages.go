package ui

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
)

// The states of a sync type's last success against its expected interval.
const (
	stateOK          = "ok"          // within the interval
	stateLate        = "late"        // within twice the interval
	stateVeryLate    = "very-late"   // later than that
	stateNever       = "never"       // expected, but no success in the retention
	stateUnscheduled = "unscheduled" // not expected on a schedule
)

// overviewType is one sync type on the overview.
type overviewType struct {
	SyncType string
	// Figures of the runs started in the last 24 hours.
	Runs, Success, Failed, Partial uint64
	SuccessRatio                   *float64
	// InProgress counts the runs in progress (within the lookback, when
	// the store knows it; else of the last 24 hours).
	InProgress       uint64
	OldestInProgress time.Time
	// ConsecutiveFailures is the longest run of failures, by source, since
	// the last success or partial run.
	ConsecutiveFailures uint64
	LastSuccess         time.Time
	Age                 time.Duration
	Expected            time.Duration
	State               string
	Chart               chart
	RunsURL, FailedURL  string
	InProgressURL       string
}

// overviewPage is the content of the overview.
type overviewPage struct {
	Since, Until time.Time
	ChartStart   time.Time
	Total        chart
	Totals       overviewType
	Types        []overviewType
	Failures     []runs.Run
	FailuresURL  string
	// KnowsStates is false when the store offers no per-type states: the
	// runs in progress are then those of the last 24 hours, and
	// consecutive failures are unknown.
	KnowsStates bool
}

// runsURL returns the URL of the run list with the given filter.
func runsURL(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return consolePath + "/runs"
	}
	return consolePath + "/runs?" + v.Encode()
}

// handleOverview serves /ui/: each sync type at a glance.
func (cn *Console) handleOverview(c *gin.Context) {
	if _, perr := api.QueryValues(stripLang(c.Request.URL.RawQuery)); perr != nil {
		cn.badParam(c, perr)
		return
	}
	ctx, cancel := api.QueryContext(c)
	defer cancel()
	now := cn.now().UTC().Truncate(time.Millisecond)
	q := runs.OverviewQuery{
		Now: now, SyncTypes: cn.types.Names(), Hourly: true,
		Failures: consoleRecentFailures, FailuresSince: now.Add(time.Millisecond - runs.OverviewWindow),
	}
	if cn.knows {
		q.StatesSince = now.Add(-cn.cfg.Lookback)
	}
	ov, err := cn.overviews.Overview(ctx, q)
	if err != nil {
		cn.queryFailed(c, "the overview", err)
		return
	}
	cn.render(c, http.StatusOK, "overview", "Overview", "overview", cn.overviewPage(ov, now))
}

// overviewPage renders an overview for the page.
func (cn *Console) overviewPage(ov runs.Overview, now time.Time) overviewPage {
	chartStart := runs.HourlyStart(now)
	p := overviewPage{
		Since: ov.Since, Until: now, ChartStart: chartStart, Failures: ov.Failures, KnowsStates: ov.KnowsStates,
		FailuresURL: runsURL("status", "failed,partial", "since", ov.Since.Format(time.RFC3339Nano)),
	}
	for _, t := range ov.Types {
		r := overviewType{
			SyncType: t.SyncType, Runs: t.Window.Runs, Success: t.Window.Success, Failed: t.Window.Failed,
			Partial: t.Window.Partial, SuccessRatio: t.Window.SuccessRatio, InProgress: t.InProgress,
			OldestInProgress: t.OldestInProgress, ConsecutiveFailures: t.ConsecutiveFailures, LastSuccess: t.LastSuccess,
			Expected: cn.cfg.ExpectedIntervals[t.SyncType],
		}
		if !r.LastSuccess.IsZero() {
			r.Age = now.Sub(r.LastSuccess)
		}
		r.State = successState(r.LastSuccess, r.Age, r.Expected)
		r.Chart = hourlyChart(t.Hourly, chartStart, 24, smallChart)
		r.RunsURL = runsURL("sync_type", t.SyncType)
		r.FailedURL = runsURL("sync_type", t.SyncType, "status", "failed", "since", ov.Since.Format(time.RFC3339Nano))
		r.InProgressURL = runsURL("sync_type", t.SyncType, "status", "pending,processing")
		p.Types = append(p.Types, r)
		tot := &p.Totals
		tot.Runs, tot.Success, tot.Failed, tot.Partial, tot.InProgress = tot.Runs+r.Runs, tot.Success+r.Success, tot.Failed+r.Failed, tot.Partial+r.Partial, tot.InProgress+r.InProgress
	}
	if term := p.Totals.Success + p.Totals.Failed + p.Totals.Partial; term > 0 {
		v := float64(p.Totals.Success) / float64(term)
		p.Totals.SuccessRatio = &v
	}
	p.Total = hourlyChart(ov.Hourly, chartStart, 24, largeChart)
	return p
}

// successState rates a last success against the expected interval.
func successState(last time.Time, age, expected time.Duration) string {
	switch {
	case expected <= 0:
		return stateUnscheduled
	case last.IsZero():
		return stateNever
	case age <= expected:
		return stateOK
	case age <= 2*expected:
		return stateLate
	}
	return stateVeryLate
}

// runsForm holds the run list's filter as the form shows it.
type runsForm struct {
	Source, SyncType, Status, Since, Until, Q, Fingerprint string
	// SinceText and UntilText are set when a bound is a time rather than
	// a date, which a date input cannot show.
	SinceText, UntilText bool
}

// runsPage is the content of the run list.
type runsPage struct {
	Form       runsForm
	SyncTypes  []string
	Statuses   []string
	Runs       []runs.Run
	Older      string
	Newest     string
	CSV        string
	Error      string
	ErrorField string
}

// consoleRunsRequest parses the run list's parameters: those of the API
// and fingerprint.
func (cn *Console) consoleRunsRequest(raw string) (api.RunsRequest, url.Values, *api.ParamError) {
	v, perr := api.QueryValues(raw, append(slices.Clone(api.RunsParams), "fingerprint")...)
	if perr != nil {
		return api.RunsRequest{}, nil, perr
	}
	fs, perr := api.Single(v, "fingerprint")
	if perr != nil {
		return api.RunsRequest{}, v, perr
	}
	var fp runs.Fingerprint
	if fs = strings.TrimSpace(fs); fs != "" {
		n, err := runs.ParseFingerprint(fs)
		if err != nil || n == 0 {
			return api.RunsRequest{}, v, api.BadParam("fingerprint", "fingerprint %q: must be 16 hexadecimal digits, not all zero", api.Clip(fs))
		}
		fp = n
	}
	rest := url.Values{}
	for k, vals := range v {
		if k != "fingerprint" {
			rest[k] = vals
		}
	}
	req, perr := api.ParseRunsRequest(rest.Encode(), "", cn.env())
	req.Opt.Filter.Fingerprint = uint64(fp)
	return req, v, perr
}

// handleRuns serves /ui/runs: the runs, newest first, filtered.
func (cn *Console) handleRuns(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	req, v, perr := cn.consoleRunsRequest(raw)
	p := runsPage{SyncTypes: cn.types.Names()}
	for _, s := range synclog.Statuses {
		p.Statuses = append(p.Statuses, string(s))
	}
	join := func(name string) string { return strings.Join(api.ParamList(v, name), ",") }
	p.Form = runsForm{
		Source: join("source"), SyncType: join("sync_type"), Status: join("status"),
		Since: v.Get("since"), Until: v.Get("until"), Q: v.Get("q"), Fingerprint: v.Get("fingerprint"),
	}
	p.Form.SinceText = p.Form.Since != "" && len(p.Form.Since) != len(time.DateOnly)
	p.Form.UntilText = p.Form.Until != "" && len(p.Form.Until) != len(time.DateOnly)
	if perr != nil {
		p.Error, p.ErrorField = perr.Msg, perr.Field
		cn.render(c, http.StatusBadRequest, "runs", "Runs", "runs", p)
		return
	}
	if req.Format == api.FormatCSV {
		cn.writeRunsCSV(c, req)
		return
	}
	var next *runs.Cursor
	list, ok := read(cn, c, "listing runs", func(ctx context.Context) (l []runs.Run, err error) {
		l, next, err = cn.q.ListRuns(ctx, req.Opt)
		return l, err
	})
	if !ok {
		return
	}
	p.Runs = list
	page := url.Values{}
	for k, vals := range v {
		if k != "cursor" && k != "format" {
			page[k] = vals
		}
	}
	if next != nil {
		older := cloneValues(page)
		older.Set("cursor", api.EncodeCursor(next))
		p.Older = consolePath + "/runs?" + older.Encode()
	}
	if req.Opt.After != nil {
		p.Newest = consolePath + "/runs"
		if len(page) > 0 {
			p.Newest += "?" + page.Encode()
		}
	}
	p.CSV = consolePath + "/runs.csv"
	if len(v) > 0 {
		p.CSV += "?" + v.Encode()
	}
	cn.render(c, http.StatusOK, "runs", "Runs", "runs", p)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		out[k] = slices.Clone(vals)
	}
	return out
}

// handleRunsCSV serves /ui/runs.csv: the page of runs the same filter
// shows, as CSV.
func (cn *Console) handleRunsCSV(c *gin.Context) {
	req, _, perr := cn.consoleRunsRequest(stripLang(c.Request.URL.RawQuery))
	if perr != nil {
		cn.badParam(c, perr)
		return
	}
	cn.writeRunsCSV(c, req)
}

// writeRunsCSV answers a page of runs as CSV.
func (cn *Console) writeRunsCSV(c *gin.Context, req api.RunsRequest) {
	var next *runs.Cursor
	list, ok := read(cn, c, "listing runs", func(ctx context.Context) (l []runs.Run, err error) {
		l, next, err = cn.q.ListRuns(ctx, req.Opt)
		return l, err
	})
	if !ok {
		return
	}
	if next != nil {
		c.Header("X-Next-Cursor", api.EncodeCursor(next))
	}
	api.WriteCSV(c, "runs.csv", api.RunCSVHeader, api.RunCSVRows(list))
}

// badParam renders a page's bad parameter.
func (cn *Console) badParam(c *gin.Context, perr *api.ParamError) {
	cn.render(c, http.StatusBadRequest, "error", "Bad Request", "", errorPage{
		Code: http.StatusBadRequest, Message: perr.Msg, Field: perr.Field, RequestID: c.Writer.Header().Get("X-Request-ID"),
	})
}

// attribute is one attribute of a run, for sorted display.
type attribute struct{ Key, Value string }

func sortedAttributes(m map[string]string) []attribute {
	out := make([]attribute, 0, len(m))
	for k, v := range m {
		out = append(out, attribute{k, v})
	}
	slices.SortFunc(out, func(a, b attribute) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// runPage is the content of a run's page.
type runPage struct {
	Run            runs.Run
	Reports        []runs.Report
	FingerprintURL string
	SameTypeURL    string
	APIURL         string
	// Diagnosis is why a failed or anomalous run is so; nil for others.
	Diagnosis    *diagnose.Diagnosis
	DiagnosisURL string
}

// handleRun serves /ui/runs/{run_id}: a run's latest state and every
// report it sent.
func (cn *Console) handleRun(c *gin.Context) {
	if _, perr := api.QueryValues(stripLang(c.Request.URL.RawQuery)); perr != nil {
		cn.badParam(c, perr)
		return
	}
	id := c.Param("run_id")
	if !api.RunIDPattern.MatchString(id) {
		cn.badParam(c, api.BadParam("run_id", "run_id must be 1-128 letters, digits, '-', '_', '.' or ':'"))
		return
	}
	ctx, cancel := api.QueryContext(c)
	defer cancel()
	d, err := cn.q.GetRun(ctx, id)
	if errors.Is(err, runs.ErrNotFound) {
		cn.fail(c, http.StatusNotFound, "No such run is stored; it may be older than the retention.")
		return
	}
	if err != nil {
		cn.queryFailed(c, "reading the run", err)
		return
	}
	p := runPage{Run: d.Run, Reports: d.Reports, APIURL: "/api/v1/runs/" + url.PathEscape(id),
		SameTypeURL: runsURL("sync_type", d.Run.SyncType, "source", d.Run.Source)}
	if d.Run.Fingerprint != 0 && d.Run.Status != synclog.StatusSuccess {
		p.FingerprintURL = runsURL("fingerprint", d.Run.Fingerprint.String())
	}
	if cn.diag != nil && d.Run.Status.Terminal() {
		diag, err := cn.diag.DiagnoseRun(ctx, diagnose.RunRef{RunID: d.Run.RunID, Source: d.Run.Source, SyncType: d.Run.SyncType,
			Failed: d.Run.Status == synclog.StatusFailed, StartedAt: d.Run.StartedAt})
		if err != nil {
			// The run was read: show it without its diagnosis.
			web.Log(c).WithError(err).WithField("run_id", id).Warn("console: diagnosis of the run failed")
		}
		p.Diagnosis = diag.In(langOf(c))
		p.DiagnosisURL = consolePath + "/diagnosis?" + url.Values{"sync_type": {d.Run.SyncType}, "source": {d.Run.Source}}.Encode()
	}
	cn.render(c, http.StatusOK, "run", "Run", "runs", p)
}

// errorsForm holds the error report's filter as the form shows it.
type errorsForm struct {
	Source, SyncType, Since, Until, Q string
	SinceText, UntilText              bool
}

// errorGroupRow is one error group with the link to its runs.
type errorGroupRow struct {
	runs.ErrorGroup
	RunsURL string
}

// errorsPage is the content of the error report.
type errorsPage struct {
	Form         errorsForm
	SyncTypes    []string
	Since, Until time.Time
	Groups       []errorGroupRow
	Error        string
	ErrorField   string
}

// handleErrors serves /ui/errors: failed and partial runs grouped by the
// fingerprint of their message.
func (cn *Console) handleErrors(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	p := errorsPage{SyncTypes: cn.types.Names()}
	v, _ := url.ParseQuery(raw)
	p.Form = errorsForm{
		Source: strings.Join(api.ParamList(v, "source"), ","), SyncType: strings.Join(api.ParamList(v, "sync_type"), ","),
		Since: v.Get("since"), Until: v.Get("until"), Q: v.Get("q"),
	}
	p.Form.SinceText = p.Form.Since != "" && len(p.Form.Since) != len(time.DateOnly)
	p.Form.UntilText = p.Form.Until != "" && len(p.Form.Until) != len(time.DateOnly)
	req, perr := api.ParseErrorsRequest(raw, cn.env())
	if perr != nil {
		p.Error, p.ErrorField = perr.Msg, perr.Field
		cn.render(c, http.StatusBadRequest, "errors", "Errors", "errors", p)
		return
	}
	p.Since, p.Until = req.Filter.Since, req.Filter.Until
	groups, ok := read(cn, c, "the error report", func(ctx context.Context) ([]runs.ErrorGroup, error) {
		return cn.q.ErrorGroups(ctx, req.Filter, req.Limit)
	})
	if !ok {
		return
	}
	for _, g := range groups {
		p.Groups = append(p.Groups, errorGroupRow{ErrorGroup: g, RunsURL: runsURL(
			"fingerprint", g.Fingerprint.String(), "status", "failed,partial",
			"source", p.Form.Source, "sync_type", p.Form.SyncType,
			"since", req.Filter.Since.Format(time.RFC3339Nano), "until", req.Filter.Until.Format(time.RFC3339Nano))})
	}
	cn.render(c, http.StatusOK, "errors", "Errors", "errors", p)
}

// dailyPage is the content of the daily report.
type dailyPage struct {
	Date, TZ   string
	Start, End time.Time
	Rows       []runs.DailyRow
	CSV        string
	Previous   string
	Next       string
	Error      string
	ErrorField string
}

// handleDaily serves /ui/reports/daily: one day per sync type, against
// the day before and the week before.
func (cn *Console) handleDaily(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	v, _ := url.ParseQuery(raw)
	p := dailyPage{Date: v.Get("date"), TZ: v.Get("tz")}
	req, perr := api.ParseDailyRequest(raw, "", cn.env())
	if perr != nil {
		p.Error, p.ErrorField = perr.Msg, perr.Field
		cn.render(c, http.StatusBadRequest, "daily", "Daily report", "daily", p)
		return
	}
	rows, ok := read(cn, c, "the daily report", func(ctx context.Context) ([]runs.DailyRow, error) {
		return cn.q.DailyReport(ctx, req.Day, req.Loc)
	})
	if !ok {
		return
	}
	if req.Format == api.FormatCSV {
		api.WriteCSV(c, "daily-"+req.Day.Format(time.DateOnly)+".csv", api.DailyCSVHeader, api.DailyCSVRows(rows))
		return
	}
	day := func(d time.Time) string {
		return consolePath + "/reports/daily?" + url.Values{"date": {d.Format(time.DateOnly)}, "tz": {req.Loc.String()}}.Encode()
	}
	p = dailyPage{
		Date: req.Day.Format(time.DateOnly), TZ: req.Loc.String(), Start: req.Day.UTC(),
		End:      time.Date(req.Day.Year(), req.Day.Month(), req.Day.Day()+1, 0, 0, 0, 0, req.Loc).UTC(),
		Rows:     rows,
		CSV:      consolePath + "/reports/daily.csv?" + url.Values{"date": {req.Day.Format(time.DateOnly)}, "tz": {req.Loc.String()}}.Encode(),
		Previous: day(req.Day.AddDate(0, 0, -1)),
	}
	if next := req.Day.AddDate(0, 0, 1); !next.After(cn.now()) {
		p.Next = day(next)
	}
	cn.render(c, http.StatusOK, "daily", "Daily report", "daily", p)
}

// handleDailyCSV serves /ui/reports/daily.csv: the daily report as CSV.
func (cn *Console) handleDailyCSV(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	req, perr := api.ParseDailyRequest(raw, "", cn.env())
	if perr != nil {
		cn.badParam(c, perr)
		return
	}
	rows, ok := read(cn, c, "the daily report", func(ctx context.Context) ([]runs.DailyRow, error) {
		return cn.q.DailyReport(ctx, req.Day, req.Loc)
	})
	if !ok {
		return
	}
	api.WriteCSV(c, "daily-"+req.Day.Format(time.DateOnly)+".csv", api.DailyCSVHeader, api.DailyCSVRows(rows))
}
