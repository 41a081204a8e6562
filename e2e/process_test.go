package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/web"
)

// child is a `syncwatch serve` process started by a test.
type child struct {
	t       testing.TB
	cmd     *exec.Cmd
	url     string
	dataDir string
	logs    *testutil.Buffer
	done    chan struct{}
	err     error // the result of Wait, once done is closed
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// childEnv is this process's environment without SYNCWATCH_* variables, so
// that only the flags a test gives configure the child.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCWATCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// startServe runs `syncwatch serve` on dataDir and a free loopback port
// and waits until it answers /healthz.
func startServe(t testing.TB, dataDir string, flags ...string) *child {
	t.Helper()
	bin := apptest.SyncwatchBinary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--libchdb", apptest.Libchdb(t), "--log-format", "json"}, flags...)
	c := &child{t: t, url: "http://" + addr, dataDir: dataDir, logs: &testutil.Buffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = childEnv()
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start syncwatch serve: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("logs of syncwatch serve on %s:\n%s", dataDir, c.logs.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-c.done:
			t.Fatalf("syncwatch serve exited during start-up: %v\n%s", c.err, c.logs.String())
		default:
		}
		resp, err := http.Get(c.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("syncwatch serve did not answer /healthz within 90s:\n%s", c.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (c *child) wait(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("syncwatch serve did not exit within %s:\n%s", timeout, c.logs.String())
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return 0
	case errors.As(c.err, &ee):
		return ee.ExitCode()
	}
	c.t.Fatalf("wait: %v", c.err)
	return -1
}

// kill9 kills the process with SIGKILL and waits for it.
func (c *child) kill9() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	c.wait(10 * time.Second)
}

// stop sends SIGTERM and checks the process exits 0 within timeout.
func (c *child) stop(timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	if code := c.wait(timeout); code != 0 {
		c.t.Fatalf("syncwatch serve exited %d after SIGTERM:\n%s", code, c.logs.String())
	}
	return time.Since(start)
}

var childClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16},
}

// post sends an ingest request; err is set when no answer came.
func (c *child) post(body string) (int, []byte, error) {
	resp, err := childClient.Post(c.url+"/api/v1/runs", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// spoolReports returns what the detailed health report says the spool
// holds (/readyz says only whether it is ok).
func (c *child) spoolReports() (int, bool) {
	resp, err := childClient.Get(c.url + "/api/v1/health")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var rep web.HealthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return 0, false
	}
	n, ok := rep.Components["spool"].Detail["reports"].(float64)
	return int(n), ok
}

// waitDrained waits until the server's spool is empty.
func (c *child) waitDrained(timeout time.Duration) {
	c.t.Helper()
	testutil.WaitFor(c.t, timeout, "the server's spool to drain", func() bool {
		n, ok := c.spoolReports()
		return ok && n == 0
	})
}

// loadStats counts the outcomes of a load run.
type loadStats struct {
	requests, accepted, unanswered, unavailable atomic.Int64
}

// sustain posts batches of reports with unique event ids from several
// goroutines until ctx ends, recording every acknowledged report.
func sustain(ctx context.Context, t testing.TB, c *child, workers int, prefix string, acks *ackSet) (*loadStats, func()) {
	st := &loadStats{}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				items := make([]string, 5)
				for k := range items {
					items[k] = testutil.Report(fmt.Sprintf("%s-%d-%d-%d", prefix, g, i, k))
				}
				st.requests.Add(1)
				code, body, err := c.post("[" + strings.Join(items, ",") + "]")
				switch {
				case err != nil:
					st.unanswered.Add(1)
					time.Sleep(5 * time.Millisecond)
				case code == 202:
					recordAnswer(t, body, acks)
					st.accepted.Add(1)
				case code == 503:
					st.unavailable.Add(1)
				default:
					t.Errorf("ingest answered %d: %s", code, body)
					return
				}
			}
		}()
	}
	return st, wg.Wait
}

// spoolOnDisk opens the spool a stopped server left and returns how many
// reports it holds.
func spoolOnDisk(t testing.TB, dataDir string) int {
	t.Helper()
	log, _ := testutil.NewLogger()
	s, err := collector.OpenSpool(filepath.Join(dataDir, "spool"), 1<<40, log)
	if err != nil {
		t.Fatalf("open the spool of %s: %v", dataDir, err)
	}
	defer s.Close()
	return s.Stats().Reports
}

