package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/web"
)

// TestAnswersAreNotSniffedNorStored checks the headers that keep a
// browser from taking a JSON or CSV answer for a page and caches from
// keeping it.
func TestAnswersAreNotSniffedNorStored(t *testing.T) {
	e := apptest.New(t, apptest.Options{Query: &fakequery.Querier{}})
	for _, c := range []struct {
		name, method, path, body string
	}{
		{"run list", "GET", "/api/v1/runs", ""},
		{"run list as CSV", "GET", "/api/v1/runs?format=csv", ""},
		{"monitor records", "GET", "/api/monitor/records/", ""},
		{"a bad parameter", "GET", "/api/v1/runs?limit=x", ""},
		{"health", "GET", "/api/v1/health", ""},
		{"readiness", "GET", "/readyz", ""},
		{"ingest", "POST", "/api/v1/runs", testutil.Report("h1")},
		{"no such route", "GET", "/api/v1/nothing", ""},
		{"metrics", "GET", "/metrics", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.Do(c.method, c.path, strings.NewReader(c.body), http.Header{"Content-Type": {"application/json"}})
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q (status %d)", got, w.Code)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q (status %d)", got, w.Code)
			}
		})
	}
}

// TestReadyzKeepsDetailsBehindAToken checks that the unauthenticated
// readiness probe says only ok or failing per component, while the
// detailed report, behind a query token, keeps versions and errors.
func TestReadyzKeepsDetailsBehindAToken(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	for _, down := range []bool{false, true} {
		e.Fake.Down.Store(down)
		w := e.Do("GET", "/readyz", nil, nil)
		for _, secret := range []string{"26.5-fake", apptest.ErrDown.Error(), "version", "error", "detail", "max_bytes"} {
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("/readyz (clickhouse down %v) shows %q: %s", down, secret, w.Body)
			}
		}
		rep := testutil.Decode[web.HealthReport](t, w)
		want := map[bool]string{false: "ok", true: "failing"}[down]
		if rep.Components["clickhouse"].Status != want || rep.Status != want {
			t.Errorf("/readyz (clickhouse down %v): %s", down, w.Body)
		}
		if w := e.Do("GET", "/api/v1/health", nil, nil); w.Code != http.StatusUnauthorized {
			t.Errorf("the detailed report without a token: %d", w.Code)
		}
		w = e.Do("GET", "/api/v1/health", nil, apptest.Bearer(apptest.SecretQuery))
		if !strings.Contains(w.Body.String(), map[bool]string{false: "26.5-fake", true: apptest.ErrDown.Error()}[down]) {
			t.Errorf("the detailed report lacks its details: %s", w.Body)
		}
	}
}

// TestClientAddressTrustsOnlyConfiguredProxies checks the client address
// of the access log: X-Forwarded-For counts only from a configured proxy.
func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	for _, c := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no proxies", nil, "192.0.2.1"},
		{"another proxy", []string{"10.0.0.0/8"}, "192.0.2.1"},
		{"this proxy", []string{"192.0.2.0/24"}, "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := apptest.New(t, apptest.Options{TrustedProxies: c.proxies})
			// httptest requests come from 192.0.2.1.
			e.Do("GET", "/api/v1/nothing", nil, http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.9"}})
			var got any
			for _, l := range e.Logs.Lines(t) {
				if l["msg"] == "request" {
					got = l["client"]
				}
			}
			if got != c.want {
				t.Errorf("client %v, want %s", got, c.want)
			}
		})
	}
}
