package diagnose

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Kind names a kind of anomaly.
type Kind string

// The kinds of anomaly.
const (
	// KindDuration is a single run far slower than its baseline.
	KindDuration Kind = "duration"
	// KindRegression is a lasting slow-down: at least RegressionOf of
	// RegressionRuns consecutive runs flagged slow.
	KindRegression Kind = "regression"
	// KindTooFast is a run far faster than its baseline.
	KindTooFast Kind = "too_fast"
	// KindTooSmall is a successful run with far fewer records than usual.
	KindTooSmall Kind = "too_small"
	// KindFailureRate is a burst of failures, or a window's failure
	// rate, that the baseline makes improbable.
	KindFailureRate Kind = "failure_rate"
	// KindLate is a gap between starts longer than the expected interval
	// and its grace, or a type whose latest start is that old.
	KindLate Kind = "late"
	// KindTooOften is a start far sooner than the expected interval.
	KindTooOften Kind = "too_often"
	// KindOverlap is a run that started before the previous one ended.
	KindOverlap Kind = "overlap"
)

// Kinds are all the kinds, in the order answers list them.
var Kinds = []Kind{KindRegression, KindDuration, KindTooFast, KindTooSmall, KindFailureRate, KindLate, KindTooOften, KindOverlap}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	return k, slices.Contains(Kinds, k)
}

// Anomaly is one finding with its evidence.
type Anomaly struct {
	Kind     Kind   `json:"kind"`
	Source   string `json:"source"`
	SyncType string `json:"sync_type"`
	// RunID is the flagged run, or the first run of a burst or a
	// regression (its change point); empty for a gap still open.
	RunID string `json:"run_id,omitempty"`
	// Began is when it began (the run's start, the change point, the
	// first failure of a burst, the start before a gap); Detected is the
	// start of the run that made it detectable, or the instant a gap
	// passed its grace.
	Began    time.Time `json:"began"`
	Detected time.Time `json:"detected"`
	// Ongoing is true when the latest runs of the window still show it.
	Ongoing bool `json:"ongoing"`
	// Summary is one line for people, in English; Message is the same
	// line before it is put into words (see In).
	Summary  string   `json:"summary"`
	Message  Message  `json:"-"`
	Evidence Evidence `json:"evidence"`
}

// Evidence are the numbers behind an anomaly or a hint; fields that do not
// apply are left out.
type Evidence struct {
	Value    *float64 `json:"value,omitempty"`
	Expected *float64 `json:"expected,omitempty"`
	Z        *float64 `json:"z,omitempty"`
	Seasonal bool     `json:"seasonal,omitempty"`
	// K of N runs (failures of a burst, flagged runs of a regression, bad
	// runs with a value); P0 the baseline rate; PValue the test's.
	K      *uint64  `json:"k,omitempty"`
	N      *uint64  `json:"n,omitempty"`
	P0     *float64 `json:"p0,omitempty"`
	PValue *float64 `json:"p_value,omitempty"`
	// Good of GoodN baseline runs carry the value; Lift is the ratio of
	// the shares.
	Good   *uint64  `json:"good,omitempty"`
	GoodN  *uint64  `json:"good_n,omitempty"`
	Lift   *float64 `json:"lift,omitempty"`
	RunIDs []string `json:"run_ids,omitempty"`
}

// TypeStatus is what the detectors could say of one type.
type TypeStatus struct {
	Source   string `json:"source"`
	SyncType string `json:"sync_type"`
	// History counts the successful baseline runs, of MinHistory needed.
	History    uint64 `json:"history"`
	MinHistory int    `json:"min_history"`
	// Note says why durations were not judged, e.g. "not enough history
	// (5 of 8 runs)"; empty when they were.
	Note        string  `json:"note,omitempty"`
	NoteMessage Message `json:"-"`
	Seasonal    bool    `json:"seasonal"`
	// FailureBaseline is p0 = (f+1)/(n+2) over the baseline, and
	// ConsecutiveThreshold the adaptive consecutive-failure threshold
	// ceil(ln α / ln p0) derived from it.
	FailureBaseline      *float64 `json:"failure_baseline,omitempty"`
	ConsecutiveThreshold *int     `json:"consecutive_failure_threshold,omitempty"`
}