// TestKill9DuringIngestLosesNothing kills the server with SIGKILL while
// clients report, restarts it on the same data directory and checks that
// every acknowledged report is stored exactly once.
func TestKill9DuringIngestLosesNothing(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--batch-max-age", "100ms", "--batch-size", "200"}
	c := startServe(t, dir, flags...)
	acks := newAckSet()
	ctx, cancel := context.WithCancel(context.Background())
	stats, wait := sustain(ctx, t, c, 4, "k9", acks)
	time.Sleep(800*time.Millisecond + rand.N(600*time.Millisecond))
	before := len(acks.snapshot())
	c.kill9()
	time.Sleep(100 * time.Millisecond) // clients see the dead server
	cancel()
	wait()
	acked := acks.snapshot()
	if before == 0 || len(acked) == 0 {
		t.Fatalf("nothing was acknowledged before the kill (%d requests)", stats.requests.Load())
	}
	inSpool := spoolOnDisk(t, dir)
	t.Logf("killed after %d acknowledged reports in %d requests (%d unanswered); %d reports were in the spool",
		len(acked), stats.requests.Load(), stats.unanswered.Load(), inSpool)

	c2 := startServe(t, dir, flags...)
	c2.waitDrained(60 * time.Second)
	// A retry of an acknowledged report is a duplicate after the restart.
	var some string
	for id := range acked {
		some = id
		break
	}
	code, body, err := c2.post(testutil.Report(some))
	if err != nil || code != 202 || !bytes.Contains(body, []byte(`"duplicate":true`)) {
		t.Fatalf("retry of acknowledged %s after the restart: %d %s %v", some, code, body, err)
	}
	c2.stop(30 * time.Second)

	snap := inspectDataDir(t, dir)
	checkExactlyOnce(t, snap, acked, false)
	t.Logf("stored %d distinct reports (%d rows before merges) for %d acknowledged", len(snap.distinct()), len(snap.EventIDs), len(acked))
}

// TestSIGTERMUnderLoadDrainsAndExitsZero stops the server with SIGTERM
// while clients report: it exits 0 within its shutdown timeout, having
// stored every acknowledged report and left nothing in the spool.
func TestSIGTERMUnderLoadDrainsAndExitsZero(t *testing.T) {
	dir := t.TempDir()
	const timeout = 5 * time.Second
	c := startServe(t, dir, "--batch-max-age", "300ms", "--batch-size", "100000", "--shutdown-timeout", timeout.String())
	acks := newAckSet()
	ctx, cancel := context.WithCancel(context.Background())
	stats, wait := sustain(ctx, t, c, 4, "term", acks)
	time.Sleep(time.Second)
	took := c.stop(timeout + 3*time.Second)
	cancel()
	wait()
	if took > timeout+time.Second {
		t.Fatalf("shutdown took %s, the timeout is %s", took, timeout)
	}
	acked := acks.snapshot()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	logs := c.logs.String()
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("no end of shutdown in the log:\n%s", logs)
	}
	for _, bad := range []string{"left in the spool", "batcher stop", "http shutdown", "close failed", "cannot write to the spool", "cannot remove inserted reports"} {
		if strings.Contains(logs, bad) {
			t.Fatalf("shutdown was not clean (%q):\n%s", bad, logs)
		}
	}
	if n := spoolOnDisk(t, dir); n != 0 {
		t.Fatalf("%d reports left in the spool after a graceful shutdown", n)
	}
	snap := inspectDataDir(t, dir)
	checkExactlyOnce(t, snap, acked, true)
	t.Logf("shutdown took %s; %d reports acknowledged and stored (%d requests, %d unanswered)", took, len(acked), stats.requests.Load(), stats.unanswered.Load())
}

