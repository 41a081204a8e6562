// Package contract checks requests and answers against syncwatch's OpenAPI
// document (web/openapi.yaml), for the tests of the HTTP service.
package contract

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/syncwatch/syncwatch/web"
)

// Contract is the OpenAPI document and a router over it, loaded once.
type Contract struct {
	Doc    *openapi3.T
	Router routers.Router
}

var loadContract = sync.OnceValues(func() (*Contract, error) {
	// Bodies the document declares beside JSON, CSV and YAML are text.
	for _, ct := range []string{"text/markdown", "application/openmetrics-text", "application/x-ndjson"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	doc, err := openapi3.NewLoader().LoadFromData(web.OpenAPI)
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
	return &Contract{Doc: doc, Router: r}, nil
})

// Must returns the contract and fails the test when it does not load.
func Must(t testing.TB) *Contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return c
}

// Options adjust Call.
type Options struct {
	// InvalidRequest skips the validation of the request, for tests that
	// send what the contract forbids on purpose.
	InvalidRequest bool
	Header         http.Header
	Body           []byte
}

// Call serves a request with h and checks both the request (unless
// it is meant to be invalid) and the response against openapi.yaml: the
// route must be documented and the answer's status, headers and body must
// match the contract.
func Call(t testing.TB, h http.Handler, method, target string, o Options) *httptest.ResponseRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	newReq := func() *http.Request {
		req := httptest.NewRequest(method, "http://syncwatch.test/", bytes.NewReader(o.Body))
		req.URL = u
		req.RequestURI = u.RequestURI()
		for k, v := range o.Header {
			req.Header[k] = v
		}
		return req
	}
	w := httptest.NewRecorder()
	served := newReq()
	// The service answers loopback Host names only when it is open (no
	// tokens): the request comes to it as a local client's would, or
	// with the Host the test gives.
	served.Host = "localhost"
	if h := o.Header.Get("Host"); h != "" {
		served.Host = h
	}
	h.ServeHTTP(w, served)
	Validate(t, newReq(), w, o)
	return w
}

// Validate checks a served request and its response against the
// contract.
func Validate(t testing.TB, req *http.Request, w *httptest.ResponseRecorder, o Options) {
	t.Helper()
	c := Must(t)
	route, params, err := c.Router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if !o.InvalidRequest {
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
