package collector

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/syncwatch/syncwatch/runs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/synclog"
)

// Querier is what the query, report and monitor API needs of the store.
// *clickhouse.Store implements it.
type Querier interface {
	// ListRuns returns a page of runs, newest first, and the cursor of the
	// next page (nil on the last).
	ListRuns(ctx context.Context, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error)
	// GetRun returns a run with all its reports, or runs.ErrNotFound.
	GetRun(ctx context.Context, runID string) (runs.RunDetail, error)
	// Stats computes figures over runs, grouped and bucketed.
	Stats(ctx context.Context, q runs.StatsQuery) ([]runs.Stats, error)
	// DailyReport compares one day of loc per sync type with the day
	// before and the average day of the week before.
	DailyReport(ctx context.Context, day time.Time, loc *time.Location) ([]runs.DailyRow, error)
	// ErrorGroups groups failed and partial runs by message fingerprint.
	ErrorGroups(ctx context.Context, f runs.Filter, limit int) ([]runs.ErrorGroup, error)
	// Trends returns daily p95 durations and success ratios per sync type,
	// flagged against a trailing baseline.
	Trends(ctx context.Context, since, until time.Time, loc *time.Location, baselineDays int) ([]runs.TrendPoint, error)
	// LastSuccesses returns when each sync type last succeeded.
	LastSuccesses(ctx context.Context) (map[string]time.Time, error)
	// DeleteRuns removes (or, with dryRun, counts) the runs f selects.
	DeleteRuns(ctx context.Context, f runs.Filter, dryRun bool) (runs.DeleteResult, error)
	// Retention is how long runs are kept.
	Retention() time.Duration
}

// Limits of the query API.
const (
	// DefaultPageSize and MaxPageSize bound the runs of one page.
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// MaxQueryLength bounds the message search q, in characters.
	MaxQueryLength = 200
	// MaxBuckets bounds the time buckets of one statistics query.
	MaxBuckets = 10000
	// DefaultErrorGroups and MaxErrorGroups bound the error report.
	DefaultErrorGroups = 50
	MaxErrorGroups     = 1000
	// DefaultTrendDays is how many days the trend report covers by
	// default, today included; DefaultBaselineDays its default baseline.
	DefaultTrendDays    = 14
	DefaultBaselineDays = 7
	// queryTimeout bounds one request's queries.
	queryTimeout = 60 * time.Second
	// maxCursorLength bounds a cursor before it is decoded.
	maxCursorLength = 512
)

// queryAPI serves the query, report and monitor routes.
type queryAPI struct {
	s      *Server
	q      Querier
	clears *prometheus.CounterVec
	now    func() time.Time
}

// RegisterQueryAPI adds the query and report API (/api/v1/runs GET,
// /api/v1/runs/{run_id}, /api/v1/stats, /api/v1/reports/...) and the
// monitor URLs of the original module (/api/monitor/...) to the server,
// answered from q. reg receives the API's metrics. NewServer calls it when
// Deps.Query is set; it may be called once.
func (s *Server) RegisterQueryAPI(q Querier, reg prometheus.Registerer) error {
	if q == nil {
		return errors.New("collector: query API without a querier")
	}
	for _, r := range s.engine.Routes() {
		if r.Path == "/api/v1/stats" {
			return errors.New("collector: the query API is registered already")
		}
	}
	api := &queryAPI{s: s, q: q, now: time.Now}
	api.clears = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncwatch_monitor_clears_total",
		Help: "Clears of stored runs through /api/monitor/clear/, by whether they were dry runs.",
	}, []string{"dry_run"})
	api.clears.WithLabelValues("true")
	api.clears.WithLabelValues("false")
	if reg != nil {
		if err := reg.Register(api.clears); err != nil {
			return fmt.Errorf("collector: register query metrics: %w", err)
		}
	}
	e := s.engine
	query := s.require(RoleQuery)
	e.GET("/api/v1/runs", query, api.handleRuns)
	e.GET("/api/v1/runs/:run_id", query, api.handleRun)
	e.GET("/api/v1/stats", query, api.handleStats)
	e.GET("/api/v1/reports/daily", query, api.handleDaily)
	e.GET("/api/v1/reports/errors", query, api.handleErrors)
	e.GET("/api/v1/reports/trends", query, api.handleTrends)
	// The monitor URLs answer with and without their trailing slash.
	for _, p := range []string{"/api/monitor/dashboard/", "/api/monitor/dashboard"} {
		e.GET(p, query, api.handleDashboard)
	}
	for _, p := range []string{"/api/monitor/records/", "/api/monitor/records"} {
		e.GET(p, query, api.handleRuns)
	}
	for _, p := range []string{"/api/monitor/statistics/", "/api/monitor/statistics"} {
		e.GET(p, query, api.handleStats)
	}
	for _, p := range []string{"/api/monitor/clear/", "/api/monitor/clear"} {
		e.POST(p, s.require(RoleAdmin), api.handleClear)
	}
	return nil
}

