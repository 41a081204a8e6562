package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// ackSet records the event ids the collector acknowledged as accepted.
type ackSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func newAckSet() *ackSet { return &ackSet{ids: map[string]bool{}} }

func (a *ackSet) add(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.ids[id] = true
	}
}

func (a *ackSet) snapshot() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]bool, len(a.ids))
	for k := range a.ids {
		m[k] = true
	}
	return m
}

// recordAnswer adds the accepted items of a 202 to acks and returns the
// duplicates.
func recordAnswer(t testing.TB, body []byte, acks *ackSet) (duplicates []string) {
	t.Helper()
	var resp collector.IngestResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Errorf("202 body %q: %v", body, err)
		return nil
	}
	for _, it := range resp.Items {
		if it.Duplicate {
			duplicates = append(duplicates, it.EventID)
		} else {
			acks.add(it.EventID)
		}
	}
	return duplicates
}

func realSnapshot(t testing.TB, st *clickhouse.Store) storeSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := snapshot(ctx, st)
	if err != nil {
		t.Fatalf("read the store: %v", err)
	}
	return snap
}

// TestIntegrationAcknowledgedIsStoredOnce runs concurrent clients against
// the collector on the embedded engine, with retries, duplicates and
// invalid neighbours, and checks that ClickHouse holds exactly what was
// acknowledged, once.
func TestIntegrationAcknowledgedIsStoredOnce(t *testing.T) {
	st := apptest.NewRealStore(t)
	e := apptest.New(t, apptest.Options{Storage: st, RunBatcher: true, Batcher: collector.BatcherConfig{Size: 40, MaxAge: 20 * time.Millisecond}})
	acks := newAckSet()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := ""
			for i := range 12 {
				items := []string{
					testutil.Report(fmt.Sprintf("g%d-r%d-a", g, i)),
					testutil.Report(fmt.Sprintf("g%d-r%d-bad", g, i), "sync_type", `"nope"`),
					testutil.Report(fmt.Sprintf("g%d-r%d-b", g, i)),
					testutil.Report(fmt.Sprintf("g%d-r%d-c", g, i), "status", `"processing"`, "completed_at", "<delete>"),
				}
				if prev != "" {
					items = append(items, testutil.Report(prev)) // a retry of an earlier report
				}
				body := "[" + strings.Join(items, ",") + "]"
				tries := 1
				if i%4 == 0 {
					tries = 2 // the whole request is retried
				}
				for range tries {
					w := e.Post(body)
					if w.Code != 202 {
						t.Errorf("%d %s", w.Code, w.Body)
						return
					}
					recordAnswer(t, w.Body.Bytes(), acks)
				}
				prev = fmt.Sprintf("g%d-r%d-a", g, i)
			}
		}()
	}
	wg.Wait()
	e.WaitDrained(t, 30*time.Second)
	acked := acks.snapshot()
	if len(acked) != 4*12*3 {
		t.Fatalf("%d reports acknowledged, want %d", len(acked), 4*12*3)
	}
	checkExactlyOnce(t, realSnapshot(t, st), acked, true)
}

// TestIntegrationLifecycle sends the reports of one run as it goes from
// pending to success: ClickHouse holds each report once and the run once,
// with the start its first report gave.
func TestIntegrationLifecycle(t *testing.T) {
	st := apptest.NewRealStore(t)
	e := apptest.New(t, apptest.Options{Storage: st, RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: 10 * time.Millisecond}})
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	ts := func(d time.Duration) string { return `"` + start.Add(d).Format(time.RFC3339Nano) + `"` }
	for _, body := range []string{
		testutil.Report("l1", "run_id", `"life"`, "status", `"pending"`, "started_at", ts(0), "completed_at", "<delete>"),
		testutil.Report("l2", "run_id", `"life"`, "status", `"processing"`, "started_at", ts(time.Millisecond), "completed_at", "<delete>"),
		testutil.Report("l3", "run_id", `"life"`, "status", `"success"`, "started_at", "<delete>", "completed_at", ts(30*time.Second)),
		// A late retry of the processing report changes nothing.
		testutil.Report("l2", "run_id", `"life"`, "status", `"processing"`, "started_at", ts(time.Millisecond), "completed_at", "<delete>"),
	} {
		if w := e.Post(body); w.Code != 202 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	e.WaitDrained(t, 30*time.Second)
	ctx := context.Background()
	run, err := st.GetRun(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Reports) != 3 || run.Run.Status != "success" || !run.Run.StartedAt.Equal(start) || run.Run.Duration() != 30*time.Second {
		t.Fatalf("run %+v with %d reports: want success, started %v, 30s, 3 reports", run.Run, len(run.Reports), start)
	}
	snap := realSnapshot(t, st)
	if snap.Runs != 1 || snap.Reports != 3 || len(snap.EventIDs) != 3 {
		t.Fatalf("store holds %d runs, %d reports, rows %v: want 1, 3, 3", snap.Runs, snap.Reports, snap.EventIDs)
	}
}

