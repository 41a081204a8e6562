package e2e

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
)

const (
	clearAdminToken  = "admin-secret-for-clear-01"
	clearQueryToken  = "query-secret-for-clear-01"
	clearIngestToken = "ingest-secret-for-clear-1"
)

// clearEnv is a server on a store of its own holding a small dataset,
// with ingest, query and admin tokens.
func clearEnv(t *testing.T) (*apptest.Env, *qaData) {
	t.Helper()
	st := apptest.NewRealStore(t)
	env := apptest.New(t, apptest.Options{Storage: st, Tokens: []auth.Token{
		{Name: "admin", Secret: clearAdminToken, Roles: []auth.Role{auth.RoleAdmin}},
		{Name: "query", Secret: clearQueryToken, Roles: []auth.Role{auth.RoleQuery}},
		{Name: "ingest", Secret: clearIngestToken, Roles: []auth.Role{auth.RoleIngest}},
	}, Query: st})
	d := generateQA(7, 80, time.Now().UTC().Truncate(time.Millisecond))
	// Every run goes straight to the store, each batch twice: a retried
	// delivery must not change what a clear counts.
	received := time.Now().UTC().Add(-time.Minute)
	var batches [2][]synclog.Report
	for _, r := range d.runs {
		r.omitStart = false
		for i, s := range r.reports {
			batches[i] = append(batches[i], r.report(s, i, received.Add(time.Duration(i)*time.Millisecond)))
		}
	}
	for _, b := range batches {
		for range 2 {
			if err := st.InsertReports(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return env, d
}

// clear posts a clear request, checked against the contract.
func clear(t *testing.T, env *apptest.Env, path, query string, o contract.Options) *httpResult {
	t.Helper()
	w := contract.Call(t, env.Handler(), http.MethodPost, path+"?"+query, o)
	return &httpResult{code: w.Code, body: w.Body.Bytes()}
}

type httpResult struct {
	code int
	body []byte
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// listIDs returns the ids of every stored run, newest first.
func listIDs(t *testing.T, env *apptest.Env) []string {
	t.Helper()
	w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?limit=1000", contract.Options{Header: bearerHeader(clearQueryToken)})
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body.String())
	}
	var out []string
	for _, r := range testutil.Decode[api.RunsPage](t, w).Runs {
		out = append(out, r.RunID)
	}
	return out
}

func TestMonitorClear(t *testing.T) {
	env, d := clearEnv(t)
	all := ids(d.list(qaFilter{}))
	if got := listIDs(t, env); !slices.Equal(got, all) {
		t.Fatalf("stored %d runs, generated %d", len(got), len(all))
	}
	cut := d.now.Add(-72 * time.Hour)
	until := url.QueryEscape(cut.Format(time.RFC3339Nano))
	admin := bearerHeader(clearAdminToken)

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			query string
			o     contract.Options
			want  int
			field string
		}{
			{"without a token", "until=" + until, contract.Options{}, 401, ""},
			{"with a query token", "until=" + until, contract.Options{Header: bearerHeader(clearQueryToken)}, 403, ""},
			{"with an ingest token", "until=" + until, contract.Options{Header: bearerHeader(clearIngestToken)}, 403, ""},
			{"without an upper bound", "sync_type=products", contract.Options{Header: admin, InvalidRequest: true}, 400, "until"},
			{"with only a lower bound", "since=" + until, contract.Options{Header: admin, InvalidRequest: true}, 400, "until"},
			{"with a blank dry_run", "until=" + until + "&dry_run=", contract.Options{Header: admin, InvalidRequest: true}, 400, "dry_run"},
			{"with a bad dry_run", "until=" + until + "&dry_run=maybe", contract.Options{Header: admin, InvalidRequest: true}, 400, "dry_run"},
			{"with a bad until", "until=soon", contract.Options{Header: admin}, 400, "until"},
			{"with an unknown status", "until=" + until + "&status=gone", contract.Options{Header: admin}, 400, "status"},
			{"with an unknown parameter", "until=" + until + "&older_than=3d", contract.Options{Header: admin, InvalidRequest: true}, 400, "older_than"},
			{"with a JSON body", "", contract.Options{Header: http.Header{"Authorization": admin["Authorization"], "Content-Type": {"application/json"}},
				Body: []byte(`{"until":"2026-01-01"}`), InvalidRequest: true}, 415, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := clear(t, env, "/api/monitor/clear/", c.query, c.o)
				if r.code != c.want {
					t.Fatalf("%d, want %d: %s", r.code, c.want, r.body)
				}
				if c.field != "" {
					if e := qaDecode[web.ErrorResponse](t, r.body); e.Field != c.field {
						t.Errorf("field %q, want %q: %s", e.Field, c.field, e.Error)
					}
				}
			})
		}
		if got := listIDs(t, env); !slices.Equal(got, all) {
			t.Fatalf("refused clears changed the store: %d runs, want %d", len(got), len(all))
		}
	})

	// What the clear selects: products and stock runs that failed, ended
	// partially or are still pending, started before the cut.
	f := qaFilter{types: []string{"products", "stock"}, statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial, synclog.StatusPending}, until: cut}
	selected := d.list(f)
	var reports uint64
	for _, r := range selected {
		reports += uint64(len(r.reports))
	}
	if len(selected) == 0 {
		t.Fatal("the dataset has nothing for the clear to select")
	}
	query := "sync_type=products,stock&status=failed&status=partial,pending&until=" + until

	var dry api.ClearResponse
	t.Run("dry run", func(t *testing.T) {
		r := clear(t, env, "/api/monitor/clear/", query+"&dry_run=true", contract.Options{Header: admin})
		if r.code != http.StatusOK {
			t.Fatalf("%d %s", r.code, r.body)
		}
		dry = qaDecode[api.ClearResponse](t, r.body)
		if !dry.DryRun || dry.Runs != uint64(len(selected)) || dry.Reports != reports {
			t.Errorf("dry run: %+v; want %d runs, %d reports", dry, len(selected), reports)
		}
		if !slices.Equal(dry.Filter.SyncTypes, []string{"products", "stock"}) || len(dry.Filter.Statuses) != 3 || !dry.Filter.Until.Equal(cut) || dry.Filter.Since != nil {
			t.Errorf("filter %+v", dry.Filter)
		}
		if got := listIDs(t, env); !slices.Equal(got, all) {
			t.Fatalf("the dry run changed the store")
		}
		// The same in a form body, without the trailing slash.
		r = clear(t, env, "/api/monitor/clear", "", contract.Options{Header: http.Header{
			"Authorization": admin["Authorization"], "Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(query + "&dry_run=1")})
		if r.code != http.StatusOK {
			t.Fatalf("form: %d %s", r.code, r.body)
		}
		if again := qaDecode[api.ClearResponse](t, r.body); again.Runs != dry.Runs || again.Reports != dry.Reports || !again.DryRun {
			t.Errorf("form dry run %+v, want %+v", again, dry)
		}
	})

	t.Run("clear", func(t *testing.T) {
		// A clear deletes only when asked to in so many words.
		r := clear(t, env, "/api/monitor/clear/", query+"&confirm=true", contract.Options{Header: admin})
		if r.code != http.StatusOK {
			t.Fatalf("%d %s", r.code, r.body)
		}
		res := qaDecode[api.ClearResponse](t, r.body)
		if res.DryRun || res.Runs != dry.Runs || res.Reports != dry.Reports {
			t.Errorf("clear %+v, dry run said %+v", res, dry)
		}
		var want []string
		for _, id := range all {
			if !f.match(d.byID[id]) {
				want = append(want, id)
			}
		}
		if got := listIDs(t, env); !slices.Equal(got, want) {
			t.Errorf("after the clear %d runs remain, want %d", len(got), len(want))
		}
		w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs/"+selected[0].id, contract.Options{Header: bearerHeader(clearQueryToken)})
		if w.Code != http.StatusNotFound {
			t.Errorf("a cleared run answers %d", w.Code)
		}
		// Nothing is left to clear.
		r = clear(t, env, "/api/monitor/clear/", query+"&dry_run=true", contract.Options{Header: admin})
		if again := qaDecode[api.ClearResponse](t, r.body); again.Runs != 0 || again.Reports != 0 {
			t.Errorf("a second dry run finds %+v", again)
		}
	})

	t.Run("logged and counted", func(t *testing.T) {
		if got := clearsCounted(t, env, "true"); got != 3 {
			t.Errorf("dry runs counted %v, want 3", got)
		}
		if got := clearsCounted(t, env, "false"); got != 1 {
			t.Errorf("clears counted %v, want 1", got)
		}
		var logged []map[string]any
		for _, l := range env.Logs.Lines(t) {
			if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "monitor clear") {
				logged = append(logged, l)
			}
		}
		if len(logged) != 4 {
			t.Fatalf("%d clear log lines, want 4", len(logged))
		}
		last := logged[2]
		if last["token"] != "admin" || last["request_id"] == "" || last["dry_run"] != false ||
			last["runs"] != float64(dry.Runs) || last["reports"] != float64(dry.Reports) || last["level"] != "warning" {
			t.Errorf("clear log line %v", last)
		}
		filter, _ := last["filter"].(map[string]any)
		if filter == nil || filter["until"] == nil || len(filter["sync_types"].([]any)) != 2 {
			t.Errorf("logged filter %v", last["filter"])
		}
	})
}

// clearsCounted returns syncwatch_monitor_clears_total{dry_run} as the
// registry gathers it.
func clearsCounted(t *testing.T, env *apptest.Env, dryRun string) float64 {
	t.Helper()
	families, err := env.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "syncwatch_monitor_clears_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "dry_run" && l.GetValue() == dryRun {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("syncwatch_monitor_clears_total{dry_run=%q} is not registered", dryRun)
	return 0
}
