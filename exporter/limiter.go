package exporter

import (
	"slices"
	"sync"
)

// DefaultMaxSources is the number of sources that keep their own label
// when no other is configured.
const DefaultMaxSources = 50

// SourceLimiter bounds the values of the source label: the first Max
// sources it sees keep their name and every later one is folded into
// OtherSource. It is safe for concurrent use; the ingest instruments and
// the ClickHouse-backed collector of one process share one, so that a
// source is folded the same way in both.
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
// room, and whether it was folded into OtherSource. A source named like
// OtherSource is its own label and takes no room.
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
