package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/web/api"
)

// TestOpenModeRefusesOtherSites plays a web page a local user visits
// while syncwatch runs open (no tokens, the default on loopback): it must
// neither wipe the data with a cross-origin form nor read it through a
// rebound DNS name.
func TestOpenModeRefusesOtherSites(t *testing.T) {
	fq := &fakequery.Querier{}
	env := apptest.New(t, apptest.Options{Query: fq})
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name   string
		method string
		target string
		header http.Header
		body   string
		want   int
	}{
		{"cross-origin form clear", "POST", "/api/monitor/clear/?until=2100-01-01&confirm=true",
			http.Header{"Origin": {"https://evil.example"}, "Content-Type": {form}}, "until=2100-01-01&confirm=true", 403},
		{"cross-site fetch clear", "POST", "/api/monitor/clear/?until=2100-01-01&confirm=true",
			http.Header{"Sec-Fetch-Site": {"cross-site"}, "X-Requested-With": {"x"}}, "", 403},
		{"same-site other port clear", "POST", "/api/monitor/clear/?until=2100-01-01&confirm=true",
			http.Header{"Origin": {"http://localhost:9999"}, "Host": {"localhost:8080"}, "X-Requested-With": {"x"}}, "", 403},
		{"opaque origin clear", "POST", "/api/monitor/clear/?until=2100-01-01&confirm=true",
			http.Header{"Origin": {"null"}, "X-Requested-With": {"x"}}, "", 403},
		{"cross-origin ingest", "POST", "/api/v1/runs",
			http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"text/plain"}}, testutil.Report("x"), 403},
		{"clear without a custom header", "POST", "/api/monitor/clear/?until=2100-01-01&confirm=true",
			http.Header{"Content-Type": {form}}, "", 403},
		{"rebound DNS name reads", "GET", "/api/v1/runs", http.Header{"Host": {"evil.example"}}, "", 403},
		{"rebound DNS name with a port", "GET", "/api/v1/stats", http.Header{"Host": {"evil.example:8080"}}, "", 403},
		{"loopback-looking name", "GET", "/api/v1/runs", http.Header{"Host": {"localhost.evil.example"}}, "", 403},
		{"console through a rebound name", "GET", "/metrics", http.Header{"Host": {"10.0.0.1:8080"}}, "", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := fq.Calls.Load()
			w := env.Do(c.method, c.target, strings.NewReader(c.body), c.header)
			if w.Code != c.want {
				t.Fatalf("%d, want %d: %s", w.Code, c.want, w.Body)
			}
			if fq.Calls.Load() != before {
				t.Errorf("a refused request ran a query")
			}
			if len(env.Fake.Stored()) != 0 {
				t.Errorf("a refused request stored a report")
			}
		})
	}
	for _, c := range []struct {
		name   string
		header http.Header
	}{
		{"localhost", http.Header{"Host": {"localhost"}}},
		{"localhost with a port", http.Header{"Host": {"localhost:8080"}}},
		{"127.0.0.1 with a port", http.Header{"Host": {"127.0.0.1:8080"}}},
		{"::1 with a port", http.Header{"Host": {"[::1]:8080"}}},
		{"::1", http.Header{"Host": {"[::1]"}}},
		{"same origin", http.Header{"Host": {"127.0.0.1:8080"}, "Origin": {"http://127.0.0.1:8080"}, "Sec-Fetch-Site": {"same-origin"}}},
		{"typed by the user", http.Header{"Host": {"localhost:8080"}, "Sec-Fetch-Site": {"none"}}},
	} {
		t.Run("accepted "+c.name, func(t *testing.T) {
			c.header.Set("X-Requested-With", "test")
			if w := env.Do("GET", "/api/v1/runs", nil, c.header); w.Code != 200 {
				t.Errorf("read: %d %s", w.Code, w.Body)
			}
			if w := env.Do("POST", "/api/monitor/clear/?until=2100-01-01", nil, c.header); w.Code != 200 {
				t.Errorf("clear: %d %s", w.Code, w.Body)
			}
		})
	}
	t.Run("any host with tokens", func(t *testing.T) {
		env := apptest.New(t, apptest.Options{Tokens: apptest.Tokens(), Query: &fakequery.Querier{}})
		h := apptest.Bearer(apptest.SecretQuery)
		h.Set("Host", "syncwatch.example.com")
		if w := env.Do("GET", "/api/v1/runs", nil, h); w.Code != 200 {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}

// TestClearIsADryRunUnlessConfirmed checks what a clear does with each
// way of asking, and that a date bound means the start of that day.
func TestClearIsADryRunUnlessConfirmed(t *testing.T) {
	env := apptest.New(t, apptest.Options{Query: &fakequery.Querier{}})
	custom := http.Header{"X-Requested-With": {"test"}}
	for _, c := range []struct {
		name   string
		query  string
		want   int
		dryRun bool
	}{
		{"nothing said", "until=2026-01-01", 200, true},
		{"dry_run=true", "until=2026-01-01&dry_run=true", 200, true},
		{"confirm=false", "until=2026-01-01&confirm=false", 200, true},
		{"confirm=true", "until=2026-01-01&confirm=true", 200, false},
		{"dry_run=false", "until=2026-01-01&dry_run=false", 200, false},
		{"confirm=true and dry_run=false", "until=2026-01-01&confirm=true&dry_run=false", 200, false},
		{"confirm=true and dry_run=true", "until=2026-01-01&confirm=true&dry_run=true", 400, false},
		{"bad confirm", "until=2026-01-01&confirm=yes-please", 400, false},
		{"blank confirm", "until=2026-01-01&confirm=", 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodPost, "/api/monitor/clear/?"+c.query,
				contract.Options{Header: custom, InvalidRequest: c.want != 200})
			if w.Code != c.want {
				t.Fatalf("%d, want %d: %s", w.Code, c.want, w.Body)
			}
			if c.want != 200 {
				return
			}
			res := testutil.Decode[api.ClearResponse](t, w)
			if res.DryRun != c.dryRun {
				t.Errorf("dry_run %v, want %v", res.DryRun, c.dryRun)
			}
			if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !res.Filter.Until.Equal(want) {
				t.Errorf("until=2026-01-01 means %s, want the start of the day %s", res.Filter.Until, want)
			}
		})
	}
}
