package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/web/api"
	"github.com/syncwatch/syncwatch/web/ui"

	"golang.org/x/net/html"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/synclog"
)

// The console tests seed a real store on the embedded engine through the
// ingest API, and read every page as a browser would: following links,
// posting the console's own forms, and parsing the HTML.

// Tokens of the console tests.
const (
	consoleIngestSecret = "ingest-secret-0123456789"
	consoleQuerySecret  = "query-secret-01234567890"
)

var consoleTokens = []auth.Token{
	{Name: "ingest", Secret: consoleIngestSecret, Roles: []auth.Role{auth.RoleIngest}},
	{Name: "query", Secret: consoleQuerySecret, Roles: []auth.Role{auth.RoleQuery}},
}

// consoleIntervals are the expected intervals the tests configure.
var consoleIntervals = map[string]time.Duration{
	"products": 6 * time.Hour, "prices": time.Hour, "stock": 15 * time.Minute,
	"order": 5 * time.Minute, "logistics": 30 * time.Minute, "manual": 0,
}

// The hostile strings of the escaping tests of the pages.
const (
	pageHostileMessage = `<script>alert(1)</script> & "quoted" <img src=x onerror=alert(2)>`
	hostileAttr        = `"><script>alert(3)</script>`
	hostileSource      = `<script>alert(4)</script>`
)

// consoleRun is a seeded run: its reports in order of arrival.
type consoleRun struct {
	id      string
	reports []map[string]any
}

// consoleSeed returns the runs of the console tests, relative to now.
func consoleSeed(now time.Time) []consoleRun {
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339Nano) }
	rep := func(id, event, source, syncType, status string, start, end time.Duration, msg string, counts [3]int, attrs map[string]string) map[string]any {
		m := map[string]any{
			"run_id": id, "event_id": event, "source": source, "sync_type": syncType, "status": status,
			"started_at": at(start), "message": msg,
			"total_count": counts[0], "success_count": counts[1], "failed_count": counts[2],
		}
		if end >= 0 {
			m["completed_at"] = at(end)
		}
		if attrs != nil {
			m["attributes"] = attrs
		}
		return m
	}
	one := func(id, source, syncType, status string, start, end time.Duration, msg string, counts [3]int, attrs map[string]string) consoleRun {
		return consoleRun{id, []map[string]any{rep(id, id+"-e1", source, syncType, status, start, end, msg, counts, attrs)}}
	}
	return []consoleRun{
		one("c-prod-ok", "haier", "products", "success", 2*time.Hour, 2*time.Hour-2*time.Minute, "synced 100 items", [3]int{100, 100, 0}, map[string]string{"host": "worker-1"}),
		one("c-prod-fail-1", "haier", "products", "failed", 90*time.Minute, 89*time.Minute, "connection timeout after 3000 ms contacting supplier", [3]int{50, 0, 50}, nil),
		one("c-prod-fail-2", "haier", "products", "failed", 50*time.Minute, 49*time.Minute, "connection timeout after 4500 ms contacting supplier", [3]int{40, 0, 40}, nil),
		one("c-price-partial", "haier", "prices", "partial", 3*time.Hour, 3*time.Hour-time.Minute, "12 prices rejected: invalid currency", [3]int{30, 18, 12}, nil),
		one("c-stock-ok", "haier", "stock", "success", 22*time.Minute, 20*time.Minute, "", [3]int{5, 5, 0}, nil),
		one("c-stock-running", "haier", "stock", "processing", 10*time.Minute, -1, "working", [3]int{}, nil),
		one("c-order-hostile", "midea", "order", "failed", 40*time.Minute, 39*time.Minute, pageHostileMessage, [3]int{1, 0, 1},
			map[string]string{"note": hostileAttr, "<b>key</b>": "value"}),
		one("c-manual-secret", "haier", "manual", "failed", 30*time.Minute, 29*time.Minute, "login failed for user=bob password=hunter2", [3]int{}, nil),
		{"c-log-life", []map[string]any{
			rep("c-log-life", "c-log-life-e1", "haier", "logistics", "processing", 26*time.Hour, -1, "started", [3]int{}, nil),
			rep("c-log-life", "c-log-life-e2", "haier", "logistics", "success", 26*time.Hour, 26*time.Hour-3*time.Minute, "looked up 7 parcels", [3]int{7, 7, 0}, nil),
		}},
	}
}

// consoleFixture is the seeded store and the server of the console tests.
type consoleFixture struct {
	env *apptest.Env
	st  *clickhouse.Store
	now time.Time
}

