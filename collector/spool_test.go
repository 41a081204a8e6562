package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/synclog"
)

func quietLogger() *logrus.Logger {
	l, _ := newLogger()
	return l
}

func openSpool(t testing.TB, dir string, maxBytes int64) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, maxBytes, quietLogger())
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reports makes n reports whose event ids are prefix-0, prefix-1, ...
func reports(prefix string, n int) []synclog.Report {
	out := make([]synclog.Report, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out[i] = synclog.Report{EventID: id, RunID: "run-" + id, Source: "haier", SyncType: "products", Status: synclog.Status("processing")}
	}
	return out
}

func eventIDs(rs []synclog.Report) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.EventID
	}
	return ids
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustAppend(t testing.TB, s *Spool, rs []synclog.Report) {
	t.Helper()
	if err := s.Append(context.Background(), rs); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func TestSpoolAppendReadCommitOrder(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	mustAppend(t, s, reports("a", 1))
	mustAppend(t, s, reports("b", 2))
	mustAppend(t, s, reports("c", 3))
	select {
	case <-s.Notify():
	default:
		t.Fatal("Notify did not fire after appends")
	}
	if n, oldest := s.Pending(); n != 6 || oldest.IsZero() {
		t.Fatalf("Pending = %d, %v; want 6 and the time of the first append", n, oldest)
	}

	tests := []struct {
		max  int
		want []string
	}{
		// At least one whole entry, even when it alone exceeds max.
		{max: 0, want: []string{"a-0"}},
		{max: 1, want: []string{"a-0"}},
		{max: 2, want: []string{"a-0"}},
		{max: 3, want: []string{"a-0", "b-0", "b-1"}},
		{max: 100, want: []string{"a-0", "b-0", "b-1", "c-0", "c-1", "c-2"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("max=%d", tc.max), func(t *testing.T) {
			b, err := s.Read(tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if got := eventIDs(b.Reports); !equalStrings(got, tc.want) {
				t.Fatalf("Read(%d) = %v, want %v", tc.max, got, tc.want)
			}
		})
	}

	// Reading removes nothing; committing the first two entries does.
	b, err := s.Read(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(b.Last); err != nil {
		t.Fatalf("commit: %v", err)
	}
	st := s.Stats()
	if st.Entries != 1 || st.Reports != 3 {
		t.Fatalf("after commit: %d entries, %d reports; want 1 and 3", st.Entries, st.Reports)
	}
	b, err = s.Read(100)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(b.Reports); !equalStrings(got, []string{"c-0", "c-1", "c-2"}) {
		t.Fatalf("after commit Read = %v, want the third entry", got)
	}
	if err := s.Commit(b.Last); err != nil {
		t.Fatalf("commit last: %v", err)
	}
	if st := s.Stats(); st.Entries != 0 || st.Reports != 0 || st.Bytes != 0 || !st.Oldest.IsZero() {
		t.Fatalf("empty spool stats = %+v", st)
	}
	if b, err := s.Read(100); err != nil || len(b.Reports) != 0 {
		t.Fatalf("Read of an empty spool = %v, %v", b, err)
	}
	// The log goes on after being emptied.
	mustAppend(t, s, reports("d", 1))
	b, err = s.Read(100)
	if err != nil || !equalStrings(eventIDs(b.Reports), []string{"d-0"}) {
		t.Fatalf("Read after refill = %v, %v", b.Reports, err)
	}
}

func TestSpoolKeepsReportFields(t *testing.T) {
	s := openSpool(t, t.TempDir(), 1<<20)
	started := time.Date(2026, 1, 2, 15, 4, 5, 123_000_000, time.UTC)
	done := started.Add(time.Minute)
	in := synclog.Report{
		RunID: "r1", EventID: "e1", Source: "haier", SyncType: "stock", Status: "failed", Message: "boom",
		TotalCount: 3, SuccessCount: 1, FailedCount: 2, StartedAt: started, CompletedAt: &done,
		Attributes: map[string]string{"host": "a"}, ReceivedAt: done, Fingerprint: 1<<63 + 5, RunStartedAt: started.Add(-time.Second),
	}
	mustAppend(t, s, []synclog.Report{in})
	b, err := s.Read(10)
	if err != nil || len(b.Reports) != 1 {
		t.Fatalf("read: %v %v", b, err)
	}
	out := b.Reports[0]
	if out.RunID != in.RunID || out.Message != in.Message || out.Fingerprint != in.Fingerprint ||
		!out.StartedAt.Equal(in.StartedAt) || out.CompletedAt == nil || !out.CompletedAt.Equal(done) ||
		!out.RunStartedAt.Equal(in.RunStartedAt) || out.Attributes["host"] != "a" || out.FailedCount != 2 {
		t.Fatalf("spool changed the report:\n in  %+v\n out %+v", in, out)
	}
}

func TestSpoolByteLimit(t *testing.T) {
	dir := t.TempDir()
	// Measure one entry, then allow two.
	probe := openSpool(t, t.TempDir(), 1<<20)
	mustAppend(t, probe, reports("x", 1))
	size := probe.Stats().Bytes

	s := openSpool(t, dir, 2*size+size/2)
	mustAppend(t, s, reports("x", 1))
	mustAppend(t, s, reports("y", 1))
	if err := s.Append(context.Background(), reports("z", 1)); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("third append: got %v, want ErrSpoolFull", err)
	}
	st := s.Stats()
	if st.Bytes > st.MaxBytes || st.Entries != 2 {
		t.Fatalf("stats after refusal: %+v", st)
	}
	// A refused append leaves nothing behind, and a commit makes room.
	b, _ := s.Read(1)
	if err := s.Commit(b.Last); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, reports("z", 1))
	b, _ = s.Read(10)
	if got := eventIDs(b.Reports); !equalStrings(got, []string{"y-0", "z-0"}) {
		t.Fatalf("spool holds %v, want [y-0 z-0]", got)
	}
	if _, err := OpenSpool(t.TempDir(), 0, quietLogger()); err == nil {
		t.Fatal("OpenSpool accepted a zero size")
	}
}

func TestSpoolReopenReplaysUncommitted(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 1<<20, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustAppend(t, s, reports(fmt.Sprintf("e%d", i), 2))
	}
	firstAt := s.Stats().Oldest
	b, _ := s.Read(4) // the first two entries
	if err := s.Commit(b.Last); err != nil {
		t.Fatal(err)
	}
	thirdAt := s.Stats().Oldest
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), reports("late", 1)); !errors.Is(err, ErrSpoolClosed) {
		t.Fatalf("append after close: got %v, want ErrSpoolClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s2 := openSpool(t, dir, 1<<20)
	st := s2.Stats()
	if st.Entries != 3 || st.Reports != 6 {
		t.Fatalf("reopened spool: %d entries, %d reports; want 3 and 6", st.Entries, st.Reports)
	}
	if !st.Oldest.Equal(thirdAt) || st.Oldest.Equal(firstAt) {
		t.Fatalf("reopened spool's oldest = %v, want the third entry's time %v", st.Oldest, thirdAt)
	}
	select {
	case <-s2.Notify():
	default:
		t.Fatal("a reopened spool with entries does not wake the batcher")
	}
	b, err = s2.Read(100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"e2-0", "e2-1", "e3-0", "e3-1", "e4-0", "e4-1"}
	if got := eventIDs(b.Reports); !equalStrings(got, want) {
		t.Fatalf("replay = %v, want %v", got, want)
	}
	// New entries follow the replayed ones.
	mustAppend(t, s2, reports("e5", 1))
	if err := s2.Commit(b.Last); err != nil {
		t.Fatal(err)
	}
	b, _ = s2.Read(100)
	if got := eventIDs(b.Reports); !equalStrings(got, []string{"e5-0"}) {
		t.Fatalf("after commit = %v", got)
	}
}

func TestSpoolReopenEmpty(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 1<<20, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, reports("a", 3))
	b, _ := s.Read(100)
	if err := s.Commit(b.Last); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openSpool(t, dir, 1<<20)
	if st := s2.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("a spool emptied before close reopens with %+v", st)
	}
	mustAppend(t, s2, reports("b", 1))
	b, _ = s2.Read(100)
	if got := eventIDs(b.Reports); !equalStrings(got, []string{"b-0"}) {
		t.Fatalf("got %v", got)
	}
}

