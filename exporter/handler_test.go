package exporter_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/synclog"
)

// Accept headers of each exposition format.
var acceptFormats = []struct{ name, accept string }{
	{"text", "text/plain;version=0.0.4"},
	// What Prometheus 3 sends.
	{"openmetrics", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"},
	{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,text/plain;q=0.1"},
}

// handlerFixture is the collector served by its Handler beside a registry
// of live instruments, and what promhttp serves of the same: a registry
// holding both.
type handlerFixture struct {
	clock   *clock
	ds      *exportertest.Dataset
	diag    *fakeDiagnostics
	counter *prometheus.CounterVec
	served  http.Handler
	plain   http.Handler
}

func newHandlerFixture(t *testing.T) *handlerFixture {
	t.Helper()
	f := &handlerFixture{
		clock: &clock{now: testNow},
		ds: exportertest.Generate(exportertest.Options{Seed: 16, Runs: 1500, Now: testNow, Span: 48 * time.Hour, SyncTypes: testTypes,
			Sources: []string{"haier", "acme", "zeta", "midea", "gree", "tcl", "hisense", "oppo"}}),
		diag: &fakeDiagnostics{states: []exporter.DiagnosticState{
			{Source: "haier", SyncType: "stock", Detected: map[string]int{"regression": 1}, Ongoing: map[string]bool{"regression": true},
				FailureBaseline: 0.01, ConsecutiveThreshold: 2,
				Forecasts: map[string]map[string]float64{"duration_p95_seconds": {"7d": 42, "30d": 60}},
				Overrun:   map[string]time.Duration{"max_runtime": 36 * time.Hour}},
		}},
	}
	// The live part: the Go and process collectors, and instruments
	// changed between scrapes.
	live := prometheus.NewPedanticRegistry()
	live.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, err := exporter.NewIngest(live, testTypes, exporter.NewSourceLimiter(0)); err != nil {
		t.Fatal(err)
	}
	f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_requests_total", Help: "Requests."}, []string{"code"})
	live.MustRegister(f.counter)
	c, err := exporter.New(exportertest.Model{DS: f.ds}, exporter.Config{
		SyncTypes: testTypes, Now: f.clock.Now, Diagnostics: f.diag,
		ExpectedIntervals: exporter.MergeDurations(exporter.DefaultExpectedIntervals(), nil, testTypes),
		MaxRuntimes:       exporter.MergeDurations(exporter.DefaultMaxRuntimes(), nil, testTypes),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	whole := prometheus.NewPedanticRegistry()
	whole.MustRegister(c)
	opts := promhttp.HandlerOpts{EnableOpenMetrics: true}
	f.served = c.WrapHandler(c.Handler(live, opts), "")
	f.plain = promhttp.HandlerFor(prometheus.Gatherers{live, whole}, opts)
	return f
}

// get serves a request with the headers to h.
func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// exposition is a parsed answer: its families in order, their types and
// help, and its samples by series.
type exposition struct {
	families []string
	meta     map[string]string
	samples  map[string]float64
}

// parse decodes an answer (gzip: one member, nothing after it) and parses
// it with Prometheus's own parser of its content type.
func parse(t *testing.T, rec *httptest.ResponseRecorder) exposition {
	t.Helper()
	e, err := parseErr(rec)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// parseErr is parse for goroutines other than the test's.
func parseErr(rec *httptest.ResponseRecorder) (exposition, error) {
	e := exposition{meta: map[string]string{}, samples: map[string]float64{}}
	if rec.Code != http.StatusOK {
		return e, fmt.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		r := bytes.NewReader(body)
		z, err := gzip.NewReader(r)
		if err != nil {
			return e, err
		}
		z.Multistream(false)
		if body, err = io.ReadAll(z); err != nil {
			return e, fmt.Errorf("gunzip: %w", err)
		}
		if r.Len() != 0 {
			return e, fmt.Errorf("%d bytes after the gzip member", r.Len())
		}
	}
	p, err := textparse.New(body, rec.Header().Get("Content-Type"), labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		return e, err
	}
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return e, nil
		}
		if err != nil {
			return e, fmt.Errorf("parse: %w", err)
		}
		switch entry {
		case textparse.EntryType:
			name, typ := p.Type()
			e.families = append(e.families, string(name))
			e.meta[string(name)+" type"] = string(typ)
		case textparse.EntryHelp:
			name, help := p.Help()
			e.meta[string(name)+" help"] = string(help)
		case textparse.EntrySeries:
			var l labels.Labels
			p.Labels(&l)
			_, _, v := p.Series()
			if _, dup := e.samples[l.String()]; dup {
				return e, fmt.Errorf("series %s twice", l)
			}
			e.samples[l.String()] = v
		}
	}
}

// varying reports whether a series changes from one gathering to the
// next whatever the cache: the Go runtime's and the process's.
func varying(series string) bool {
	name := strings.TrimPrefix(series, `{__name__="`)
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
}

// compare checks that got has the families, metadata and series of want,
// and the same values but for the varying series.
func compare(t *testing.T, got, want exposition) {
	t.Helper()
	if !slices.Equal(got.families, want.families) {
		t.Errorf("families:\n got %v\nwant %v", got.families, want.families)
	}
	for k, v := range want.meta {
		if got.meta[k] != v {
			t.Errorf("%s: got %q, want %q", k, got.meta[k], v)
		}
	}
	for s, v := range want.samples {
		g, ok := got.samples[s]
		switch {
		case !ok:
			t.Errorf("missing %s", s)
		case !varying(s) && g != v && !(g != g && v != v):
			t.Errorf("%s = %v, want %v", s, g, v)
		}
	}
	for s := range got.samples {
		if _, ok := want.samples[s]; !ok {
			t.Errorf("extra %s", s)
		}
	}
}

// TestHandlerServesWhatPromhttpServes checks, in every format and
// encoding, that the handler's answer parses with Prometheus's parsers,
// carries promhttp's headers, and holds the families and series promhttp
// serves from a registry holding the collector and the live instruments,
// before and after a refresh changes the cached values.
func TestHandlerServesWhatPromhttpServes(t *testing.T) {
	f := newHandlerFixture(t)
	check := func(t *testing.T) (samples int) {
		for _, format := range acceptFormats {
			for _, enc := range []string{"gzip", "identity"} {
				t.Run(format.name+"/"+enc, func(t *testing.T) {
					f.counter.WithLabelValues("200").Inc()
					got := get(f.served, "/metrics", "Accept", format.accept, "Accept-Encoding", enc)
					want := get(f.plain, "/metrics", "Accept", format.accept, "Accept-Encoding", enc)
					for _, h := range []string{"Content-Type", "Content-Encoding", "Vary"} {
						if !slices.Equal(got.Header().Values(h), want.Header().Values(h)) {
							t.Errorf("%s: got %q, want %q", h, got.Header().Values(h), want.Header().Values(h))
						}
					}
					g := parse(t, got)
					compare(t, g, parse(t, want))
					if v := g.samples[`{__name__="test_requests_total", code="200"}`]; v == 0 {
						t.Error("the live counter is not served")
					}
					samples = len(g.samples)
				})
			}
		}
		return samples
	}
	n := check(t)
	if n < 500 {
		t.Fatalf("only %d samples: the dataset does not exercise the cache", n)
	}
	// A new run, a new diagnosis and later: the next scrape refreshes,
	// and must serve the new values, not the encodings of the old ones.
	f.ds.Runs = append(f.ds.Runs, run("new", "haier", "stock", testNow.Add(5*time.Minute), synclog.StatusFailed, 3, 0, 0))
	f.diag.mu.Lock()
	f.diag.states[0].Detected["regression"] = 7
	f.diag.mu.Unlock()
	f.clock.Add(10 * time.Minute)
	t.Run("after a refresh", func(t *testing.T) {
		check(t)
		e := parse(t, get(f.served, "/metrics"))
		if v := e.samples[`{__name__="syncwatch_anomaly_detected", kind="regression", source="haier", sync_type="stock"}`]; v != 7 {
			t.Errorf("anomaly detected = %v after the refresh, want 7", v)
		}
	})
}

// TestHandlerNegotiatesAsPromhttp checks the headers and status of
// answers to unusual Accept and Accept-Encoding headers, and a name[]
// filter, against promhttp's, behind a middleware that sets Vary.
func TestHandlerNegotiatesAsPromhttp(t *testing.T) {
	f := newHandlerFixture(t)
	for _, tc := range []struct{ name, target, accept, encoding string }{
		{"no headers", "/metrics", "", ""},
		{"wildcard encoding", "/metrics", "", "*"},
		{"gzip refused", "/metrics", "", "gzip;q=0, identity"},
		{"identity refused", "/metrics", "", "identity;q=0"},
		{"unknown encoding", "/metrics", "", "br"},
		{"zstd preferred", "/metrics", "", "zstd, gzip;q=0.5"},
		{"weights", "/metrics", "", "identity;q=0.9, gzip;q=0.8"},
		{"openmetrics 0.0.1", "/metrics", "application/openmetrics-text;version=0.0.1", "gzip"},
		{"text with underscores", "/metrics", "text/plain;version=1.0.0;escaping=underscores", "gzip"},
		{"protobuf text", "/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", ""},
		{"name filter", "/metrics?name[]=syncwatch_window_runs&name[]=test_requests_total", "", "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(varyOrigin(f.served), tc.target, "Accept", tc.accept, "Accept-Encoding", tc.encoding)
			want := get(varyOrigin(f.plain), tc.target, "Accept", tc.accept, "Accept-Encoding", tc.encoding)
			if got.Code != want.Code {
				t.Fatalf("status %d, promhttp's %d", got.Code, want.Code)
			}
			for _, h := range []string{"Content-Type", "Content-Encoding", "Vary"} {
				if !slices.Equal(got.Header().Values(h), want.Header().Values(h)) {
					t.Errorf("%s: got %q, want %q", h, got.Header().Values(h), want.Header().Values(h))
				}
			}
			if ct := want.Header().Get("Content-Type"); strings.Contains(ct, "encoding=text") {
				return // the protobuf text format has no parser in Prometheus
			}
			compare(t, parse(t, got), parse(t, want))
		})
	}
}

// varyOrigin is a middleware that varies its answers by Origin, as CORS
// middleware does: the handlers add to Vary.
func varyOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		h.ServeHTTP(w, r)
	})
}