// TestIntegrationClickHouseUnavailable keeps ClickHouse away while clients
// report: every report is acknowledged into the spool, readiness says
// ClickHouse is gone, and after recovery everything arrives exactly once.
func TestIntegrationClickHouseUnavailable(t *testing.T) {
	st := apptest.NewRealStore(t)
	sw := &apptest.SwitchStorage{Storage: st}
	sw.Down.Store(true)
	e := apptest.New(t, apptest.Options{Storage: sw, RunBatcher: true,
		Batcher: collector.BatcherConfig{Size: 50, MaxAge: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}})

	acks := newAckSet()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := "[" + testutil.Report(fmt.Sprintf("g%d-%d-a", g, i)) + "," + testutil.Report(fmt.Sprintf("g%d-%d-b", g, i)) + "]"
				w := e.Post(body)
				if w.Code != 202 {
					t.Errorf("ingest while ClickHouse is away: %d %s", w.Code, w.Body)
					return
				}
				recordAnswer(t, w.Body.Bytes(), acks)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	testutil.WaitFor(t, 10*time.Second, "inserts to fail a few times", func() bool { return e.Batcher.Status().Failures >= 3 })
	if w := e.Do("GET", "/readyz", nil, nil); w.Code != 503 {
		t.Fatalf("/readyz while ClickHouse is away: %d %s", w.Code, w.Body)
	}
	if w := e.Do("GET", "/api/v1/health", nil, nil); w.Code != 503 || !strings.Contains(w.Body.String(), apptest.ErrDown.Error()) {
		t.Fatalf("/api/v1/health while ClickHouse is away: %d %s", w.Code, w.Body)
	}
	if snap := realSnapshot(t, st); len(snap.EventIDs) != 0 {
		t.Fatalf("%d reports stored while ClickHouse was away", len(snap.EventIDs))
	}
	if n, _ := e.Spool.Pending(); n == 0 {
		t.Fatal("nothing waits in the spool")
	}
	// ClickHouse comes back while clients go on reporting.
	sw.Down.Store(false)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	e.WaitDrained(t, 30*time.Second)
	acked := acks.snapshot()
	if len(acked) < 40 {
		t.Fatalf("only %d reports acknowledged", len(acked))
	}
	checkExactlyOnce(t, realSnapshot(t, st), acked, true)
	if w := e.Do("GET", "/readyz", nil, nil); w.Code != 200 {
		t.Fatalf("/readyz after recovery: %d %s", w.Code, w.Body)
	}
}

// TestIntegrationSpoolFull fills the spool while ClickHouse is away: what
// got 202 arrives after recovery, what got 503 is not stored.
func TestIntegrationSpoolFull(t *testing.T) {
	st := apptest.NewRealStore(t)
	sw := &apptest.SwitchStorage{Storage: st}
	sw.Down.Store(true)
	e := apptest.New(t, apptest.Options{Storage: sw, SpoolBytes: 8 << 10, RunBatcher: true,
		Batcher: collector.BatcherConfig{MaxAge: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	acks := newAckSet()
	var refused []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("g%d-%d", g, i)
				w := e.Post(testutil.Report(id))
				switch w.Code {
				case 202:
					recordAnswer(t, w.Body.Bytes(), acks)
				case 503:
					if w.Header().Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
					mu.Lock()
					refused = append(refused, id)
					mu.Unlock()
				default:
					t.Errorf("%d %s", w.Code, w.Body)
				}
			}
		}()
	}
	wg.Wait()
	acked := acks.snapshot()
	if len(refused) == 0 || len(acked) == 0 {
		t.Fatalf("%d acknowledged, %d refused: the spool limit was not reached", len(acked), len(refused))
	}
	if w := e.Do("GET", "/readyz", nil, nil); w.Code != 503 {
		t.Fatalf("/readyz with a full spool: %d", w.Code)
	}
	sw.Down.Store(false)
	e.WaitDrained(t, 30*time.Second)
	snap := realSnapshot(t, st)
	checkExactlyOnce(t, snap, acked, true)
	stored := snap.distinct()
	for _, id := range refused {
		if stored[id] > 0 {
			t.Errorf("report %s was refused with 503 but is stored", id)
		}
	}
}

// TestIntegrationTornSpoolReplays tears the tail of a spool that holds
// reports ClickHouse never got: the next start repairs it and replays the
// entries before the torn one.
func TestIntegrationTornSpoolReplays(t *testing.T) {
	st := apptest.NewRealStore(t)
	dir := t.TempDir()
	sw := &apptest.SwitchStorage{Storage: st}
	sw.Down.Store(true)
	first := apptest.New(t, apptest.Options{Storage: sw, SpoolDir: dir})
	for i := range 5 {
		if w := first.Post(testutil.Report(fmt.Sprintf("torn-%d", i))); w.Code != 202 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if err := first.Spool.Close(); err != nil {
		t.Fatal(err)
	}
	tearTail(t, dir, 7)

	second := apptest.New(t, apptest.Options{Storage: st, SpoolDir: dir, RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: 10 * time.Millisecond}})
	second.WaitDrained(t, 30*time.Second)
	want := map[string]bool{"torn-0": true, "torn-1": true, "torn-2": true, "torn-3": true}
	snap := realSnapshot(t, st)
	checkExactlyOnce(t, snap, want, true)
}

// tearTail cuts the last cut bytes off the spool's last segment, as a
// crash in the middle of a write leaves it.
func tearTail(t testing.TB, dir string, cut int64) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segment in %s: %v", dir, err)
	}
	sort.Strings(names)
	seg := names[len(names)-1]
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-cut); err != nil {
		t.Fatal(err)
	}
}