// newConsoleFixture seeds a real store through the ingest API (and one run
// with a source the API would refuse straight into the store) and serves
// the console with tokens configured.
func newConsoleFixture(t *testing.T) *consoleFixture {
	t.Helper()
	st := apptest.NewRealStore(t)
	env := apptest.New(t, apptest.Options{Storage: st, Tokens: consoleTokens, RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: 20 * time.Millisecond},
		Query: st, States: st, Console: &ui.Config{ExpectedIntervals: consoleIntervals}})
	if err := env.Service.Console.Register(env.Service.Engine()); err == nil {
		t.Error("registering the console twice did not fail")
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	seed := consoleSeed(now)
	for phase := 0; phase < 2; phase++ {
		var items []map[string]any
		for _, r := range seed {
			if phase < len(r.reports) {
				items = append(items, r.reports[phase])
			}
		}
		body, _ := json.Marshal(items)
		w := env.Post(string(body), "Authorization", "Bearer "+consoleIngestSecret)
		if w.Code != http.StatusAccepted {
			t.Fatalf("seed phase %d: %d %s", phase, w.Code, w.Body.String())
		}
		if resp := testutil.Decode[collector.IngestResponse](t, w); resp.Accepted != len(items) {
			t.Fatalf("seed phase %d: %+v", phase, resp)
		}
		testutil.WaitFor(t, 2*time.Minute, "the batcher to drain the spool", func() bool {
			return env.Spool.Stats().Reports == 0 && env.Batcher.Status().Failures == 0
		})
	}
	start := now.Add(-15 * time.Minute)
	end := start.Add(time.Minute)
	r := synclog.Report{RunID: "c-hostile-source", EventID: "c-hostile-source-e1", Source: hostileSource, SyncType: "manual",
		Status: synclog.StatusFailed, Message: pageHostileMessage, StartedAt: start, CompletedAt: &end}
	r.Normalize(now)
	if err := st.InsertReports(context.Background(), []synclog.Report{r}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", env.Logs.String())
		}
	})
	return &consoleFixture{env: env, st: st, now: now}
}

// browser is a test client of the console: it keeps the console's cookies
// and sends the headers a browser sends.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
	header  http.Header
	tls     bool
	// host is the name the requests are sent to.
	host string
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]*http.Cookie{}, header: http.Header{}, host: consoleHost}
}

const consoleHost = "syncwatch.test"

// do sends a request and keeps the cookies it sets.
func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, "http://"+b.host+target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+b.host)
	} else {
		req = httptest.NewRequest(method, "http://"+b.host+target, nil)
	}
	if b.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for k, v := range b.header {
		req.Header[k] = slices.Clone(v)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

// get fetches a page and fails unless it answers want.
func (b *browser) get(target string, want int) *httptest.ResponseRecorder {
	b.t.Helper()
	w := b.do(http.MethodGet, target, nil)
	if w.Code != want {
		b.t.Fatalf("GET %s: %d, want %d: %.500s", target, w.Code, want, w.Body.String())
	}
	return w
}

// page fetches a page and parses it, checking that it has no markup a
// value could have smuggled in.
func (b *browser) page(target string, want int) *html.Node {
	b.t.Helper()
	w := b.get(target, want)
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		b.t.Fatalf("GET %s: content type %q", target, ct)
	}
	return parseHTML(b.t, w.Body.String())
}

// csrf returns the CSRF token of a form on the page.
func csrfOf(t *testing.T, doc *html.Node) string {
	t.Helper()
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "csrf" }) {
		return attr(n, "value")
	}
	t.Fatal("no form with a CSRF token on the page")
	return ""
}

// login signs in through the login form with secret.
func (b *browser) login(secret string) *httptest.ResponseRecorder {
	b.t.Helper()
	doc := b.page("/ui/login", http.StatusOK)
	return b.do(http.MethodPost, "/ui/login", url.Values{"token": {secret}, "csrf": {csrfOf(b.t, doc)}, "next": {"/ui/"}})
}

func parseHTML(t testing.TB, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("page is not HTML: %v", err)
	}
	// No script and no event handler anywhere: the console has none, so
	// any would come from data.
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		if n.Data == "script" || n.Data == "iframe" || n.Data == "object" || n.Data == "embed" {
			t.Errorf("the page has a <%s> element: %s", n.Data, render(n))
		}
		if n.Data == "img" {
			t.Errorf("the page has an <img> element: %s", render(n))
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") || a.Key == "style" {
				t.Errorf("element <%s> has an attribute %s", n.Data, a.Key)
			}
		}
	}
	return doc
}

func render(n *html.Node) string {
	var b strings.Builder
	_ = html.Render(&b, n)
	return b.String()
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byID(t testing.TB, doc *html.Node, id string) *html.Node {
	t.Helper()
	nodes := findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "id") == id })
	if len(nodes) != 1 {
		t.Fatalf("%d elements with id %q, want 1", len(nodes), id)
	}
	return nodes[0]
}

func byClass(doc *html.Node, class string) []*html.Node {
	return findAll(doc, func(n *html.Node) bool {
		return n.Type == html.ElementNode && slices.Contains(strings.Fields(attr(n, "class")), class)
	})
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text returns the text content of n, spaces collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	for _, t := range findAll(n, func(n *html.Node) bool { return n.Type == html.TextNode }) {
		b.WriteString(t.Data)
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// runLinks returns the run ids a run table links to, in order.
func runLinks(doc *html.Node) []string {
	var ids []string
	for _, a := range byClass(doc, "run-link") {
		ids = append(ids, strings.TrimPrefix(attr(a, "href"), "/ui/runs/"))
	}
	return ids
}

func TestConsole(t *testing.T) {
	f := newConsoleFixture(t)
	for _, c := range []struct {
		name string
		test func(*testing.T, *consoleFixture)
	}{
		{"overview", testConsoleOverview},
		{"runs filter", testConsoleRunsFilter},
		{"runs pagination", testConsoleRunsPagination},
		{"runs bad parameters", testConsoleRunsBadParams},
		{"run", testConsoleRun},
		{"errors", testConsoleErrors},
		{"daily report", testConsoleDaily},
		{"escaping", testConsoleEscaping},
		{"language", testConsoleLanguage},
		{"auth", testConsoleAuth},
		{"security headers", testConsoleSecurityHeaders},
		{"read-only", testConsoleReadOnly},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, f) })
	}
}

