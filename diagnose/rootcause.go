package diagnose

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// The kinds of hint, in the order of their usual rank.
const (
	HintScope       = "scope"
	HintAttribute   = "attribute"
	HintFingerprint = "fingerprint"
	HintOnset       = "onset"
)

// The scopes of a problem.
const (
	ScopeSupplier = "supplier_wide" // other types of the same source broke too
	ScopeType     = "type_wide"     // the same type of other sources broke too
	ScopeJob      = "job_specific"
)

// CauseRequest asks why one source's (or every source's) sync type went
// bad in [Since, Until).
type CauseRequest struct {
	Source       string
	SyncType     string
	Since, Until time.Time
}

// Hint is one ranked explanation with its evidence.
type Hint struct {
	Rank int    `json:"rank"`
	Kind string `json:"kind"`
	// Summary is one line for people, in English; Message is the same
	// line before it is put into words (see In).
	Summary string  `json:"summary"`
	Message Message `json:"-"`
	// Key and Value name an attribute hint's value, New marks a value
	// never seen in the baseline; Fingerprint and State ("new" or
	// "regressed") a fingerprint hint's error group; Scope and Types a
	// scope hint's reach; At an onset's instant.
	Key         string     `json:"key,omitempty"`
	Value       string     `json:"value,omitempty"`
	New         bool       `json:"new,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	State       string     `json:"state,omitempty"`
	Scope       string     `json:"scope,omitempty"`
	Types       []string   `json:"types,omitempty"`
	At          *time.Time `json:"at,omitempty"`
	Evidence    Evidence   `json:"evidence"`
}

// RootCause answers a CauseRequest: what counted as bad, and the hints.
type RootCause struct {
	Source   string    `json:"source,omitempty"`
	SyncType string    `json:"sync_type"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Bad says which runs were explained: "failed", or "slow" when the
	// window had no failures but a duration regression; Bad and Good
	// count them and the baseline's good runs.
	BadRuns string `json:"bad_runs"`
	Bad     uint64 `json:"bad"`
	Good    uint64 `json:"good"`
	Scope   string `json:"scope"`
	Note    string `json:"note,omitempty"`
	// NoteMessage is Note before it is put into words.
	NoteMessage Message    `json:"-"`
	Hints       []Hint     `json:"hints"`
	Began       *time.Time `json:"began,omitempty"`
}