// TestSpoolConcurrentAppends runs many appends at once: group commit must
// write each exactly once, and answer each only after its group is on disk.
func TestSpoolConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 64<<20, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Append(context.Background(), reports(fmt.Sprintf("w%d-%d", w, i), 1)); err != nil {
					errs <- err
				}
			}
		}()
	}
	// Readers and commits run alongside the writers.
	var committed []string
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			b, err := s.Read(37)
			if err != nil {
				errs <- err
				return
			}
			if len(b.Reports) > 0 {
				committed = append(committed, eventIDs(b.Reports)...)
				if err := s.Commit(b.Last); err != nil {
					errs <- err
					return
				}
				continue
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b, err := s.Read(writers * each)
	if err != nil {
		t.Fatal(err)
	}
	all := append(committed, eventIDs(b.Reports)...)
	if len(all) != writers*each {
		t.Fatalf("got %d reports, want %d", len(all), writers*each)
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("report %s read twice", id)
		}
		seen[id] = true
	}
	// Each writer's reports keep their order.
	pos := map[string]int{}
	for i, id := range all {
		pos[id] = i
	}
	for w := range writers {
		for i := 1; i < each; i++ {
			if pos[fmt.Sprintf("w%d-%d-0", w, i)] < pos[fmt.Sprintf("w%d-%d-0", w, i-1)] {
				t.Fatalf("writer %d: append %d read before append %d", w, i, i-1)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What was not committed is still there after a restart.
	s2 := openSpool(t, dir, 64<<20)
	if st := s2.Stats(); st.Reports != len(b.Reports) {
		t.Fatalf("reopened spool holds %d reports, want %d", st.Reports, len(b.Reports))
	}
}

// TestSpoolCloseWritesQueuedAppends closes the spool while appends wait:
// each append is either written and answered nil, or refused; none is
// answered nil and then lost.
func TestSpoolCloseWritesQueuedAppends(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 64<<20, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				rs := reports(fmt.Sprintf("w%d-%d", w, i), 1)
				err := s.Append(context.Background(), rs)
				if errors.Is(err, ErrSpoolClosed) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				ok = append(ok, rs[0].EventID)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s2 := openSpool(t, dir, 64<<20)
	b, err := s2.Read(1 << 30)
	if err != nil {
		t.Fatal(err)
	}
	got := eventIDs(b.Reports)
	sort.Strings(got)
	sort.Strings(ok)
	if len(ok) == 0 || !equalStrings(got, ok) {
		t.Fatalf("after close the spool holds %d reports, %d were acknowledged", len(got), len(ok))
	}
}

// lastSegment returns the newest segment file of a spool directory.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segment in %s: %v", dir, err)
	}
	sort.Strings(names)
	return names[len(names)-1]
}

