package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/syncwatch/syncwatch/diagnose"
)

// The window questions of the diagnostics (duration scores, failure
// series, gaps) are answered a UTC day at a time: each day of the window
// is computed by itself — its runs numbered within the day, its gaps taken
// between its own starts — and the store joins the days: places offset by
// the runs of the days before, the gap from a day's first start to the
// last start before it judged here (joinGaps). A whole day that has ended
// is kept in memory with the baseline it was judged by, and answered again
// while nothing has touched it since: no report, delete, replica move or
// archive drop or restore marked it (run_baseline_marks, as for the
// baselines' summaries). The window's first day, which it may start in
// the middle of, is computed and kept whole, and trimmed to the window:
// the runs before the window's start dropped, the others' places moved
// down by their number (countBefore). So the question of the last 7 days,
// asked again, reads the runs of the day it ends in, and counts those of
// the day it starts in.

// windowCacheEntries bounds the answers kept, of every question: one of
// 7 days keeps, for each of its three detectors, its 7 past days and its
// baseline (24 answers).
const windowCacheEntries = 256

// windowDay is a UTC day of a window: the window covers [from, to) of
// it.
type windowDay struct {
	day, from, to time.Time
}

// whole reports whether the window covers all of the day.
func (d windowDay) whole() bool { return d.from.Equal(d.day) && d.to.Equal(d.day.AddDate(0, 0, 1)) }

// windowDays splits [since, until) into its UTC days, in order; the first
// and the last may be partial.
func windowDays(since, until time.Time) []windowDay {
	var out []windowDay
	for d := utcDay(since); d.Before(until); d = d.AddDate(0, 0, 1) {
		next := d.AddDate(0, 0, 1)
		wd := windowDay{day: d, from: d, to: next}
		if since.After(d) {
			wd.from = since
		}
		if until.Before(next) {
			wd.to = until
		}
		out = append(out, wd)
	}
	return out
}

// question names a window question for what it keeps: all is the
// question over every type (the detector, its parameters and the baseline
// summaries it judges by), filter the types asked. A filtered question
// answers from its own kept days or, failing those, from the kept days of
// the question over every type, keeping its types' rows: each type's rows
// are its own.
type question struct {
	all    string
	filter diagnose.Filter
}

// key is what the question's own answers are kept under.
func (q question) key() string {
	if q.everyType() {
		return q.all
	}
	return fmt.Sprintf("%s %v", q.all, q.filter)
}

func (q question) everyType() bool { return len(q.filter.Sources) == 0 && len(q.filter.SyncTypes) == 0 }

// asks reports whether the question covers the type.
func (q question) asks(source, syncType string) bool {
	return (len(q.filter.Sources) == 0 || slices.Contains(q.filter.Sources, source)) &&
		(len(q.filter.SyncTypes) == 0 || slices.Contains(q.filter.SyncTypes, syncType))
}

// lookup returns the kept answer of the question under day (zero for its
// baseline), from its own or, picked by its types, from the question over
// every type.
func (s *Store) lookup(q question, day time.Time, pick func(any) any) (dayAnswer, bool) {
	if s.window == nil {
		return dayAnswer{}, false
	}
	if a, ok := s.window.days.Get(dayKey{q.key(), day}); ok {
		return a, true
	}
	if q.everyType() {
		return dayAnswer{}, false
	}
	a, ok := s.window.days.Get(dayKey{q.all, day})
	if ok {
		a.rows = pick(a.rows)
	}
	return a, ok
}

// pickTypes keeps the rows of the question's types.
func pickTypes[T any](q question, rows []T, typ func(T) (string, string)) []T {
	var out []T
	for _, r := range rows {
		if q.asks(typ(r)) {
			out = append(out, r)
		}
	}
	return out
}

// keptOr returns what compute returns, kept under the question when it
// is cacheable and answered from there the next time (pick keeps a
// filtered question's types of an answer kept for every type).
func keptOr[T any](s *Store, q question, cacheable bool, compute func() (T, error), pick func(T) T) (T, error) {
	if cacheable {
		if a, ok := s.lookup(q, time.Time{}, func(rows any) any { return pick(rows.(T)) }); ok {
			return a.rows.(T), nil
		}
	}
	v, err := compute()
	if err == nil && cacheable && s.window != nil {
		s.window.days.Add(dayKey{question: q.key()}, dayAnswer{rows: v})
	}
	return v, err
}

// dayKey names one day's answer to one question, or with no day the
// question's baseline: the question names the detector, its parameters
// and the baseline summaries it judges by.
type dayKey struct {
	question string
	day      time.Time
}

// dayAnswer is a kept day: its rows, and when the runs were read (a
// little before, see baselineMargin).
type dayAnswer struct {
	computed time.Time
	rows     any
}

// windowCache keeps the answers of whole past days.
type windowCache struct {
	days *lru.Cache[dayKey, dayAnswer]
}

func newWindowCache(size int) (*windowCache, error) {
	c, err := lru.New[dayKey, dayAnswer](size)
	if err != nil {
		return nil, fmt.Errorf("window cache: %w", err)
	}
	return &windowCache{days: c}, nil
}

// dayPlan says which days of a question come from the cache and which
// are computed, and which of those are kept.
type dayPlan struct {
	question question
	// since is the window's start; first its first day, which is
	// computed whole and trimmed to start at since when since is after
	// the day's start.
	since, first time.Time
	// computed is when the runs are read, for the days kept.
	computed time.Time
	// cached holds the rows of the days answered from the cache.
	cached map[time.Time]any
	// compute are the days to read from the runs: whole days but for the
	// window's last, which may end before its day does. keep marks the
	// days to remember.
	compute []windowDay
	keep    map[time.Time]bool
}

