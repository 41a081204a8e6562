package collector

import (
	"testing"
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
		if e.payload != nil {
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
