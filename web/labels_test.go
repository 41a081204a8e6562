package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/internal/apptest"
)

// TestMetricLabelsAreBounded sends what a hostile client would: made-up
// and huge methods, and paths no route serves. The HTTP metrics must keep
// a fixed set of series whatever the requests say.
func TestMetricLabelsAreBounded(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	huge := strings.Repeat("X", 64<<10)
	for _, tc := range []struct {
		name, method, path string
	}{
		{"made-up method", "BREW", "/api/v1/runs"},
		{"another made-up method", "PROPFIND", "/nowhere"},
		{"lower-case get", "get", "/healthz"},
		{"huge method", huge, "/healthz"},
		{"unmatched path", http.MethodGet, "/secret/" + strings.Repeat("a", 100)},
		{"unmatched path 2", http.MethodGet, "/other/path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Do(tc.method, tc.path, nil, nil)
		})
	}
	text := e.MetricsText(t)
	for _, bad := range []string{"BREW", "PROPFIND", `method="get"`, "XXXX", "/secret/", "/other/path"} {
		if strings.Contains(text, bad) {
			t.Errorf("/metrics carries %q from a request", bad)
		}
	}
	for _, want := range []string{
		`syncwatch_http_requests_total{code="405",method="other",route="unmatched"} 3`,
		`syncwatch_http_requests_total{code="404",method="other",route="unmatched"} 1`,
		`syncwatch_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if len(text) > 64<<10 {
		t.Errorf("/metrics is %d bytes after a few hostile requests", len(text))
	}
}
