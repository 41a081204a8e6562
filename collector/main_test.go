package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/synclog"
)

// testTmp holds what the tests of this process share: the embedded
// engine's data directory (one per process; each test gets its own
// database in it) and the syncwatch binary the fault tests run.
var testTmp string

// verifyEnv, when set in the environment of this test binary, makes it a
// helper process that opens the embedded database in that directory,
// prints what it holds as JSON and exits: the embedded engine keeps one
// data directory per process, so a child server's directory is inspected
// from a process of its own.
const verifyEnv = "SYNCWATCH_TEST_VERIFY_DIR"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	if dir := os.Getenv(verifyEnv); dir != "" {
		os.Exit(verifyMain(dir))
	}
	dir, err := os.MkdirTemp("", "syncwatch-collector-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// libchdbPath returns the libchdb the tests run the embedded engine on and
// fails the test when it is missing.
func libchdbPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("SYNCWATCH_LIBCHDB")
	if p == "" {
		p = clickhouse.DefaultLibchdbPath()
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("libchdb is missing at %s: run scripts/fetch-libchdb.sh (make test does) or set SYNCWATCH_LIBCHDB: %v", p, err)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// syncwatchBinary builds ./cmd/syncwatch once per test process, on first
// use, so that runs of the unit tests alone and fuzz workers (which run
// TestMain too) do not pay for it.
func syncwatchBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(testTmp, "syncwatch")
		cmd := exec.Command(goTool, "build", "-o", binPath, "../cmd/syncwatch")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/syncwatch: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines written so far, decoded.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// newLogger returns a JSON logger writing into a buffer the test reads.
func newLogger() (*logrus.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.DebugLevel)
	return l, buf
}

// fakeStorage is an in-memory Storage for tests about HTTP behaviour.
type fakeStorage struct {
	mu      sync.Mutex
	reports []synclog.Report
	inserts int
	down    atomic.Bool // InsertReports and ServerVersion fail while set
	// insertDown makes only InsertReports fail.
	insertDown atomic.Bool
	// discard drops inserted reports instead of keeping them.
	discard  bool
	anchors  map[string]time.Time
	onInsert func([]synclog.Report)
	// onRunStart, when set, runs when the handler asks for a run's start,
	// after the report's event id is taken and before it is spooled.
	onRunStart func(runID string)
}

var errDown = errors.New("clickhouse is down (test switch)")

func (f *fakeStorage) InsertReports(ctx context.Context, reports []synclog.Report) error {
	if f.down.Load() || f.insertDown.Load() {
		return errDown
	}
	if f.onInsert != nil {
		f.onInsert(reports)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserts++
	if !f.discard {
		f.reports = append(f.reports, reports...)
	}
	return nil
}

func (f *fakeStorage) ServerVersion(ctx context.Context) (string, error) {
	if f.down.Load() {
		return "", errDown
	}
	return "26.5-fake", nil
}

func (f *fakeStorage) RunStart(runID string, start time.Time) time.Time {
	if f.onRunStart != nil {
		f.onRunStart(runID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.anchors == nil {
		f.anchors = map[string]time.Time{}
	}
	if a, ok := f.anchors[runID]; ok {
		return a
	}
	f.anchors[runID] = start
	return start
}

func (f *fakeStorage) stored() []synclog.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]synclog.Report(nil), f.reports...)
}

// switchStorage wraps a real store with a switch that makes it look
// unreachable.
type switchStorage struct {
	Storage
	down atomic.Bool
}

func (s *switchStorage) InsertReports(ctx context.Context, reports []synclog.Report) error {
	if s.down.Load() {
		return errDown
	}
	return s.Storage.InsertReports(ctx, reports)
}

func (s *switchStorage) ServerVersion(ctx context.Context) (string, error) {
	if s.down.Load() {
		return "", errDown
	}
	return s.Storage.ServerVersion(ctx)
}

// envOptions configure a collector built for a test.
type envOptions struct {
	cfg        Config
	tokens     []Token
	rate       float64
	spoolBytes int64
	spoolDir   string
	storage    Storage
	batcher    BatcherConfig
	// runBatcher starts the batcher; Stop is called at cleanup.
	runBatcher bool
	// logLevel is the logger's level; debug when zero.
	logLevel logrus.Level
}

// testEnv is a collector wired as serve wires it, minus the network.
type testEnv struct {
	srv     *Server
	spool   *Spool
	batcher *Batcher
	// quarantine is beside the spool's directory.
	quarantine *Quarantine
	storage    Storage
	fake       *fakeStorage
	logs       *syncBuffer
	reg        *prometheus.Registry
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	log, logs := newLogger()
	if o.logLevel != 0 {
		log.SetLevel(o.logLevel)
	}
	if o.spoolBytes == 0 {
		o.spoolBytes = 64 << 20
	}
	if o.spoolDir == "" {
		o.spoolDir = t.TempDir()
	}
	if o.cfg.SyncTypes.Names() == nil {
		o.cfg.SyncTypes = synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	}
	e := &testEnv{logs: logs, reg: prometheus.NewRegistry()}
	if o.storage == nil {
		e.fake = &fakeStorage{}
		o.storage = e.fake
	}
	e.storage = o.storage
	sp, err := OpenSpool(o.spoolDir, o.spoolBytes, log)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	e.spool = sp
	metrics := NewMetrics(e.reg)
	e.quarantine, err = OpenQuarantine(o.spoolDir + ".quarantine")
	if err != nil {
		t.Fatalf("open quarantine: %v", err)
	}
	e.batcher = NewBatcher(sp, e.quarantine, o.storage, o.batcher, log, metrics)
	auth, err := NewAuth(o.tokens, o.rate)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	e.srv, err = NewServer(o.cfg, Deps{Log: log, Auth: auth, Spool: sp, Batcher: e.batcher, Quarantine: e.quarantine, Storage: o.storage,
		Metrics: metrics, Registerer: e.reg, Gatherer: e.reg})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if o.runBatcher {
		go e.batcher.Run()
	}
	t.Cleanup(func() {
		if o.runBatcher {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.batcher.Stop(ctx)
		}
		_ = sp.Close()
	})
	return e
}

// do sends a request to the collector's handler.
func (e *testEnv) do(method, path string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return w
}

// post sends an ingest request with a JSON body and optional headers
// given as alternating names and values.
func (e *testEnv) post(body string, kv ...string) *httptest.ResponseRecorder {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return e.do(http.MethodPost, "/api/v1/runs", strings.NewReader(body), h)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// report returns a valid report as JSON with the given event id, run
// "run-"+id and recent timestamps. extra holds field names and JSON values
// that replace the defaults; the value "<delete>" removes the field.
func report(eventID string, extra ...string) string {
	// Recent timestamps, so that the runs table's retention keeps the run.
	started := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	m := map[string]any{
		"event_id": eventID, "run_id": "run-" + eventID, "source": "haier", "sync_type": "products",
		"status": "success", "total_count": 10, "success_count": 9, "failed_count": 1,
		"started_at": started.Format(time.RFC3339), "completed_at": started.Add(time.Minute).Format(time.RFC3339),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "<delete>" {
			delete(m, extra[i])
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(extra[i+1]), &v); err != nil {
			v = extra[i+1]
		}
		m[extra[i]] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// decode decodes a response body into v and fails on garbage.
func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %q: %v", w.Code, w.Body.String(), err)
	}
	return v
}
