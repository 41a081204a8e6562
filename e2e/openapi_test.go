package e2e

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/web"
	"gopkg.in/yaml.v3"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	c := contract.Must(t)
	if c.Doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", c.Doc.OpenAPI)
	}
	// Every operation has an id, a summary, and answers described.
	for path, item := range c.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: operationId and summary are required", method, path)
			}
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	// The trend report documents its regression rule.
	trends := c.Doc.Paths.Find("/api/v1/reports/trends").Get.Description
	for _, want := range []string{"1.5 times", "1 second", "0.1 below", "median", "at least 3"} {
		if !strings.Contains(trends, want) {
			t.Errorf("the trend report's description lacks %q", want)
		}
	}
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIDescribesEveryRoute compares the routes the server serves
// with the operations of the document, both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	env := apptest.New(t, apptest.Options{Query: &fakequery.Querier{}})
	var served []string
	for _, r := range env.Service.Engine().Routes() {
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	c := contract.Must(t)
	for path, item := range c.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			if protocolAnswer(op) == 0 {
				documented = append(documented, method+" "+path)
			}
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not in openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("operation %s is in openapi.yaml but not served", r)
		}
	}
}

// protocolAnswer is the status of an operation that only describes what
// HTTP answers (405, or a trailing-slash redirect), 0 for the others.
func protocolAnswer(op *openapi3.Operation) int {
	if op.Responses == nil || op.Responses.Len() != 1 {
		return 0
	}
	for _, code := range []int{http.StatusMethodNotAllowed, http.StatusMovedPermanently, http.StatusTemporaryRedirect} {
		if op.Responses.Status(code) != nil {
			return code
		}
	}
	return 0
}

// methods are those whose 405 answers the document describes.
var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

