package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
)

// TestDjangoClients checks the parameters the clients of the original
// Django module send: the harmless ones are accepted as their syncwatch
// equivalent, the others are refused with the parameter that replaces
// them.
func TestDjangoClients(t *testing.T) {
	fq := sampleQuerier()
	env := apptest.New(t, apptest.Options{Query: fq})
	for _, c := range []struct {
		name, target string
		// check, for accepted requests, inspects the list options.
		check func(opt runs.ListOptions) bool
	}{
		{"dashboard format=json", "/api/monitor/dashboard/?format=json", nil},
		{"statistics format=json", "/api/monitor/statistics/?format=json", nil},
		{"run detail format=json", "/api/v1/runs/r1?format=json", nil},
		{"records format=json", "/api/monitor/records/?format=json", nil},
		{"search is q", "/api/monitor/records/?search=timeout", func(o runs.ListOptions) bool { return o.Filter.Query == "timeout" }},
		{"page_size is limit", "/api/monitor/records/?page_size=7", func(o runs.ListOptions) bool { return o.Limit == 7 }},
		{"newest first", "/api/monitor/records/?ordering=-created_at&format=json", nil},
		{"newest start first", "/api/monitor/records/?ordering=-started_at", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodGet, c.target, contract.Options{InvalidRequest: true})
			if w.Code != http.StatusOK {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if c.check != nil {
				if opt, _ := fq.Last().(runs.ListOptions); !c.check(opt) {
					t.Errorf("list options %+v", opt)
				}
			}
		})
	}
	for _, c := range []struct{ name, target, field, want string }{
		{"page", "/api/monitor/records/?page=2", "page", "cursor"},
		{"offset", "/api/monitor/records/?offset=20", "offset", "cursor"},
		{"other ordering", "/api/monitor/records/?ordering=status", "ordering", "newest first"},
		{"page_size and limit", "/api/monitor/records/?page_size=5&limit=5", "page_size", "limit"},
		{"format=csv on the dashboard", "/api/monitor/dashboard/?format=csv", "format", "takes no parameters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodGet, c.target, contract.Options{InvalidRequest: true})
			e := testutil.Decode[web.ErrorResponse](t, w)
			if w.Code != http.StatusBadRequest || e.Field != c.field || !strings.Contains(e.Error, c.want) {
				t.Errorf("%d %+v; want 400 on %s naming %q", w.Code, e, c.field, c.want)
			}
		})
	}
}

// TestPublicMonitor checks that --public-monitor serves the three
// read-only monitor URLs without a token, and nothing else.
func TestPublicMonitor(t *testing.T) {
	tokens := []auth.Token{{Name: "query", Secret: "query-secret-01234567890", Roles: []auth.Role{auth.RoleQuery}}}
	for _, public := range []bool{false, true} {
		env := apptest.New(t, apptest.Options{Query: &fakequery.Querier{}, Tokens: tokens, PublicMonitor: public})
		for _, c := range []struct {
			method, target string
			open           bool
		}{
			{"GET", "/api/monitor/dashboard/", true},
			{"GET", "/api/monitor/records/", true},
			{"GET", "/api/monitor/statistics", true},
			{"POST", "/api/monitor/clear/?until=2026-01-01", false},
			{"GET", "/api/v1/runs", false},
			{"GET", "/api/v1/health", false},
		} {
			w := contract.Call(t, env.Handler(), c.method, c.target, contract.Options{})
			want := http.StatusUnauthorized
			if public && c.open {
				want = http.StatusOK
			}
			if w.Code != want {
				t.Errorf("public=%v %s %s: %d, want %d", public, c.method, c.target, w.Code, want)
			}
		}
	}
}