// Query asks for the anomalies of the runs started in [Since, Until).
type Query struct {
	Filter       Filter
	Since, Until time.Time
	// Kinds keeps only these kinds; all when empty.
	Kinds []Kind
}

// AnomalyReport answers a Query.
type AnomalyReport struct {
	Since     time.Time    `json:"since"`
	Until     time.Time    `json:"until"`
	Anomalies []Anomaly    `json:"anomalies"`
	Types     []TypeStatus `json:"types"`
}

// QueryError is a question the service refuses; Param names the part at
// fault.
type QueryError struct {
	Param string
	Msg   string
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Msg }

// Service answers diagnostic questions over a Store.
type Service struct {
	store Store
	cfg   Config
	now   func() time.Time
}

// New returns a service over store with the thresholds of cfg.
func New(store Store, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("diagnose: %w", err)
	}
	return &Service{store: store, cfg: cfg, now: time.Now}, nil
}

// Config returns the service's thresholds.
func (s *Service) Config() Config { return s.cfg }

// checkWindow refuses a window that is empty, reversed or too long.
func (s *Service) checkWindow(since, until time.Time) error {
	switch {
	case since.IsZero():
		return &QueryError{"since", "is required"}
	case until.IsZero():
		return &QueryError{"until", "is required"}
	case !since.Before(until):
		return &QueryError{"until", "must be after since"}
	case until.Sub(since) > s.cfg.MaxWindow:
		return &QueryError{"since", fmt.Sprintf("the window %s is longer than the %s allowed", until.Sub(since), s.cfg.MaxWindow)}
	}
	return nil
}

func (s *Service) window(f Filter, since, until time.Time) Window {
	return Window{Filter: f, Since: since, Until: until, BaselineFrom: since.AddDate(0, 0, -s.cfg.BaselineDays)}
}

// typeKey names a source and sync type.
type typeKey struct{ source, syncType string }

// Anomalies returns the anomalies of the runs started in the window, newest
// first, and what could be said of each type.
func (s *Service) Anomalies(ctx context.Context, q Query) (AnomalyReport, error) {
	if err := s.checkWindow(q.Since, q.Until); err != nil {
		return AnomalyReport{}, err
	}
	w := s.window(q.Filter, q.Since, q.Until)
	rep := AnomalyReport{Since: q.Since, Until: q.Until, Anomalies: []Anomaly{}, Types: []TypeStatus{}}
	types := map[typeKey]*TypeStatus{}
	status := func(src, st string) *TypeStatus {
		k := typeKey{src, st}
		if t, ok := types[k]; ok {
			return t
		}
		t := &TypeStatus{Source: src, SyncType: st, MinHistory: s.cfg.MinHistory}
		types[k] = t
		return t
	}
	want := func(k Kind) bool { return len(q.Kinds) == 0 || slices.Contains(q.Kinds, k) }

	// The three questions read different slices of the runs: ask them at
	// once, so that ClickHouse spreads them over its threads.
	var (
		scored []ScoredRun
		series []FailureSeries
		gaps   []TypeGaps
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		scored, err = s.store.DurationScores(gctx, ScoreQuery{
			Window: w, SeasonalFrom: q.Since.AddDate(0, 0, -7*s.cfg.SeasonalWeeks), Config: s.cfg,
			Latest: s.cfg.RegressionRuns, Limit: 1000,
		})
		return err
	})
	g.Go(func() (err error) {
		series, err = s.store.FailureSeries(gctx, w)
		return err
	})
	g.Go(func() (err error) {
		gaps, err = s.store.Gaps(gctx, GapQuery{Window: w, Intervals: s.cfg.Intervals, LateGrace: s.cfg.LateGrace,
			TooOftenRatio: s.cfg.TooOftenRatio, MinStarts: s.cfg.MinHistory, Limit: 1000})
		return err
	})
	if err := g.Wait(); err != nil {
		return AnomalyReport{}, fmt.Errorf("anomalies: %w", err)
	}
	rep.Anomalies = append(rep.Anomalies, s.durationAnomalies(scored, status)...)
	for _, fs := range series {
		t := status(fs.Source, fs.SyncType)
		p0 := s.p0(fs)
		th := consecutiveThreshold(s.cfg.FailureAlpha, p0, s.cfg.FailureMinK)
		t.FailureBaseline, t.ConsecutiveThreshold = &p0, &th
		rep.Anomalies = append(rep.Anomalies, s.failureAnomalies(fs)...)
	}
	now := s.now()
	for _, tg := range gaps {
		status(tg.Source, tg.SyncType)
		rep.Anomalies = append(rep.Anomalies, s.cadenceAnomalies(tg, q.Until, now)...)
	}

	rep.Anomalies = slices.DeleteFunc(rep.Anomalies, func(a Anomaly) bool { return !want(a.Kind) })
	slices.SortStableFunc(rep.Anomalies, func(a, b Anomaly) int {
		return cmp.Or(b.Detected.Compare(a.Detected), strings.Compare(a.Source, b.Source), strings.Compare(a.SyncType, b.SyncType))
	})
	for _, t := range types {
		if t.History < uint64(s.cfg.MinHistory) {
			t.NoteMessage = msg(msgFewRuns, t.History, s.cfg.MinHistory)
			t.Note = t.NoteMessage.english()
		}
		rep.Types = append(rep.Types, *t)
	}
	slices.SortFunc(rep.Types, func(a, b TypeStatus) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.SyncType, b.SyncType))
	})
	return rep, nil
}

