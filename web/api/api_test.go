package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
)

func TestQueryBadParameters(t *testing.T) {
	// Parameters are checked before any query: a store that fails every
	// query shows that none is run.
	fq := &fakequery.Querier{Err: errors.New("no query should run")}
	env := apptest.New(t, apptest.Options{Query: fq})
	for _, c := range api.BadParams {
		t.Run(c.Name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodGet, c.Target, contract.Options{InvalidRequest: true})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%d, want 400: %s", w.Code, w.Body.String())
			}
			e := testutil.Decode[web.ErrorResponse](t, w)
			if e.Field != c.Field || !strings.Contains(e.Error, c.WantIn) {
				t.Errorf("field %q error %q; want field %q and %q in the error", e.Field, e.Error, c.Field, c.WantIn)
			}
		})
	}
	if n := fq.Calls.Load(); n != 0 {
		t.Errorf("%d queries ran for bad parameters", n)
	}
	t.Run("configured sync types", func(t *testing.T) {
		env := apptest.New(t, apptest.Options{Ingest: collector.Config{SyncTypes: synclog.MustSyncTypes([]string{"invoices", "payments"})},
			Query: &fakequery.Querier{}})
		w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?sync_type=products", contract.Options{})
		if e := testutil.Decode[web.ErrorResponse](t, w); w.Code != 400 || !strings.Contains(e.Error, "allowed are invoices, payments") {
			t.Errorf("%d %+v", w.Code, e)
		}
		if w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?sync_type=payments", contract.Options{}); w.Code != 200 {
			t.Errorf("a configured type: %d", w.Code)
		}
	})
}

func TestQueryAuth(t *testing.T) {
	env := apptest.New(t, apptest.Options{Tokens: []auth.Token{
		{Name: "ingest", Secret: "ingest-secret-0123456789", Roles: []auth.Role{auth.RoleIngest}},
		{Name: "query", Secret: "query-secret-01234567890", Roles: []auth.Role{auth.RoleQuery}},
		{Name: "admin", Secret: "admin-secret-01234567890", Roles: []auth.Role{auth.RoleAdmin}},
	}, Query: &fakequery.Querier{}})
	targets := []string{"/api/v1/runs", "/api/v1/runs/x", "/api/v1/stats", "/api/v1/reports/daily", "/api/v1/reports/errors",
		"/api/v1/reports/trends", "/api/monitor/dashboard/", "/api/monitor/records/", "/api/monitor/statistics/", "/api/monitor/records"}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			for _, c := range []struct {
				token string
				want  []int
			}{
				{"", []int{401}},
				{"wrong-secret-0123456789", []int{401}},
				{"ingest-secret-0123456789", []int{403}},
				{"query-secret-01234567890", []int{200, 404}},
				{"admin-secret-01234567890", []int{200, 404}},
			} {
				h := http.Header{}
				if c.token != "" {
					h.Set("Authorization", "Bearer "+c.token)
				}
				w := contract.Call(t, env.Handler(), http.MethodGet, target, contract.Options{Header: h})
				if !slices.Contains(c.want, w.Code) {
					t.Errorf("token %q: %d, want %v", c.token, w.Code, c.want)
				}
			}
		})
	}
}

func TestQueryStoreFailures(t *testing.T) {
	env := apptest.New(t, apptest.Options{Query: &fakequery.Querier{Err: errors.New("code: 241, memory limit exceeded")}})
	for _, target := range []string{"/api/v1/runs", "/api/v1/runs/x", "/api/v1/stats", "/api/v1/reports/daily", "/api/v1/reports/errors", "/api/v1/reports/trends"} {
		w := contract.Call(t, env.Handler(), http.MethodGet, target, contract.Options{})
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "memory") {
			t.Errorf("%s: %d %s; want 500 without the store's error", target, w.Code, w.Body.String())
		}
	}
	w := contract.Call(t, env.Handler(), http.MethodGet, "/api/monitor/dashboard/", contract.Options{})
	if w.Code != http.StatusServiceUnavailable || testutil.Decode[api.DashboardUnavailable](t, w).Health.Status == "" {
		t.Errorf("dashboard: %d %s", w.Code, w.Body.String())
	}
	env2 := apptest.New(t, apptest.Options{Query: &fakequery.Querier{Err: fmt.Errorf("query: %w", context.DeadlineExceeded)}})
	if w := contract.Call(t, env2.Handler(), http.MethodGet, "/api/v1/stats", contract.Options{}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a timed-out query: %d", w.Code)
	}
	if err := env2.Service.API.Register(env2.Service.Engine()); err == nil {
		t.Error("registering the query API twice did not fail")
	}
}
