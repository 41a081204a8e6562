package collector

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// Entries beyond the spool's memory cache are read back from the log, in
// order, beside the cached ones, and committing frees the cache.
func TestSpoolCacheOverflowReadsTheLog(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, 1<<20)
	s.cacheMax = 1 // no entry fits: every one is read from the log
	mustAppend(t, s, reports("a", 3))
	s.cacheMax = 1 << 20
	mustAppend(t, s, reports("b", 2))
	mustAppend(t, s, reports("c", 4))
	s.mu.Lock()
	var cached, uncached int
	for _, e := range s.entries {
		if e.cached != nil {
			cached++
		} else {
			uncached++
		}
	}
	s.mu.Unlock()
	if cached != 2 || uncached != 1 {
		t.Fatalf("cached %d, uncached %d entries; want 2 and 1", cached, uncached)
	}
	b, err := s.Read(100)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(eventIDs(reports("a", 3)), eventIDs(reports("b", 2))...), eventIDs(reports("c", 4))...)
	if got := eventIDs(b.Reports); !equalStrings(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if err := s.Commit(b.Last); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != 0 || s.bytes != 0 || len(s.entries) != 0 {
		t.Fatalf("after commit: cached %d, bytes %d, entries %d", s.cached, s.bytes, len(s.entries))
	}
}

// The batcher gets the same reports from the memory cache as it would get
// from the log after a restart.
func TestSpoolCacheMatchesTheLog(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, 1<<20)
	done := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	rs := reports("x", 3)
	rs[0].Attributes = map[string]string{"host": "a", "exit_code": "3"}
	rs[1].CompletedAt = &done
	rs[1].Message = "line 1\n\"quoted\" <b> \u00e9"
	rs[2].RunStartedAt = time.Now() // carries a monotonic reading
	mustAppend(t, s, rs)
	cached, err := s.Read(100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openSpool(t, dir, 1<<20)
	s2.mu.Lock()
	for _, e := range s2.entries {
		if e.cached != nil {
			t.Fatal("a reopened spool has entries in memory")
		}
	}
	s2.mu.Unlock()
	logged, err := s2.Read(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(cached.Reports) != 3 || len(logged.Reports) != 3 {
		t.Fatalf("read %d from memory, %d from the log; want 3", len(cached.Reports), len(logged.Reports))
	}
	for i := range cached.Reports {
		a, b := encodeReport(t, cached.Reports[i]), encodeReport(t, logged.Reports[i])
		if !bytes.Equal(a, b) {
			t.Errorf("report %d\nfrom memory %s\nfrom the log %s", i, a, b)
		}
		if !cached.Reports[i].RunStartedAt.Equal(logged.Reports[i].RunStartedAt) {
			t.Errorf("report %d: run start %v from memory, %v from the log", i, cached.Reports[i].RunStartedAt, logged.Reports[i].RunStartedAt)
		}
	}
}

func encodeReport(t *testing.T, r synclog.Report) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