// p0 is the smoothed baseline failure rate (f+1)/(n+2).
func (s *Service) p0(fs FailureSeries) float64 {
	return (float64(fs.Failed) + 1) / (float64(fs.BaselineRuns) + 2)
}

func ptr[T any](v T) *T { return &v }

// durationAnomalies turns the scored runs into anomalies: each flagged
// run, and each stretch where RegressionOf of RegressionRuns consecutive
// runs were slow, which becomes one regression from its first slow run.
func (s *Service) durationAnomalies(scored []ScoredRun, status func(string, string) *TypeStatus) []Anomaly {
	byType := map[typeKey][]ScoredRun{}
	var keys []typeKey
	for _, r := range scored {
		t := status(r.Source, r.SyncType)
		t.History, t.Seasonal = r.History, t.Seasonal || r.Seasonal
		k := typeKey{r.Source, r.SyncType}
		if _, ok := byType[k]; !ok {
			keys = append(keys, k)
		}
		byType[k] = append(byType[k], r)
	}
	var out []Anomaly
	for _, k := range keys {
		rs := byType[k]
		slices.SortFunc(rs, func(a, b ScoredRun) int { return cmp.Compare(a.Index, b.Index) })
		var slow []ScoredRun
		for _, r := range rs {
			switch r.Kind {
			case KindDuration:
				slow = append(slow, r)
			case KindTooFast:
				out = append(out, s.runAnomaly(r, msg(msgTooFast, secs(r.Seconds), secs(r.Expected))))
			case KindTooSmall:
				a := s.runAnomaly(r, msg(msgTooSmall, r.Records, r.ExpectedRecords))
				a.Evidence.Value, a.Evidence.Expected, a.Evidence.Z = ptr(float64(r.Records)), ptr(r.ExpectedRecords), ptr(round2(r.RecordsZ))
				out = append(out, a)
			}
		}
		out = append(out, s.regressions(slow)...)
	}
	return out
}

func (s *Service) runAnomaly(r ScoredRun, m Message) Anomaly {
	return Anomaly{
		Kind: r.Kind, Source: r.Source, SyncType: r.SyncType, RunID: r.RunID, Began: r.Started, Detected: r.Started,
		Ongoing: r.Index+uint64(s.cfg.RegressionRuns) > r.Total,
		Summary: m.english(), Message: m,
		Evidence: Evidence{Value: ptr(round2(r.Seconds)), Expected: ptr(round2(r.Expected)), Z: ptr(round2(r.Z)),
			Seasonal: r.Seasonal, RunIDs: []string{r.RunID}},
	}
}

