package collector

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/synclog"
)

// recordingWriter is a ReportWriter that records each insert and can be
// made to fail.
type recordingWriter struct {
	mu      sync.Mutex
	batches [][]string
	times   []time.Time
	fail    atomic.Bool
	calls   atomic.Int64
	// during, when set, runs inside each insert before it succeeds or fails.
	during func([]synclog.Report)
	// block, when set, makes inserts wait for it or for their context.
	block chan struct{}
}

func (w *recordingWriter) InsertReports(ctx context.Context, rs []synclog.Report) error {
	w.calls.Add(1)
	w.mu.Lock()
	w.times = append(w.times, time.Now())
	w.mu.Unlock()
	if w.during != nil {
		w.during(rs)
	}
	if w.block != nil {
		select {
		case <-w.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if w.fail.Load() {
		return errDown
	}
	w.mu.Lock()
	w.batches = append(w.batches, eventIDs(rs))
	w.mu.Unlock()
	return nil
}

func (w *recordingWriter) stored() (ids []string, batches int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.batches {
		ids = append(ids, b...)
	}
	return ids, len(w.batches)
}

func (w *recordingWriter) attempts() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.times...)
}

func newBatcher(t testing.TB, s *Spool, w ReportWriter, cfg BatcherConfig) *Batcher {
	t.Helper()
	q, err := OpenQuarantine(t.TempDir())
	if err != nil {
		t.Fatalf("open quarantine: %v", err)
	}
	return NewBatcher(s, q, w, cfg, quietLogger(), NewMetrics(prometheus.NewRegistry()))
}

// runBatcher starts b and stops it at cleanup unless the test did.
func runBatcher(t testing.TB, b *Batcher) {
	go b.Run()
	t.Cleanup(func() {
		select {
		case <-b.stopped:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Stop(ctx)
		}
	})
}

func TestBatcherFlushesBySize(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{}
	// MaxSize = Size: the backlog below goes in inserts of at most Size.
	b := newBatcher(t, s, w, BatcherConfig{Size: 10, MaxSize: 10, MaxAge: time.Hour})
	runBatcher(t, b)
	for i := range 9 {
		mustAppend(t, s, reports(fmt.Sprintf("e%d", i), 1))
	}
	time.Sleep(200 * time.Millisecond)
	if n := w.calls.Load(); n != 0 {
		t.Fatalf("%d inserts before the batch was full", n)
	}
	mustAppend(t, s, reports("e9", 1))
	waitFor(t, 5*time.Second, "a full batch to be inserted", func() bool { _, n := w.stored(); return n == 1 })
	ids, _ := w.stored()
	want := []string{"e0-0", "e1-0", "e2-0", "e3-0", "e4-0", "e5-0", "e6-0", "e7-0", "e8-0", "e9-0"}
	if !equalStrings(ids, want) {
		t.Fatalf("inserted %v, want %v in spool order", ids, want)
	}
	waitFor(t, 5*time.Second, "the spool to be committed", func() bool { return s.Stats().Entries == 0 })

	// A backlog larger than a batch goes in batches of at most Size, whole
	// entries each.
	for i := range 5 {
		mustAppend(t, s, reports(fmt.Sprintf("big%d", i), 4))
	}
	// Two batches of two whole entries go at once; the last entry is not a
	// full batch and waits for its max age.
	waitFor(t, 5*time.Second, "the full batches of the backlog", func() bool { n, _ := s.Pending(); return n == 4 })
	time.Sleep(100 * time.Millisecond)
	if n, _ := s.Pending(); n != 4 {
		t.Fatalf("%d reports pending, want the 4 of the last entry", n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batches) != 3 || len(w.batches[1]) != 8 || len(w.batches[2]) != 8 {
		t.Fatalf("batches %v: want 10, then 8 and 8 (whole entries of 4, at most 10)", w.batches)
	}
}

// A backlog that built up during a slow insert goes in inserts of up to
// MaxSize, whole entries each; then Size triggers inserts again.
func TestBatcherCatchesUpWithLargerInserts(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{block: make(chan struct{})}
	b := newBatcher(t, s, w, BatcherConfig{Size: 10, MaxSize: 25, MaxAge: time.Hour})
	runBatcher(t, b)
	for i := range 4 {
		mustAppend(t, s, reports(fmt.Sprintf("a%d", i), 3))
	}
	waitFor(t, 5*time.Second, "the first insert", func() bool { return w.calls.Load() == 1 })
	for i := range 12 {
		mustAppend(t, s, reports(fmt.Sprintf("b%d", i), 3))
	}
	close(w.block)
	waitFor(t, 5*time.Second, "the backlog to be inserted", func() bool { n, _ := s.Pending(); return n == 0 })
	w.mu.Lock()
	defer w.mu.Unlock()
	var sizes []int
	for _, b := range w.batches {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[12 24 12]" {
		t.Fatalf("inserts of %v reports, want [12 24 12]: the 12 that triggered the first, then 36 in whole entries of 3 of at most 25", sizes)
	}
}

func TestBatcherConfigDefaults(t *testing.T) {
	tests := []struct {
		in            BatcherConfig
		size, maxSize int
	}{
		{BatcherConfig{}, 5000, 20000},
		{BatcherConfig{Size: 100}, 100, 400},
		{BatcherConfig{Size: 100, MaxSize: 150}, 100, 150},
		// Kept as given: config refuses it before it gets here; nothing clamps.
		{BatcherConfig{Size: 100, MaxSize: 50}, 100, 50},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%d", tc.in.Size, tc.in.MaxSize), func(t *testing.T) {
			c := tc.in
			c.defaults()
			if c.Size != tc.size || c.MaxSize != tc.maxSize {
				t.Fatalf("size %d, max size %d; want %d and %d", c.Size, c.MaxSize, tc.size, tc.maxSize)
			}
		})
	}
}

