package alerts

// Helpers that run the real syncwatch for the end-to-end tests: the binary
// built from ../cmd/syncwatch, `syncwatch serve` on the embedded engine with
// a data directory of its own, and jobs that report runs to it over the
// ingest API as any client would.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// syncwatchServer is a `syncwatch serve` process.
type syncwatchServer struct {
	*process
	Addr string // host:port, also its instance label in Prometheus
	URL  string
}

// startSyncwatch runs `syncwatch serve` on a free loopback port with the
// embedded engine in a fresh data directory and the given extra flags, and
// waits until /readyz answers 200. Only the flags configure it: SYNCWATCH_*
// variables of the test's environment are not passed on.
func startSyncwatch(t testing.TB, bin string, flags ...string) *syncwatchServer {
	t.Helper()
	addr := testutil.FreeAddr(t)
	args := append([]string{"serve",
		"--listen", addr,
		"--data-dir", t.TempDir(),
		"--libchdb", testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()),
		"--log-format", "json",
	}, flags...)
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCWATCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := startCommand(t, "syncwatch serve "+addr, cmd)
	s := &syncwatchServer{process: p, Addr: addr, URL: "http://" + addr}
	waitReady(t, p, s.URL+"/readyz", 90*time.Second)
	return s
}

// Kill9 kills the process with SIGKILL and waits for it to be gone.
func (s *syncwatchServer) Kill9(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs 10s after SIGKILL", s.name)
	}
}

// runReport is a run report as a job sends it (see DESIGN.md, "The run
// report"); the server fills in run_id and event_id.
type runReport struct {
	Source      string     `json:"source"`
	SyncType    string     `json:"sync_type"`
	Status      string     `json:"status"`
	Message     string     `json:"message,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// finishedRun is a terminal report of a run that took from started to completed.
func finishedRun(source, syncType, status string, started, completed time.Time) runReport {
	r := runReport{Source: source, SyncType: syncType, Status: status, StartedAt: started, CompletedAt: &completed}
	if status == "failed" {
		r.Message = "supplier API answered 503 Service Unavailable"
	}
	return r
}

var ingestClient = &http.Client{Timeout: 10 * time.Second}

// Post sends the reports in one request and checks that every one was
// accepted.
func (s *syncwatchServer) Post(reports ...runReport) error {
	body, err := json.Marshal(reports)
	if err != nil {
		return err
	}
	resp, err := ingestClient.Post(s.URL+"/api/v1/runs", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ack struct {
		Accepted int               `json:"accepted"`
		Rejected []json.RawMessage `json:"rejected"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &ack) != nil || ack.Accepted != len(reports) || len(ack.Rejected) != 0 {
		return fmt.Errorf("POST %s/api/v1/runs (%d reports): %s %s", s.URL, len(reports), resp.Status, b)
	}
	return nil
}

// syncJob is a healthy scheduled job: while running, it reports a
// successful run of its source and sync type every period.
type syncJob struct {
	t                testing.TB
	server           *syncwatchServer
	source, syncType string
	period           time.Duration

	mu          sync.Mutex
	stop, done  chan struct{} // nil while stopped
	lastSuccess time.Time     // completed_at of the last accepted report
	failedPosts int
	lastPostErr error
}

func newSyncJob(t testing.TB, s *syncwatchServer, source, syncType string, period time.Duration) *syncJob {
	j := &syncJob{t: t, server: s, source: source, syncType: syncType, period: period}
	t.Cleanup(func() { j.Stop() })
	return j
}

// Start starts reporting (at once, then every period); a no-op while running.
func (j *syncJob) Start() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stop != nil {
		return
	}
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go j.loop(j.stop, j.done)
}

func (j *syncJob) loop(stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(j.period)
	defer tick.Stop()
	for {
		now := time.Now().UTC()
		err := j.server.Post(finishedRun(j.source, j.syncType, "success", now.Add(-100*time.Millisecond), now))
		j.mu.Lock()
		if err == nil {
			j.lastSuccess = now
		} else {
			j.failedPosts++
			j.lastPostErr = err
		}
		j.mu.Unlock()
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// Stop stops reporting, waits for a report in flight, and returns the
// completed_at of the last report syncwatch accepted. A report that could
// not be delivered fails the test: the job stands for a healthy one.
func (j *syncJob) Stop() time.Time {
	j.mu.Lock()
	stop, done := j.stop, j.done
	j.stop, j.done = nil, nil
	j.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failedPosts > 0 {
		j.t.Errorf("job %s/%s: %d of its reports to %s failed, the last with: %v", j.source, j.syncType, j.failedPosts, j.server.Addr, j.lastPostErr)
		j.failedPosts = 0
	}
	return j.lastSuccess
}