// paramError is a bad query parameter: 400 with the parameter's name.
type paramError struct {
	field string
	msg   string
}

func (e *paramError) Error() string { return e.msg }

func badParam(field, format string, args ...any) *paramError {
	return &paramError{field: field, msg: fmt.Sprintf(format, args...)}
}

// respondParamError answers 400 naming the parameter.
func respondParamError(c *gin.Context, e *paramError) {
	c.JSON(http.StatusBadRequest, ErrorResponse{Error: e.msg, Field: e.field})
}

// queryFailed answers a failed store query without its details, which
// the log keeps.
func (a *queryAPI) queryFailed(c *gin.Context, what string, err error) {
	logEntry(c).WithError(err).WithField("query", what).Error("query failed")
	if errors.Is(err, context.DeadlineExceeded) {
		c.JSON(http.StatusServiceUnavailable, ErrorResponse{Error: what + " took too long: narrow the filter or the time range"})
		return
	}
	c.JSON(http.StatusInternalServerError, ErrorResponse{Error: what + " failed; the server log has the details (request id " + c.Writer.Header().Get("X-Request-ID") + ")"})
}

// queryContext bounds the queries of one request.
func queryContext(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), queryTimeout)
}

// parseEnv is what parameter parsing needs to know of the server.
type parseEnv struct {
	types     synclog.SyncTypes
	now       time.Time
	retention time.Duration
}

func (a *queryAPI) env() parseEnv {
	return parseEnv{types: a.s.cfg.SyncTypes, now: a.now().UTC(), retention: a.q.Retention()}
}

// queryValues parses a raw query string and refuses parameters not in
// accepted, so that a misspelt one is not silently ignored.
func queryValues(raw string, accepted ...string) (url.Values, *paramError) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badParam("", "the query string is malformed: %v", err)
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(accepted, name) {
			if len(accepted) == 0 {
				return nil, badParam(clip(name), "unknown parameter %q: this endpoint takes no parameters", clip(name))
			}
			sorted := slices.Clone(accepted)
			slices.Sort(sorted)
			return nil, badParam(clip(name), "unknown parameter %q: accepted are %s", clip(name), strings.Join(sorted, ", "))
		}
	}
	return v, nil
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= 64 {
		return s
	}
	return string([]rune(s)[:64]) + "…"
}

// single returns the one value of a parameter, "" when absent.
func single(v url.Values, name string) (string, *paramError) {
	vals := v[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", badParam(name, "%s is given %d times: give it once", name, len(vals))
}

// list returns the values of a repeatable parameter, each occurrence split
// at commas, trimmed, without empty items or repetitions.
func list(v url.Values, name string) []string {
	var out []string
	for _, val := range v[name] {
		for item := range strings.SplitSeq(val, ",") {
			if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
				out = append(out, item)
			}
		}
	}
	return out
}

var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Bounds of the times a parameter may give.
var (
	minParamTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxParamTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTimeParam parses an RFC 3339 time or a date (YYYY-MM-DD, in loc).
// A date means its midnight, or for an upper bound (end) the midnight
// after it, so that since=D&until=D selects the whole day D. Times are
// rounded up to the millisecond, the precision of stored times, which
// keeps both bounds exact.
func parseTimeParam(name, val string, loc *time.Location, end bool) (time.Time, *paramError) {
	var t time.Time
	if len(val) == len(time.DateOnly) {
		d, err := time.ParseInLocation(time.DateOnly, val, loc)
		if err != nil {
			return t, badParam(name, "%s %q is not a valid date (YYYY-MM-DD)", name, clip(val))
		}
		t = d
		if end {
			t = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
	} else {
		p, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return t, badParam(name, "%s %q is not a time: use RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", name, clip(val))
		}
		t = p
	}
	if t.Before(minParamTime) || !t.Before(maxParamTime) {
		return time.Time{}, badParam(name, "%s must lie between 1970-01-01 and 2199-12-31", name)
	}
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		t = r.Add(time.Millisecond)
	}
	return t.UTC(), nil
}