// signedIn returns a browser with a console session.
func (f *consoleFixture) signedIn(t *testing.T) *browser {
	t.Helper()
	b := newBrowser(t, f.env.Handler())
	if w := b.login(consoleQuerySecret); w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", w.Code, w.Body.String())
	}
	return b
}

func testConsoleOverview(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	doc := b.page("/ui/", http.StatusOK)
	for _, c := range []struct {
		syncType, state string
		contains        []string
		age             string
	}{
		// Last success 1h58m ago, every 6 hours; two failures since.
		{"products", "ok", []string{"Product sync", "On time", "6h"}, `1h 5[89]m ago`},
		// Partial runs only: never succeeded.
		{"prices", "never", []string{"Price sync", "Never succeeded", "none in the retention"}, ""},
		// Last success 20 minutes ago, every 15 minutes; one in progress.
		{"stock", "late", []string{"Stock sync", "Late"}, `2[01]m ago`},
		{"order", "never", []string{"Order push"}, ""},
		// Last success 25h57m ago, every 30 minutes.
		{"logistics", "very-late", []string{"Logistics lookup", "Very late", "1d 1h ago"}, ""},
		{"manual", "unscheduled", []string{"Manual operation", "No schedule"}, ""},
	} {
		t.Run(c.syncType, func(t *testing.T) {
			row := byID(t, doc, "type-"+c.syncType)
			txt := text(row)
			for _, s := range c.contains {
				if !strings.Contains(txt, s) {
					t.Errorf("row %q lacks %q", txt, s)
				}
			}
			if c.age != "" && !regexp.MustCompile(c.age).MatchString(txt) {
				t.Errorf("row %q does not say %s", txt, c.age)
			}
			if len(byClass(row, "state-"+c.state)) != 1 {
				t.Errorf("row %q is not in state %s", txt, c.state)
			}
			if len(findAll(row, func(n *html.Node) bool { return n.Data == "svg" })) != 1 {
				t.Error("row has no chart")
			}
		})
	}
	cells := func(syncType string) []string {
		var out []string
		for _, td := range findAll(byID(t, doc, "type-"+syncType), func(n *html.Node) bool { return n.Data == "td" }) {
			out = append(out, text(td))
		}
		return out
	}
	// Columns: type, last success, interval, runs, ratio, failed, in
	// progress, consecutive failures, chart.
	if got := cells("products"); got[3] != "3" || got[4] != "33.3%" || got[5] != "2" || got[7] != "2" {
		t.Errorf("products: %q; want 3 runs, 33.3%%, 2 failed, 2 consecutive failures", got)
	}
	if got := cells("stock"); got[6] != "1" {
		t.Errorf("stock: %q; want 1 in progress", got)
	}
	// The large chart has 24 hours, and the hours with runs have bars.
	bars := byClass(doc, "bar-runs")
	if len(bars) == 0 || len(byClass(doc, "bar-failed")) == 0 {
		t.Errorf("the charts have %d bars of runs and no failed ones", len(bars))
	}
	if got := text(byID(t, doc, "total-runs")); got != "9" {
		t.Errorf("total runs of 24 hours %s, want 9", got)
	}
	// Recent failures link to their runs.
	links := runLinks(doc)
	for _, id := range []string{"c-prod-fail-1", "c-prod-fail-2", "c-order-hostile", "c-manual-secret", "c-price-partial", "c-hostile-source"} {
		if !slices.Contains(links, id) {
			t.Errorf("recent failures lack %s: %v", id, links)
		}
	}
}

func testConsoleRunsFilter(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	for _, c := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"c-stock-running", "c-hostile-source", "c-stock-ok", "c-manual-secret", "c-order-hostile", "c-prod-fail-2", "c-prod-fail-1", "c-prod-ok", "c-price-partial", "c-log-life"}},
		{"failed products", "sync_type=products&status=failed", []string{"c-prod-fail-2", "c-prod-fail-1"}},
		{"failed or partial of haier", "status=failed,partial&source=haier", []string{"c-manual-secret", "c-prod-fail-2", "c-prod-fail-1", "c-price-partial"}},
		{"search", "q=TIMEOUT", []string{"c-prod-fail-2", "c-prod-fail-1"}},
		{"search and type", "q=timeout&sync_type=prices", nil},
		{"empty form fields", "sync_type=&status=&source=&since=&until=&q=items", []string{"c-prod-ok"}},
		{"date range", "since=" + f.now.AddDate(0, 0, -2).Format(time.DateOnly) + "&until=" + f.now.AddDate(0, 0, -1).Format(time.DateOnly), []string{"c-log-life"}},
		{"in progress", "status=pending,processing", []string{"c-stock-running"}},
		{"lang is not a filter", "sync_type=stock&lang=zh", []string{"c-stock-running", "c-stock-ok"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := b.page("/ui/runs?"+c.query, http.StatusOK)
			got := runLinks(doc)
			if c.name == "date range" {
				// Runs of the day before yesterday and yesterday, UTC.
				got = slices.DeleteFunc(got, func(id string) bool { return id != "c-log-life" })
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("runs %v, want %v", got, c.want)
			}
			if len(c.want) == 0 && len(findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "no-runs" })) != 1 {
				t.Error("an empty list does not say so")
			}
		})
	}
	t.Run("the form keeps the filter", func(t *testing.T) {
		doc := b.page("/ui/runs?sync_type=products&status=failed&q=timeout", http.StatusOK)
		selected := func(id string) string {
			for _, o := range findAll(byID(t, doc, id), func(n *html.Node) bool { return n.Data == "option" }) {
				for _, a := range o.Attr {
					if a.Key == "selected" {
						return attr(o, "value")
					}
				}
			}
			return ""
		}
		if selected("f-sync-type") != "products" || selected("f-status") != "failed" || attr(byID(t, doc, "f-q"), "value") != "timeout" {
			t.Errorf("form shows %q, %q, %q", selected("f-sync-type"), selected("f-status"), attr(byID(t, doc, "f-q"), "value"))
		}
		row := findAll(doc, func(n *html.Node) bool {
			return n.Data == "tr" && strings.Contains(text(n), "connection timeout after 3000")
		})
		if len(row) != 1 || !strings.Contains(text(row[0]), "Failed") || !strings.Contains(text(row[0]), "1m 00s") {
			t.Errorf("the run's row lacks its status badge or duration: %v", row)
		}
	})
	t.Run("csv", func(t *testing.T) {
		w := b.get("/ui/runs.csv?sync_type=products&status=failed", http.StatusOK)
		if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("content type %q", ct)
		}
		lines := strings.Split(strings.TrimSpace(w.Body.String()), "\r\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "run_id,") || !strings.HasPrefix(lines[1], "c-prod-fail-2,") {
			t.Errorf("csv: %q", lines)
		}
	})
}

