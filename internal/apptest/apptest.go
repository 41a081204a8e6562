// Package apptest is the one test harness of syncwatch's HTTP service: it
// builds the service through internal/app, as `syncwatch serve` does, over
// an in-memory or a real embedded store, and offers the helpers the suites
// share (a logger into a buffer, report bodies, polling, the libchdb path,
// the syncwatch binary).
package apptest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/relay"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
	"github.com/syncwatch/syncwatch/web/ui"
)

// Main runs a package's tests with gin in test mode and a temporary
// directory for the embedded engine and the built binary, removed after.
// When helper is not nil and the environment names a data directory under
// VerifyEnv, the test binary is a helper process instead: it runs helper
// on that directory and exits with its status.
func Main(m *testing.M, helper func(dir string) int) {
	gin.SetMode(gin.TestMode)
	if dir := os.Getenv(VerifyEnv); dir != "" && helper != nil {
		os.Exit(helper(dir))
	}
	dir, err := os.MkdirTemp("", "syncwatch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmp = dir
	binary.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// VerifyEnv, when set in the environment of a test binary whose TestMain
// passes a helper to Main, makes it a helper process on that directory: the
// embedded engine keeps one data directory per process, so a child
// server's directory is inspected from a process of its own.
const VerifyEnv = "SYNCWATCH_TEST_VERIFY_DIR"

// tmp is the directory Main made, and binary the syncwatch binary built
// into it on first use; both set once before the tests run.
var (
	tmp    string
	binary testutil.BuildOnce
)

// TempRoot returns the directory Main made for this test process.
func TempRoot(t testing.TB) string {
	t.Helper()
	if tmp == "" {
		t.Fatal("apptest: call apptest.Main from TestMain")
	}
	return tmp
}

// Options configure a service built for a test.
type Options struct {
	Ingest     collector.Config
	Tokens     []auth.Token
	Rate       float64
	SpoolBytes int64
	SpoolDir   string
	// Storage is the ingest's store; an in-memory FakeStorage when nil.
	Storage collector.Storage
	Batcher collector.BatcherConfig
	// RunBatcher starts the batcher; Stop is called at cleanup.
	RunBatcher bool
	// LogLevel is the logger's level; debug when zero.
	LogLevel logrus.Level
	// Query, when set, serves the query API; Console, with it, the
	// console, whose overview uses States when set.
	Query  api.Querier
	States runs.TypeStater
	// Archive, with Query, reads archived months for the run list.
	Archive api.ArchiveReader
	Console *ui.Config
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Checks are further components of the health report.
	Checks []web.Check
	// PublicMonitor serves the read-only monitor URLs without a token.
	PublicMonitor bool
	// Diagnose answers the diagnostics API; with Query, and no Diagnose,
	// the routes answer 503.
	Diagnose api.Diagnoser
	// Digests are the configured digests the API renders by name.
	Digests []config.Digest
	// Relay configures the alert relay.
	Relay relay.Config
}

// Env is the service wired as serve wires it, minus the network.
type Env struct {
	Service *app.Service
	Spool   *collector.Spool
	Batcher *collector.Batcher
	// Quarantine is beside the spool's directory.
	Quarantine *collector.Quarantine
	Storage    collector.Storage
	// Fake is the in-memory store, when Options.Storage was nil.
	Fake *FakeStorage
	// Anchors are the service's run anchors; set their OnResolve to stall
	// the handler between taking a report's event id and spooling it.
	Anchors *HookedAnchors
	Logs    *testutil.Buffer
	Reg     *prometheus.Registry
}

// HookedAnchors are a collector.AnchorCache with a hook that runs before
// every Resolve.
type HookedAnchors struct {
	*collector.AnchorCache
	mu        sync.Mutex
	onResolve func(runID string)
}

// OnResolve sets the hook.
func (h *HookedAnchors) OnResolve(f func(runID string)) {
	h.mu.Lock()
	h.onResolve = f
	h.mu.Unlock()
}

// Resolve runs the hook, then the cache's Resolve.
func (h *HookedAnchors) Resolve(runID, source string, start time.Time) (time.Time, string) {
	h.mu.Lock()
	f := h.onResolve
	h.mu.Unlock()
	if f != nil {
		f(runID)
	}
	return h.AnchorCache.Resolve(runID, source, start)
}

// New builds the service for t and closes it at t's cleanup.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	log, logs := testutil.NewLogger()
	if o.LogLevel != 0 {
		log.SetLevel(o.LogLevel)
	}
	if o.SpoolBytes == 0 {
		o.SpoolBytes = 64 << 20
	}
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	if o.Ingest.SyncTypes.Names() == nil {
		o.Ingest.SyncTypes = synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	}
	e := &Env{Logs: logs, Reg: prometheus.NewRegistry(), Anchors: &HookedAnchors{AnchorCache: collector.NewAnchorCache(o.Ingest.AnchorCacheSize)}}
	if o.Storage == nil {
		e.Fake = &FakeStorage{}
		o.Storage = e.Fake
	}
	e.Storage = o.Storage
	sp, err := collector.OpenSpool(o.SpoolDir, o.SpoolBytes, log)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	e.Spool = sp
	metrics := collector.NewMetrics(e.Reg)
	e.Quarantine, err = collector.OpenQuarantine(o.SpoolDir + ".quarantine")
	if err != nil {
		t.Fatalf("open quarantine: %v", err)
	}
	e.Batcher = collector.NewBatcher(sp, e.Quarantine, o.Storage, o.Batcher, log, metrics)
	tokens, err := auth.NewAuth(o.Tokens, o.Rate)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	e.Service, err = app.New(app.Config{Ingest: o.Ingest, Console: o.Console, PublicMonitor: o.PublicMonitor, TrustedProxies: o.TrustedProxies, Digests: o.Digests, Relay: o.Relay}, app.Deps{
		Log: log, Auth: tokens, Spool: sp, Batcher: e.Batcher, Quarantine: e.Quarantine, Storage: o.Storage, Metrics: metrics,
		Registerer: e.Reg, Gatherer: e.Reg, Query: o.Query, States: o.States, Checks: o.Checks, Anchors: e.Anchors,
		Archive: o.Archive, Diagnose: o.Diagnose,
	})
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	if o.RunBatcher {
		go e.Batcher.Run()
	}
	t.Cleanup(func() {
		if o.RunBatcher {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.Batcher.Stop(ctx)
		}
		_ = sp.Close()
	})
	return e
}

// Handler returns the service's HTTP handler.
func (e *Env) Handler() http.Handler { return e.Service.Handler() }

// Do sends a request to the service's handler.
func (e *Env) Do(method, path string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	// An open service (no tokens) answers loopback Host names only: the
	// request comes as a local client's would, or with the Host given.
	req.Host = "localhost"
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.Handler().ServeHTTP(w, req)
	return w
}

// Post sends an ingest request with a JSON body and optional headers
// given as alternating names and values.
func (e *Env) Post(body string, kv ...string) *httptest.ResponseRecorder {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return e.Do(http.MethodPost, collector.Route, strings.NewReader(body), h)
}

// MetricsText returns the exposition of /metrics.
func (e *Env) MetricsText(t testing.TB) string {
	t.Helper()
	w := e.Do(http.MethodGet, "/metrics", nil, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", w.Code)
	}
	return w.Body.String()
}

// WaitDrained waits until the spool is empty.
func (e *Env) WaitDrained(t testing.TB, timeout time.Duration) {
	t.Helper()
	testutil.WaitFor(t, timeout, "the spool to drain into ClickHouse", func() bool {
		st := e.Spool.Stats()
		return st.Entries == 0 && st.Bytes == 0
	})
}

// Spooled returns the event ids in the spool, oldest first.
func (e *Env) Spooled(t testing.TB) []string {
	t.Helper()
	b, err := e.Spool.Read(1 << 30)
	if err != nil {
		t.Fatal(err)
	}
	return EventIDs(b.Reports)
}

// SyncwatchBinary builds ./cmd/syncwatch once per test process, on first
// use, into the directory Main made.
func SyncwatchBinary(t testing.TB) string {
	t.Helper()
	TempRoot(t)
	return binary.Path(t)
}

// Libchdb returns the libchdb the tests run the embedded engine on and
// fails the test when it is missing.
func Libchdb(t testing.TB) string {
	t.Helper()
	return testutil.Libchdb(t, clickhouse.DefaultLibchdbPath())
}

// EventIDs returns the event ids of rs, in order.
func EventIDs(rs []synclog.Report) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.EventID
	}
	return out
}