// tearTail cuts the last cut bytes off the spool's last segment, as a
// crash in the middle of a write leaves it.
func tearTail(t testing.TB, dir string, cut int64) {
	t.Helper()
	seg := lastSegment(t, dir)
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-cut); err != nil {
		t.Fatal(err)
	}
}

func TestSpoolRepairsTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(entry int64) int64
	}{
		{"mid payload", func(entry int64) int64 { return entry / 2 }},
		{"one byte short", func(int64) int64 { return 1 }},
		// Only the length prefix of the last entry is left.
		{"header only", func(entry int64) int64 { return entry }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenSpool(dir, 1<<20, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			var before int64
			for i := range 5 {
				before = s.Stats().Bytes
				mustAppend(t, s, reports(fmt.Sprintf("e%d", i), 1))
			}
			lastEntry := s.Stats().Bytes - before
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tearTail(t, dir, tc.cut(lastEntry))

			log, logs := newLogger()
			s2, err := OpenSpool(dir, 1<<20, log)
			if err != nil {
				t.Fatalf("open a spool with a torn tail: %v", err)
			}
			defer s2.Close()
			b, err := s2.Read(100)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"e0-0", "e1-0", "e2-0", "e3-0"}
			if got := eventIDs(b.Reports); !equalStrings(got, want) {
				t.Fatalf("after repair the spool holds %v, want %v", got, want)
			}
			if got := logs.String(); !strings.Contains(got, "torn") {
				t.Fatalf("the repair was not logged: %s", got)
			}
			// The repaired log takes new entries after the kept ones.
			mustAppend(t, s2, reports("new", 1))
			b, _ = s2.Read(100)
			if got := eventIDs(b.Reports); !equalStrings(got, append(want, "new-0")) {
				t.Fatalf("after repair and append: %v", got)
			}
		})
	}
}

func BenchmarkSpoolAppendParallel(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), 1<<34, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := reports("bench", 1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), rs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