func testConsoleRunsPagination(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	all := runLinks(b.page("/ui/runs", http.StatusOK))
	if len(all) != 10 {
		t.Fatalf("%d runs on the first page, want 10", len(all))
	}
	var got []string
	target := "/ui/runs?limit=3"
	for pages := 0; target != ""; pages++ {
		if pages > 10 {
			t.Fatal("the older links do not end")
		}
		doc := b.page(target, http.StatusOK)
		got = append(got, runLinks(doc)...)
		target = ""
		if older := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "older" }); len(older) == 1 {
			target = attr(older[0], "href")
			u, _ := url.Parse(target)
			if u.Query().Get("limit") != "3" || u.Query().Get("cursor") == "" {
				t.Errorf("older link %q does not keep the filter and add the cursor", target)
			}
			if pages == 0 && len(findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "newest" })) != 0 {
				t.Error("the first page links to the newest")
			}
		}
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages of 3 give %v, want %v", got, all)
	}
}

func testConsoleRunsBadParams(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	for _, c := range []struct{ query, field string }{
		{"status=bogus", "status"},
		{"source=Bad!", "source"},
		{"sync_type=unknown", "sync_type"},
		{"since=yesterday", "since"},
		{"limit=0", "limit"},
		{"cursor=garbage", "cursor"},
		{"fingerprint=xyz", "fingerprint"},
		{"fingerprint=12345678901234567", "fingerprint"},
		{"fingerprint=0", "fingerprint"},
		{"color=red", "color"},
		{"q=" + strings.Repeat("x", api.MaxQueryLength+1), "q"},
	} {
		t.Run(c.query[:min(len(c.query), 20)], func(t *testing.T) {
			doc := b.page("/ui/runs?"+c.query, http.StatusBadRequest)
			alerts := byClass(doc, "alert")
			if len(alerts) != 1 || !strings.Contains(text(alerts[0]), c.field) {
				t.Errorf("alert %v does not name %s", alerts, c.field)
			}
		})
	}
}

