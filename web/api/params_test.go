package api

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"

	"github.com/syncwatch/syncwatch/synclog"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept string
		offers []string
		want   string
	}{
		{"", []string{FormatJSON, FormatCSV}, FormatJSON},
		{"*/*", []string{FormatJSON, FormatCSV}, FormatJSON},
		{"text/csv", []string{FormatJSON, FormatCSV}, FormatCSV},
		{"text/csv;q=0.4, application/json", []string{FormatJSON, FormatCSV}, FormatJSON},
		{"application/json;q=0.4, text/csv", []string{FormatJSON, FormatCSV}, FormatCSV},
		{"text/*", []string{FormatJSON, FormatCSV, FormatMarkdown}, FormatCSV},
		{"text/markdown, */*;q=0.1", []string{FormatJSON, FormatCSV, FormatMarkdown}, FormatMarkdown},
		{"text/csv;q=0, */*", []string{FormatJSON, FormatCSV}, FormatJSON},
		{"image/png", []string{FormatJSON, FormatCSV}, FormatJSON},
		{"garbage;;;", []string{FormatJSON, FormatCSV}, FormatJSON},
	} {
		if got := negotiate(c.accept, c.offers); got != c.want {
			t.Errorf("negotiate(%q) = %s, want %s", c.accept, got, c.want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []runs.Cursor{
		{StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), RunID: "run-1"},
		{StartedAt: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), RunID: "a:b.c_d-e"},
	} {
		s := EncodeCursor(&c)
		got, perr := decodeCursor(s)
		if perr != nil || !got.StartedAt.Equal(c.StartedAt) || got.RunID != c.RunID {
			t.Errorf("%+v → %q → %+v, %v", c, s, got, perr)
		}
	}
}

func TestTimeParam(t *testing.T) {
	shanghai := mustLoc(t, "Asia/Shanghai")
	for _, c := range []struct {
		val  string
		loc  *time.Location
		end  bool
		want time.Time
	}{
		{"2026-01-02", time.UTC, false, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02", time.UTC, true, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02", shanghai, false, time.Date(2026, 1, 1, 16, 0, 0, 0, time.UTC)},
		{"2026-01-02T10:00:00+02:00", shanghai, false, time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)},
		// Sub-millisecond bounds round up, which keeps both bounds exact
		// for millisecond start times.
		{"2026-01-02T10:00:00.0001Z", time.UTC, false, time.Date(2026, 1, 2, 10, 0, 0, 1e6, time.UTC)},
		{"2026-01-02T10:00:00.0011Z", time.UTC, true, time.Date(2026, 1, 2, 10, 0, 0, 2e6, time.UTC)},
	} {
		got, perr := parseTimeParam("since", c.val, c.loc, c.end)
		if perr != nil || !got.Equal(c.want) {
			t.Errorf("%s (end %v, %s): %s %v, want %s", c.val, c.end, c.loc, got, perr, c.want)
		}
	}
}

