package web_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/web"
)

func TestHealthz(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	e.Fake.Down.Store(true)
	// Liveness says nothing about ClickHouse.
	testutil.ExactJSON(t, e.Do("GET", "/healthz", nil, nil), 200, `{"status":"ok"}`)
}

func TestReadyzAndHealthReport(t *testing.T) {
	e := apptest.New(t, apptest.Options{SpoolBytes: 4096, Ingest: collector.Config{SpoolHighWater: 0.5},
		RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}})

	// All well.
	for _, path := range []string{"/readyz", "/api/v1/health"} {
		w := e.Do("GET", path, nil, nil)
		rep := testutil.Decode[web.HealthReport](t, w)
		if w.Code != 200 || rep.Status != "ok" || rep.CheckedAt.IsZero() {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		for _, c := range []string{"clickhouse", "spool", "batcher"} {
			if rep.Components[c].Status != "ok" {
				t.Fatalf("%s: component %s is %+v", path, c, rep.Components[c])
			}
		}
		if path == "/readyz" {
			// The probe needs no token: no details (TestReadyzKeepsDetailsBehindAToken).
			continue
		}
		if rep.Components["clickhouse"].Detail["version"] != "26.5-fake" {
			t.Fatalf("clickhouse detail %+v", rep.Components["clickhouse"].Detail)
		}
		sp := rep.Components["spool"].Detail
		for _, k := range []string{"entries", "reports", "bytes", "max_bytes", "oldest_age_seconds"} {
			if _, ok := sp[k]; !ok {
				t.Fatalf("spool detail lacks %s: %+v", k, sp)
			}
		}
		if sp["max_bytes"] != float64(4096) {
			t.Fatalf("spool max_bytes %v", sp["max_bytes"])
		}
	}

	// ClickHouse unreachable: not ready, and the report says why.
	e.Fake.Down.Store(true)
	for _, path := range []string{"/readyz", "/api/v1/health"} {
		w := e.Do("GET", path, nil, nil)
		rep := testutil.Decode[web.HealthReport](t, w)
		ch := rep.Components["clickhouse"]
		wantErr := apptest.ErrDown.Error()
		if path == "/readyz" {
			wantErr = ""
		}
		if w.Code != 503 || rep.Status != "failing" || ch.Status != "failing" || ch.Error != wantErr {
			t.Fatalf("%s with clickhouse down: %d %s", path, w.Code, w.Body)
		}
	}
	if !strings.Contains(e.MetricsText(t), "syncwatch_clickhouse_up 0") {
		t.Fatal("syncwatch_clickhouse_up is not 0 while ClickHouse is down")
	}
	e.Fake.Down.Store(false)

	// Inserts failing while ClickHouse answers pings: the batcher fails,
	// the service stays ready because the spool takes reports.
	e.Fake.InsertDown.Store(true)
	if w := e.Post(testutil.Report("e1")); w.Code != 202 {
		t.Fatalf("ingest while inserts fail: %d %s", w.Code, w.Body)
	}
	testutil.WaitFor(t, 5*time.Second, "the batcher to fail", func() bool { return e.Batcher.Status().Failures > 0 })
	w := e.Do("GET", "/api/v1/health", nil, nil)
	rep := testutil.Decode[web.HealthReport](t, w)
	b := rep.Components["batcher"]
	if w.Code != 503 || b.Status != "failing" || b.Error != "inserts are failing; reports wait in the spool" || b.Detail["last_error"] != apptest.ErrDown.Error() {
		t.Fatalf("health with failing inserts: %d %s", w.Code, w.Body)
	}
	if rep.Components["spool"].Detail["reports"] != float64(1) {
		t.Fatalf("spool detail %+v", rep.Components["spool"].Detail)
	}
	if w := e.Do("GET", "/readyz", nil, nil); w.Code != 200 {
		t.Fatalf("/readyz with failing inserts but room in the spool: %d %s", w.Code, w.Body)
	}

	// Fill the spool past its high-water mark: not ready.
	for i := 0; e.Spool.Stats().Bytes < 2048; i++ {
		if w := e.Post(testutil.Report("fill" + string(rune('a'+i)))); w.Code != 202 {
			t.Fatalf("fill: %d %s", w.Code, w.Body)
		}
	}
	w = e.Do("GET", "/readyz", nil, nil)
	rep = testutil.Decode[web.HealthReport](t, w)
	if sp := rep.Components["spool"]; w.Code != 503 || sp.Status != "failing" {
		t.Fatalf("/readyz above high water: %d %s", w.Code, w.Body)
	}
	rep = testutil.Decode[web.HealthReport](t, e.Do("GET", "/api/v1/health", nil, nil))
	if sp := rep.Components["spool"]; sp.Error != "spool is above its high-water mark" {
		t.Fatalf("/api/v1/health above high water: %+v", sp)
	}

	// Recovery: the spool drains and everything is well again.
	e.Fake.InsertDown.Store(false)
	testutil.WaitFor(t, 5*time.Second, "the spool to drain", func() bool { return e.Spool.Stats().Entries == 0 })
	testutil.WaitFor(t, 5*time.Second, "readiness", func() bool { return e.Do("GET", "/api/v1/health", nil, nil).Code == 200 })
	rep = testutil.Decode[web.HealthReport](t, e.Do("GET", "/api/v1/health", nil, nil))
	if _, ok := rep.Components["batcher"].Detail["last_flush"]; !ok {
		t.Fatalf("batcher detail lacks last_flush: %+v", rep.Components["batcher"])
	}
}