func testConsoleRun(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	t.Run("timeline", func(t *testing.T) {
		doc := b.page("/ui/runs/c-log-life", http.StatusOK)
		if got := text(byID(t, doc, "run-status")); got != "Success" {
			t.Errorf("status %q", got)
		}
		rows := findAll(byID(t, doc, "timeline"), func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" })
		if len(rows) != 2 || !strings.Contains(text(rows[0]), "Processing") || !strings.Contains(text(rows[1]), "Success") {
			t.Errorf("timeline rows %d: %v", len(rows), rows)
		}
		if got := text(byID(t, doc, "message")); got != "looked up 7 parcels" {
			t.Errorf("message %q", got)
		}
		if txt := text(doc); !strings.Contains(txt, "3m 00s") || !strings.Contains(txt, "Logistics lookup") {
			t.Errorf("the page lacks the duration or the type: %s", txt)
		}
	})
	t.Run("attributes", func(t *testing.T) {
		doc := b.page("/ui/runs/c-prod-ok", http.StatusOK)
		if got := text(byID(t, doc, "attributes")); got != "host worker-1" {
			t.Errorf("attributes %q", got)
		}
	})
	t.Run("the message is redacted and whole", func(t *testing.T) {
		w := b.get("/ui/runs/c-manual-secret", http.StatusOK)
		if strings.Contains(w.Body.String(), "hunter2") {
			t.Error("the page shows the secret")
		}
		doc := parseHTML(t, w.Body.String())
		if got := text(byID(t, doc, "message")); got != "login failed for user=bob password=[REDACTED]" {
			t.Errorf("message %q", got)
		}
	})
	t.Run("same error", func(t *testing.T) {
		doc := b.page("/ui/runs/c-prod-fail-1", http.StatusOK)
		link := attr(byID(t, doc, "same-error"), "href")
		if got := runLinks(b.page(link, http.StatusOK)); !slices.Equal(got, []string{"c-prod-fail-2", "c-prod-fail-1"}) {
			t.Errorf("runs with the same error %v", got)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		doc := b.page("/ui/runs/no-such-run", http.StatusNotFound)
		if !strings.Contains(text(doc), "No such run") {
			t.Errorf("404 page: %s", text(doc))
		}
	})
	t.Run("bad id", func(t *testing.T) {
		b.page("/ui/runs/"+url.PathEscape("a b"), http.StatusBadRequest)
	})
}

func testConsoleErrors(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	doc := b.page("/ui/errors", http.StatusOK)
	var timeout *html.Node
	rows := findAll(byID(t, doc, "error-groups"), func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" })
	for _, r := range rows {
		if strings.Contains(text(r), "connection timeout") {
			timeout = r
		}
	}
	// The hostile message is in two runs, of order and manual.
	if len(rows) != 4 || timeout == nil {
		t.Fatalf("%d error groups, want 4 with the timeouts: %s", len(rows), text(doc))
	}
	if !strings.HasPrefix(text(timeout), "2 ") || !strings.Contains(text(timeout), "Product sync") || !strings.Contains(text(timeout), "4500 ms") {
		t.Errorf("timeout group: %s", text(timeout))
	}
	link := attr(byClass(timeout, "group-runs")[0], "href")
	if got := runLinks(b.page(link, http.StatusOK)); !slices.Equal(got, []string{"c-prod-fail-2", "c-prod-fail-1"}) {
		t.Errorf("the group's runs (%s): %v", link, got)
	}
	if doc := b.page("/ui/errors?sync_type=prices", http.StatusOK); !strings.Contains(text(doc), "invalid currency") || strings.Contains(text(doc), "timeout") {
		t.Errorf("errors of prices: %s", text(doc))
	}
	b.page("/ui/errors?since=2026-13-01", http.StatusBadRequest)
}

func testConsoleDaily(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	today := f.now.Format(time.DateOnly)
	doc := b.page("/ui/reports/daily?date="+today+"&tz=UTC", http.StatusOK)
	rows := findAll(byID(t, doc, "daily"), func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" })
	if len(rows) == 0 {
		t.Fatalf("no rows: %s", text(doc))
	}
	csv := attr(byID(t, doc, "daily-csv"), "href")
	if csv != "/ui/reports/daily.csv?date="+today+"&tz=UTC" {
		t.Errorf("csv link %q", csv)
	}
	w := b.get(csv, http.StatusOK)
	if !strings.HasPrefix(w.Body.String(), "sync_type,runs,success") || w.Header().Get("Content-Disposition") != `attachment; filename="daily-`+today+`.csv"` {
		t.Errorf("csv %q, %q", w.Body.String(), w.Header().Get("Content-Disposition"))
	}
	// The default day is today, in UTC.
	if doc := b.page("/ui/reports/daily", http.StatusOK); !strings.Contains(text(doc), today) {
		t.Errorf("default day is not today: %s", text(doc))
	}
	for _, q := range []string{"date=yesterday", "tz=Mars/Olympus", "date=1999-01-01"} {
		b.page("/ui/reports/daily?"+q, http.StatusBadRequest)
	}
	b.get("/ui/reports/daily.csv?tz=Nowhere", http.StatusBadRequest)
}

// hostileMarkup matches the hostile strings as markup, unescaped.
var hostileMarkup = regexp.MustCompile(`(?i)<script|<img|<b>key`)

func testConsoleEscaping(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	for _, target := range []string{"/ui/", "/ui/runs", "/ui/runs?sync_type=order", "/ui/runs/c-order-hostile", "/ui/runs/c-hostile-source",
		"/ui/errors", "/ui/runs?q=" + url.QueryEscape(pageHostileMessage), "/ui/runs?source=" + url.QueryEscape(hostileSource),
		"/ui/runs/" + url.PathEscape(hostileSource), "/ui/login?next=" + url.QueryEscape(hostileSource)} {
		t.Run(target, func(t *testing.T) {
			w := b.do(http.MethodGet, target, nil)
			if w.Code >= 500 {
				t.Fatalf("%d", w.Code)
			}
			body := w.Body.String()
			if m := hostileMarkup.FindString(body); m != "" {
				i := strings.Index(body, m)
				t.Errorf("the page has %q unescaped: %s", m, body[max(0, i-200):min(len(body), i+200)])
			}
			parseHTML(t, body) // no script, no handler
		})
	}
	t.Run("shown as text", func(t *testing.T) {
		doc := b.page("/ui/runs/c-order-hostile", http.StatusOK)
		if got := text(byID(t, doc, "message")); got != strings.Join(strings.Fields(pageHostileMessage), " ") {
			t.Errorf("message shown as %q", got)
		}
		if got := text(byID(t, doc, "attributes")); !strings.Contains(got, "<b>key</b> value") || !strings.Contains(got, hostileAttr) {
			t.Errorf("attributes shown as %q", got)
		}
		doc = b.page("/ui/runs/c-hostile-source", http.StatusOK)
		if !strings.Contains(text(doc), hostileSource) {
			t.Error("the hostile source is not shown as text")
		}
		doc = b.page("/ui/runs?sync_type=order", http.StatusOK)
		cells := byClass(doc, "msg")
		if len(cells) != 1 || attr(cells[0], "title") != pageHostileMessage {
			t.Errorf("the list's message cell %v", cells)
		}
	})
}

func testConsoleLanguage(t *testing.T, f *consoleFixture) {
	for _, c := range []struct {
		name, target, accept, cookie string
		want, absent                 []string
		lang                         string
	}{
		{"default", "/ui/", "", "", []string{"Overview", "Product sync"}, []string{"商品同步"}, "en"},
		{"accept zh-CN", "/ui/", "zh-CN,zh;q=0.9,en;q=0.8", "", []string{"概览", "商品同步", "价格同步", "从未成功"}, []string{"Product sync"}, "zh-CN"},
		{"accept en first", "/ui/", "en-US,zh;q=0.5", "", []string{"Product sync"}, nil, "en"},
		{"accept zh weighted higher", "/ui/", "en;q=0.3, zh-TW;q=0.8", "", []string{"商品同步"}, nil, "zh-CN"},
		{"statuses", "/ui/runs?sync_type=products", "zh-CN", "", []string{"成功", "失败", "运行记录"}, []string{"Success"}, "zh-CN"},
		{"status partial", "/ui/runs?sync_type=prices", "zh", "", []string{"部分成功", "价格同步"}, nil, "zh-CN"},
		{"cookie overrides", "/ui/", "zh-CN", "en", []string{"Product sync"}, []string{"商品同步"}, "en"},
		{"cookie zh", "/ui/runs/c-log-life", "en", "zh", []string{"物流查询", "时间线", "处理中"}, nil, "zh-CN"},
		{"parameter overrides", "/ui/?lang=zh", "en", "en", []string{"商品同步"}, nil, "zh-CN"},
		{"bad cookie", "/ui/", "zh-CN", "klingon", []string{"商品同步"}, nil, "zh-CN"},
		{"daily", "/ui/reports/daily", "zh-CN", "", []string{"日报", "下载 CSV"}, nil, "zh-CN"},
		{"errors", "/ui/errors", "zh-CN", "", []string{"按消息分组的失败和部分成功的运行"}, nil, "zh-CN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := f.signedIn(t)
			if c.accept != "" {
				b.header.Set("Accept-Language", c.accept)
			}
			if c.cookie != "" {
				b.cookies[ui.LangCookie] = &http.Cookie{Name: ui.LangCookie, Value: c.cookie}
			}
			doc := b.page(c.target, http.StatusOK)
			txt := text(doc)
			for _, s := range c.want {
				if !strings.Contains(txt, s) {
					t.Errorf("the page lacks %q", s)
				}
			}
			for _, s := range c.absent {
				if strings.Contains(txt, s) {
					t.Errorf("the page has %q", s)
				}
			}
			if got := attr(findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "html" })[0], "lang"); got != c.lang {
				t.Errorf("html lang %q, want %q", got, c.lang)
			}
		})
	}
	t.Run("switch", func(t *testing.T) {
		b := f.signedIn(t)
		b.header.Set("Accept-Language", "en")
		doc := b.page("/ui/runs?sync_type=products", http.StatusOK)
		form := byID(t, doc, "lang-switch").Parent
		values := url.Values{}
		for _, in := range findAll(form, func(n *html.Node) bool { return n.Data == "input" }) {
			values.Set(attr(in, "name"), attr(in, "value"))
		}
		if values.Get("lang") != "zh" || values.Get("next") != "/ui/runs?sync_type=products" {
			t.Fatalf("switch form %v", values)
		}
		w := b.do(http.MethodPost, attr(form, "action"), values)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/runs?sync_type=products" {
			t.Fatalf("switch: %d %q", w.Code, w.Header().Get("Location"))
		}
		ck := b.cookies[ui.LangCookie]
		if ck == nil || ck.Value != "zh" || ck.Path != "/ui" || ck.SameSite != http.SameSiteStrictMode || !ck.HttpOnly {
			t.Fatalf("language cookie %+v", ck)
		}
		if txt := text(b.page("/ui/runs?sync_type=products", http.StatusOK)); !strings.Contains(txt, "商品同步") {
			t.Errorf("after the switch: %s", txt)
		}
		// Back to English; a foreign next is not followed.
		values.Set("lang", "en")
		values.Set("next", "https://evil.example/")
		if w := b.do(http.MethodPost, "/ui/lang", values); w.Header().Get("Location") != "/ui/" {
			t.Errorf("switch to a foreign next: %q", w.Header().Get("Location"))
		}
		if txt := text(b.page("/ui/", http.StatusOK)); !strings.Contains(txt, "Product sync") {
			t.Errorf("after switching back: %s", txt)
		}
		values.Set("lang", "fr")
		if w := b.do(http.MethodPost, "/ui/lang", values); w.Code != http.StatusBadRequest {
			t.Errorf("an unknown language: %d", w.Code)
		}
	})
}