// RootCause explains the bad runs of a type in a window: the error
// fingerprints new in it or back after QuietDays; the attribute values
// over-represented in its bad runs against the baseline's good runs,
// ranked by Fisher's exact test and lift; whether other types of the
// source or the type of other sources broke at the same time; and when it
// began.
func (s *Service) RootCause(ctx context.Context, req CauseRequest) (RootCause, error) {
	if req.SyncType == "" {
		return RootCause{}, &QueryError{"sync_type", "is required"}
	}
	if err := s.checkWindow(req.Since, req.Until); err != nil {
		return RootCause{}, err
	}
	f := Filter{SyncTypes: []string{req.SyncType}}
	if req.Source != "" {
		f.Sources = []string{req.Source}
	}
	rc := RootCause{Source: req.Source, SyncType: req.SyncType, Since: req.Since, Until: req.Until, Hints: []Hint{}, Scope: ScopeJob}

	// Every type's failures, for the scope; the requested type's for
	// the onset and the bad runs.
	all, err := s.store.FailureSeries(ctx, s.window(Filter{}, req.Since, req.Until))
	if err != nil {
		return RootCause{}, fmt.Errorf("root cause: %w", err)
	}
	broken := map[typeKey]bool{}
	var began *time.Time
	var failures uint64
	for _, fs := range all {
		an := s.failureAnomalies(fs)
		target := fs.SyncType == req.SyncType && (req.Source == "" || fs.Source == req.Source)
		if len(an) > 0 {
			broken[typeKey{fs.Source, fs.SyncType}] = true
			if target && (began == nil || an[len(an)-1].Began.Before(*began)) {
				b := an[len(an)-1].Began
				began = &b
			}
		}
		if target {
			failures += uint64(len(fs.Failures))
		}
	}
	cq := CauseQuery{Window: s.window(f, req.Since, req.Until), SeenFrom: req.Since.AddDate(0, 0, -s.cfg.BaselineDays), Limit: 20}
	rc.BadRuns = "failed"
	if failures == 0 {
		// No failure: explain the slow runs of a regression, if any.
		scored, err := s.store.DurationScores(ctx, ScoreQuery{Window: cq.Window, SeasonalFrom: req.Since.AddDate(0, 0, -7*s.cfg.SeasonalWeeks),
			Config: s.cfg, Latest: s.cfg.RegressionRuns, Limit: 1000})
		if err != nil {
			return RootCause{}, fmt.Errorf("root cause: %w", err)
		}
		var slow []ScoredRun
		for _, r := range scored {
			if r.Kind == KindDuration && (req.Source == "" || r.Source == req.Source) {
				slow = append(slow, r)
			}
		}
		if len(slow) == 0 {
			rc.BadRuns = ""
			rc.NoteMessage = msg(msgNothingToSay)
			rc.Note = rc.NoteMessage.english()
			return rc, nil
		}
		cut := slow[0].Seconds
		for _, r := range slow {
			cut = min(cut, r.Seconds)
		}
		cq.SlowerThan = cut - 0.001
		rc.BadRuns = "slow"
		for _, a := range s.regressions(slow) {
			if began == nil || a.Began.Before(*began) {
				b := a.Began
				began = &b
			}
		}
	}

	// The attribute counts and the fingerprints read the same window
	// independently: ask them at once.
	var (
		attrs  []AttributeCount
		totals Totals
		fps    []FingerprintCount
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		attrs, totals, err = s.store.AttributeCounts(gctx, cq)
		return err
	})
	if rc.BadRuns == "failed" {
		g.Go(func() (err error) {
			fps, err = s.store.Fingerprints(gctx, cq)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return RootCause{}, fmt.Errorf("root cause: %w", err)
	}
	rc.Bad, rc.Good = totals.Bad, totals.Good

	// A scope hint ranks first, unless a value never seen before is on
	// nearly every bad run: that is the more specific explanation (a
	// deploy that breaks the type where it lands, while other types
	// happen to fail too).
	var hints []Hint
	attrHints := s.attributeHints(attrs, totals)
	specific := len(attrHints) > 0 && attrHints[0].New && float64(*attrHints[0].Evidence.K) >= 0.8*float64(totals.Bad)
	if specific {
		hints = append(hints, attrHints[0])
		attrHints = attrHints[1:]
	}
	if h, ok := s.scopeHint(req, broken); ok {
		rc.Scope = h.Scope
		hints = append(hints, h)
	}
	hints = append(hints, attrHints...)
	hints = append(hints, s.fingerprintHints(fps, req.Since)...)
	if began != nil {
		rc.Began = began
		hints = append(hints, onsetHint(*began))
	}
	for i := range hints {
		hints[i].Rank = i + 1
	}
	rc.Hints = hints
	return rc, nil
}

// scopeHint says whether the type broke alone: a supplier-wide problem
// when another type of the same source broke in the window, a type-wide
// one when the same type of another source did.
func (s *Service) scopeHint(req CauseRequest, broken map[typeKey]bool) (Hint, bool) {
	var sameSource, sameType []string
	for k := range broken {
		if k.syncType != req.SyncType && (req.Source == "" || k.source == req.Source) {
			sameSource = append(sameSource, k.source+"/"+k.syncType)
		}
		if k.syncType == req.SyncType && req.Source != "" && k.source != req.Source {
			sameType = append(sameType, k.source+"/"+k.syncType)
		}
	}
	slices.Sort(sameSource)
	slices.Sort(sameType)
	switch {
	case len(sameSource) > 0:
		m := msg(msgScopeSupplier, len(sameSource), names(sameSource))
		return Hint{Kind: HintScope, Scope: ScopeSupplier, Types: sameSource, Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(uint64(len(sameSource)))}}, true
	case len(sameType) > 0:
		m := msg(msgScopeType, len(sameType), names(sameType))
		return Hint{Kind: HintScope, Scope: ScopeType, Types: sameType, Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(uint64(len(sameType)))}}, true
	}
	return Hint{}, false
}

// onsetHint says when the bad runs began.
func onsetHint(began time.Time) Hint {
	m := msg(msgOnset, instant(began))
	return Hint{Kind: HintOnset, At: &began, Summary: m.english(), Message: m}
}