// TestOpenAPIProtocolAnswers checks the answers HTTP gives outside the
// operations: every method a path does not serve is described as a 405
// with an Allow header, every served path without a trailing slash has
// its redirect described, and the live answers match the document.
func TestOpenAPIProtocolAnswers(t *testing.T) {
	env := apptest.New(t, apptest.Options{Query: &fakequery.Querier{}, Tokens: []auth.Token{
		{Name: "q", Secret: "query-secret-0123456789", Roles: []auth.Role{auth.RoleQuery}}}})
	served := map[string][]string{}
	for _, r := range env.Service.Engine().Routes() {
		p := ginParam.ReplaceAllString(r.Path, "{$1}")
		served[p] = append(served[p], r.Method)
	}
	c := contract.Must(t)
	concrete := strings.NewReplacer("{run_id}", "run-1", "{channel}", "ops")
	for path, have := range served {
		item := c.Doc.Paths.Find(path)
		if item == nil {
			t.Errorf("%s is served but not in openapi.yaml", path)
			continue
		}
		for _, m := range methods {
			if slices.Contains(have, m) {
				continue
			}
			op := item.GetOperation(m)
			if op == nil || protocolAnswer(op) != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: the 405 answer is not in openapi.yaml", m, path)
				continue
			}
			w := contract.Call(t, env.Handler(), m, concrete.Replace(path), contract.Options{})
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
				t.Errorf("%s %s: %d, Allow %q; want 405 with Allow", m, path, w.Code, w.Header().Get("Allow"))
			}
		}
		if strings.HasSuffix(path, "/") || served[path+"/"] != nil {
			continue
		}
		slash := c.Doc.Paths.Find(path + "/")
		for _, m := range have {
			want := http.StatusTemporaryRedirect
			if m == http.MethodGet {
				want = http.StatusMovedPermanently
			}
			if slash == nil || slash.GetOperation(m) == nil || protocolAnswer(slash.GetOperation(m)) != want {
				t.Errorf("%s %s/: the %d redirect is not in openapi.yaml", m, path, want)
				continue
			}
			o := contract.Options{}
			if m == http.MethodPost {
				// What a client would send: the redirect keeps it.
				body := testutil.Report("slash")
				if strings.HasPrefix(path, "/api/v1/alerts/relay/") {
					body = `{"status":"firing","alerts":[{"labels":{"alertname":"SyncSilent"}}]}`
				}
				o = contract.Options{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
			}
			w := contract.Call(t, env.Handler(), m, concrete.Replace(path)+"/", o)
			if w.Code != want || w.Header().Get("Location") != concrete.Replace(path) {
				t.Errorf("%s %s/: %d to %q; want %d to %s", m, path, w.Code, w.Header().Get("Location"), want, path)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	env := apptest.New(t, apptest.Options{Tokens: []auth.Token{{Name: "q", Secret: "query-secret-0123456789", Roles: []auth.Role{auth.RoleQuery}}}})
	// The contract is public, even with tokens configured.
	w := contract.Call(t, env.Handler(), http.MethodGet, "/openapi.yaml", contract.Options{})
	if w.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("content type %q, want application/yaml", ct)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("served document is not YAML: %v", err)
	}
	if !bytes.Equal(w.Body.Bytes(), web.OpenAPI) {
		t.Error("the served document differs from the embedded one")
	}
}

// TestOpenAPIOperationsEndpoints validates the answers of the routes
// outside the query API: probes, health, metrics and ingest.
func TestOpenAPIOperationsEndpoints(t *testing.T) {
	env := apptest.New(t, apptest.Options{Tokens: []auth.Token{
		{Name: "ingest", Secret: "ingest-secret-0123456789", Roles: []auth.Role{auth.RoleIngest}, Sources: []string{"haier"}},
		{Name: "query", Secret: "query-secret-01234567890", Roles: []auth.Role{auth.RoleQuery}},
	}})
	h := env.Handler()
	ingest := http.Header{"Authorization": {"Bearer ingest-secret-0123456789"}, "Content-Type": {"application/json"}}
	query := http.Header{"Authorization": {"Bearer query-secret-01234567890"}}
	ndjson := http.Header{"Authorization": {"Bearer ingest-secret-0123456789"}, "Content-Type": {"application/x-ndjson"}}
	cases := []struct {
		name, method, target string
		o                    contract.Options
		want                 int
	}{
		{"healthz", "GET", "/healthz", contract.Options{}, 200},
		{"readyz", "GET", "/readyz", contract.Options{}, 200},
		{"metrics", "GET", "/metrics", contract.Options{}, 200},
		{"openmetrics", "GET", "/metrics", contract.Options{Header: http.Header{"Accept": {"application/openmetrics-text; version=1.0.0"}}}, 200},
		{"health", "GET", "/api/v1/health", contract.Options{Header: query}, 200},
		{"health without a token", "GET", "/api/v1/health", contract.Options{}, 401},
		{"health with an ingest token", "GET", "/api/v1/health", contract.Options{Header: ingest}, 403},
		{"ingest one", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte(testutil.Report("oa-1"))}, 202},
		{"ingest an array", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte("[" + testutil.Report("oa-2") + "," + testutil.Report("oa-3", "status", "failed") + "]")}, 202},
		{"ingest a duplicate", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte(testutil.Report("oa-1"))}, 202},
		{"ingest ndjson", "POST", "/api/v1/runs", contract.Options{Header: ndjson, Body: []byte(testutil.Report("oa-4") + "\n" + testutil.Report("oa-5") + "\n")}, 202},
		{"ingest an invalid item", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte(testutil.Report("oa-6", "status", "exploded")), InvalidRequest: true}, 400},
		{"ingest a malformed body", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte("{"), InvalidRequest: true}, 400},
		{"ingest another source", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: []byte(testutil.Report("oa-7", "source", "midea"))}, 403},
		{"ingest without a token", "POST", "/api/v1/runs", contract.Options{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(testutil.Report("oa-8"))}, 401},
		{"ingest with a query token", "POST", "/api/v1/runs", contract.Options{Header: http.Header{"Authorization": query["Authorization"], "Content-Type": {"application/json"}}, Body: []byte(testutil.Report("oa-9"))}, 403},
		{"ingest text", "POST", "/api/v1/runs", contract.Options{Header: http.Header{"Authorization": ingest["Authorization"], "Content-Type": {"text/plain"}}, Body: []byte("x"), InvalidRequest: true}, 415},
		{"ingest too much", "POST", "/api/v1/runs", contract.Options{Header: ingest, Body: bytes.Repeat([]byte(" "), 11<<20), InvalidRequest: true}, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, h, c.method, c.target, c.o)
			if w.Code != c.want {
				t.Errorf("%s %s: %d, want %d: %s", c.method, c.target, w.Code, c.want, w.Body.String())
			}
		})
	}
	t.Run("spool full", func(t *testing.T) {
		probe := apptest.New(t, apptest.Options{})
		probe.Post(testutil.Report("oa-probe"))
		entry := probe.Spool.Stats().Bytes
		env := apptest.New(t, apptest.Options{SpoolBytes: entry + entry/2})
		env.Post(testutil.Report("oa-first"))
		w := contract.Call(t, env.Handler(), "POST", "/api/v1/runs", contract.Options{
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(testutil.Report("oa-full"))})
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%d, want 503: %s", w.Code, w.Body.String())
		}
	})
	t.Run("larger than the spool", func(t *testing.T) {
		env := apptest.New(t, apptest.Options{SpoolBytes: 1})
		w := contract.Call(t, env.Handler(), "POST", "/api/v1/runs", contract.Options{
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(testutil.Report("oa-huge"))})
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%d, want 413: %s", w.Code, w.Body.String())
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		env := apptest.New(t, apptest.Options{Rate: 0.001, Tokens: []auth.Token{{Name: "q", Secret: "query-secret-0123456789", Roles: []auth.Role{auth.RoleQuery}}}})
		hdr := http.Header{"Authorization": {"Bearer query-secret-0123456789"}}
		codes := []int{}
		for range 3 {
			codes = append(codes, contract.Call(t, env.Handler(), "GET", "/api/v1/health", contract.Options{Header: hdr}).Code)
		}
		if codes[len(codes)-1] != http.StatusTooManyRequests {
			t.Errorf("codes %v, want a 429 at the end", codes)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		env := apptest.New(t, apptest.Options{})
		env.Fake.Down.Store(true)
		for _, p := range []string{"/readyz", "/api/v1/health"} {
			if w := contract.Call(t, env.Handler(), "GET", p, contract.Options{}); w.Code != http.StatusServiceUnavailable {
				t.Errorf("%s: %d, want 503", p, w.Code)
			}
		}
	})
}