func TestBatcherFlushesByAge(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{}
	const age = 150 * time.Millisecond
	b := newBatcher(t, s, w, BatcherConfig{Size: 1000, MaxAge: age})
	runBatcher(t, b)
	start := time.Now()
	mustAppend(t, s, reports("a", 2))
	waitFor(t, 5*time.Second, "an aged batch to be inserted", func() bool { _, n := w.stored(); return n == 1 })
	if d := time.Since(start); d < age {
		t.Fatalf("a 2-report batch was inserted after %s, before its max age %s", d, age)
	}
	if at := w.attempts()[0].Sub(start); at > age+3*time.Second {
		t.Fatalf("insert came %s after the append, max age is %s", at, age)
	}
	waitFor(t, 5*time.Second, "the flush to be recorded", func() bool { return !b.Status().LastFlush.IsZero() })
	if st := b.Status(); st.Failures != 0 || st.LastError != nil {
		t.Fatalf("status after a flush: %+v", st)
	}
}

func TestBatcherRetriesWithBackoffAndCommitsOnlyAfterSuccess(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{}
	w.fail.Store(true)
	// While an insert runs, its reports are still in the spool.
	var inSpoolDuringInsert atomic.Bool
	inSpoolDuringInsert.Store(true)
	w.during = func(rs []synclog.Report) {
		if s.Stats().Reports < len(rs) {
			inSpoolDuringInsert.Store(false)
		}
	}
	const minB, maxB = 20 * time.Millisecond, 80 * time.Millisecond
	b := newBatcher(t, s, w, BatcherConfig{Size: 100, MaxAge: 10 * time.Millisecond, MinBackoff: minB, MaxBackoff: maxB})
	runBatcher(t, b)
	mustAppend(t, s, reports("a", 3))
	waitFor(t, 10*time.Second, "six failed inserts", func() bool { return w.calls.Load() >= 6 })

	st := b.Status()
	if st.Failures < 5 || st.LastError == nil || st.LastErrAt.IsZero() {
		t.Fatalf("status while failing: %+v", st)
	}
	if n, _ := s.Pending(); n != 3 {
		t.Fatalf("spool holds %d reports while inserts fail, want 3", n)
	}
	at := w.attempts()
	for i := 1; i < len(at); i++ {
		// Full jitter waits at least half the minimum and at most the maximum.
		// The upper bound leaves room for a busy machine.
		if d := at[i].Sub(at[i-1]); d < minB/2 || d > maxB+2*time.Second {
			t.Fatalf("wait %d between attempts was %s, want within [%s, %s]", i, d, minB/2, maxB)
		}
	}

	w.fail.Store(false)
	waitFor(t, 10*time.Second, "the insert to succeed", func() bool { _, n := w.stored(); return n == 1 })
	waitFor(t, 5*time.Second, "the spool to be committed", func() bool { return s.Stats().Entries == 0 })
	if ids, _ := w.stored(); !equalStrings(ids, []string{"a-0", "a-1", "a-2"}) {
		t.Fatalf("stored %v", ids)
	}
	if !inSpoolDuringInsert.Load() {
		t.Fatal("reports left the spool before ClickHouse had them")
	}
	waitFor(t, 5*time.Second, "the recovery to be recorded", func() bool { return b.Status().Failures == 0 })
	if st := b.Status(); st.LastFlush.IsZero() {
		t.Fatalf("status after recovery: %+v", st)
	}
}