// regressions groups the slow runs of one type, in order, into stretches
// in which consecutive slow runs are at most RegressionRuns −
// RegressionOf + 1 runs apart; a stretch with RegressionOf slow runs
// within RegressionRuns runs is a regression, the rest single anomalies.
func (s *Service) regressions(slow []ScoredRun) []Anomaly {
	var out []Anomaly
	maxStep := uint64(s.cfg.RegressionRuns - s.cfg.RegressionOf + 1)
	for i := 0; i < len(slow); {
		j := i + 1
		for j < len(slow) && slow[j].Index-slow[j-1].Index <= maxStep {
			j++
		}
		stretch := slow[i:j]
		i = j
		// The run that completes RegressionOf slow runs within
		// RegressionRuns.
		detected := -1
		for e := s.cfg.RegressionOf - 1; e < len(stretch); e++ {
			if stretch[e].Index-stretch[e-s.cfg.RegressionOf+1].Index < uint64(s.cfg.RegressionRuns) {
				detected = e
				break
			}
		}
		if detected < 0 {
			for _, r := range stretch {
				out = append(out, s.runAnomaly(r, msg(msgDuration, secs(r.Seconds), secs(r.Expected), r.Z)))
			}
			continue
		}
		first, last := stretch[0], stretch[len(stretch)-1]
		ids := make([]string, 0, 5)
		var sum, exp float64
		for n, r := range stretch {
			if n < 5 {
				ids = append(ids, r.RunID)
			}
			sum += r.Seconds
			exp += r.Expected
		}
		avg, expAvg := sum/float64(len(stretch)), exp/float64(len(stretch))
		m := msg(msgRegression, len(stretch), last.Index-first.Index+1, instant(first.Started), secs(avg), secs(expAvg))
		out = append(out, Anomaly{
			Kind: KindRegression, Source: first.Source, SyncType: first.SyncType, RunID: first.RunID,
			Began: first.Started, Detected: stretch[detected].Started,
			Ongoing: last.Index+maxStep > last.Total,
			Summary: m.english(), Message: m,
			Evidence: Evidence{Value: ptr(round2(avg)), Expected: ptr(round2(expAvg)), Z: ptr(round2(first.Z)), Seasonal: first.Seasonal,
				K: ptr(uint64(len(stretch))), N: ptr(last.Index - first.Index + 1), RunIDs: ids},
		})
	}
	return out
}

// burst is a streak of consecutive failures that the baseline makes
// improbable.
type burst struct {
	first, detected, last int // positions in the failures
	k, n                  int
	p                     float64
}

// bursts finds the streaks of consecutive failures of one type at least
// as long as the adaptive threshold ceil(ln α / ln p0) (and FailureMinK):
// a streak whose probability under the baseline rate p0 is below
// FailureAlpha. A streak is detected at its threshold-th failure.
func (s *Service) bursts(fs FailureSeries, p0 float64) []burst {
	th := consecutiveThreshold(s.cfg.FailureAlpha, p0, s.cfg.FailureMinK)
	var out []burst
	f := fs.Failures
	for i := 0; i < len(f); {
		j := i + 1
		for j < len(f) && f[j].Index == f[j-1].Index+1 {
			j++
		}
		if k := j - i; k >= th {
			out = append(out, burst{first: i, detected: i + th - 1, last: j - 1, k: k, n: k, p: math.Pow(p0, float64(k))})
		}
		i = j
	}
	return out
}