// trimmed reports whether the window starts after its first day does.
func (pl dayPlan) trimmed() bool { return pl.since.After(pl.first) }

// planWindowDays splits the window into days and looks each whole, settled
// day up in the cache; a question with a cacheable of false (its baseline
// partly read from the runs, which change without a mark of the window's
// days) computes every day and keeps none.
func (s *Store) planWindowDays(ctx context.Context, q question, since, until time.Time, cacheable bool, pick func(any) any) (dayPlan, error) {
	pl := dayPlan{question: q, since: since, first: utcDay(since), cached: map[time.Time]any{}, keep: map[time.Time]bool{}}
	var whole []string
	for _, d := range windowDays(since, until) {
		d.from = d.day // the first day is computed whole
		pl.compute = append(pl.compute, d)
		if d.whole() {
			whole = append(whole, d.day.Format(time.DateOnly))
		}
	}
	if s.window == nil || !cacheable || len(whole) == 0 {
		return pl, nil
	}
	out, err := s.eng.selectRows(ctx, `SELECT now64(3, 'UTC') AS now, groupArray(toString(day)) AS days, groupArray(m) AS marks
FROM (SELECT day, max(marked_at) AS m FROM run_baseline_marks WHERE day IN {days:Array(Date)} GROUP BY day)`,
		Params{"days": whole})
	if err != nil {
		return pl, fmt.Errorf("read the window's marks: %w", err)
	}
	row, err := decodeRows[struct {
		Now   time.Time   `json:"now"`
		Days  []string    `json:"days"`
		Marks []time.Time `json:"marks"`
	}](out)
	if err != nil {
		return pl, fmt.Errorf("read the window's marks: %w", err)
	}
	if len(row) != 1 {
		return pl, fmt.Errorf("read the window's marks: %d rows", len(row))
	}
	r := row[0]
	if len(r.Days) != len(r.Marks) {
		return pl, fmt.Errorf("read the window's marks: %d days, %d marks", len(r.Days), len(r.Marks))
	}
	marks := map[time.Time]time.Time{}
	for i, day := range r.Days {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return pl, fmt.Errorf("read the window's marks: %w", err)
		}
		marks[d] = r.Marks[i]
	}
	now := r.Now.UTC()
	pl.computed = now.Add(-baselineMargin)
	days := pl.compute
	pl.compute = nil
	for _, d := range days {
		if d.whole() && !d.to.Add(baselineSettle).After(now) {
			if a, ok := s.lookup(q, d.day, pick); ok && marks[d.day].Before(a.computed) {
				pl.cached[d.day] = a.rows
				continue
			}
			pl.keep[d.day] = true
		}
		pl.compute = append(pl.compute, d)
	}
	return pl, nil
}

// countBefore counts, per type, the runs of the window's first day that
// started before the window and meet cond (the runs a question numbers):
// what trimming the first day takes away. It asks nothing when the window
// starts with its first day.
func (s *Store) countBefore(ctx context.Context, pl dayPlan, f diagnose.Filter, cond string) (map[[2]string]uint64, error) {
	counts := map[[2]string]uint64{}
	if !pl.trimmed() {
		return counts, nil
	}
	p := Params{"from": pl.first, "since": pl.since}
	out, err := s.eng.selectRows(ctx, `SELECT source, sync_type, count() AS n FROM runs FINAL
WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {since:DateTime64(3, 'UTC')} AND `+cond+` AND `+diagWhere(f, p, "f_")+`
GROUP BY source, sync_type`+finalSettings, p)
	if err != nil {
		return nil, fmt.Errorf("count the first day's runs before the window: %w", err)
	}
	rows, err := decodeRows[struct {
		Source   string `json:"source"`
		SyncType string `json:"sync_type"`
		N        uint64 `json:"n"`
	}](out)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		counts[[2]string{r.Source, r.SyncType}] = r.N
	}
	return counts, nil
}

// remember keeps the computed rows of the plan's days to keep.
func (s *Store) remember(pl dayPlan, day time.Time, rows any) {
	if s.window != nil && pl.keep[day] {
		s.window.days.Add(dayKey{pl.question.key(), day}, dayAnswer{computed: pl.computed, rows: rows})
	}
}

// where renders the days to compute as a condition on the runs' starts,
// adjacent days as one range (a condition the primary key narrows the read
// by, where a set of dates is not), adding its values to p. No day to
// compute reads nothing.
func (pl dayPlan) where(p Params) string {
	var ranges [][2]time.Time
	for _, d := range pl.compute {
		if n := len(ranges); n > 0 && ranges[n-1][1].Equal(d.from) {
			ranges[n-1][1] = d.to
			continue
		}
		ranges = append(ranges, [2]time.Time{d.from, d.to})
	}
	if len(ranges) == 0 {
		return "0"
	}
	conds := make([]string, len(ranges))
	for i, r := range ranges {
		n := "w" + strconv.Itoa(i)
		p[n+"_from"], p[n+"_to"] = r[0], r[1]
		conds[i] = "(started_at >= {" + n + "_from:DateTime64(3, 'UTC')} AND started_at < {" + n + "_to:DateTime64(3, 'UTC')})"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}