func TestBatcherStopFlushesWithinDeadline(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{}
	b := newBatcher(t, s, w, BatcherConfig{Size: 4, MaxAge: time.Hour})
	runBatcher(t, b)
	for i := range 5 {
		mustAppend(t, s, reports(fmt.Sprintf("e%d", i), 1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	ids, _ := w.stored()
	if len(ids) != 5 {
		t.Fatalf("stop flushed %v, want all 5 reports", ids)
	}
	if st := s.Stats(); st.Entries != 0 {
		t.Fatalf("spool after stop: %+v", st)
	}
}

func TestBatcherStopLeavesTheRestInTheSpool(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 1<<20, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	w := &recordingWriter{}
	w.fail.Store(true)
	b := newBatcher(t, s, w, BatcherConfig{Size: 100, MaxAge: time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	go b.Run()
	mustAppend(t, s, reports("a", 2))
	mustAppend(t, s, reports("b", 2))
	waitFor(t, 5*time.Second, "a failed insert", func() bool { return w.calls.Load() >= 1 })

	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = b.Stop(ctx)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Stop reported success while reports were left behind")
	}
	if took < deadline || took > deadline+3*time.Second {
		t.Fatalf("Stop took %s with a %s deadline: it must keep trying until then, and no longer", took, deadline)
	}
	if n, _ := s.Pending(); n != 4 {
		t.Fatalf("%d reports left in the spool, want 4", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The next start finds them.
	s2 := openSpool(t, dir, 1<<20)
	w2 := &recordingWriter{}
	b2 := newBatcher(t, s2, w2, BatcherConfig{Size: 100, MaxAge: time.Millisecond})
	runBatcher(t, b2)
	waitFor(t, 5*time.Second, "the replay", func() bool { ids, _ := w2.stored(); return len(ids) == 4 })
	if ids, _ := w2.stored(); !equalStrings(ids, []string{"a-0", "a-1", "b-0", "b-1"}) {
		t.Fatalf("replayed %v", ids)
	}
}

// TestBatcherStopCutsAHangingInsert stops a batcher whose insert hangs: Stop
// returns at its deadline and the reports stay in the spool.
func TestBatcherStopCutsAHangingInsert(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{block: make(chan struct{})}
	b := newBatcher(t, s, w, BatcherConfig{Size: 1, MaxAge: time.Millisecond, InsertTimeout: time.Hour})
	go b.Run()
	mustAppend(t, s, reports("a", 1))
	waitFor(t, 5*time.Second, "the insert to start", func() bool { return w.calls.Load() >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Stop(ctx); err == nil {
		t.Fatal("Stop reported success with a hanging insert")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Stop took %s with a 200ms deadline", took)
	}
	if n, _ := s.Pending(); n != 1 {
		t.Fatalf("spool holds %d reports, want 1", n)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
	}{
		{"defaults", 100 * time.Millisecond, 30 * time.Second},
		{"narrow", 10 * time.Millisecond, 20 * time.Millisecond},
		{"equal", 50 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for n := 0; n < 40; n++ {
				ceiling := tc.min << min(n, 30)
				if n > 0 {
					ceiling = tc.min << min(n-1, 30)
				}
				ceiling = min(max(ceiling, tc.min), tc.max)
				for range 50 {
					d := backoff(n, tc.min, tc.max)
					if d < tc.min/2 || d > ceiling {
						t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, tc.min/2, ceiling)
					}
				}
			}
		})
	}
}

// TestBatcherBackoffBelowDefaultMinimum configures only a maximum backoff
// smaller than the default minimum: failures must not crash the batcher.
func TestBatcherBackoffBelowDefaultMinimum(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	w := &recordingWriter{}
	w.fail.Store(true)
	b := newBatcher(t, s, w, BatcherConfig{Size: 1, MaxAge: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	runBatcher(t, b)
	mustAppend(t, s, reports("a", 1))
	waitFor(t, 5*time.Second, "three attempts", func() bool { return w.calls.Load() >= 3 })
	w.fail.Store(false)
	waitFor(t, 5*time.Second, "the insert", func() bool { ids, _ := w.stored(); return len(ids) == 1 })
}