func testConsoleAuth(t *testing.T, f *consoleFixture) {
	h := f.env.Handler()
	t.Run("redirect to login", func(t *testing.T) {
		b := newBrowser(t, h)
		for _, target := range []string{"/ui/", "/ui/runs?status=failed", "/ui/runs/c-prod-ok", "/ui/errors", "/ui/reports/daily", "/ui/reports/daily.csv", "/ui/runs.csv"} {
			w := b.get(target, http.StatusSeeOther)
			if want := "/ui/login?next=" + url.QueryEscape(target); w.Header().Get("Location") != want {
				t.Errorf("%s: location %q, want %q", target, w.Header().Get("Location"), want)
			}
			if strings.Contains(w.Body.String(), "synced 100 items") || strings.Contains(w.Body.String(), "Product sync") {
				t.Errorf("%s: the redirect shows data", target)
			}
		}
		// The CSS and the login page need no login.
		b.get("/ui/static/console.css", http.StatusOK)
		doc := b.page("/ui/login?next="+url.QueryEscape("/ui/runs?status=failed"), http.StatusOK)
		form := findAll(doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "action") == "/ui/login" })[0]
		if attr(findAll(form, func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "next" })[0], "value") != "/ui/runs?status=failed" {
			t.Error("the login form does not return to the page asked for")
		}
		if len(findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "logout" })) != 0 {
			t.Error("a signed-out page offers to sign out")
		}
	})
	t.Run("wrong tokens", func(t *testing.T) {
		for _, c := range []struct{ name, secret string }{
			{"wrong", "wrong-secret-0123456789"},
			{"ingest only", consoleIngestSecret},
			{"empty", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				b := newBrowser(t, h)
				w := b.login(c.secret)
				if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
					t.Fatalf("%d, cookies %v", w.Code, w.Result().Cookies())
				}
				if !strings.Contains(text(parseHTML(t, w.Body.String())), "not valid") {
					t.Error("the form does not say why")
				}
				b.get("/ui/", http.StatusSeeOther)
			})
		}
	})
	t.Run("forged forms", func(t *testing.T) {
		b := newBrowser(t, h)
		csrf := csrfOf(t, b.page("/ui/login", http.StatusOK))
		for _, c := range []struct {
			name   string
			header http.Header
			form   url.Values
		}{
			{"no token", nil, url.Values{"token": {consoleQuerySecret}}},
			{"wrong token", nil, url.Values{"token": {consoleQuerySecret}, "csrf": {csrf + "x"}}},
			{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, url.Values{"token": {consoleQuerySecret}, "csrf": {csrf}}},
			{"null origin", http.Header{"Origin": {"null"}}, url.Values{"token": {consoleQuerySecret}, "csrf": {csrf}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, "http://"+consoleHost+"/ui/login", strings.NewReader(c.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", "http://"+consoleHost)
				for k, v := range c.header {
					req.Header[k] = v
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
					t.Errorf("%d, cookies %v", w.Code, w.Result().Cookies())
				}
			})
		}
		// Without Origin, a same-origin Referer will do.
		req := httptest.NewRequest(http.MethodPost, "http://"+consoleHost+"/ui/login",
			strings.NewReader(url.Values{"token": {consoleQuerySecret}, "csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Referer", "http://"+consoleHost+"/ui/login")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusSeeOther {
			t.Errorf("a same-origin referer: %d", w.Code)
		}
	})
	t.Run("sign in and out", func(t *testing.T) {
		for _, overTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("tls %v", overTLS), func(t *testing.T) {
				b := newBrowser(t, h)
				b.tls = overTLS
				doc := b.page("/ui/login?next="+url.QueryEscape("/ui/runs?status=failed"), http.StatusOK)
				w := b.do(http.MethodPost, "/ui/login", url.Values{"token": {consoleQuerySecret}, "csrf": {csrfOf(t, doc)}, "next": {"/ui/runs?status=failed"}})
				if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/runs?status=failed" {
					t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
				}
				cookies := w.Result().Cookies()
				if len(cookies) != 1 {
					t.Fatalf("cookies %v", cookies)
				}
				ck := cookies[0]
				if ck.Name != ui.SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui" ||
					ck.Secure != overTLS || ck.MaxAge != int(ui.DefaultConsoleSessionTTL/time.Second) || len(ck.Value) < 40 {
					t.Errorf("session cookie %+v", ck)
				}
				if strings.Contains(ck.Value, consoleQuerySecret) || strings.Contains(w.Header().Get("Location"), consoleQuerySecret) {
					t.Error("the token is in the cookie or the URL")
				}
				page := b.page("/ui/runs?status=failed", http.StatusOK)
				if !slices.Contains(runLinks(page), "c-prod-fail-1") {
					t.Error("signed in, the runs are not shown")
				}
				stolen := *ck
				w = b.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {csrfOf(t, page)}})
				if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/login" {
					t.Fatalf("logout: %d %q", w.Code, w.Header().Get("Location"))
				}
				if c := w.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 || c[0].Value != "" {
					t.Errorf("logout cookies %v", c)
				}
				b.get("/ui/", http.StatusSeeOther)
				// The old cookie is worthless after the logout.
				b.cookies[ui.SessionCookie] = &stolen
				b.get("/ui/", http.StatusSeeOther)
			})
		}
	})
	t.Run("the login form's CSRF token does not sign out a session", func(t *testing.T) {
		b := f.signedIn(t)
		anon := csrfOf(t, newBrowser(t, h).page("/ui/login", http.StatusOK))
		if w := b.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {anon}}); w.Code != http.StatusForbidden {
			t.Errorf("logout with another form's token: %d", w.Code)
		}
		b.get("/ui/", http.StatusOK)
	})
	t.Run("bearer header", func(t *testing.T) {
		b := newBrowser(t, h)
		b.header.Set("Authorization", "Bearer "+consoleQuerySecret)
		b.get("/ui/runs", http.StatusOK)
		b.header.Set("Authorization", "Bearer "+consoleIngestSecret)
		b.get("/ui/runs", http.StatusForbidden)
		b.header.Set("Authorization", "Bearer nope-nope-nope-nope")
		b.get("/ui/runs", http.StatusUnauthorized)
	})
	t.Run("next stays in the console", func(t *testing.T) {
		for _, next := range []string{"//evil.example/ui/", "https://evil.example/ui/", "/api/v1/runs", "/ui/\\evil", "javascript:alert(1)"} {
			b := newBrowser(t, h)
			doc := b.page("/ui/login", http.StatusOK)
			w := b.do(http.MethodPost, "/ui/login", url.Values{"token": {consoleQuerySecret}, "csrf": {csrfOf(t, doc)}, "next": {next}})
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/" {
				t.Errorf("next %q: %d %q", next, w.Code, w.Header().Get("Location"))
			}
		}
	})
}

