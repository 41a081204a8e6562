package exporter

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// DefaultMaxSources is the number of sources that keep their own label
// when no other is configured.
const DefaultMaxSources = 50

// SourceLimiter bounds the values of the source label: Max sources keep
// their name and every other one is folded into OtherSource. Places are
// taken in the order sources are seen, and Rebalance gives the places of
// sources gone idle to the most recently active folded ones, so that no
// source, real or made up by a token, holds a place for good. It is safe
// for concurrent use; the ingest instruments and the ClickHouse-backed
// collector of one process share one, so that a source is folded the same
// way in both.
type SourceLimiter struct {
	mu   sync.Mutex
	max  int
	kept map[string]struct{}
}

// NewSourceLimiter returns a limiter that keeps max sources
// (DefaultMaxSources when max < 1).
func NewSourceLimiter(max int) *SourceLimiter {
	if max < 1 {
		max = DefaultMaxSources
	}
	return &SourceLimiter{max: max, kept: make(map[string]struct{}, max)}
}

// Label returns the label value of source, admitting it while there is
// room, and whether it was folded into OtherSource. OtherSource itself,
// as the queries that fold sources return it, is its own label and takes
// no room; no source can be named like it (source names start with a
// letter or a digit).
func (l *SourceLimiter) Label(source string) (label string, folded bool) {
	if source == OtherSource {
		return OtherSource, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.kept[source]; ok {
		return source, false
	}
	if len(l.kept) < l.max {
		l.kept[source] = struct{}{}
		return source, false
	}
	return OtherSource, true
}

// Full reports whether every place is taken, so that unseen sources fold.
func (l *SourceLimiter) Full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.kept) >= l.max
}

// Kept returns the sources that keep their name, sorted.
func (l *SourceLimiter) Kept() []string {
	l.mu.Lock()
	out := make([]string, 0, len(l.kept))
	for s := range l.kept {
		out = append(out, s)
	}
	l.mu.Unlock()
	slices.Sort(out)
	return out
}

// Max is the number of sources that keep their name.
func (l *SourceLimiter) Max() int { return l.max }

// Rebalance frees the places of kept sources whose latest run (lastRun)
// is older than idle, or that have none, and fills free places with the
// folded sources that ran most recently. The type-state scraper calls it
// with what ClickHouse knows of every source.
func (l *SourceLimiter) Rebalance(lastRun map[string]time.Time, now time.Time, idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.kept {
		if t, ok := lastRun[s]; !ok || now.Sub(t) > idle {
			delete(l.kept, s)
		}
	}
	if len(l.kept) >= l.max {
		return
	}
	var waiting []string
	for s := range lastRun {
		if _, ok := l.kept[s]; !ok && s != OtherSource {
			waiting = append(waiting, s)
		}
	}
	slices.SortFunc(waiting, func(a, b string) int {
		if c := lastRun[b].Compare(lastRun[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, s := range waiting[:min(len(waiting), l.max-len(l.kept))] {
		l.kept[s] = struct{}{}
	}
}