// TestDuplicatesAcrossRestarts retries reports after restarts: one that
// ClickHouse held and one that was still in the spool when the server was
// killed. Both are answered as duplicates and stored once. A run whose
// first report was in the spool at the kill stays one run when its last
// report comes after the restart.
func TestDuplicatesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	fast := []string{"--batch-max-age", "20ms"}
	// Never flushed while the server runs.
	slow := []string{"--batch-max-age", "1h", "--batch-size", "1000000"}
	isDup := func(c *child, id string) bool {
		t.Helper()
		code, body, err := c.post(testutil.Report(id))
		if err != nil || code != 202 {
			t.Fatalf("post %s: %d %s %v", id, code, body, err)
		}
		var resp collector.IngestResponse
		json.Unmarshal(body, &resp)
		return resp.Duplicates == 1
	}

	c := startServe(t, dir, fast...)
	if isDup(c, "in-clickhouse") {
		t.Fatal("a new report was a duplicate")
	}
	c.waitDrained(30 * time.Second)
	c.stop(30 * time.Second)

	c = startServe(t, dir, slow...)
	if !isDup(c, "in-clickhouse") {
		t.Fatal("a retry of a report ClickHouse holds was accepted again after a restart")
	}
	if isDup(c, "in-spool") {
		t.Fatal("a new report was a duplicate")
	}
	started := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond).Format(time.RFC3339Nano)
	if code, body, err := c.post(testutil.Report("life-1", "run_id", `"life"`, "status", `"processing"`, "started_at", `"`+started+`"`, "completed_at", "<delete>")); code != 202 {
		t.Fatalf("first report of a run: %d %s %v", code, body, err)
	}
	c.kill9()
	if n := spoolOnDisk(t, dir); n != 2 {
		t.Fatalf("the spool holds %d reports, want the two not yet flushed", n)
	}

	c = startServe(t, dir, fast...)
	if !isDup(c, "in-spool") {
		t.Error("a retry of a report still in the spool was accepted again after a restart")
	}
	if !isDup(c, "in-clickhouse") {
		t.Error("a retry of a report ClickHouse holds was accepted again after a second restart")
	}
	// The run ends; its last report names no start.
	if code, body, err := c.post(testutil.Report("life-2", "run_id", `"life"`, "started_at", "<delete>")); code != 202 {
		t.Fatalf("last report of a run: %d %s %v", code, body, err)
	}
	c.waitDrained(30 * time.Second)
	c.stop(30 * time.Second)
	snap := inspectDataDir(t, dir)
	stored := snap.distinct()
	for _, id := range []string{"in-clickhouse", "in-spool", "life-1", "life-2"} {
		if stored[id] != 1 {
			t.Errorf("event %s has %d rows, want 1", id, stored[id])
		}
	}
	if len(snap.EventIDs) != 4 || snap.Reports != 4 || snap.Runs != 3 {
		t.Errorf("store holds %d rows, %d reports and %d runs (FINAL); want 4, 4 and 3", len(snap.EventIDs), snap.Reports, snap.Runs)
	}
}

// A backfill whose runs started in more months than ClickHouse lets one
// insert write to, in one request, is stored, and so is every report after
// it. Before, ClickHouse refused the batch, the batcher retried it forever
// and every later report was acknowledged but never stored.
func TestBackfillOverManyMonthsDoesNotStopStorage(t *testing.T) {
	dir := t.TempDir()
	c := startServe(t, dir, "--batch-max-age", "300ms", "--retention", "3700d")
	now := time.Now().UTC().Truncate(time.Second)
	var body strings.Builder
	const months = 101
	for i := range months {
		start := now.AddDate(0, -i, 0)
		body.WriteString(testutil.Report(fmt.Sprintf("backfill-%d", i), "started_at", `"`+start.Format(time.RFC3339)+`"`,
			"completed_at", `"`+start.Add(time.Minute).Format(time.RFC3339)+`"`))
		body.WriteByte('\n')
	}
	resp, err := childClient.Post(c.url+"/api/v1/runs", "application/x-ndjson", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("backfill: %d, want 202", resp.StatusCode)
	}
	if code, b, err := c.post(testutil.Report("after-backfill")); code != 202 {
		t.Fatalf("report after the backfill: %d %s %v", code, b, err)
	}
	c.waitDrained(60 * time.Second)
	c.stop(30 * time.Second)
	snap := inspectDataDir(t, dir)
	if snap.Reports != months+1 || snap.Runs != months+1 {
		t.Errorf("store holds %d reports and %d runs; want %d of each", snap.Reports, snap.Runs, months+1)
	}
}
