package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"gopkg.in/yaml.v3"
)

// contract is the OpenAPI document and a router over it, loaded once.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	// Bodies the document declares beside JSON, CSV and YAML are text.
	for _, ct := range []string{"text/markdown", "application/openmetrics-text", "application/x-ndjson"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: r}, nil
})

func mustContract(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return c
}

// callOptions adjust apiCall.
type callOptions struct {
	// invalidRequest skips the validation of the request, for tests that
	// send what the contract forbids on purpose.
	invalidRequest bool
	header         http.Header
	body           []byte
}

// apiCall serves a request with h and checks both the request (unless
// it is meant to be invalid) and the response against openapi.yaml: the
// route must be documented and the answer's status, headers and body must
// match the contract.
func apiCall(t testing.TB, h http.Handler, method, target string, o callOptions) *httptest.ResponseRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	newReq := func() *http.Request {
		req := httptest.NewRequest(method, "http://syncwatch.test/", bytes.NewReader(o.body))
		req.URL = u
		req.RequestURI = u.RequestURI()
		for k, v := range o.header {
			req.Header[k] = v
		}
		return req
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newReq())
	validateCall(t, newReq(), w, o)
	return w
}

// validateCall checks a served request and its response against the
// contract.
func validateCall(t testing.TB, req *http.Request, w *httptest.ResponseRecorder, o callOptions) {
	t.Helper()
	c := mustContract(t)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if !o.invalidRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("request %s %s does not match openapi.yaml: %v", req.Method, req.URL, err)
		}
	}
	res := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 w.Code,
		Header:                 w.Header(),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	res.SetBodyBytes(w.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), res); err != nil {
		t.Errorf("response %d to %s %s does not match openapi.yaml: %v\nbody: %.600s", w.Code, req.Method, req.URL, err, w.Body.String())
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	c := mustContract(t)
	if c.doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", c.doc.OpenAPI)
	}
	// Every operation has an id, a summary, and answers described.
	for path, item := range c.doc.Paths.Map() {
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
	trends := c.doc.Paths.Find("/api/v1/reports/trends").Get.Description
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
	env := newEnv(t, envOptions{})
	if err := env.srv.RegisterQueryAPI(&fakeQuerier{}, env.reg); err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range env.srv.Engine().Routes() {
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	c := mustContract(t)
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
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

func TestOpenAPIServed(t *testing.T) {
	env := newEnv(t, envOptions{tokens: []Token{{Name: "q", Secret: "query-secret-0123456789", Roles: []Role{RoleQuery}}}})
	// The contract is public, even with tokens configured.
	w := apiCall(t, env.srv.Handler(), http.MethodGet, "/openapi.yaml", callOptions{})
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
	if !bytes.Equal(w.Body.Bytes(), OpenAPI) {
		t.Error("the served document differs from the embedded one")
	}
}

// TestOpenAPIOperationsEndpoints validates the answers of the routes
// outside the query API: probes, health, metrics and ingest.
func TestOpenAPIOperationsEndpoints(t *testing.T) {
	env := newEnv(t, envOptions{tokens: []Token{
		{Name: "ingest", Secret: "ingest-secret-0123456789", Roles: []Role{RoleIngest}, Sources: []string{"haier"}},
		{Name: "query", Secret: "query-secret-01234567890", Roles: []Role{RoleQuery}},
	}})
	h := env.srv.Handler()
	ingest := http.Header{"Authorization": {"Bearer ingest-secret-0123456789"}, "Content-Type": {"application/json"}}
	query := http.Header{"Authorization": {"Bearer query-secret-01234567890"}}
	ndjson := http.Header{"Authorization": {"Bearer ingest-secret-0123456789"}, "Content-Type": {"application/x-ndjson"}}
	cases := []struct {
		name, method, target string
		o                    callOptions
		want                 int
	}{
		{"healthz", "GET", "/healthz", callOptions{}, 200},
		{"readyz", "GET", "/readyz", callOptions{}, 200},
		{"metrics", "GET", "/metrics", callOptions{}, 200},
		{"openmetrics", "GET", "/metrics", callOptions{header: http.Header{"Accept": {"application/openmetrics-text; version=1.0.0"}}}, 200},
		{"health", "GET", "/api/v1/health", callOptions{header: query}, 200},
		{"health without a token", "GET", "/api/v1/health", callOptions{}, 401},
		{"health with an ingest token", "GET", "/api/v1/health", callOptions{header: ingest}, 403},
		{"ingest one", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte(report("oa-1"))}, 202},
		{"ingest an array", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte("[" + report("oa-2") + "," + report("oa-3", "status", "failed") + "]")}, 202},
		{"ingest a duplicate", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte(report("oa-1"))}, 202},
		{"ingest ndjson", "POST", "/api/v1/runs", callOptions{header: ndjson, body: []byte(report("oa-4") + "\n" + report("oa-5") + "\n")}, 202},
		{"ingest an invalid item", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte(report("oa-6", "status", "exploded")), invalidRequest: true}, 400},
		{"ingest a malformed body", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte("{"), invalidRequest: true}, 400},
		{"ingest another source", "POST", "/api/v1/runs", callOptions{header: ingest, body: []byte(report("oa-7", "source", "midea"))}, 403},
		{"ingest without a token", "POST", "/api/v1/runs", callOptions{header: http.Header{"Content-Type": {"application/json"}}, body: []byte(report("oa-8"))}, 401},
		{"ingest with a query token", "POST", "/api/v1/runs", callOptions{header: http.Header{"Authorization": query["Authorization"], "Content-Type": {"application/json"}}, body: []byte(report("oa-9"))}, 403},
		{"ingest text", "POST", "/api/v1/runs", callOptions{header: http.Header{"Authorization": ingest["Authorization"], "Content-Type": {"text/plain"}}, body: []byte("x"), invalidRequest: true}, 415},
		{"ingest too much", "POST", "/api/v1/runs", callOptions{header: ingest, body: bytes.Repeat([]byte(" "), 11<<20), invalidRequest: true}, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := apiCall(t, h, c.method, c.target, c.o)
			if w.Code != c.want {
				t.Errorf("%s %s: %d, want %d: %s", c.method, c.target, w.Code, c.want, w.Body.String())
			}
		})
	}
	t.Run("spool full", func(t *testing.T) {
		env := newEnv(t, envOptions{spoolBytes: 1})
		w := apiCall(t, env.srv.Handler(), "POST", "/api/v1/runs", callOptions{
			header: http.Header{"Content-Type": {"application/json"}}, body: []byte(report("oa-full"))})
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%d, want 503: %s", w.Code, w.Body.String())
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		env := newEnv(t, envOptions{rate: 0.001, tokens: []Token{{Name: "q", Secret: "query-secret-0123456789", Roles: []Role{RoleQuery}}}})
		hdr := http.Header{"Authorization": {"Bearer query-secret-0123456789"}}
		codes := []int{}
		for range 3 {
			codes = append(codes, apiCall(t, env.srv.Handler(), "GET", "/api/v1/health", callOptions{header: hdr}).Code)
		}
		if codes[len(codes)-1] != http.StatusTooManyRequests {
			t.Errorf("codes %v, want a 429 at the end", codes)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		env := newEnv(t, envOptions{})
		env.fake.down.Store(true)
		for _, p := range []string{"/readyz", "/api/v1/health"} {
			if w := apiCall(t, env.srv.Handler(), "GET", p, callOptions{}); w.Code != http.StatusServiceUnavailable {
				t.Errorf("%s: %d, want 503", p, w.Code)
			}
		}
	})
}
