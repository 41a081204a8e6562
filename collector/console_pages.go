package collector

import (
	"cmp"
	"errors"
	"github.com/syncwatch/syncwatch/runs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/clickhouse"
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
func (cn *console) handleOverview(c *gin.Context) {
	if _, perr := queryValues(stripLang(c.Request.URL.RawQuery)); perr != nil {
		cn.badParam(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	now := cn.now().UTC().Truncate(time.Millisecond)
	until := now.Add(time.Millisecond)
	window := runs.Filter{Since: until.Add(-24 * time.Hour), Until: until}
	chartStart := now.Truncate(time.Hour).Add(-23 * time.Hour)
	hourly := runs.Filter{Since: chartStart, Until: until}
	byType := []runs.GroupBy{runs.BySyncType}
	stater, knowsStates := cn.q.(typeStater)

	var (
		wg       sync.WaitGroup
		day      []runs.Stats
		hours    []runs.Stats
		states   []clickhouse.ExporterTypeState
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
	run(func() { day, errs[0] = cn.q.Stats(ctx, runs.StatsQuery{Filter: window, GroupBy: byType}) })
	run(func() {
		hours, errs[1] = cn.q.Stats(ctx, runs.StatsQuery{Filter: hourly, GroupBy: byType, Interval: time.Hour})
	})
	run(func() {
		if knowsStates {
			states, errs[2] = stater.ExporterTypeStates(ctx, now.Add(-cn.cfg.Lookback))
		} else {
			lastOK, errs[2] = cn.q.LastSuccesses(ctx)
		}
	})
	run(func() {
		failures, _, errs[3] = cn.q.ListRuns(ctx, runs.ListOptions{
			Filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}, Since: window.Since},
			Limit:  consoleRecentFailures,
		})
	})
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		cn.queryFailed(c, "the overview", err)
		return
	}

	rows := map[string]*overviewType{}
	names := cn.s.cfg.SyncTypes.Names()
	row := func(st string) *overviewType {
		r, ok := rows[st]
		if !ok {
			r = &overviewType{SyncType: st}
			rows[st] = r
			if !slices.Contains(names, st) {
				names = append(names, st) // a type no longer configured
			}
		}
		return r
	}
	for _, st := range names {
		row(st)
	}
	for _, s := range day {
		r := row(s.SyncType)
		r.Runs, r.Success, r.Failed, r.Partial, r.SuccessRatio = s.Runs, s.Success, s.Failed, s.Partial, s.SuccessRatio
		if !knowsStates {
			r.InProgress = s.Pending + s.Processing
		}
	}
	for _, s := range states {
		r := row(s.SyncType)
		r.InProgress += s.InProgress
		if !s.OldestInProgress.IsZero() && (r.OldestInProgress.IsZero() || s.OldestInProgress.Before(r.OldestInProgress)) {
			r.OldestInProgress = s.OldestInProgress
		}
		r.ConsecutiveFailures = max(r.ConsecutiveFailures, s.ConsecutiveFailures)
		if s.LastSuccess.After(r.LastSuccess) {
			r.LastSuccess = s.LastSuccess
		}
	}
	for st, t := range lastOK {
		if r := row(st); t.After(r.LastSuccess) {
			r.LastSuccess = t
		}
	}
	buckets := map[string][]runs.Stats{}
	for _, s := range hours {
		row(s.SyncType)
		buckets[s.SyncType] = append(buckets[s.SyncType], s)
	}
	p := overviewPage{
		Since: window.Since, Until: now, ChartStart: chartStart, Failures: failures, KnowsStates: knowsStates,
		FailuresURL: runsURL("status", "failed,partial", "since", window.Since.Format(time.RFC3339Nano)),
	}
	for _, st := range names {
		r := rows[st]
		r.Expected = cn.cfg.ExpectedIntervals[st]
		if !r.LastSuccess.IsZero() {
			r.Age = now.Sub(r.LastSuccess)
		}
		r.State = successState(r.LastSuccess, r.Age, r.Expected)
		r.Chart = hourlyChart(buckets[st], chartStart, 24, smallChart)
		r.RunsURL = runsURL("sync_type", st)
		r.FailedURL = runsURL("sync_type", st, "status", "failed", "since", window.Since.Format(time.RFC3339Nano))
		r.InProgressURL = runsURL("sync_type", st, "status", "pending,processing")
		p.Types = append(p.Types, *r)
		t := &p.Totals
		t.Runs, t.Success, t.Failed, t.Partial, t.InProgress = t.Runs+r.Runs, t.Success+r.Success, t.Failed+r.Failed, t.Partial+r.Partial, t.InProgress+r.InProgress
	}
	if term := p.Totals.Success + p.Totals.Failed + p.Totals.Partial; term > 0 {
		v := float64(p.Totals.Success) / float64(term)
		p.Totals.SuccessRatio = &v
	}
	p.Total = hourlyChart(hours, chartStart, 24, largeChart)
	cn.render(c, http.StatusOK, "overview", "Overview", "overview", p)
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
func (cn *console) consoleRunsRequest(raw string) (runsRequest, url.Values, *paramError) {
	v, perr := queryValues(raw, append(slices.Clone(runsParams), "fingerprint")...)
	if perr != nil {
		return runsRequest{}, nil, perr
	}
	fs, perr := single(v, "fingerprint")
	if perr != nil {
		return runsRequest{}, v, perr
	}
	var fp uint64
	if fs = strings.TrimSpace(fs); fs != "" {
		n, err := strconv.ParseUint(fs, 10, 64)
		if err != nil || n == 0 {
			return runsRequest{}, v, badParam("fingerprint", "fingerprint %q: must be a positive decimal integer", clip(fs))
		}
		fp = n
	}
	rest := url.Values{}
	for k, vals := range v {
		if k != "fingerprint" {
			rest[k] = vals
		}
	}
	req, perr := parseRunsRequest(rest.Encode(), "", cn.env())
	req.opt.Filter.Fingerprint = fp
	return req, v, perr
}

// handleRuns serves /ui/runs: the runs, newest first, filtered.
func (cn *console) handleRuns(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	req, v, perr := cn.consoleRunsRequest(raw)
	p := runsPage{SyncTypes: cn.s.cfg.SyncTypes.Names()}
	for _, s := range synclog.Statuses {
		p.Statuses = append(p.Statuses, string(s))
	}
	join := func(name string) string { return strings.Join(list(v, name), ",") }
	p.Form = runsForm{
		Source: join("source"), SyncType: join("sync_type"), Status: join("status"),
		Since: v.Get("since"), Until: v.Get("until"), Q: v.Get("q"), Fingerprint: v.Get("fingerprint"),
	}
	p.Form.SinceText = p.Form.Since != "" && len(p.Form.Since) != len(time.DateOnly)
	p.Form.UntilText = p.Form.Until != "" && len(p.Form.Until) != len(time.DateOnly)
	if perr != nil {
		p.Error, p.ErrorField = perr.msg, perr.field
		cn.render(c, http.StatusBadRequest, "runs", "Runs", "runs", p)
		return
	}
	if req.format == formatCSV {
		cn.writeRunsCSV(c, req)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	runs, next, err := cn.q.ListRuns(ctx, req.opt)
	if err != nil {
		cn.queryFailed(c, "listing runs", err)
		return
	}
	p.Runs = runs
	page := url.Values{}
	for k, vals := range v {
		if k != "cursor" && k != "format" {
			page[k] = vals
		}
	}
	if next != nil {
		older := cloneValues(page)
		older.Set("cursor", encodeCursor(next))
		p.Older = consolePath + "/runs?" + older.Encode()
	}
	if req.opt.After != nil {
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
func (cn *console) handleRunsCSV(c *gin.Context) {
	req, _, perr := cn.consoleRunsRequest(stripLang(c.Request.URL.RawQuery))
	if perr != nil {
		cn.badParam(c, perr)
		return
	}
	cn.writeRunsCSV(c, req)
}

func (cn *console) writeRunsCSV(c *gin.Context, req runsRequest) {
	ctx, cancel := queryContext(c)
	defer cancel()
	runs, next, err := cn.q.ListRuns(ctx, req.opt)
	if err != nil {
		cn.queryFailed(c, "listing runs", err)
		return
	}
	if next != nil {
		c.Header("X-Next-Cursor", encodeCursor(next))
	}
	writeCSV(c, "runs.csv", runCSVHeader, runCSVRows(runs))
}

// badParam renders a page's bad parameter.
func (cn *console) badParam(c *gin.Context, perr *paramError) {
	cn.render(c, http.StatusBadRequest, "error", "Bad Request", "", errorPage{
		Code: http.StatusBadRequest, Message: perr.msg, Field: perr.field, RequestID: c.Writer.Header().Get("X-Request-ID"),
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
}

// handleRun serves /ui/runs/{run_id}: a run's latest state and every
// report it sent.
func (cn *console) handleRun(c *gin.Context) {
	if _, perr := queryValues(stripLang(c.Request.URL.RawQuery)); perr != nil {
		cn.badParam(c, perr)
		return
	}
	id := c.Param("run_id")
	if !runIDPattern.MatchString(id) {
		cn.badParam(c, badParam("run_id", "run_id must be 1-128 letters, digits, '-', '_', '.' or ':'"))
		return
	}
	ctx, cancel := queryContext(c)
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
		p.FingerprintURL = runsURL("fingerprint", strconv.FormatUint(d.Run.Fingerprint, 10))
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
func (cn *console) handleErrors(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	p := errorsPage{SyncTypes: cn.s.cfg.SyncTypes.Names()}
	v, _ := url.ParseQuery(raw)
	p.Form = errorsForm{
		Source: strings.Join(list(v, "source"), ","), SyncType: strings.Join(list(v, "sync_type"), ","),
		Since: v.Get("since"), Until: v.Get("until"), Q: v.Get("q"),
	}
	p.Form.SinceText = p.Form.Since != "" && len(p.Form.Since) != len(time.DateOnly)
	p.Form.UntilText = p.Form.Until != "" && len(p.Form.Until) != len(time.DateOnly)
	req, perr := parseErrorsRequest(raw, cn.env())
	if perr != nil {
		p.Error, p.ErrorField = perr.msg, perr.field
		cn.render(c, http.StatusBadRequest, "errors", "Errors", "errors", p)
		return
	}
	p.Since, p.Until = req.filter.Since, req.filter.Until
	ctx, cancel := queryContext(c)
	defer cancel()
	groups, err := cn.q.ErrorGroups(ctx, req.filter, req.limit)
	if err != nil {
		cn.queryFailed(c, "the error report", err)
		return
	}
	for _, g := range groups {
		p.Groups = append(p.Groups, errorGroupRow{ErrorGroup: g, RunsURL: runsURL(
			"fingerprint", strconv.FormatUint(g.Fingerprint, 10), "status", "failed,partial",
			"source", p.Form.Source, "sync_type", p.Form.SyncType,
			"since", req.filter.Since.Format(time.RFC3339Nano), "until", req.filter.Until.Format(time.RFC3339Nano))})
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
func (cn *console) handleDaily(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	v, _ := url.ParseQuery(raw)
	p := dailyPage{Date: v.Get("date"), TZ: v.Get("tz")}
	req, perr := parseDailyRequest(raw, "", cn.env())
	if perr != nil {
		p.Error, p.ErrorField = perr.msg, perr.field
		cn.render(c, http.StatusBadRequest, "daily", "Daily report", "daily", p)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	rows, err := cn.q.DailyReport(ctx, req.day, req.loc)
	if err != nil {
		cn.queryFailed(c, "the daily report", err)
		return
	}
	if req.format == formatCSV {
		writeCSV(c, "daily-"+req.day.Format(time.DateOnly)+".csv", dailyCSVHeader, dailyCSVRows(rows))
		return
	}
	day := func(d time.Time) string {
		return consolePath + "/reports/daily?" + url.Values{"date": {d.Format(time.DateOnly)}, "tz": {req.loc.String()}}.Encode()
	}
	p = dailyPage{
		Date: req.day.Format(time.DateOnly), TZ: req.loc.String(), Start: req.day.UTC(),
		End:      time.Date(req.day.Year(), req.day.Month(), req.day.Day()+1, 0, 0, 0, 0, req.loc).UTC(),
		Rows:     rows,
		CSV:      consolePath + "/reports/daily.csv?" + url.Values{"date": {req.day.Format(time.DateOnly)}, "tz": {req.loc.String()}}.Encode(),
		Previous: day(req.day.AddDate(0, 0, -1)),
	}
	if next := req.day.AddDate(0, 0, 1); !next.After(cn.now()) {
		p.Next = day(next)
	}
	cn.render(c, http.StatusOK, "daily", "Daily report", "daily", p)
}

// handleDailyCSV serves /ui/reports/daily.csv: the daily report as CSV.
func (cn *console) handleDailyCSV(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	req, perr := parseDailyRequest(raw, "", cn.env())
	if perr != nil {
		cn.badParam(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	rows, err := cn.q.DailyReport(ctx, req.day, req.loc)
	if err != nil {
		cn.queryFailed(c, "the daily report", err)
		return
	}
	writeCSV(c, "daily-"+req.day.Format(time.DateOnly)+".csv", dailyCSVHeader, dailyCSVRows(rows))
}