// attributeHints ranks the attribute values over-represented in the bad
// runs by Fisher's exact test, then by lift; values new in the window
// first among equals.
func (s *Service) attributeHints(attrs []AttributeCount, t Totals) []Hint {
	type scored struct {
		a       AttributeCount
		p, lift float64
	}
	var cands []scored
	for _, a := range attrs {
		if a.Bad < 2 {
			continue
		}
		l := lift(a.Bad, t.Bad, a.Good, t.Good)
		if l <= 1 {
			continue
		}
		p := fisherGreater(a.Bad, t.Bad, a.Good, t.Good)
		if p >= s.cfg.HintAlpha {
			continue
		}
		cands = append(cands, scored{a, p, l})
	}
	slices.SortFunc(cands, func(x, y scored) int {
		newX, newY := x.a.Seen == 0, y.a.Seen == 0
		return cmp.Or(cmp.Compare(x.p, y.p), cmp.Compare(y.lift, x.lift), boolRank(newX, newY),
			strings.Compare(x.a.Key, y.a.Key), strings.Compare(x.a.Value, y.a.Value))
	})
	hints := make([]Hint, 0, len(cands))
	for _, c := range cands {
		isNew := c.a.Seen == 0
		id := msgAttribute
		if isNew {
			id = msgAttributeNew
		}
		m := msg(id, c.a.Key, c.a.Value, c.a.Bad, t.Bad, c.a.Good, t.Good, c.lift, c.p)
		hints = append(hints, Hint{Kind: HintAttribute, Key: c.a.Key, Value: c.a.Value, New: isNew, Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(c.a.Bad), N: ptr(t.Bad), Good: ptr(c.a.Good), GoodN: ptr(t.Good),
				PValue: ptr(c.p), Lift: ptr(round2(c.lift)), RunIDs: c.a.Examples}})
	}
	return hints
}

func boolRank(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// fingerprintHints lists the error groups of the window that are new in
// it or back after QuietDays, most frequent first.
func (s *Service) fingerprintHints(fps []FingerprintCount, since time.Time) []Hint {
	var hints []Hint
	quiet := since.AddDate(0, 0, -s.cfg.QuietDays)
	for _, f := range fps {
		var state, id string
		switch {
		case !f.FirstSeen.Before(since):
			state, id = "new", msgFingerprintNew
		case f.LastBefore.IsZero() || f.LastBefore.Before(quiet):
			state, id = "regressed", msgFingerprintBack
		default:
			continue
		}
		first := f.FirstSeen
		m := msg(id, f.Count, f.Message)
		hints = append(hints, Hint{Kind: HintFingerprint, Fingerprint: fmt.Sprintf("%016x", f.Fingerprint), State: state, At: &first,
			Summary: m.english(), Message: m,
			Evidence: Evidence{K: ptr(f.Count), RunIDs: f.Examples}})
	}
	slices.SortStableFunc(hints, func(a, b Hint) int { return cmp.Compare(*b.Evidence.K, *a.Evidence.K) })
	return hints
}

// RunRef names the run a diagnosis is about.
type RunRef struct {
	RunID, Source, SyncType string
	// Failed is true for a failed run.
	Failed    bool
	StartedAt time.Time
}

// Diagnosis is why one run is what it is: the anomalies that name it, and
// for a failed or anomalous run the root-cause hints of its type over the
// day before it.
type Diagnosis struct {
	Anomalies []Anomaly  `json:"anomalies"`
	RootCause *RootCause `json:"root_cause"`
}

// runLookback is the window before a run its diagnosis looks at.
const runLookback = 24 * time.Hour

// DiagnoseRun returns the diagnosis of a run, or nil when it neither
// failed nor is anomalous.
func (s *Service) DiagnoseRun(ctx context.Context, r RunRef) (*Diagnosis, error) {
	since, until := r.StartedAt.Add(-runLookback), r.StartedAt.Add(time.Millisecond)
	rep, err := s.Anomalies(ctx, Query{Filter: Filter{Sources: []string{r.Source}, SyncTypes: []string{r.SyncType}}, Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	d := &Diagnosis{Anomalies: []Anomaly{}}
	for _, a := range rep.Anomalies {
		if a.RunID == r.RunID || slices.Contains(a.Evidence.RunIDs, r.RunID) {
			d.Anomalies = append(d.Anomalies, a)
		}
	}
	if !r.Failed && len(d.Anomalies) == 0 {
		return nil, nil
	}
	rc, err := s.RootCause(ctx, CauseRequest{Source: r.Source, SyncType: r.SyncType, Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	d.RootCause = &rc
	return d, nil
}