// consolePages are GET routes of the console that render HTML.
var consolePages = []string{"/ui/", "/ui/runs", "/ui/runs/c-prod-ok", "/ui/errors", "/ui/reports/daily"}

func testConsoleSecurityHeaders(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	anon := newBrowser(t, f.env.Handler())
	targets := []struct {
		b      *browser
		method string
		target string
	}{
		{anon, http.MethodGet, "/ui/login"},
		{anon, http.MethodGet, "/ui/"},
		{anon, http.MethodGet, "/ui/static/console.css"},
		{anon, http.MethodPost, "/ui/login"},
		{b, http.MethodGet, "/ui/runs/no-such-run"},
		{b, http.MethodGet, "/ui/runs?status=bogus"},
		{b, http.MethodGet, "/ui/runs.csv"},
		{b, http.MethodGet, "/ui/reports/daily.csv"},
		{b, http.MethodGet, "/ui"},
	}
	for _, p := range consolePages {
		targets = append(targets, struct {
			b      *browser
			method string
			target string
		}{b, http.MethodGet, p})
	}
	for _, c := range targets {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			var form url.Values
			if c.method == http.MethodPost {
				form = url.Values{}
			}
			w := c.b.do(c.method, c.target, form)
			for name, want := range map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "same-origin",
				"X-Frame-Options":         "DENY",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if c.target != "/ui/static/console.css" && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func testConsoleReadOnly(t *testing.T, f *consoleFixture) {
	b := f.signedIn(t)
	routes := append(slices.Clone(consolePages), "/ui/runs.csv", "/ui/reports/daily.csv", "/ui/static/console.css")
	for _, target := range routes {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			w := b.do(method, target, url.Values{"csrf": {"x"}})
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", method, target, w.Code)
			}
		}
	}
	// The only forms that post are the login, logout and language forms.
	for _, target := range consolePages {
		doc := b.page(target, http.StatusOK)
		for _, form := range findAll(doc, func(n *html.Node) bool { return n.Data == "form" }) {
			method, action := strings.ToLower(attr(form, "method")), attr(form, "action")
			if method == "post" && !slices.Contains([]string{"/ui/login", "/ui/logout", "/ui/lang"}, action) {
				t.Errorf("%s: a form posts to %s", target, action)
			}
		}
	}
	// Nothing was written.
	page := runLinks(b.page("/ui/runs", http.StatusOK))
	if len(page) != 10 {
		t.Errorf("%d runs after the attempts, want 10", len(page))
	}
	// Every route of the console is a GET but the three forms.
	for _, r := range f.env.Service.Engine().Routes() {
		if strings.HasPrefix(r.Path, "/ui") && r.Method != http.MethodGet && !slices.Contains([]string{"/ui/login", "/ui/logout", "/ui/lang"}, r.Path) {
			t.Errorf("route %s %s", r.Method, r.Path)
		}
	}
}

