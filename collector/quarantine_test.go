package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/syncwatch/syncwatch/synclog"
)

// refusedError is what ClickHouse answers for a value it will never take.
type refusedError struct{ eventID string }

func (e *refusedError) Error() string   { return "clickhouse refused report " + e.eventID }
func (e *refusedError) Permanent() bool { return true }

// pickyWriter refuses, whole and for good, every insert that holds a report
// whose event id is poisoned, as ClickHouse refuses an insert with one bad
// row; it stores the others. It can also be made to fail as if ClickHouse
// were away.
type pickyWriter struct {
	mu       sync.Mutex
	poisoned map[string]bool
	stored   map[string]int
	down     bool
	calls    int
}

func (w *pickyWriter) InsertReports(_ context.Context, rs []synclog.Report) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.down {
		return errDown
	}
	for _, r := range rs {
		if w.poisoned[r.EventID] {
			return fmt.Errorf("insert %d reports: %w", len(rs), &refusedError{r.EventID})
		}
	}
	for _, r := range rs {
		w.stored[r.EventID]++
	}
	return nil
}

func (w *pickyWriter) storedIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for id := range w.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// A report ClickHouse refuses for good is set aside, the rest of its batch
// is stored, and the batcher goes on with later reports. Before, it retried
// the batch forever and stored nothing after it.
func TestBatcherQuarantinesWhatClickHouseRefuses(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, filepath.Join(dir, "spool"), 1<<20)
	q, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	w := &pickyWriter{poisoned: map[string]bool{"a-3": true, "a-11": true}, stored: map[string]int{}}
	metrics := NewMetrics(prometheus.NewRegistry())
	b := NewBatcher(s, q, w, BatcherConfig{Size: 16, MaxAge: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, quietLogger(), metrics)
	runBatcher(t, b)
	mustAppend(t, s, reports("a", 16))
	waitFor(t, 10*time.Second, "the batch around the bad reports to be stored", func() bool { return len(w.storedIDs()) == 14 })
	mustAppend(t, s, reports("later", 2))
	waitFor(t, 10*time.Second, "later reports to be stored", func() bool { return len(w.storedIDs()) == 16 })
	waitFor(t, 5*time.Second, "the spool to empty", func() bool { return s.Stats().Entries == 0 })

	for _, id := range w.storedIDs() {
		if id == "a-3" || id == "a-11" {
			t.Errorf("refused report %s was stored", id)
		}
	}
	got, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.Report.EventID)
		if !strings.Contains(e.Error, "clickhouse refused report "+e.Report.EventID) || e.At.IsZero() {
			t.Errorf("quarantined %s with error %q at %v", e.Report.EventID, e.Error, e.At)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a-11", "a-3"}) {
		t.Errorf("quarantine holds %v, want a-11 and a-3", ids)
	}
	if v := testutil.ToFloat64(metrics.quarantined); v != 2 {
		t.Errorf("syncwatch_quarantined_reports_total = %v, want 2", v)
	}
	if st := b.Status(); st.Failures != 0 {
		t.Errorf("batcher reports %d consecutive failures after setting the bad reports aside", st.Failures)
	}
}

// An error that is not permanent (ClickHouse away) is retried, never
// quarantined.
func TestBatcherRetriesTransientErrorsWithoutQuarantine(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, filepath.Join(dir, "spool"), 1<<20)
	q, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	w := &pickyWriter{poisoned: map[string]bool{}, stored: map[string]int{}, down: true}
	b := NewBatcher(s, q, w, BatcherConfig{Size: 4, MaxAge: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, quietLogger(), NewMetrics(prometheus.NewRegistry()))
	runBatcher(t, b)
	mustAppend(t, s, reports("t", 4))
	waitFor(t, 5*time.Second, "several failed attempts", func() bool { return b.Status().Failures >= 3 })
	if n := q.Status().Reports; n != 0 {
		t.Fatalf("%d reports quarantined while clickhouse was away", n)
	}
	w.mu.Lock()
	w.down = false
	w.mu.Unlock()
	waitFor(t, 5*time.Second, "the reports to be stored", func() bool { return len(w.storedIDs()) == 4 })
}

func TestQuarantineSurvivesReopenAndReplays(t *testing.T) {
	dir := t.TempDir()
	q, err := OpenQuarantine(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("密码已隐去 ", 5000)
	rs := reports("q", 3)
	rs[1].Message = long
	if err := q.Add(rs[:2], errors.New("first cause")); err != nil {
		t.Fatal(err)
	}
	if err := q.Add(rs[2:], errors.New("second cause")); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of an Add leaves a torn last line; that Add
	// never returned, so its report is still in the spool.
	f, err := os.OpenFile(filepath.Join(dir, quarantineFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"quarantined_at":"2026-`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	q2, err := OpenQuarantine(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if st := q2.Status(); st.Reports != 3 || st.LastError != "second cause" {
		t.Fatalf("after reopen: %+v, want 3 reports and the last cause", st)
	}
	items, err := q2.List()
	if err != nil || len(items) != 3 || items[1].Report.Message != long {
		t.Fatalf("list: %d items, err %v; want 3 with the long message intact", len(items), err)
	}

	t.Run("a failed requeue keeps them", func(t *testing.T) {
		if _, err := q2.Replay(func([]synclog.Report) error { return ErrSpoolFull }); !errors.Is(err, ErrSpoolFull) {
			t.Fatalf("replay into a full spool: %v, want ErrSpoolFull", err)
		}
		if n := q2.Status().Reports; n != 3 {
			t.Fatalf("%d reports left after a failed replay, want 3", n)
		}
	})
	t.Run("replay requeues and empties", func(t *testing.T) {
		var got []string
		n, err := q2.Replay(func(rs []synclog.Report) error { got = eventIDs(rs); return nil })
		if err != nil || n != 3 || !slices.Equal(got, []string{"q-0", "q-1", "q-2"}) {
			t.Fatalf("replay: %d, %v, requeued %v", n, err, got)
		}
		if n := q2.Status().Reports; n != 0 {
			t.Fatalf("%d reports left after replay", n)
		}
		q3, err := OpenQuarantine(dir)
		if err != nil || q3.Status().Reports != 0 {
			t.Fatalf("reopened after replay: %v, %+v", err, q3.Status())
		}
	})
}