// FuzzParseRunQuery feeds raw query strings to the parameter parsing of
// every endpoint and to the run list: nothing panics, every answer is a
// 200 or a 400 that matches the contract, and what reaches the store is
// within the documented limits.
func FuzzParseRunQuery(f *testing.F) {
	for _, c := range BadParams {
		if _, raw, ok := strings.Cut(c.Target, "?"); ok {
			f.Add(raw)
		}
	}
	for _, s := range []string{"", "limit=1000&status=failed,partial", "sync_type=products&since=2026-01-01&until=2026-01-02",
		"q=%27%20OR%201%3D1", "cursor=eyJ2IjoxLCJ0IjoxNzY3MjI1NjAwMDAwLCJpZCI6IngifQ", "format=csv", "group_by=status,source&interval=1h",
		"tz=Asia/Kathmandu&date=2026-01-02", "baseline_days=90", "kind=regression,too_small&sync_type=stock", "sync_type=stock&source=haier&since=2026-01-01", "dry_run=1&until=2026-01-01", "a=%", ";;&&==", "since=2026-01-01T00:00:00.999999999Z"} {
		f.Add(s)
	}
	handler := newTestHandler(f, &fakequery.Querier{})
	penv := Env{types: synclog.MustSyncTypes(synclog.DefaultSyncTypes), now: time.Now().UTC(), retention: 90 * 24 * time.Hour}
	f.Fuzz(func(t *testing.T, raw string) {
		if r, perr := ParseRunsRequest(raw, "", penv); perr == nil {
			if r.Opt.Limit < 1 || r.Opt.Limit > MaxPageSize {
				t.Errorf("limit %d passed", r.Opt.Limit)
			}
			if len([]rune(r.Opt.Filter.Query)) > MaxQueryLength {
				t.Errorf("q of %d characters passed", len(r.Opt.Filter.Query))
			}
			if !r.Opt.Filter.Since.IsZero() && !r.Opt.Filter.Until.IsZero() && !r.Opt.Filter.Since.Before(r.Opt.Filter.Until) {
				t.Errorf("since %s not before until %s passed", r.Opt.Filter.Since, r.Opt.Filter.Until)
			}
		} else if perr.Msg == "" {
			t.Error("an error without a message")
		}
		if q, perr := parseStatsRequest(raw, penv); perr == nil {
			if !q.Filter.Since.Before(q.Filter.Until) || q.Interval != 0 && q.Interval < time.Minute {
				t.Errorf("stats query %+v passed", q)
			}
		}
		if r, perr := ParseDailyRequest(raw, "", penv); perr == nil && r.Loc == nil {
			t.Error("daily report without a location")
		}
		if r, perr := ParseErrorsRequest(raw, penv); perr == nil && (r.Limit < 1 || r.Limit > MaxErrorGroups) {
			t.Errorf("error report limit %d passed", r.Limit)
		}
		if r, perr := parseTrendsRequest(raw, penv); perr == nil && (!r.since.Before(r.until) || r.baseline < 1) {
			t.Errorf("trend request %+v passed", r)
		}
		if q, perr := ParseAnomaliesRequest(raw, penv); perr == nil && (!q.Since.Before(q.Until) || q.Until.Sub(q.Since) > MaxDiagnosticsWindow) {
			t.Errorf("anomaly window %s to %s passed", q.Since, q.Until)
		}
		if r, perr := ParseRootCauseRequest(raw, penv); perr == nil && (r.SyncType == "" || !r.Since.Before(r.Until) || r.Until.Sub(r.Since) > MaxDiagnosticsWindow) {
			t.Errorf("root-cause request %+v passed", r)
		}
		if _, perr := ParseForecastsRequest(raw, penv); perr != nil && perr.Msg == "" {
			t.Error("a forecast error without a message")
		}
		if r, perr := parseClearRequest(raw, penv); perr == nil && r.filter.Until.IsZero() {
			t.Error("a clear without an upper bound passed")
		}
		u := &url.URL{Path: "/api/v1/runs", RawQuery: raw}
		req, _ := http.NewRequest(http.MethodGet, "http://syncwatch.test/", nil)
		req.URL = u
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("%q: %d %s", raw, w.Code, w.Body.String())
		}
		contract.Validate(t, req, w, contract.Options{InvalidRequest: true})
	})
}