// failureAnomalies returns the bursts of one type, or, when there are
// none, the window's failure rate when it is improbable as a whole.
func (s *Service) failureAnomalies(fs FailureSeries) []Anomaly {
	p0 := s.p0(fs)
	total := len(fs.Flags)
	var out []Anomaly
	for _, b := range s.bursts(fs, p0) {
		first, last := fs.Failures[b.first], fs.Failures[b.last]
		ids := make([]string, 0, 5)
		for _, r := range fs.Failures[b.first : b.last+1] {
			if len(ids) == 5 {
				break
			}
			ids = append(ids, r.RunID)
		}
		m := msg(msgFailureBurst, b.k, b.n, 100*p0, b.p)
		out = append(out, Anomaly{
			Kind: KindFailureRate, Source: fs.Source, SyncType: fs.SyncType, RunID: first.RunID,
			Began: first.Started, Detected: fs.Failures[b.detected].Started,
			Ongoing: last.Index+s.cfg.RegressionRuns > total,
			Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(uint64(b.k)), N: ptr(uint64(b.n)), P0: ptr(p0), PValue: ptr(b.p), RunIDs: ids},
		})
	}
	if len(out) > 0 {
		return out
	}
	k := len(fs.Failures)
	if k < s.cfg.FailureMinK {
		return nil
	}
	if p := binomialTail(k, total, p0); p < s.cfg.FailureAlpha {
		ids := make([]string, 0, 5)
		for _, r := range fs.Failures[:min(5, k)] {
			ids = append(ids, r.RunID)
		}
		m := msg(msgFailureWindow, k, total, 100*p0, p)
		out = append(out, Anomaly{
			Kind: KindFailureRate, Source: fs.Source, SyncType: fs.SyncType, RunID: fs.Failures[0].RunID,
			Began: fs.Failures[0].Started, Detected: fs.Failures[k-1].Started, Ongoing: true,
			Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(uint64(k)), N: ptr(uint64(total)), P0: ptr(p0), PValue: ptr(p), RunIDs: ids},
		})
	}
	return out
}

// cadenceAnomalies turns one type's gaps into anomalies, and adds a late
// anomaly when its latest start is older than the interval and its grace
// at the end of the window (or now, when that is sooner).
func (s *Service) cadenceAnomalies(tg TypeGaps, until, now time.Time) []Anomaly {
	if tg.Interval <= 0 {
		return nil
	}
	var out []Anomaly
	iv := time.Duration(tg.Interval * float64(time.Second))
	for _, g := range tg.Gaps {
		a := Anomaly{Kind: g.Kind, Source: tg.Source, SyncType: tg.SyncType, RunID: g.RunID, Began: g.Previous, Detected: g.Started,
			Evidence: Evidence{Value: ptr(round2(g.Seconds)), Expected: ptr(round2(tg.Interval)), RunIDs: []string{g.RunID}}}
		switch g.Kind {
		case KindLate:
			a.Detected = g.Previous.Add(time.Duration((1 + s.cfg.LateGrace) * float64(iv)))
			a.Message = msg(msgLate, secs(g.Seconds), span(iv))
		case KindTooOften:
			a.Message = msg(msgTooOften, secs(g.Seconds), span(iv))
		case KindOverlap:
			a.Message = msg(msgOverlap)
		}
		a.Summary = a.Message.english()
		out = append(out, a)
	}
	end := until
	if now.Before(end) {
		end = now
	}
	if !tg.LastStart.IsZero() && end.Sub(tg.LastStart) > time.Duration((1+s.cfg.LateGrace)*float64(iv)) {
		gap := end.Sub(tg.LastStart)
		m := msg(msgLate, span(gap.Round(time.Second)), span(iv))
		out = append(out, Anomaly{Kind: KindLate, Source: tg.Source, SyncType: tg.SyncType, Began: tg.LastStart,
			Detected: tg.LastStart.Add(time.Duration((1 + s.cfg.LateGrace) * float64(iv))), Ongoing: true,
			Summary: m.english(), Message: m,
			Evidence: Evidence{Value: ptr(round2(gap.Seconds())), Expected: ptr(round2(tg.Interval))}})
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// secs is seconds as a duration rounded for reading.
func secs(v float64) span {
	d := time.Duration(v * float64(time.Second))
	switch {
	case d >= time.Minute:
		return span(d.Round(time.Second))
	case d >= time.Second:
		return span(d.Round(100 * time.Millisecond))
	}
	return span(d.Round(time.Millisecond))
}