// TestConsoleOpen covers a server without tokens: the console needs no
// login, and a failing store is reported without its details.
func TestConsoleOpen(t *testing.T) {
	q := &fakequery.Querier{}
	env := apptest.New(t, apptest.Options{Query: q, Console: &ui.Config{}})
	b := newBrowser(t, env.Handler())
	// Without tokens, only loopback names are served.
	b.get("/ui/", http.StatusForbidden)
	b.host = "localhost:8080"
	doc := b.page("/ui/", http.StatusOK)
	if len(findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "logout" })) != 0 {
		t.Error("an open console offers to sign out")
	}
	// The overview reads the last successes when the store knows no
	// per-type states.
	if !strings.Contains(text(byID(t, doc, "type-products")), "Never succeeded") && !strings.Contains(text(byID(t, doc, "type-products")), "No schedule") {
		t.Errorf("products: %s", text(byID(t, doc, "type-products")))
	}
	if w := b.get("/ui/login", http.StatusSeeOther); w.Header().Get("Location") != "/ui/" {
		t.Errorf("login of an open console: %q", w.Header().Get("Location"))
	}
	if w := b.get("/", http.StatusFound); w.Header().Get("Location") != "/ui/" {
		t.Errorf("/ redirects to %q", w.Header().Get("Location"))
	}
	for _, p := range consolePages[1:] {
		b.page(p, map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[strings.HasPrefix(p, "/ui/runs/")])
	}

	env2 := apptest.New(t, apptest.Options{Query: &fakequery.Querier{Err: errors.New("code: 241, memory limit exceeded")}, Console: &ui.Config{}})
	b2 := newBrowser(t, env2.Handler())
	b2.host = "127.0.0.1:8080"
	for _, p := range consolePages {
		w := b2.get(p, http.StatusInternalServerError)
		if strings.Contains(w.Body.String(), "memory") || !strings.Contains(w.Body.String(), w.Header().Get("X-Request-ID")) {
			t.Errorf("%s: the error page shows the store's error or lacks the request id", p)
		}
	}
	if _, err := ui.New(ui.Config{}, ui.Deps{}); err == nil {
		t.Error("a console without a querier was registered")
	}
}