// BadParams are requests that must be refused with 400 naming a
// parameter.
var BadParams = []struct {
	Name, Target, Field string
	WantIn              string
}{
	{"unknown sync type", "/api/v1/runs?sync_type=products,pricez", "sync_type", "products, prices, stock, order, logistics, manual"},
	{"unknown status", "/api/v1/runs?status=done", "status", "pending, processing, success, failed, partial"},
	{"bad source", "/api/v1/runs?source=Ha%20ier", "source", "a-z"},
	{"bad since", "/api/v1/runs?since=yesterday", "since", "RFC 3339"},
	{"bad until", "/api/v1/runs?until=2026-13-01", "until", "YYYY-MM-DD"},
	{"since after until", "/api/v1/runs?since=2026-01-03T00:00:00Z&until=2026-01-02T00:00:00Z", "since", "before until"},
	{"range beyond retention", "/api/v1/runs?since=2020-01-01&until=2021-01-01", "since", "retention"},
	{"since beyond retention", "/api/v1/runs?since=2020-01-01", "since", "retention"},
	{"time out of bounds", "/api/v1/runs?until=0001-01-01T00:00:00Z", "until", "between"},
	{"q too long", "/api/v1/runs?q=" + strings.Repeat("x", 201), "q", "200"},
	{"q not utf-8", "/api/v1/runs?q=%ff", "q", "UTF-8"},
	{"limit zero", "/api/v1/runs?limit=0", "limit", "between 1 and 1000"},
	{"limit too large", "/api/v1/runs?limit=1001", "limit", "between 1 and 1000"},
	{"limit not a number", "/api/v1/runs?limit=ten", "limit", "integer"},
	{"limit twice", "/api/v1/runs?limit=5&limit=6", "limit", "once"},
	{"cursor garbage", "/api/v1/runs?cursor=not-a-cursor", "cursor", "next_cursor"},
	{"cursor of another version", "/api/v1/runs?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":2,"t":1,"id":"x"}`)), "cursor", "version"},
	{"cursor with a bad id", "/api/v1/runs?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"t":1767225600000,"id":"x' OR 1=1"}`)), "cursor", "malformed"},
	{"cursor with extra fields", "/api/v1/runs?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"t":1767225600000,"id":"x","y":1}`)), "cursor", "malformed"},
	{"unknown format", "/api/v1/runs?format=xml", "format", "json, csv"},
	{"misspelt parameter", "/api/v1/runs?synctype=products", "synctype", "accepted are cursor, format, limit, q, since, source, status, sync_type, until"},
	{"malformed query string", "/api/v1/runs?q=%zz", "", "malformed"},
	{"archive not a month", "/api/v1/runs?archive=2026-13", "archive", "YYYY-MM"},
	{"archive as a day", "/api/v1/runs?archive=2026-01-05", "archive", "YYYY-MM"},
	{"archive twice", "/api/v1/runs?archive=2026-01&archive=2026-02", "archive", "once"},
	{"archive not configured", "/api/v1/runs?archive=2026-01", "archive", "no archive configured"},
	{"unknown group_by", "/api/v1/stats?group_by=sync_type,host", "group_by", "sync_type, source, status"},
	{"bad interval", "/api/v1/stats?interval=hourly", "interval", "Go duration"},
	{"interval too short", "/api/v1/stats?interval=30s", "interval", "1m"},
	{"interval not whole seconds", "/api/v1/stats?interval=90500ms", "interval", "whole number of seconds"},
	{"too many buckets", "/api/v1/stats?since=2026-01-01&until=2026-02-01&interval=1m", "interval", "10000"},
	{"stats parameter of the run list", "/api/v1/stats?limit=5", "limit", "accepted are"},
	{"stats since after now", "/api/v1/stats?since=2199-01-01", "since", "before until"},
	{"bad tz", "/api/v1/reports/daily?tz=Mars/Olympus", "tz", "IANA"},
	{"local tz", "/api/v1/reports/daily?tz=Local", "tz", "IANA"},
	{"path as tz", "/api/v1/reports/daily?tz=../../etc/passwd", "tz", "IANA"},
	{"bad date", "/api/v1/reports/daily?date=2026-02-30", "date", "YYYY-MM-DD"},
	{"date as a time", "/api/v1/reports/daily?date=2026-01-02T00:00:00Z", "date", "YYYY-MM-DD"},
	{"date beyond retention", "/api/v1/reports/daily?date=2001-01-01", "date", "retention"},
	{"daily format", "/api/v1/reports/daily?format=pdf", "format", "json, csv, markdown"},
	{"errors limit", "/api/v1/reports/errors?limit=1001", "limit", "between 1 and 1000"},
	{"errors status", "/api/v1/reports/errors?status=failed", "status", "accepted are"},
	{"trend baseline", "/api/v1/reports/trends?baseline_days=0", "baseline_days", "between 1 and 90"},
	{"trend tz", "/api/v1/reports/trends?tz=Nowhere", "tz", "IANA"},
	{"trend sync type", "/api/v1/reports/trends?sync_type=shoes", "sync_type", "allowed are"},
	{"trend range", "/api/v1/reports/trends?since=2020-01-01&until=2021-06-01", "since", "retention"},
	{"run detail parameter", "/api/v1/runs/qa-0001?verbose=1", "verbose", "takes no parameters"},
	{"dashboard parameter", "/api/monitor/dashboard/?limit=5", "limit", "takes no parameters"},
	{"records like the run list", "/api/monitor/records/?status=ok", "status", "allowed are"},
	{"statistics like the stats", "/api/monitor/statistics?group_by=day", "group_by", "allowed are"},
	{"anomaly kind", "/api/v1/diagnostics/anomalies?kind=slow", "kind", "regression, duration"},
	{"anomaly window too long", "/api/v1/diagnostics/anomalies?since=2026-01-01&until=2026-03-01", "since", "at most 31 days"},
	{"anomaly sync type", "/api/v1/diagnostics/anomalies?sync_type=shoes", "sync_type", "allowed are"},
	{"anomaly source", "/api/v1/diagnostics/anomalies?source=A%20B", "source", "a-z"},
	{"anomaly since", "/api/v1/diagnostics/anomalies?since=soon", "since", "RFC 3339"},
	{"anomaly parameter", "/api/v1/diagnostics/anomalies?limit=5", "limit", "accepted are"},
	{"forecast window", "/api/v1/diagnostics/forecasts?since=2026-01-01", "since", "accepted are"},
	{"forecast sync type", "/api/v1/diagnostics/forecasts?sync_type=shoes", "sync_type", "allowed are"},
	{"root cause without sync type", "/api/v1/diagnostics/root-cause?source=haier", "sync_type", "required"},
	{"root cause of two types", "/api/v1/diagnostics/root-cause?sync_type=stock,prices", "sync_type", "one sync_type"},
	{"root cause of two sources", "/api/v1/diagnostics/root-cause?sync_type=stock&source=a,b", "source", "at most one source"},
	{"root cause until before since", "/api/v1/diagnostics/root-cause?sync_type=stock&since=2026-01-02&until=2026-01-01", "since", "before until"},
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// openGuard admits everyone.
type openGuard struct{}

func (openGuard) Require(auth.Role) gin.HandlerFunc { return func(c *gin.Context) { c.Next() } }

// newTestHandler serves the API alone, open to all, over q: for the tests
// that need the handlers and the package's internals together. Every
// other test of the API runs it as internal/app assembles it
// (internal/apptest).
func newTestHandler(t testing.TB, q Querier) http.Handler {
	t.Helper()
	a, err := New(Config{SyncTypes: synclog.MustSyncTypes(synclog.DefaultSyncTypes)}, Deps{
		Querier: q, Health: web.NewHealth(), Guard: openGuard{}, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	if err := a.Register(e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTimeParamBounds checks the bounds the error message names: every
// instant from 1970-01-01 through 2199-12-31 can be asked for, as a date
// or a time, and nothing beyond.
func TestTimeParamBounds(t *testing.T) {
	for _, c := range []struct {
		name, val string
		end       bool
		ok        bool
	}{
		{"first day as since", "1970-01-01", false, true},
		{"last day as since", "2199-12-31", false, true},
		{"last day as until", "2199-12-31", true, true},
		{"end of the last day as until", "2200-01-01T00:00:00Z", true, true},
		{"end of the last day as since", "2200-01-01T00:00:00Z", false, false},
		{"the day after as until", "2200-01-01", true, false},
		{"the day after as since", "2200-01-01", false, false},
		{"the day before as since", "1969-12-31", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, perr := parseTimeParam("until", c.val, time.UTC, c.end)
			if (perr == nil) != c.ok {
				t.Errorf("%s (end %v): error %v, want ok %v", c.val, c.end, perr, c.ok)
			}
			if perr != nil && !strings.Contains(perr.Error(), "between 1970-01-01 and 2199-12-31") {
				t.Errorf("error %q does not name the bounds", perr.Error())
			}
		})
	}
}
