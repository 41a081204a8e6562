package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/runs"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The tests of `syncwatch run` start the syncwatch binary (binary, built
// once per test process): `serve` on the embedded engine, and `run`
// wrapping real commands.

// inspectEnv, when set, makes TestRunInspectHelper a helper process that
// opens the embedded database a stopped server left in that directory,
// prints the runs named by inspectIDsEnv as JSON and exits: the embedded
// engine keeps one data path per process, and other tests of this process
// may hold one of their own.
const (
	inspectEnv    = "SYNCWATCH_TEST_RUN_INSPECT_DIR"
	inspectIDsEnv = "SYNCWATCH_TEST_RUN_INSPECT_IDS"
)

// TestRunInspectHelper is not a test: storedRuns runs the test binary
// again with only this function and inspectEnv set. It does nothing in a
// normal run.
func TestRunInspectHelper(t *testing.T) {
	dir := os.Getenv(inspectEnv)
	if dir == "" {
		return
	}
	code := inspectMain(dir, strings.Split(os.Getenv(inspectIDsEnv), ","))
	// TestMain's cleanup does not run after os.Exit: do its part.
	_ = os.RemoveAll(testTmp)
	os.Exit(code)
}

// inspectMain prints the stored runs as a JSON object by run id.
func inspectMain(dir string, ids []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: os.Getenv("SYNCWATCH_LIBCHDB")}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect: open:", err)
		return 1
	}
	defer st.Close()
	out := map[string]runs.RunDetail{}
	for _, id := range ids {
		d, err := st.GetRun(ctx, id)
		if errors.Is(err, runs.ErrNotFound) {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "inspect:", err)
			return 1
		}
		out[id] = d
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		return 1
	}
	return 0
}

// realServer is `syncwatch serve` on the embedded engine, in a data
// directory of the test process's temporary directory.
type realServer struct {
	url     string
	dataDir string
	cmd     *exec.Cmd
	logs    testutil.Buffer
	done    chan struct{}
	stopped bool
}