// TestHandlerRefusesTheCollectorTwice checks that a gatherer already
// holding the collector is a gathering error, as promhttp makes it of
// prometheus.Gatherers with the same family twice.
func TestHandlerRefusesTheCollectorTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := exporter.New(exportertest.Model{DS: handDataset()}, exporter.Config{SyncTypes: testTypes, Now: (&clock{now: testNow}).Now}, reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := get(c.WrapHandler(c.Handler(reg, promhttp.HandlerOpts{}), ""), "/metrics")
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "gathered twice") {
		t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
	}
}

// TestHandlerConcurrentScrapes scrapes in every format at once while
// refreshes replace the cache (run it with -race): every answer parses,
// with the families of the first in its format.
func TestHandlerConcurrentScrapes(t *testing.T) {
	f := newHandlerFixture(t)
	want := parse(t, get(f.served, "/metrics")).families
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 6 {
		format := acceptFormats[i%len(acceptFormats)]
		enc := []string{"gzip", "identity"}[i%2]
		wg.Go(func() {
			var first []string
			for j := range 15 {
				e, err := parseErr(get(f.served, "/metrics", "Accept", format.accept, "Accept-Encoding", enc))
				if j == 0 {
					first = e.families
				}
				if err == nil && !slices.Equal(e.families, first) {
					err = fmt.Errorf("families %v, first %v", e.families, first)
				}
				if err != nil {
					errs <- fmt.Errorf("%s/%s: %w", format.name, enc, err)
					return
				}
			}
		})
	}
	for range 10 {
		f.clock.Add(20 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := parse(t, get(f.served, "/metrics")).families; !slices.Equal(got, want) {
		t.Errorf("families after the refreshes:\n got %v\nwant %v", got, want)
	}
}