// TestHealthReportHasExporter checks that the exporter's check, supplied
// by its owner, is a component of /api/v1/health.
func TestHealthReportHasExporter(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	exp, err := exporter.New(exportertest.Model{DS: &exportertest.Dataset{Now: now}}, exporter.Config{
		SyncTypes: []string{"stock"}, Now: func() time.Time { return now },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := apptest.New(t, apptest.Options{Checks: exp.HealthChecks()})
	w := e.Do("GET", "/api/v1/health", nil, nil)
	rep := testutil.Decode[web.HealthReport](t, w)
	ex, ok := rep.Components["exporter"]
	if w.Code != 200 || !ok || ex.Status != "ok" {
		t.Fatalf("/api/v1/health: %d %s", w.Code, w.Body)
	}
	for _, k := range []string{"cache_age_seconds", "last_refresh", "scrapers"} {
		if _, ok := ex.Detail[k]; !ok {
			t.Errorf("exporter detail lacks %s: %v", k, ex.Detail)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	e.Post("[" + testutil.Report("a") + "," + testutil.Report("a") + "," + testutil.Report("b", "status", `"x"`) + "]")
	e.Post(testutil.Report("c"), "Content-Type", "text/plain")
	text := e.MetricsText(t)
	for _, want := range []string{
		`syncwatch_ingest_reports_total{outcome="accepted"} 1`,
		`syncwatch_ingest_reports_total{outcome="duplicate"} 1`,
		`syncwatch_ingest_reports_total{outcome="rejected"} 1`,
		`syncwatch_ingest_rejections_total{reason="invalid"} 1`,
		`syncwatch_ingest_rejections_total{reason="unsupported_media_type"} 1`,
		`syncwatch_http_requests_total{code="202",method="POST",route="/api/v1/runs"} 1`,
		`syncwatch_http_requests_total{code="415",method="POST",route="/api/v1/runs"} 1`,
		`syncwatch_spool_reports 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	tests := []struct {
		name   string
		given  string
		method string
		path   string
		auth   string
		keep   bool
	}{
		{name: "valid id kept", given: "job-42.run:7_A", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll, keep: true},
		{name: "64 characters kept", given: strings.Repeat("a", 64), method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll, keep: true},
		{name: "65 characters replaced", given: strings.Repeat("a", 65), method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll},
		{name: "spaces replaced", given: "a b", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll},
		{name: "log injection replaced", given: "x\",\"level\":\"error", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll},
		{name: "non-ASCII replaced", given: "zählung", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll},
		{name: "absent made", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll},
		{name: "on a 401", given: "unauth-1", method: "POST", path: "/api/v1/runs", keep: true},
		{name: "on a 404", given: "nf-1", method: "GET", path: "/nowhere", keep: true},
		{name: "on a failing probe", given: "probe-1", method: "GET", path: "/readyz", keep: true},
	}
	e.Fake.Down.Store(true) // so that /readyz fails and is logged
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.given != "" {
				h.Set("X-Request-ID", tc.given)
			}
			if tc.auth != "" {
				h.Set("Authorization", "Bearer "+tc.auth)
			}
			w := e.Do(tc.method, tc.path, strings.NewReader(testutil.Report("rid"+string(rune('a'+i)))), h)
			got := w.Header().Get("X-Request-ID")
			switch {
			case tc.keep && got != tc.given:
				t.Fatalf("X-Request-ID %q, want the client's %q", got, tc.given)
			case !tc.keep && !uuidPattern.MatchString(got):
				t.Fatalf("X-Request-ID %q, want a fresh UUID", got)
			}
			// The access log line of this request carries the id.
			var line map[string]any
			for _, l := range e.Logs.Lines(t) {
				if l["msg"] == "request" && l["request_id"] == got {
					line = l
				}
			}
			if line == nil {
				t.Fatalf("no access log line with request_id %q in\n%s", got, e.Logs.String())
			}
			if int(line["status"].(float64)) != w.Code || line["method"] != tc.method || line["path"] != tc.path {
				t.Fatalf("access log line %v for a %d", line, w.Code)
			}
		})
	}
}

// TestAccessLogKeepsSecretsOut sends bodies, secrets and query strings and
// checks the log holds none of them.
func TestAccessLogKeepsSecretsOut(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens(), SpoolBytes: 2048})
	secrets := []string{apptest.SecretIngestAll, apptest.SecretIngestHaier, "wrong-secret-never-valid-1234", "BODY-MARKER-7731", "ATTR-MARKER-1186", "QUERY-MARKER-4412"}
	body := testutil.Report("log1", "message", `"sync failed: BODY-MARKER-7731"`, "attributes", `{"host":"ATTR-MARKER-1186"}`)
	requests := []struct {
		auth string
		path string
		body string
		want int
	}{
		{apptest.SecretIngestAll, "/api/v1/runs?api_key=QUERY-MARKER-4412", body, 202},
		{apptest.SecretIngestAll, "/api/v1/runs", "[" + body + "," + testutil.Report("log2", "status", `"BODY-MARKER-7731"`) + "]", 202},
		{apptest.SecretIngestHaier, "/api/v1/runs", testutil.Report("log3", "source", `"gree"`, "message", `"BODY-MARKER-7731"`), 403},
		{"wrong-secret-never-valid-1234", "/api/v1/runs", body, 401},
		{apptest.SecretIngestAll, "/api/v1/runs", "{BODY-MARKER-7731", 400},
	}
	for _, r := range requests {
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + r.auth}, "Cookie": {"session=" + r.auth}}
		if w := e.Do("POST", r.path, strings.NewReader(r.body), h); w.Code != r.want {
			t.Fatalf("POST %s: %d, want %d: %s", r.path, w.Code, r.want, w.Body)
		}
	}
	// A spool that cannot take the report logs its error, not the report.
	for e.Spool.Stats().Bytes < 1024 {
		e.Post(testutil.Report("fill"+time.Now().Format("150405.000000000")), "Authorization", "Bearer "+apptest.SecretIngestAll)
	}
	e.Spool.Close()
	closedBody := testutil.Report("log4", "message", `"BODY-MARKER-7731"`)
	if w := e.Do("POST", "/api/v1/runs", strings.NewReader(closedBody), apptest.Bearer(apptest.SecretIngestAll)); w.Code != 503 {
		t.Fatalf("closed spool: %d", w.Code)
	}

	logs := e.Logs.String()
	for _, s := range append(secrets, "Bearer", "Authorization", "session=") {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q:\n%s", s, logs)
		}
	}
	n := 0
	for _, l := range e.Logs.Lines(t) {
		if l["msg"] != "request" {
			continue
		}
		n++
		for _, k := range []string{"method", "route", "path", "status", "duration_ms", "bytes_in", "bytes_out", "client", "request_id"} {
			if _, ok := l[k]; !ok {
				t.Errorf("access log line lacks %s: %v", k, l)
			}
		}
		if st := l["status"].(float64); st != 401 && l["token"] == nil {
			t.Errorf("access log line of an authenticated request lacks the token name: %v", l)
		}
		if l["path"] != "/api/v1/runs" {
			t.Errorf("path %v: the query string must not be logged", l["path"])
		}
	}
	if n < len(requests)+1 {
		t.Fatalf("%d access log lines for %d requests", n, len(requests)+1)
	}
	if !strings.Contains(logs, `"token":"all-jobs"`) {
		t.Fatalf("the token's name is not logged:\n%s", logs)
	}
}

func TestProbesAreNotLoggedWhenHealthy(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	e.Do("GET", "/healthz", nil, nil)
	e.Do("GET", "/readyz", nil, nil)
	e.Do("GET", "/metrics", nil, nil)
	if s := e.Logs.String(); s != "" {
		t.Fatalf("healthy probes were logged: %s", s)
	}
	e.Fake.Down.Store(true)
	e.Do("GET", "/readyz", nil, nil)
	lines := e.Logs.Lines(t)
	if len(lines) != 1 || lines[0]["route"] != "/readyz" || lines[0]["level"] != "warning" {
		t.Fatalf("a failing probe must be logged once as a warning: %v", lines)
	}
}

func TestPanicRecovery(t *testing.T) {
	// gin's recovery prints the stack to its error writer, taken when the
	// routes are built; keep the test output readable.
	old := gin.DefaultErrorWriter
	gin.DefaultErrorWriter = io.Discard
	t.Cleanup(func() { gin.DefaultErrorWriter = old })
	e := apptest.New(t, apptest.Options{})
	e.Service.Engine().GET("/boom", func(c *gin.Context) { panic("kaboom") })
	w := e.Do("GET", "/boom", nil, http.Header{"X-Request-ID": {"boom-1"}})
	testutil.ExactJSON(t, w, 500, testutil.ErrorBody("internal error"))
	var panicked, access bool
	for _, l := range e.Logs.Lines(t) {
		if l["msg"] == "handler panicked" && l["request_id"] == "boom-1" && l["panic"] == "kaboom" {
			panicked = true
		}
		if l["msg"] == "request" && l["status"] == float64(500) && l["request_id"] == "boom-1" {
			access = true
		}
	}
	if !panicked || !access {
		t.Fatalf("panic logged %v, access logged %v:\n%s", panicked, access, e.Logs.String())
	}
	// The server goes on.
	if w := e.Post(testutil.Report("after")); w.Code != 202 {
		t.Fatalf("after a panic: %d", w.Code)
	}
}

// At info level an accepted ingest request and a successful probe are not
// logged (they are counted); every failure and every other request is.
func TestAccessLogLevels(t *testing.T) {
	e := apptest.New(t, apptest.Options{LogLevel: logrus.InfoLevel})
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
		logged bool
	}{
		{"accepted report", "POST", "/api/v1/runs", testutil.Report("lvl1"), 202, false},
		{"rejected report", "POST", "/api/v1/runs", testutil.Report("lvl2", "status", `"nope"`), 400, true},
		{"liveness probe", "GET", "/healthz", "", 200, false},
		{"health api", "GET", "/api/v1/health", "", 200, true},
		{"unknown route", "GET", "/nowhere", "", 404, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "lvl-" + strings.ReplaceAll(tc.name, " ", "-")
			h := http.Header{"Content-Type": {"application/json"}, "X-Request-ID": {id}}
			if w := e.Do(tc.method, tc.path, strings.NewReader(tc.body), h); w.Code != tc.want {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, w.Code, tc.want, w.Body)
			}
			logged := false
			for _, l := range e.Logs.Lines(t) {
				if l["msg"] == "request" && l["request_id"] == id {
					logged = true
				}
			}
			if logged != tc.logged {
				t.Fatalf("logged %v, want %v:\n%s", logged, tc.logged, e.Logs.String())
			}
		})
	}
}