// timeRange reads since and until. Missing bounds stay zero unless
// defaultSpan is set: then until defaults to now and since to until minus
// defaultSpan. Unless anyRange, the range may not exceed the retention
// (plus a day, so that whole calendar days covering it can be asked for).
func timeRange(v url.Values, env parseEnv, loc *time.Location, defaultSpan time.Duration, anyRange bool) (since, until time.Time, perr *paramError) {
	sv, perr := single(v, "since")
	if perr != nil {
		return
	}
	uv, perr := single(v, "until")
	if perr != nil {
		return
	}
	if sv != "" {
		if since, perr = parseTimeParam("since", sv, loc, false); perr != nil {
			return
		}
	}
	if uv != "" {
		if until, perr = parseTimeParam("until", uv, loc, true); perr != nil {
			return
		}
	}
	if defaultSpan > 0 {
		if until.IsZero() {
			until = env.now.Truncate(time.Millisecond).Add(time.Millisecond)
		}
		if since.IsZero() {
			since = until.Add(-defaultSpan)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, badParam("since", "since (%s) must be before until (%s)", since.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
	if !since.IsZero() && !anyRange {
		end := until
		if end.IsZero() {
			end = env.now
		}
		if end.Sub(since) > env.retention+24*time.Hour {
			return since, until, badParam("since", "the range from since to until spans %.1f days: at most the retention of %s (plus a day) can be queried",
				end.Sub(since).Hours()/24, formatDays(env.retention))
		}
	}
	return since, until, nil
}

func formatDays(d time.Duration) string {
	days := d.Hours() / 24
	if days == math.Trunc(days) {
		return fmt.Sprintf("%d days", int(days))
	}
	return d.String()
}

// filterOptions say which filter parameters an endpoint takes.
type filterOptions struct {
	statuses bool
	// defaultSpan is the range when since and until are missing.
	defaultSpan time.Duration
	// loc interprets dates; UTC when nil.
	loc *time.Location
	// anyRange lifts the limit of the range to the retention.
	anyRange bool
}

// parseFilter reads source, sync_type, status, since, until and q.
func parseFilter(v url.Values, env parseEnv, o filterOptions) (runs.Filter, *paramError) {
	var f runs.Filter
	for _, s := range list(v, "source") {
		s = strings.ToLower(s)
		if !sourcePattern.MatchString(s) {
			return f, badParam("source", "source %q: must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit", clip(s))
		}
		if !slices.Contains(f.Sources, s) {
			f.Sources = append(f.Sources, s)
		}
	}
	for _, st := range list(v, "sync_type") {
		st = strings.ToLower(st)
		if !env.types.Contains(st) {
			return f, badParam("sync_type", "unknown sync_type %q: allowed are %s", clip(st), env.types)
		}
		if !slices.Contains(f.SyncTypes, st) {
			f.SyncTypes = append(f.SyncTypes, st)
		}
	}
	if o.statuses {
		for _, s := range list(v, "status") {
			st, err := synclog.ParseStatus(s)
			if err != nil {
				return f, badParam("status", "unknown status %q: allowed are %s", clip(s), statusNames())
			}
			if !slices.Contains(f.Statuses, st) {
				f.Statuses = append(f.Statuses, st)
			}
		}
	}
	q, perr := single(v, "q")
	if perr != nil {
		return f, perr
	}
	if !utf8.ValidString(q) {
		return f, badParam("q", "q must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(q); n > MaxQueryLength {
		return f, badParam("q", "q is %d characters long: at most %d", n, MaxQueryLength)
	}
	f.Query = q
	loc := o.loc
	if loc == nil {
		loc = time.UTC
	}
	f.Since, f.Until, perr = timeRange(v, env, loc, o.defaultSpan, o.anyRange)
	return f, perr
}

func statusNames() string {
	names := make([]string, len(synclog.Statuses))
	for i, s := range synclog.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// parseLimit reads an integer parameter between 1 and max.
func parseLimit(v url.Values, name string, def, max int) (int, *paramError) {
	s, perr := single(v, name)
	if perr != nil || s == "" {
		return def, perr
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > max {
		return 0, badParam(name, "%s %q: must be an integer between 1 and %d", name, clip(s), max)
	}
	return n, nil
}

// cursorJSON is the content of a cursor: version 1, the started_at of the
// last run of the previous page in Unix milliseconds, and its run id.
type cursorJSON struct {
	V  int    `json:"v"`
	T  int64  `json:"t"`
	ID string `json:"id"`
}

// encodeCursor renders a page position as an opaque token.
func encodeCursor(c *runs.Cursor) string {
	b, _ := json.Marshal(cursorJSON{V: 1, T: c.StartedAt.UnixMilli(), ID: c.RunID})
	return base64.RawURLEncoding.EncodeToString(b)
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// decodeCursor reads a cursor that encodeCursor made.
func decodeCursor(s string) (*runs.Cursor, *paramError) {
	bad := badParam("cursor", "cursor is malformed: pass the next_cursor of the previous page unchanged")
	if len(s) > maxCursorLength {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, bad
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var cj cursorJSON
	if err := dec.Decode(&cj); err != nil || dec.More() {
		return nil, bad
	}
	if cj.V != 1 {
		return nil, badParam("cursor", "cursor version %d is not supported: start again without a cursor", cj.V)
	}
	t := time.UnixMilli(cj.T).UTC()
	if t.Before(minParamTime) || !t.Before(maxParamTime) || !runIDPattern.MatchString(cj.ID) {
		return nil, bad
	}
	return &runs.Cursor{StartedAt: t, RunID: cj.ID}, nil
}

// Output formats.
const (
	formatJSON     = "json"
	formatCSV      = "csv"
	formatMarkdown = "markdown"
)

var formatTypes = map[string]string{
	formatJSON:     "application/json",
	formatCSV:      "text/csv",
	formatMarkdown: "text/markdown",
}

// parseFormat reads the format parameter, or else picks the format the
// Accept header prefers among offered (the first is the default).
func parseFormat(v url.Values, accept string, offered ...string) (string, *paramError) {
	f, perr := single(v, "format")
	if perr != nil {
		return "", perr
	}
	if f != "" {
		name := strings.ToLower(strings.TrimSpace(f))
		if name == "md" && slices.Contains(offered, formatMarkdown) {
			name = formatMarkdown
		}
		if !slices.Contains(offered, name) {
			return "", badParam("format", "unknown format %q: allowed are %s", clip(f), strings.Join(offered, ", "))
		}
		return name, nil
	}
	return negotiate(accept, offered), nil
}

// negotiate picks the offered format whose media type the Accept header
// ranks highest, the most specific matching range deciding; the first
// offered format when none matches.
func negotiate(accept string, offered []string) string {
	best, bestQ, bestSpec := offered[0], 0.0, -1
	for _, f := range offered {
		mt := formatTypes[f]
		q, spec := 0.0, -1
		for part := range strings.SplitSeq(accept, ",") {
			rng, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			s := -1
			switch {
			case rng == mt:
				s = 2
			case rng == "*/*":
				s = 0
			case strings.HasSuffix(rng, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(rng, "*")):
				s = 1
			}
			if s < spec || s < 0 {
				continue
			}
			pq := 1.0
			if qs, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(qs, 64); err == nil && v >= 0 && v <= 1 {
					pq = v
				}
			}
			q, spec = pq, s
		}
		if spec < 0 || q == 0 {
			continue
		}
		if q > bestQ || q == bestQ && spec > bestSpec {
			best, bestQ, bestSpec = f, q, spec
		}
	}
	return best
}

// csvCell neutralises a cell that a spreadsheet would read as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSV writes a header and rows as RFC 4180 CSV.
func writeCSV(c *gin.Context, filename string, header []string, rows [][]string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	cells := make([]string, len(header))
	_ = w.Write(header)
	for _, r := range rows {
		for i, v := range r {
			cells[i] = csvCell(v)
		}
		_ = w.Write(cells[:len(r)])
	}
	w.Flush()
	if err := w.Error(); err != nil {
		logEntry(c).WithError(err).Warn("writing csv")
	}
}

func fmtFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// RunsPage is a page of runs.
type RunsPage struct {
	Runs []runs.Run `json:"runs"`
	// NextCursor continues the list; null on the last page.
	NextCursor *string `json:"next_cursor"`
}

// runsParams are the parameters of the run list.
var runsParams = []string{"source", "sync_type", "status", "since", "until", "q", "limit", "cursor", "format"}

// runsRequest is a parsed request for a page of runs.
type runsRequest struct {
	opt    runs.ListOptions
	format string
}

// parseRunsRequest reads the parameters of the run list.
func parseRunsRequest(raw, accept string, env parseEnv) (runsRequest, *paramError) {
	var r runsRequest
	v, perr := queryValues(raw, runsParams...)
	if perr != nil {
		return r, perr
	}
	if r.opt.Filter, perr = parseFilter(v, env, filterOptions{statuses: true}); perr != nil {
		return r, perr
	}
	if r.opt.Limit, perr = parseLimit(v, "limit", DefaultPageSize, MaxPageSize); perr != nil {
		return r, perr
	}
	cur, perr := single(v, "cursor")
	if perr != nil {
		return r, perr
	}
	if cur != "" {
		if r.opt.After, perr = decodeCursor(cur); perr != nil {
			return r, perr
		}
	}
	r.format, perr = parseFormat(v, accept, formatJSON, formatCSV)
	return r, perr
}

// handleRuns serves GET /api/v1/runs and /api/monitor/records/.
func (a *queryAPI) handleRuns(c *gin.Context) {
	req, perr := parseRunsRequest(c.Request.URL.RawQuery, c.GetHeader("Accept"), a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	list, next, err := a.q.ListRuns(ctx, req.opt)
	if err != nil {
		a.queryFailed(c, "listing runs", err)
		return
	}
	if list == nil {
		list = []runs.Run{}
	}
	for i := range list {
		if list[i].Attributes == nil {
			list[i].Attributes = map[string]string{}
		}
	}
	page := RunsPage{Runs: list}
	if next != nil {
		s := encodeCursor(next)
		page.NextCursor = &s
		c.Header("X-Next-Cursor", s)
	}
	if req.format == formatCSV {
		writeCSV(c, "runs.csv", runCSVHeader, runCSVRows(list))
		return
	}
	c.JSON(http.StatusOK, page)
}

var runCSVHeader = []string{"run_id", "event_id", "source", "sync_type", "status", "message", "fingerprint",
	"total_count", "success_count", "failed_count", "started_at", "completed_at", "duration_ms", "received_at", "attributes"}

func runCSVRows(runs []runs.Run) [][]string {
	rows := make([][]string, len(runs))
	for i, r := range runs {
		dur := ""
		if r.DurationMS != nil {
			dur = strconv.FormatInt(*r.DurationMS, 10)
		}
		attrs, _ := json.Marshal(r.Attributes)
		rows[i] = []string{r.RunID, r.EventID, r.Source, r.SyncType, string(r.Status), r.Message,
			strconv.FormatUint(r.Fingerprint, 10), strconv.FormatUint(r.TotalCount, 10),
			strconv.FormatUint(r.SuccessCount, 10), strconv.FormatUint(r.FailedCount, 10),
			fmtTime(&r.StartedAt), fmtTime(r.CompletedAt), dur, fmtTime(&r.ReceivedAt), string(attrs)}
	}
	return rows
}

// RunDetailResponse is a run's latest state, its duration and every
// report it sent, in order of arrival.
type RunDetailResponse struct {
	Run runs.Run `json:"run"`
	// DurationSeconds is null while the run is in progress.
	DurationSeconds *float64      `json:"duration_seconds"`
	Reports         []runs.Report `json:"reports"`
}

// handleRun serves GET /api/v1/runs/{run_id}.
func (a *queryAPI) handleRun(c *gin.Context) {
	if _, perr := queryValues(c.Request.URL.RawQuery); perr != nil {
		respondParamError(c, perr)
		return
	}
	id := c.Param("run_id")
	if !runIDPattern.MatchString(id) {
		respondParamError(c, badParam("run_id", "run_id must be 1-128 letters, digits, '-', '_', '.' or ':'"))
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	d, err := a.q.GetRun(ctx, id)
	if errors.Is(err, runs.ErrNotFound) {
		c.JSON(http.StatusNotFound, ErrorResponse{Error: fmt.Sprintf("no run %q is stored", id), Field: "run_id"})
		return
	}
	if err != nil {
		a.queryFailed(c, "reading the run", err)
		return
	}
	resp := RunDetailResponse{Run: d.Run, Reports: d.Reports}
	if resp.Run.Attributes == nil {
		resp.Run.Attributes = map[string]string{}
	}
	for i := range resp.Reports {
		if resp.Reports[i].Attributes == nil {
			resp.Reports[i].Attributes = map[string]string{}
		}
	}
	if resp.Reports == nil {
		resp.Reports = []runs.Report{}
	}
	if d.Run.DurationMS != nil {
		v := float64(*d.Run.DurationMS) / 1000
		resp.DurationSeconds = &v
	}
	c.JSON(http.StatusOK, resp)
}

// StatsResponse holds statistics over runs.
type StatsResponse struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	GroupBy []string  `json:"group_by"`
	// Interval is the bucket length as a Go duration, "" without buckets.
	Interval        string       `json:"interval"`
	IntervalSeconds int64        `json:"interval_seconds"`
	Stats           []runs.Stats `json:"stats"`
}

var statsParams = []string{"source", "sync_type", "status", "since", "until", "q", "group_by", "interval"}

// parseStatsRequest reads the parameters of the statistics.
func parseStatsRequest(raw string, env parseEnv) (runs.StatsQuery, *paramError) {
	var q runs.StatsQuery
	v, perr := queryValues(raw, statsParams...)
	if perr != nil {
		return q, perr
	}
	if q.Filter, perr = parseFilter(v, env, filterOptions{statuses: true, defaultSpan: 24 * time.Hour}); perr != nil {
		return q, perr
	}
	allowed := []runs.GroupBy{runs.BySyncType, runs.BySource, runs.ByStatus}
	for _, g := range list(v, "group_by") {
		gb := runs.GroupBy(strings.ToLower(g))
		if !slices.Contains(allowed, gb) {
			return q, badParam("group_by", "unknown group_by %q: allowed are sync_type, source, status (combinable)", clip(g))
		}
		if !slices.Contains(q.GroupBy, gb) {
			q.GroupBy = append(q.GroupBy, gb)
		}
	}
	iv, perr := single(v, "interval")
	if perr != nil || iv == "" {
		return q, perr
	}
	d, err := time.ParseDuration(strings.TrimSpace(iv))
	if err != nil {
		return q, badParam("interval", "interval %q is not a duration: use a Go duration such as 5m, 1h or 24h", clip(iv))
	}
	if d < time.Minute {
		return q, badParam("interval", "interval %s is shorter than the minimum of 1m", d)
	}
	if d%time.Second != 0 {
		return q, badParam("interval", "interval %s must be a whole number of seconds", d)
	}
	if d > 366*24*time.Hour {
		return q, badParam("interval", "interval %s is longer than the maximum of 8784h (366 days)", d)
	}
	// Buckets are aligned to multiples of the interval since the epoch.
	sec := int64(d / time.Second)
	first := floorDiv(q.Filter.Since.UnixMilli()/1000, sec)
	last := floorDiv((q.Filter.Until.UnixMilli()-1)/1000, sec)
	if n := last - first + 1; n > MaxBuckets {
		return q, badParam("interval", "interval %s makes %d buckets between since and until: at most %d; choose a longer interval or a shorter range", d, n, MaxBuckets)
	}
	q.Interval = d
	return q, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// handleStats serves GET /api/v1/stats and /api/monitor/statistics/.
func (a *queryAPI) handleStats(c *gin.Context) {
	q, perr := parseStatsRequest(c.Request.URL.RawQuery, a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	stats, err := a.q.Stats(ctx, q)
	if err != nil {
		a.queryFailed(c, "computing statistics", err)
		return
	}
	resp := StatsResponse{Since: q.Filter.Since, Until: q.Filter.Until, GroupBy: []string{}, Stats: stats}
	for _, g := range q.GroupBy {
		resp.GroupBy = append(resp.GroupBy, string(g))
	}
	if q.Interval > 0 {
		resp.Interval = q.Interval.String()
		resp.IntervalSeconds = int64(q.Interval / time.Second)
	}
	if resp.Stats == nil {
		resp.Stats = []runs.Stats{}
	}
	c.JSON(http.StatusOK, resp)
}

// parseTZ reads the tz parameter: an IANA time zone name, UTC by default.
func parseTZ(v url.Values) (*time.Location, *paramError) {
	tz, perr := single(v, "tz")
	if perr != nil {
		return nil, perr
	}
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return time.UTC, nil
	}
	bad := badParam("tz", "unknown time zone %q: use an IANA name such as UTC, Europe/Berlin or Asia/Shanghai", clip(tz))
	if len(tz) > 64 || tz == "Local" {
		return nil, bad
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}

// DailyReportResponse is the daily report of one day.
type DailyReportResponse struct {
	Date string `json:"date"`
	TZ   string `json:"tz"`
	// Start and End bound the day (a day may last 23 or 25 hours).
	Start     time.Time       `json:"start"`
	End       time.Time       `json:"end"`
	SyncTypes []runs.DailyRow `json:"sync_types"`
}

var dailyParams = []string{"date", "tz", "format"}

type dailyRequest struct {
	day    time.Time
	loc    *time.Location
	format string
}

// parseDailyRequest reads the parameters of the daily report.
func parseDailyRequest(raw, accept string, env parseEnv) (dailyRequest, *paramError) {
	var r dailyRequest
	v, perr := queryValues(raw, dailyParams...)
	if perr != nil {
		return r, perr
	}
	if r.loc, perr = parseTZ(v); perr != nil {
		return r, perr
	}
	ds, perr := single(v, "date")
	if perr != nil {
		return r, perr
	}
	today := env.now.In(r.loc)
	r.day = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, r.loc)
	if ds != "" {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(ds), r.loc)
		if err != nil {
			return r, badParam("date", "date %q is not a valid date (YYYY-MM-DD)", clip(ds))
		}
		if d.Before(minParamTime) || !d.Before(maxParamTime) {
			return r, badParam("date", "date must lie between 1970-01-01 and 2199-12-31")
		}
		if env.now.Sub(d) > env.retention+24*time.Hour {
			return r, badParam("date", "date %s is older than the retention of %s", ds, formatDays(env.retention))
		}
		r.day = d
	}
	r.format, perr = parseFormat(v, accept, formatJSON, formatCSV, formatMarkdown)
	return r, perr
}

// handleDaily serves GET /api/v1/reports/daily.
func (a *queryAPI) handleDaily(c *gin.Context) {
	req, perr := parseDailyRequest(c.Request.URL.RawQuery, c.GetHeader("Accept"), a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	rows, err := a.q.DailyReport(ctx, req.day, req.loc)
	if err != nil {
		a.queryFailed(c, "the daily report", err)
		return
	}
	if rows == nil {
		rows = []runs.DailyRow{}
	}
	resp := DailyReportResponse{
		Date: req.day.Format(time.DateOnly), TZ: req.loc.String(), Start: req.day.UTC(),
		End:       time.Date(req.day.Year(), req.day.Month(), req.day.Day()+1, 0, 0, 0, 0, req.loc).UTC(),
		SyncTypes: rows,
	}
	switch req.format {
	case formatCSV:
		writeCSV(c, "daily-"+resp.Date+".csv", dailyCSVHeader, dailyCSVRows(rows))
	case formatMarkdown:
		c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte(dailyMarkdown(resp)))
	default:
		c.JSON(http.StatusOK, resp)
	}
}

var dailyCSVHeader = []string{"sync_type", "runs", "success", "failed", "partial", "success_rate", "records",
	"duration_avg_seconds", "duration_p95_seconds",
	"previous_runs", "previous_success_rate", "previous_duration_p95_seconds",
	"change_runs", "change_success_rate",
	"seven_day_avg_runs", "seven_day_success_rate", "seven_day_avg_records", "seven_day_duration_p95_seconds"}

func dailyCSVRows(rows []runs.DailyRow) [][]string {
	n := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{r.SyncType, n(r.Day.Runs), n(r.Day.Success), n(r.Day.Failed), n(r.Day.Partial),
			fmtFloat(r.Day.SuccessRate), n(r.Day.Records), fmtFloat(r.Day.DurationAvg), fmtFloat(r.Day.DurationP95),
			n(r.Previous.Runs), fmtFloat(r.Previous.SuccessRate), fmtFloat(r.Previous.DurationP95),
			n(r.ChangeRuns), fmtFloat(r.ChangeSuccessRate),
			n(r.SevenDay.Runs), fmtFloat(r.SevenDay.SuccessRate), n(r.SevenDay.Records), fmtFloat(r.SevenDay.DurationP95)}
	}
	return out
}

// dailyMarkdown renders the daily report as a Markdown table.
func dailyMarkdown(r DailyReportResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Daily sync report %s (%s)\n\n", r.Date, r.TZ)
	if len(r.SyncTypes) == 0 {
		b.WriteString("No runs in the day or the seven days before it.\n")
		return b.String()
	}
	pct := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
	}
	secs := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'f', 1, 64) + " s"
	}
	signed := func(v float64, unit string) string {
		s := strconv.FormatFloat(v, 'f', 1, 64)
		if v > 0 {
			s = "+" + s
		}
		return strings.TrimSuffix(s, ".0") + unit
	}
	b.WriteString("| Sync type | Runs | Success | Failed | Partial | Success rate | Records | Avg duration | P95 duration | Runs vs previous day | Success rate vs previous day | 7-day avg runs | 7-day success rate |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.SyncTypes {
		change := "–"
		if row.ChangeSuccessRate != nil {
			change = signed(*row.ChangeSuccessRate*100, " pp")
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %.0f | %s | %.0f | %s | %s | %s | %s | %.1f | %s |\n",
			strings.ReplaceAll(row.SyncType, "|", `\|`), row.Day.Runs, row.Day.Success, row.Day.Failed, row.Day.Partial,
			pct(row.Day.SuccessRate), row.Day.Records, secs(row.Day.DurationAvg), secs(row.Day.DurationP95),
			signed(row.ChangeRuns, ""), change, row.SevenDay.Runs, pct(row.SevenDay.SuccessRate))
	}
	return b.String()
}

// ErrorReportResponse lists the error groups of a window.
type ErrorReportResponse struct {
	Since  time.Time         `json:"since"`
	Until  time.Time         `json:"until"`
	Groups []runs.ErrorGroup `json:"groups"`
}

var errorsParams = []string{"source", "sync_type", "since", "until", "q", "limit"}

type errorsRequest struct {
	filter runs.Filter
	limit  int
}

// parseErrorsRequest reads the parameters of the error report.
func parseErrorsRequest(raw string, env parseEnv) (errorsRequest, *paramError) {
	var r errorsRequest
	v, perr := queryValues(raw, errorsParams...)
	if perr != nil {
		return r, perr
	}
	if r.filter, perr = parseFilter(v, env, filterOptions{defaultSpan: 24 * time.Hour}); perr != nil {
		return r, perr
	}
	r.limit, perr = parseLimit(v, "limit", DefaultErrorGroups, MaxErrorGroups)
	return r, perr
}

// handleErrors serves GET /api/v1/reports/errors.
func (a *queryAPI) handleErrors(c *gin.Context) {
	req, perr := parseErrorsRequest(c.Request.URL.RawQuery, a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	groups, err := a.q.ErrorGroups(ctx, req.filter, req.limit)
	if err != nil {
		a.queryFailed(c, "the error report", err)
		return
	}
	for i := range groups {
		if groups[i].SyncTypes == nil {
			groups[i].SyncTypes = []string{}
		}
		if groups[i].Sources == nil {
			groups[i].Sources = []string{}
		}
	}
	if groups == nil {
		groups = []runs.ErrorGroup{}
	}
	c.JSON(http.StatusOK, ErrorReportResponse{Since: req.filter.Since, Until: req.filter.Until, Groups: groups})
}

// TrendRule states the regression rule of the trend report.
var TrendRule = fmt.Sprintf("a day regresses when its p95 duration is more than %g times the baseline p95 and at least %gs above it, "+
	"or when its success ratio is more than %g below the baseline success ratio; the baseline is the median of the daily values "+
	"of the trailing baseline days with terminal runs, and needs at least %d such days (all of them for a shorter baseline)",
	runs.TrendP95Factor, runs.TrendP95MinIncrease, runs.TrendSuccessDrop, runs.TrendMinBaselineDays)

// TrendsResponse is the trend report.
type TrendsResponse struct {
	Since        time.Time         `json:"since"`
	Until        time.Time         `json:"until"`
	TZ           string            `json:"tz"`
	BaselineDays int               `json:"baseline_days"`
	Rule         string            `json:"rule"`
	Points       []runs.TrendPoint `json:"points"`
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
func parseTrendsRequest(raw string, env parseEnv) (trendsRequest, *paramError) {
	var r trendsRequest
	v, perr := queryValues(raw, trendsParams...)
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
	for _, st := range list(v, "sync_type") {
		st = strings.ToLower(st)
		if !env.types.Contains(st) {
			return r, badParam("sync_type", "unknown sync_type %q: allowed are %s", clip(st), env.types)
		}
		if !slices.Contains(r.syncTypes, st) {
			r.syncTypes = append(r.syncTypes, st)
		}
	}
	return r, nil
}

// handleTrends serves GET /api/v1/reports/trends.
func (a *queryAPI) handleTrends(c *gin.Context) {
	req, perr := parseTrendsRequest(c.Request.URL.RawQuery, a.env())
	if perr != nil {
		respondParamError(c, perr)
		return
	}
	ctx, cancel := queryContext(c)
	defer cancel()
	points, err := a.q.Trends(ctx, req.since, req.until, req.loc, req.baseline)
	if err != nil {
		a.queryFailed(c, "the trend report", err)
		return
	}
	out := []runs.TrendPoint{}
	for _, p := range points {
		if len(req.syncTypes) == 0 || slices.Contains(req.syncTypes, p.SyncType) {
			if p.Reasons == nil {
				p.Reasons = []string{}
			}
			out = append(out, p)
		}
	}
	c.JSON(http.StatusOK, TrendsResponse{
		Since: req.since, Until: req.until, TZ: req.loc.String(), BaselineDays: req.baseline,
		Rule: TrendRule, Points: out,
	})
}