// startRealServer starts a server, waits for its /readyz and stops it when
// the test ends.
func startRealServer(t *testing.T) *realServer {
	t.Helper()
	bin, lib := binary(t), libchdb(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &realServer{url: "http://" + addr, dataDir: filepath.Join(testTmp, "run-server"), done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--listen", addr, "--data-dir", s.dataDir, "--batch-max-age", "100ms",
		"--libchdb", lib, "--log-format", "json", "--log-level", "warn")
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-s.done:
			t.Fatalf("syncwatch serve exited: %v\n%s", s.cmd.ProcessState, s.logs.String())
		default:
		}
		if res, err := http.Get(s.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("syncwatch serve is not ready after 3 minutes\n%s", s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the server with SIGTERM, which flushes its batcher into
// ClickHouse, and waits for it.
func (s *realServer) stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("syncwatch serve did not stop within a minute\n%s", s.logs.String())
	}
}

// storedRuns returns what the server stored for the runs ids: through the
// query API when the server has it, otherwise by stopping the server and
// opening its data directory in a helper process.
func (s *realServer) storedRuns(t *testing.T, ids []string) map[string]runs.RunDetail {
	t.Helper()
	res, err := http.Get(s.url + "/api/v1/runs/" + ids[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !(res.StatusCode == http.StatusNotFound && strings.Contains(string(body), "no such route")) {
		return s.queryRuns(t, ids)
	}
	t.Log("the server has no GET /api/v1/runs/{run_id}: stopping it to read its data directory")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunInspectHelper$", "-test.count=1")
	cmd.Env = cleanEnv(inspectEnv+"="+s.dataDir, inspectIDsEnv+"="+strings.Join(ids, ","), "SYNCWATCH_LIBCHDB="+libchdb(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("inspect %s: %v\n%s\nserver logs:\n%s", s.dataDir, err, stderr.String(), s.logs.String())
	}
	stored := map[string]runs.RunDetail{}
	if err := json.Unmarshal(out, &stored); err != nil {
		t.Fatalf("inspect output %q: %v", out, err)
	}
	return stored
}

// queryRuns reads runs through GET /api/v1/runs/{run_id}, waiting for each
// to reach a terminal status.
func (s *realServer) queryRuns(t *testing.T, ids []string) map[string]runs.RunDetail {
	t.Helper()
	got := map[string]runs.RunDetail{}
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			res, err := http.Get(s.url + "/api/v1/runs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var d runs.RunDetail
			if res.StatusCode == http.StatusOK {
				if err := json.Unmarshal(body, &d); err != nil {
					t.Fatalf("GET /api/v1/runs/%s: %q: %v", id, body, err)
				}
				if d.Run.Status.Terminal() && len(d.Reports) >= 2 {
					got[id] = d
					break
				}
			} else if res.StatusCode != http.StatusNotFound {
				t.Fatalf("GET /api/v1/runs/%s: %d %s", id, res.StatusCode, body)
			}
			if time.Now().After(deadline) {
				if res.StatusCode == http.StatusOK {
					got[id] = d
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return got
}

// wrapped is the outcome of one `syncwatch run` process.
type wrapped struct {
	exit           int
	stdout, stderr []byte
	elapsed        time.Duration
}

// runWrappedBinary runs the syncwatch binary with args and stdin.
func runWrappedBinary(t *testing.T, stdin string, args ...string) wrapped {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	w := wrapped{stdout: stdout.Bytes(), stderr: stderr.Bytes(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		w.exit = ee.ExitCode()
	default:
		t.Fatalf("run syncwatch %v: %v", args, err)
	}
	return w
}

func TestRunReportsToARealServer(t *testing.T) {
	srv := startRealServer(t)
	type want struct {
		exit                   int
		status                 synclog.Status
		total, success, failed uint64
		signal                 string
		// message must occur in the stored message; absent must not.
		message, absent string
		// tailOfStdout checks that the message is the end of stdout.
		tailOfStdout bool
		minDuration  time.Duration
	}
	tests := []struct {
		name      string
		syncType  string
		maxOutput int
		stdin     string
		argv      []string
		want      want
	}{
		{
			name: "success", syncType: "products",
			argv: []string{"sh", "-c", "sleep 0.3; echo synced 12 products"},
			want: want{status: "success", message: "synced 12 products", tailOfStdout: true, minDuration: 300 * time.Millisecond},
		},
		{
			name: "exit 3", syncType: "prices",
			argv: []string{"sh", "-c", "echo connecting; echo 'error: supplier answered 502' >&2; exit 3"},
			want: want{exit: 3, status: "failed", message: "error: supplier answered 502"},
		},
		{
			name: "counts make it partial", syncType: "stock",
			argv: []string{"sh", "-c", "echo SYNCWATCH total=10 success=10 failed=0; echo SYNCWATCH total=120 success=100 failed=20; echo done"},
			want: want{status: "partial", total: 120, success: 100, failed: 20, message: "done"},
		},
		{
			name: "counts on a failed exit", syncType: "order",
			argv: []string{"sh", "-c", "echo SYNCWATCH total=7 success=0 failed=7; exit 1"},
			want: want{exit: 1, status: "failed", total: 7, failed: 7},
		},
		{
			name: "killed by a signal", syncType: "logistics",
			argv: []string{"sh", "-c", "echo about to go; kill -TERM $$"},
			want: want{exit: 143, status: "failed", signal: "SIGTERM", message: "about to go"},
		},
		{
			name: "megabytes of output", syncType: "products", maxOutput: 4096,
			argv: []string{"seq", "1", "500000"},
			want: want{status: "success", message: "499999\n500000", tailOfStdout: true},
		},
		{
			name: "stdin passed through", syncType: "manual", stdin: "from stdin\n",
			argv: []string{"cat"},
			want: want{status: "success", message: "from stdin", tailOfStdout: true},
		},
		{
			name: "secrets redacted", syncType: "manual",
			argv: []string{"sh", "-c", "echo 'login failed for sync-bot: password=hunter2'; exit 1"},
			want: want{exit: 1, status: "failed", message: "password=[REDACTED]", absent: "hunter2"},
		},
		{
			name: "command not found", syncType: "manual",
			argv: []string{"/nonexistent/sync-job"},
			want: want{exit: 127, status: "failed", message: "cannot run /nonexistent/sync-job"},
		},
	}
	ids := make([]string, len(tests))
	results := make([]wrapped, len(tests))
	for i, tt := range tests {
		ids[i] = fmt.Sprintf("runtest-%d-%d", time.Now().UnixNano(), i)
		t.Run("run/"+tt.name, func(t *testing.T) {
			args := []string{"run", "--server", srv.url, "--type", tt.syncType, "--source", "runtest", "--run-id", ids[i]}
			if tt.maxOutput > 0 {
				args = append(args, "--max-output", fmt.Sprint(tt.maxOutput))
			}
			w := runWrappedBinary(t, tt.stdin, append(append(args, "--"), tt.argv...)...)
			results[i] = w
			if w.exit != tt.want.exit {
				t.Errorf("exit code %d, want %d; stderr:\n%s", w.exit, tt.want.exit, w.stderr)
			}
			if strings.Contains(string(w.stderr), "warning") {
				t.Errorf("syncwatch run warned:\n%s", w.stderr)
			}
			// The command's stdout passes through intact: compare it with
			// the command's own, run directly.
			if tt.want.exit != 127 {
				direct := exec.Command(tt.argv[0], tt.argv[1:]...)
				direct.Stdin = strings.NewReader(tt.stdin)
				want, _ := direct.Output()
				if !bytes.Equal(w.stdout, want) {
					t.Errorf("stdout has %d bytes, want the command's %d bytes", len(w.stdout), len(want))
				}
			}
		})
	}

	stored := srv.storedRuns(t, ids)
	for i, tt := range tests {
		t.Run("stored/"+tt.name, func(t *testing.T) {
			d, ok := stored[ids[i]]
			if !ok {
				t.Fatalf("run %s was not stored", ids[i])
			}
			r := d.Run
			if r.Status != tt.want.status || r.SyncType != tt.syncType || r.Source != "runtest" {
				t.Errorf("run %s/%s %s, want runtest/%s %s", r.Source, r.SyncType, r.Status, tt.syncType, tt.want.status)
			}
			if r.TotalCount != tt.want.total || r.SuccessCount != tt.want.success || r.FailedCount != tt.want.failed {
				t.Errorf("counts %d/%d/%d, want %d/%d/%d", r.TotalCount, r.SuccessCount, r.FailedCount, tt.want.total, tt.want.success, tt.want.failed)
			}
			if got := r.Attributes["exit_code"]; got != fmt.Sprint(tt.want.exit) {
				t.Errorf("attribute exit_code %q, want %d", got, tt.want.exit)
			}
			if got := r.Attributes["signal"]; got != tt.want.signal {
				t.Errorf("attribute signal %q, want %q", got, tt.want.signal)
			}
			host, _ := os.Hostname()
			if r.Attributes["host"] != host || r.Attributes["command"] != filepath.Base(tt.argv[0]) {
				t.Errorf("attributes %v, want host %q and command %q", r.Attributes, host, filepath.Base(tt.argv[0]))
			}
			if !strings.Contains(r.Message, tt.want.message) || (tt.want.absent != "" && strings.Contains(r.Message, tt.want.absent)) {
				t.Errorf("message %q, want it to contain %q and not %q", clip(r.Message), tt.want.message, tt.want.absent)
			}
			max := tt.maxOutput
			if max == 0 {
				max = 10 << 10
			}
			if len(r.Message) > max {
				t.Errorf("message of %d bytes, want at most --max-output %d", len(r.Message), max)
			}
			if tt.want.tailOfStdout && (r.Message == "" || !strings.HasSuffix(strings.TrimSpace(string(results[i].stdout)), r.Message)) {
				t.Errorf("message %q is not the end of stdout", clip(r.Message))
			}
			if r.CompletedAt == nil || r.DurationMS == nil {
				t.Fatalf("run has no completed_at or duration: %+v", r)
			}
			if dur := r.Duration(); dur < tt.want.minDuration || dur > results[i].elapsed {
				t.Errorf("duration %s, want between %s and the %s the process took", dur, tt.want.minDuration, results[i].elapsed)
			}
			if len(d.Reports) != 2 {
				t.Fatalf("%d reports, want processing and the final one: %+v", len(d.Reports), d.Reports)
			}
			if d.Reports[0].Status != synclog.StatusProcessing || d.Reports[1].Status != tt.want.status {
				t.Errorf("reports %s, %s; want processing, %s", d.Reports[0].Status, d.Reports[1].Status, tt.want.status)
			}
			if !d.Reports[0].StartedAt.Equal(d.Reports[1].StartedAt) {
				t.Errorf("the reports give different starts: %s, %s", d.Reports[0].StartedAt, d.Reports[1].StartedAt)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return "…" + s[len(s)-200:]
	}
	return s
}

// attempt is one POST a fake server received.
type attempt struct {
	report   client.Report
	accepted bool
}

// fakeIngest is an httptest syncwatch that answers the first failN
// attempts of every event with 503 and Retry-After: 0, then accepts it
// (once; later attempts are duplicates).
type fakeIngest struct {
	srv   *httptest.Server
	failN int
	mu    sync.Mutex
	tries map[string]int
	log   []attempt
}

func newFakeIngest(t *testing.T, failN int) *fakeIngest {
	t.Helper()
	f := &fakeIngest{failN: failN, tries: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIngest) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	var rep client.Report
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.tries[rep.EventID]++
	n := f.tries[rep.EventID]
	accepted := n == f.failN+1
	f.log = append(f.log, attempt{report: rep, accepted: accepted})
	f.mu.Unlock()
	if n <= f.failN {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"the spool is full while ClickHouse catches up: retry later"}`)
		return
	}
	resp := client.Response{Items: []client.Item{{RunID: rep.RunID, EventID: rep.EventID, Duplicate: !accepted}}}
	if accepted {
		resp.Accepted = 1
	} else {
		resp.Duplicates = 1
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
}

func (f *fakeIngest) attempts() []attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]attempt(nil), f.log...)
}

// runInProcess runs `syncwatch run` in this process.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut testutil.Buffer
	code = runWrapped(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunRetries503WithoutDuplicates(t *testing.T) {
	f := newFakeIngest(t, 2)
	code, stdout, stderr := runInProcess(t, "--server", f.srv.URL, "--type", "stock", "--source", "haier",
		"--", "sh", "-c", "echo SYNCWATCH total=3 success=3 failed=0; exit 4")
	if code != 4 {
		t.Errorf("exit code %d, want the command's 4; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "SYNCWATCH total=3") {
		t.Errorf("stdout %q", stdout)
	}
	if stderr != "" {
		t.Errorf("stderr %q, want no warning: the retries succeeded", stderr)
	}
	byEvent := map[string][]attempt{}
	var order []string
	for _, a := range f.attempts() {
		if _, ok := byEvent[a.report.EventID]; !ok {
			order = append(order, a.report.EventID)
		}
		byEvent[a.report.EventID] = append(byEvent[a.report.EventID], a)
	}
	if len(order) != 2 {
		t.Fatalf("%d distinct event ids, want 2 (start and end), each retried with its own id", len(order))
	}
	// Exit code 4 fails the run despite its counts.
	wantStatus := []client.Status{client.StatusProcessing, client.StatusFailed}
	var runID string
	var started time.Time
	for i, id := range order {
		as := byEvent[id]
		accepted := 0
		for _, a := range as {
			if a.accepted {
				accepted++
			}
			if a.report.Status != wantStatus[i] {
				t.Errorf("event %s: status %s, want %s", id, a.report.Status, wantStatus[i])
			}
		}
		if len(as) != 3 || accepted != 1 {
			t.Errorf("event %s: %d attempts with %d accepted, want 3 attempts (two 503s) and 1 accepted", id, len(as), accepted)
		}
		if i == 0 {
			runID, started = as[0].report.RunID, as[0].report.StartedAt
		} else if as[0].report.RunID != runID || !as[0].report.StartedAt.Equal(started) {
			t.Errorf("the final report has run %s started %s, want %s started %s", as[0].report.RunID, as[0].report.StartedAt, runID, started)
		}
	}
	final := byEvent[order[1]][0].report
	if final.TotalCount != 3 || final.Attributes["exit_code"] != "4" || final.CompletedAt.Before(final.StartedAt) {
		t.Errorf("final report %+v", final)
	}
}

func TestRunWithTheServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	start := time.Now()
	code, stdout, stderr := runInProcess(t, "--server", url, "--type", "products", "--report-timeout", "1s",
		"--", "sh", "-c", "echo the job ran; exit 5")
	if code != 5 || stdout != "the job ran\n" {
		t.Errorf("exit code %d, stdout %q; want the job's 5 and its output", code, stdout)
	}
	for _, want := range []string{"warning: report the start of run", "warning: report the end of run", "connection refused"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("syncwatch run took %s with --report-timeout 1s", d)
	}
}

func TestRunDoesNotWaitForAHangingServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	first := &firstWrite{start: time.Now()}
	code := runWrapped(context.Background(),
		[]string{"--server", srv.URL, "--type", "products", "--start-timeout", "6s", "--report-timeout", "1s", "--", "echo", "started"},
		func(string) string { return "" }, strings.NewReader(""), first, io.Discard)
	total := time.Since(first.start)
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	// Waiting for the start report would take the 6s of --start-timeout.
	if d := first.delay(); d < 0 || d > 3*time.Second {
		t.Errorf("the job's first output came %s after the start, want it not to wait for the start report", d)
	}
	// Both reports are bounded: 6s for the start, 1s for the end.
	if total > 20*time.Second {
		t.Errorf("syncwatch run took %s against a hanging server", total)
	}
}

// firstWrite records when it was first written to.
type firstWrite struct {
	mu    sync.Mutex
	start time.Time
	at    time.Time
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.IsZero() {
		f.at = time.Now()
	}
	return len(p), nil
}

func (f *firstWrite) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.IsZero() {
		return -1
	}
	return f.at.Sub(f.start)
}

func TestRunForwardsSignals(t *testing.T) {
	f := newFakeIngest(t, 0)
	cmd := exec.Command(binary(t), "run", "--server", f.srv.URL, "--type", "stock", "--",
		"sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("read %q, %v; want ready", buf, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("syncwatch run ended with %v, want the command's exit code 7; stderr:\n%s", err, stderr.String())
	}
	if string(rest) != "got TERM\n" {
		t.Errorf("stdout after the signal %q, want the command's trap output", rest)
	}
	as := f.attempts()
	if len(as) != 2 || as[1].report.Status != client.StatusFailed || as[1].report.Attributes["exit_code"] != "7" {
		t.Errorf("reports %+v, want processing and failed with exit code 7", as)
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{"--type", "stock"}, "no command to run"},
		{"no type", []string{"--", "true"}, "--type is required"},
		{"bad flag", []string{"--type", "stock", "--max-output", "many", "--", "true"}, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runInProcess(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit code %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		line string
		want counts
		ok   bool
	}{
		{"SYNCWATCH total=10 success=8 failed=2", counts{10, 8, 2}, true},
		{"  SYNCWATCH failed=1 total=3\r", counts{3, 0, 1}, true},
		{"SYNCWATCH success=5 note=x", counts{0, 5, 0}, true},
		{"SYNCWATCH", counts{}, false},
		{"SYNCWATCH hello world", counts{}, false},
		{"syncwatch total=1", counts{}, false},
		{"info: SYNCWATCH total=1", counts{}, false},
		{"SYNCWATCH total=-1 success=x", counts{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := parseCounts(tt.line)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseCounts(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLineScannerAcrossWrites(t *testing.T) {
	var got []counts
	s := &lineScanner{found: func(c counts) { got = append(got, c) }}
	input := "noise\nSYNCWATCH total=4 succ" + "ess=3 failed=1\n" + strings.Repeat("x", 2*maxCountsLine) + " SYNCWATCH total=9\nSYNCWATCH total=2"
	for i := 0; i < len(input); i += 7 {
		s.Write([]byte(input[i:min(i+7, len(input))]))
	}
	s.flush()
	want := []counts{{4, 3, 1}, {2, 0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("found %v, want %v", got, want)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"short", 10, []string{"abc", "def"}, "abcdef"},
		{"wraps", 5, []string{"abc", "def", "gh"}, "defgh"},
		{"one big write", 4, []string{"0123456789"}, "6789"},
		{"many small writes", 3, strings.Split("abcdefghijklmnop", ""), "nop"},
		{"cut character dropped", 4, []string{"aé€"}, "€"},
		{"zero", 0, []string{"abc"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail(tt.max)
			for _, w := range tt.writes {
				tl.Write([]byte(w))
			}
			if got := tl.String(); got != tt.want {
				t.Errorf("tail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name   string
		res    childResult
		counts *counts
		output string
		want   client.Status
		msg    string
	}{
		{"exit 0", childResult{code: 0}, nil, "ok\n", client.StatusSuccess, "ok\n"},
		{"exit 0 with counts", childResult{code: 0}, &counts{5, 5, 0}, "", client.StatusSuccess, ""},
		{"exit 0 partial", childResult{code: 0}, &counts{5, 4, 1}, "", client.StatusPartial, ""},
		{"exit 0 all failed", childResult{code: 0}, &counts{5, 0, 5}, "", client.StatusFailed, "5 of 5 records failed"},
		{"exit 2 partial", childResult{code: 2}, &counts{5, 4, 1}, "", client.StatusPartial, ""},
		{"exit 2", childResult{code: 2}, nil, "", client.StatusFailed, "job exited with code 2"},
		{"signal", childResult{code: 137, signal: "SIGKILL"}, &counts{5, 4, 1}, "", client.StatusFailed, "job was killed by SIGKILL"},
		{"secret", childResult{code: 1}, nil, "token=abc123", client.StatusFailed, "token=[REDACTED]"},
		{"chinese secret", childResult{code: 1}, nil, "登录失败 密码：hunter2，口令 = s3cret", client.StatusFailed, "登录失败 密码：[REDACTED]，口令 = [REDACTED]"},
		{"github token", childResult{code: 1}, nil, "push: ghp_4eC39HqLyjWDarjtT1zdp7dc0123456789AB", client.StatusFailed, "push: ghp_[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := outcome(tt.res, tt.counts, tt.output, map[string]string{"command": "job"})
			if r.Status != tt.want || r.Message != tt.msg {
				t.Errorf("outcome = %s %q, want %s %q", r.Status, r.Message, tt.want, tt.msg)
			}
			if r.Attributes["exit_code"] != fmt.Sprint(tt.res.code) || r.Attributes["signal"] != tt.res.signal {
				t.Errorf("attributes %v", r.Attributes)
			}
		})
	}
}
