package clickhouse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/runs"

	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The store suite runs the store's queries against generated datasets and
// compares their answers with figures computed here, in Go, from the
// generated reports: nothing in the expectations comes from SQL.

// testSources are the sources of the generated runs.
var testSources = []string{"erp", "shopify", "warehouse-eu"}

// lifecycle is the sequence of reports a generated run sends.
type lifecycle int

const (
	// lcTerminal: one terminal report.
	lcTerminal lifecycle = iota
	// lcProcessingTerminal: processing, then terminal with started_at.
	lcProcessingTerminal
	// lcProcessingTerminalNoStart: processing, then a terminal report
	// without started_at, which Normalize defaults to completed_at.
	lcProcessingTerminalNoStart
	// lcTerminalStale: terminal first, then the stale processing report.
	lcTerminalStale
	// lcInProgress: one pending or processing report.
	lcInProgress
	// lcPendingProcessing: pending, then processing.
	lcPendingProcessing
	numLifecycles
)

// genRun is one generated run with its distinct reports in arrival order.
type genRun struct {
	id       string
	source   string
	syncType string
	kind     lifecycle
	reports  []synclog.Report
	// duplicated is true when one of its reports is delivered twice.
	duplicated bool
}

// dataset is a generated set of runs and the batches that deliver them.
type dataset struct {
	base    time.Time
	span    time.Duration
	runs    []*genRun
	batches [][]synclog.Report
	nDup    int
}

// msTime returns base plus ms milliseconds.
func msTime(base time.Time, ms int64) time.Time {
	return base.Add(time.Duration(ms) * time.Millisecond)
}

// typicalDuration is the median duration of a run of each sync type.
var typicalDuration = map[string]time.Duration{
	"products": 2 * time.Minute, "prices": 30 * time.Second, "stock": 10 * time.Second,
	"order": 2 * time.Second, "logistics": 5 * time.Second, "manual": time.Minute,
}

// failedMessage returns the message of a failed run; the quota error is
// frequent only from risingFrom on, so that its error group rises.
func failedMessage(rng *rand.Rand, start, risingFrom time.Time) string {
	if !start.Before(risingFrom) && rng.Float64() < 0.45 || rng.Float64() < 0.03 {
		return fmt.Sprintf("Quota exceeded: 100%%_used by account_%d", rng.IntN(50))
	}
	switch rng.IntN(5) {
	case 0:
		return fmt.Sprintf("Connection TIMEOUT after %d ms to db-%d", 1000+rng.IntN(30000), rng.IntN(9))
	case 1:
		return fmt.Sprintf("HTTP 503 from supplier API (request %d)", rng.IntN(1_000_000))
	case 2:
		return fmt.Sprintf("invalid SKU %d: price must be positive", rng.IntN(100_000))
	case 3:
		return fmt.Sprintf(`file C:\sync\in\batch%d.csv not found`, rng.IntN(1000))
	default:
		return fmt.Sprintf("Überlast: %d Anfragen abgelehnt", rng.IntN(500))
	}
}

// partialMessage returns the message of a run that partly failed.
func partialMessage(rng *rand.Rand, failed, total uint64) string {
	if rng.IntN(2) == 0 {
		return fmt.Sprintf("%d of %d records failed validation", failed, total)
	}
	return fmt.Sprintf("stock for %d items not updated: warehouse_%d offline, connection timeout", failed, rng.IntN(4))
}

// generate builds n runs starting in [base, base+span), deterministically
// from seed. With boundaries, the first runs start exactly at whole days
// after base, three at each, so that time bounds are tested at their edges
// and runs share a start.
func generate(seed uint64, n int, base time.Time, span time.Duration, prefix string, boundaries bool) *dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ds := &dataset{base: base, span: span}
	risingFrom := base.Add(span * 7 / 10)
	seen := map[string]bool{}
	var all []synclog.Report
	for i := range n {
		g := &genRun{
			source:   testSources[rng.IntN(len(testSources))],
			syncType: synclog.DefaultSyncTypes[rng.IntN(len(synclog.DefaultSyncTypes))],
		}
		for g.id == "" || seen[g.id] {
			g.id = fmt.Sprintf("%s-%012x", prefix, rng.Uint64()&(1<<48-1))
		}
		seen[g.id] = true
		start := msTime(base, rng.Int64N(span.Milliseconds()))
		if days := int(span / (24 * time.Hour)); boundaries && i < 3*days {
			// Three runs start at each midnight: ties in the order.
			start = base.Add(time.Duration(i%days) * 24 * time.Hour)
		}
		// Final status: ~68% success, 13% failed, 9% partial, 6%
		// processing, 4% pending.
		var status synclog.Status
		switch p := rng.Float64(); {
		case p < 0.68:
			status = synclog.StatusSuccess
		case p < 0.81:
			status = synclog.StatusFailed
		case p < 0.90:
			status = synclog.StatusPartial
		case p < 0.96:
			status = synclog.StatusProcessing
		default:
			status = synclog.StatusPending
		}
		dur := time.Duration(float64(typicalDuration[g.syncType]) * math.Exp(rng.NormFloat64()*0.7)).Truncate(time.Millisecond)
		dur = max(dur, 5*time.Millisecond)
		completed := start.Add(dur)
		total := uint64(rng.IntN(5000) + 1)
		var succ, fail uint64
		var msg string
		switch status {
		case synclog.StatusSuccess:
			succ = total
			if rng.IntN(10) > 0 {
				msg = fmt.Sprintf("synced %d items in %d batches", total, 1+total/500)
			}
		case synclog.StatusFailed:
			succ = uint64(rng.IntN(int(total/10) + 1))
			fail = total - succ
			msg = failedMessage(rng, start, risingFrom)
		case synclog.StatusPartial:
			fail = 1 + uint64(rng.IntN(int(total/2)+1))
			fail = min(fail, total)
			succ = total - fail
			msg = partialMessage(rng, fail, total)
		case synclog.StatusProcessing:
			msg = fmt.Sprintf("processing batch %d of %d", 1+rng.IntN(10), 10+rng.IntN(10))
		case synclog.StatusPending:
			if rng.IntN(2) == 0 {
				msg = fmt.Sprintf("queued behind %d jobs", rng.IntN(40))
			}
		}
		var attrs map[string]string
		if rng.IntN(3) == 0 {
			attrs = map[string]string{"worker": fmt.Sprintf("w%d", rng.IntN(8)), "batch": fmt.Sprint(rng.IntN(1000))}
		}
		seq := 0
		mk := func(st synclog.Status, message string, recv time.Time, withStart bool) synclog.Report {
			seq++
			r := synclog.Report{
				RunID: g.id, EventID: fmt.Sprintf("%s-e%d", g.id, seq), Source: g.source, SyncType: g.syncType,
				Status: st, Message: message, Attributes: maps.Clone(attrs), ReceivedAt: recv,
			}
			if withStart {
				r.StartedAt = start
			}
			switch {
			case st.Terminal():
				r.TotalCount, r.SuccessCount, r.FailedCount = total, succ, fail
				c := completed
				r.CompletedAt = &c
			case st == synclog.StatusProcessing:
				r.TotalCount, r.SuccessCount = total, total/3
			}
			r.Normalize(recv)
			return r
		}
		procMsg := fmt.Sprintf("processing batch 1 of %d", 1+total/500)
		recvStart := start.Add(time.Duration(100+rng.IntN(1900)) * time.Millisecond)
		recvEnd := completed.Add(time.Duration(50+rng.IntN(3000)) * time.Millisecond)
		if !recvEnd.After(recvStart) {
			recvEnd = recvStart.Add(time.Millisecond)
		}
		if status.Terminal() {
			switch p := rng.Float64(); {
			case p < 0.45:
				g.kind = lcTerminal
			case p < 0.70:
				g.kind = lcProcessingTerminal
			case p < 0.85:
				g.kind = lcProcessingTerminalNoStart
			default:
				g.kind = lcTerminalStale
			}
		} else if status == synclog.StatusProcessing && rng.IntN(2) == 0 {
			g.kind = lcPendingProcessing
		} else {
			g.kind = lcInProgress
		}
		switch g.kind {
		case lcTerminal:
			g.reports = append(g.reports, mk(status, msg, recvEnd, true))
		case lcProcessingTerminal, lcProcessingTerminalNoStart:
			g.reports = append(g.reports,
				mk(synclog.StatusProcessing, procMsg, recvStart, true),
				mk(status, msg, recvEnd, g.kind == lcProcessingTerminal))
		case lcTerminalStale:
			stale := recvEnd.Add(time.Duration(1000+rng.IntN(60000)) * time.Millisecond)
			g.reports = append(g.reports,
				mk(status, msg, recvEnd, true),
				mk(synclog.StatusProcessing, procMsg, stale, true))
		case lcInProgress:
			g.reports = append(g.reports, mk(status, msg, recvStart, true))
		case lcPendingProcessing:
			g.reports = append(g.reports,
				mk(synclog.StatusPending, "", recvStart, true),
				mk(status, msg, recvStart.Add(time.Duration(1+rng.IntN(5000))*time.Millisecond), true))
		}
		ds.runs = append(ds.runs, g)
		all = append(all, g.reports...)
	}
	// Deliver in arrival order, in batches; some reports are delivered
	// again, unchanged, in a later batch.
	slices.SortStableFunc(all, func(a, b synclog.Report) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	const batchSize = 500
	for i := 0; i < len(all); i += batchSize {
		ds.batches = append(ds.batches, slices.Clone(all[i:min(i+batchSize, len(all))]))
	}
	byID := ds.byID()
	for b := range ds.batches {
		for _, r := range ds.batches[b] {
			if rng.Float64() >= 0.06 {
				continue
			}
			to := min(b+1+rng.IntN(3), len(ds.batches)-1)
			if to == b {
				continue
			}
			ds.batches[to] = append(ds.batches[to], r)
			byID[r.RunID].duplicated = true
			ds.nDup++
		}
	}
	return ds
}

func (ds *dataset) byID() map[string]*genRun {
	m := make(map[string]*genRun, len(ds.runs))
	for _, g := range ds.runs {
		m[g.id] = g
	}
	return m
}

// load inserts the dataset's batches in order.
func (ds *dataset) load(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	anchors := runAnchors{}
	for i, b := range ds.batches {
		if err := s.InsertReports(ctx, anchors.apply(b)); err != nil {
			t.Fatalf("insert batch %d: %v", i, err)
		}
	}
}

// runAnchors does for tests what the collector does before a report is
// spooled: every report of a run carries the start its first report gave.
type runAnchors map[string]time.Time

// apply sets the RunStartedAt of reps, in arrival order, and returns them.
func (a runAnchors) apply(reps []synclog.Report) []synclog.Report {
	for i := range reps {
		r := &reps[i]
		if !r.RunStartedAt.IsZero() {
			continue
		}
		start, ok := a[r.RunID]
		if !ok {
			start = r.StartedAt.Truncate(time.Millisecond)
			a[r.RunID] = start
		}
		r.RunStartedAt = start
	}
	return reps
}

// mainBase is the first day of the main dataset: recent enough that the
// tables' 90-day TTL never drops it during a test.
var mainBase = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -12)

const mainDays = 10

var mainDataset = sync.OnceValue(func() *dataset {
	return generate(20260611, 3000, mainBase, mainDays*24*time.Hour, "run", true)
})

// smallDataset is a smaller dataset of the same kind, for the tests that
// change the store or call it many times.
var smallDataset = sync.OnceValue(func() *dataset {
	return generate(20260612, 800, mainBase, mainDays*24*time.Hour, "small", true)
})

// loadedStore returns a fresh store holding the main dataset, and the
// model of that dataset.
func loadedStore(t *testing.T) (*Store, *model) {
	t.Helper()
	return loadedStoreWith(t, mainDataset())
}

// loadedStoreWith returns a fresh store holding ds, and the model of ds.
func loadedStoreWith(t *testing.T, ds *dataset) (*Store, *model) {
	t.Helper()
	s := newTestStore(t)
	ds.load(t, s)
	return s, newModel(ds)
}

// model is what the store should hold: the latest state of every run,
// computed in Go.
type model struct {
	ds      *dataset
	runs    map[string]*runs.Run
	reports map[string][]synclog.Report
}

func newModel(ds ...*dataset) *model {
	m := &model{runs: map[string]*runs.Run{}, reports: map[string][]synclog.Report{}}
	for _, d := range ds {
		if m.ds == nil {
			m.ds = d
		}
		for _, g := range d.runs {
			m.addRun(g.id, g.reports)
		}
	}
	return m
}

// addRun records a run's distinct reports (in arrival order) and computes
// its latest state: a terminal status beats an in-progress one, and among
// equals the later arrival wins. The run's start is the start its first
// report gave.
func (m *model) addRun(id string, reps []synclog.Report) {
	m.reports[id] = reps
	best := reps[0]
	for _, r := range reps[1:] {
		if r.Status.Rank() > best.Status.Rank() || r.Status.Rank() == best.Status.Rank() && r.ReceivedAt.After(best.ReceivedAt) {
			best = r
		}
	}
	anchor := reps[0].StartedAt
	run := &runs.Run{
		RunID: id, EventID: best.EventID, Source: best.Source, SyncType: best.SyncType,
		Status: best.Status, Message: best.Message, Fingerprint: runs.Fingerprint(best.Fingerprint),
		TotalCount: best.TotalCount, SuccessCount: best.SuccessCount, FailedCount: best.FailedCount,
		StartedAt: anchor, CompletedAt: best.CompletedAt, ReceivedAt: best.ReceivedAt,
		Attributes: best.Attributes,
	}
	if best.CompletedAt != nil {
		ms := best.CompletedAt.Sub(anchor).Milliseconds()
		run.DurationMS = &ms
	}
	m.runs[id] = run
}

func (m *model) delete(id string) {
	delete(m.runs, id)
	delete(m.reports, id)
}

// matches reports whether the filter selects run r.
func matches(r *runs.Run, f runs.Filter) bool {
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, r.Source) {
		return false
	}
	if len(f.SyncTypes) > 0 && !slices.Contains(f.SyncTypes, r.SyncType) {
		return false
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, r.Status) {
		return false
	}
	if !f.Since.IsZero() && r.StartedAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !r.StartedAt.Before(f.Until) {
		return false
	}
	if q := strings.TrimSpace(f.Query); q != "" && !strings.Contains(strings.ToLower(r.Message), strings.ToLower(q)) {
		return false
	}
	return true
}

// list returns the runs f selects, newest first.
func (m *model) list(f runs.Filter) []*runs.Run {
	var out []*runs.Run
	for _, r := range m.runs {
		if matches(r, f) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *runs.Run) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(b.RunID, a.RunID)
	})
	return out
}

func runIDs[R runs.Run | *runs.Run](list []R) []string {
	out := make([]string, len(list))
	for i, r := range list {
		switch x := any(r).(type) {
		case runs.Run:
			out[i] = x.RunID
		case *runs.Run:
			out[i] = x.RunID
		}
	}
	return out
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func sameAttrs(a, b map[string]string) bool {
	return len(a) == len(b) && maps.Equal(a, b)
}

// diffRun describes how got differs from want, or returns "".
func diffRun(got, want *runs.Run) string {
	var d []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	check("run_id", got.RunID == want.RunID, got.RunID, want.RunID)
	check("event_id", got.EventID == want.EventID, got.EventID, want.EventID)
	check("source", got.Source == want.Source, got.Source, want.Source)
	check("sync_type", got.SyncType == want.SyncType, got.SyncType, want.SyncType)
	check("status", got.Status == want.Status, got.Status, want.Status)
	check("message", got.Message == want.Message, got.Message, want.Message)
	check("fingerprint", got.Fingerprint == want.Fingerprint, got.Fingerprint, want.Fingerprint)
	check("counts", got.TotalCount == want.TotalCount && got.SuccessCount == want.SuccessCount && got.FailedCount == want.FailedCount,
		[3]uint64{got.TotalCount, got.SuccessCount, got.FailedCount}, [3]uint64{want.TotalCount, want.SuccessCount, want.FailedCount})
	check("started_at", got.StartedAt.Equal(want.StartedAt), got.StartedAt, want.StartedAt)
	check("completed_at", sameTimePtr(got.CompletedAt, want.CompletedAt), fmtPtr(got.CompletedAt), fmtPtr(want.CompletedAt))
	check("duration", got.Duration() == want.Duration() && (got.DurationMS == nil) == (want.DurationMS == nil), got.Duration(), want.Duration())
	check("received_at", got.ReceivedAt.Equal(want.ReceivedAt), got.ReceivedAt, want.ReceivedAt)
	check("attributes", sameAttrs(got.Attributes, want.Attributes), got.Attributes, want.Attributes)
	return strings.Join(d, "; ")
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// listAll pages through ListRuns with the given page size, checking the
// page sizes and cursors, and returns every run in order.
func listAll(t *testing.T, s *Store, f runs.Filter, limit int) []runs.Run {
	t.Helper()
	ctx := context.Background()
	var all []runs.Run
	var after *runs.Cursor
	for pages := 1; ; pages++ {
		page, next, err := s.ListRuns(ctx, runs.ListOptions{Filter: f, Limit: limit, After: after})
		if err != nil {
			t.Fatalf("list runs (page %d): %v", pages, err)
		}
		if len(page) > limit {
			t.Fatalf("page %d has %d runs, limit %d", pages, len(page), limit)
		}
		all = append(all, page...)
		if next == nil {
			return all
		}
		if len(page) != limit {
			t.Fatalf("page %d has %d runs and a next cursor, want a full page of %d", pages, len(page), limit)
		}
		last := page[len(page)-1]
		if !next.StartedAt.Equal(last.StartedAt) || next.RunID != last.RunID {
			t.Fatalf("cursor %+v does not mark the last run of the page (%s %s)", next, last.StartedAt, last.RunID)
		}
		if pages > 100000 {
			t.Fatal("pagination does not end")
		}
		after = next
	}
}

// checkList compares got with the model's runs, in order and field by
// field.
func checkList(t *testing.T, got []runs.Run, want []*runs.Run) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d runs, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for i := range min(len(got), len(want)) {
		if seen[got[i].RunID] {
			t.Errorf("run %s repeated at position %d", got[i].RunID, i)
		}
		seen[got[i].RunID] = true
		if got[i].RunID != want[i].RunID {
			t.Fatalf("position %d: run %s (%s), want %s (%s)", i, got[i].RunID, got[i].StartedAt, want[i].RunID, want[i].StartedAt)
		}
		if d := diffRun(&got[i], want[i]); d != "" {
			t.Errorf("run %s: %s", want[i].RunID, d)
		}
	}
}

func day(n int) time.Time { return mainBase.Add(time.Duration(n) * 24 * time.Hour) }

func TestGeneratedDataset(t *testing.T) {
	ds := mainDataset()
	m := newModel(ds)
	kinds := map[lifecycle]int{}
	statuses := map[synclog.Status]int{}
	types := map[string]int{}
	sources := map[string]int{}
	for _, g := range ds.runs {
		kinds[g.kind]++
		r := m.runs[g.id]
		statuses[r.Status]++
		types[r.SyncType]++
		sources[r.Source]++
	}
	for k := range numLifecycles {
		if kinds[k] == 0 {
			t.Errorf("no run has lifecycle %d", k)
		}
	}
	for _, st := range synclog.Statuses {
		if statuses[st] == 0 {
			t.Errorf("no run is %s", st)
		}
	}
	if len(types) != len(synclog.DefaultSyncTypes) || len(sources) != len(testSources) {
		t.Errorf("sync types %v, sources %v", types, sources)
	}
	if ds.nDup < 100 {
		t.Errorf("only %d duplicate deliveries", ds.nDup)
	}
	// Fingerprints group messages that differ in numbers.
	fps := map[runs.Fingerprint]int{}
	for _, r := range m.runs {
		if r.Status == synclog.StatusFailed {
			fps[r.Fingerprint]++
		}
	}
	if len(fps) > 12 || len(fps) < 5 {
		t.Errorf("failed runs have %d fingerprints, want a handful: %v", len(fps), fps)
	}
	t.Logf("%d runs, %d batches, %d duplicates, kinds %v, statuses %v", len(ds.runs), len(ds.batches), ds.nDup, kinds, statuses)
}

func TestListRuns(t *testing.T) {
	s, m := loadedStore(t)
	ctx := context.Background()
	nonEmpty := 0
	for _, r := range m.runs {
		if r.Message != "" {
			nonEmpty++
		}
	}
	// olderMatches counts the runs any of whose reports holds text.
	olderMatches := func(text string) int {
		n := 0
		for _, reps := range m.reports {
			if slices.ContainsFunc(reps, func(r synclog.Report) bool { return strings.Contains(r.Message, text) }) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name   string
		filter runs.Filter
		// empty is true when the filter selects no run.
		empty bool
		// fewerThan, when set, is a count the result must stay below: a
		// LIKE wildcard taken for a pattern would match more.
		fewerThan int
	}{
		{name: "all", filter: runs.Filter{}},
		{name: "source", filter: runs.Filter{Sources: []string{"erp"}}},
		{name: "two sources", filter: runs.Filter{Sources: []string{"shopify", "warehouse-eu"}}},
		{name: "unknown source", filter: runs.Filter{Sources: []string{"nope"}}, empty: true},
		{name: "sync type", filter: runs.Filter{SyncTypes: []string{"stock"}}},
		{name: "two sync types", filter: runs.Filter{SyncTypes: []string{"order", "manual"}}},
		{name: "status", filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusFailed}}},
		{name: "terminal failures", filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}}},
		{name: "in progress", filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusPending, synclog.StatusProcessing}}},
		{name: "every status", filter: runs.Filter{Statuses: synclog.Statuses}},
		{name: "since", filter: runs.Filter{Since: day(7)}},
		{name: "until", filter: runs.Filter{Until: day(2)}},
		{name: "since until", filter: runs.Filter{Since: day(3), Until: day(5)}},
		// ListRuns reads back from Until in slices of time: the first
		// one then ends exactly at the midnight where three runs start.
		{name: "until an hour after midnight", filter: runs.Filter{Until: day(6).Add(time.Hour)}},
		{name: "since until ms", filter: runs.Filter{Since: day(3).Add(time.Millisecond), Until: day(5).Add(-time.Millisecond)}},
		{name: "before the data", filter: runs.Filter{Until: day(0)}, empty: true},
		{name: "query", filter: runs.Filter{Query: "timeout"}},
		{name: "query upper case", filter: runs.Filter{Query: "TIMEOUT"}},
		{name: "query mixed case and spaces", filter: runs.Filter{Query: "  Connection TimeOut "}},
		{name: "query non-ascii", filter: runs.Filter{Query: "ÜBERLAST"}},
		{name: "query percent", filter: runs.Filter{Query: "%"}, fewerThan: nonEmpty},
		{name: "query underscore", filter: runs.Filter{Query: "_"}, fewerThan: nonEmpty},
		{name: "query percent underscore", filter: runs.Filter{Query: "0%_used"}},
		{name: "query wildcard pattern", filter: runs.Filter{Query: "1_0%"}, empty: true},
		{name: "query backslash", filter: runs.Filter{Query: `\`}},
		{name: "query backslash path", filter: runs.Filter{Query: `c:\sync\in\batch`}},
		{name: "query absent", filter: runs.Filter{Query: "no such text"}, empty: true},
		// Earlier reports of finished runs hold this text too; only the
		// latest state counts.
		{name: "query of older reports", filter: runs.Filter{Query: "processing batch 1 of"}, fewerThan: olderMatches("processing batch 1 of")},
		{name: "combined", filter: runs.Filter{
			Sources: []string{"erp"}, SyncTypes: []string{"products", "prices", "stock"},
			Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial},
			Since:    day(1), Until: day(9), Query: "timeout",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := m.list(tc.filter)
			if tc.empty != (len(want) == 0) {
				t.Fatalf("the model selects %d runs; the case expects empty=%v", len(want), tc.empty)
			}
			if tc.fewerThan > 0 && len(want) >= tc.fewerThan {
				t.Fatalf("the model selects %d runs, not fewer than %d", len(want), tc.fewerThan)
			}
			// Small pages for the broad filters, so that pagination
			// crosses many pages; larger ones for the rest.
			limit := 400
			if len(want) > 1000 {
				limit = 97
			}
			got := listAll(t, s, tc.filter, limit)
			checkList(t, got, want)
			// One large page gives the same list.
			page, next, err := s.ListRuns(ctx, runs.ListOptions{Filter: tc.filter, Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if next != nil {
				t.Errorf("a page of 10000 has a next cursor")
			}
			if !slices.Equal(runIDs(page), runIDs(want)) {
				t.Errorf("single page differs from the model")
			}
		})
	}

	t.Run("page of one", func(t *testing.T) {
		f := runs.Filter{Sources: []string{"erp"}, Statuses: []synclog.Status{synclog.StatusPartial}, Since: day(4), Until: day(6)}
		want := m.list(f)
		if len(want) < 3 {
			t.Fatalf("the model selects only %d runs", len(want))
		}
		checkList(t, listAll(t, s, f, 1), want)
	})

	t.Run("page size equal to the count", func(t *testing.T) {
		f := runs.Filter{SyncTypes: []string{"manual"}, Statuses: []synclog.Status{synclog.StatusFailed}}
		want := m.list(f)
		if len(want) == 0 {
			t.Fatal("the model selects no run")
		}
		checkList(t, listAll(t, s, f, len(want)), want)
	})

	t.Run("cursor inside a tie", func(t *testing.T) {
		// Runs that share a start are ordered by run id: a cursor between
		// them continues with the next id.
		want := m.list(runs.Filter{})
		ties := 0
		for k := 0; k+1 < len(want); k++ {
			if !want[k].StartedAt.Equal(want[k+1].StartedAt) {
				continue
			}
			ties++
			c := runs.Cursor{StartedAt: want[k].StartedAt, RunID: want[k].RunID}
			page, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: 5, After: &c})
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, page, want[k+1:min(k+6, len(want))])
		}
		if ties < 10 {
			t.Fatalf("only %d runs share a start with the next", ties)
		}
		// A cursor that names no stored run still splits the order.
		c := runs.Cursor{StartedAt: want[100].StartedAt, RunID: want[100].RunID + "~"}
		page, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: 50, After: &c})
		if err != nil {
			t.Fatal(err)
		}
		checkList(t, page, want[100:150])
	})

	t.Run("pages of one through a tie", func(t *testing.T) {
		f := runs.Filter{Since: day(5), Until: day(5).Add(time.Millisecond)}
		want := m.list(f)
		if len(want) < 3 {
			t.Fatalf("the model selects only %d runs", len(want))
		}
		checkList(t, listAll(t, s, f, 1), want)
	})

	t.Run("limit bounds", func(t *testing.T) {
		for _, limit := range []int{0, -1, 10001} {
			if _, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: limit}); err == nil {
				t.Errorf("limit %d: no error", limit)
			}
		}
	})
}

func TestGetRun(t *testing.T) {
	s, m := loadedStore(t)
	ctx := context.Background()
	// Every lifecycle, with and without duplicate deliveries.
	picked := map[[2]int]int{}
	var ids []string
	for _, g := range m.ds.runs {
		k := [2]int{int(g.kind), 0}
		if g.duplicated {
			k[1] = 1
		}
		if picked[k] < 15 {
			picked[k]++
			ids = append(ids, g.id)
		}
	}
	if len(picked) < 2*int(numLifecycles)-1 {
		t.Fatalf("only %d lifecycle × duplicate combinations in the dataset", len(picked))
	}
	for _, id := range ids {
		got, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatalf("get run %s: %v", id, err)
		}
		if d := diffRun(&got.Run, m.runs[id]); d != "" {
			t.Errorf("run %s (lifecycle %d): %s", id, m.ds.byID()[id].kind, d)
		}
		want := m.reports[id]
		if len(got.Reports) != len(want) {
			t.Errorf("run %s: %d reports, want %d", id, len(got.Reports), len(want))
			continue
		}
		for i, w := range want {
			g := got.Reports[i]
			if g.EventID != w.EventID || g.Status != w.Status || g.Message != w.Message ||
				g.TotalCount != w.TotalCount || g.SuccessCount != w.SuccessCount || g.FailedCount != w.FailedCount ||
				!g.StartedAt.Equal(w.StartedAt) || !sameTimePtr(g.CompletedAt, w.CompletedAt) ||
				!g.ReceivedAt.Equal(w.ReceivedAt) || !sameAttrs(g.Attributes, w.Attributes) {
				t.Errorf("run %s report %d: got %+v, want %+v", id, i, g, w)
			}
		}
	}
	for _, id := range []string{"", "run-unknown", "RUN-" + ids[0][4:], ids[0] + " ", ids[0][:len(ids[0])-1]} {
		if _, err := s.GetRun(ctx, id); !errors.Is(err, runs.ErrNotFound) {
			t.Errorf("get run %q: err %v, want runs.ErrNotFound", id, err)
		}
	}
}

// statsKey identifies a group of statistics.
type statsKey struct {
	bucket                   int64 // Unix milliseconds; 0 without interval
	syncType, source, status string
}

// expectStats computes q's statistics over the model's runs.
func (m *model) expectStats(q runs.StatsQuery) map[statsKey]runs.Stats {
	type acc struct {
		st   runs.Stats
		durs []float64
	}
	accs := map[statsKey]*acc{}
	for _, r := range m.runs {
		if !matches(r, q.Filter) {
			continue
		}
		var k statsKey
		if q.Interval > 0 {
			iv := q.Interval.Milliseconds()
			ms := r.StartedAt.UnixMilli()
			k.bucket = ms - ((ms%iv)+iv)%iv
		}
		for _, g := range q.GroupBy {
			switch g {
			case runs.BySyncType:
				k.syncType = r.SyncType
			case runs.BySource:
				k.source = r.Source
			case runs.ByStatus:
				k.status = string(r.Status)
			}
		}
		a := accs[k]
		if a == nil {
			a = &acc{}
			accs[k] = a
		}
		st := &a.st
		st.Runs++
		switch r.Status {
		case synclog.StatusPending:
			st.Pending++
		case synclog.StatusProcessing:
			st.Processing++
		case synclog.StatusSuccess:
			st.Success++
		case synclog.StatusFailed:
			st.Failed++
		case synclog.StatusPartial:
			st.Partial++
		}
		if r.Status.Terminal() {
			st.RecordsTotal += r.TotalCount
			st.RecordsSuccess += r.SuccessCount
			st.RecordsFailed += r.FailedCount
			a.durs = append(a.durs, float64(*r.DurationMS)/1000)
		}
	}
	hours := q.Filter.Until.Sub(q.Filter.Since).Hours()
	if q.Interval > 0 {
		hours = q.Interval.Hours()
	}
	out := map[statsKey]runs.Stats{}
	for k, a := range accs {
		st := a.st
		if term := st.Success + st.Failed + st.Partial; term > 0 {
			st.SuccessRatio = ptr(float64(st.Success) / float64(term))
		}
		if st.RecordsTotal > 0 {
			st.RecordSuccessRatio = ptr(float64(st.RecordsSuccess) / float64(st.RecordsTotal))
		}
		st.FailedPerHour = float64(st.Failed) / hours
		if d := testutil.Summarise(a.durs); d != nil {
			st.DurationAvg, st.DurationP50, st.DurationP95, st.DurationP99, st.DurationMax = ptr(d.Avg), ptr(d.P50), ptr(d.P95), ptr(d.P99), ptr(d.Max)
		}
		out[k] = st
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// near reports whether got is within rel (relative) or abs of want.
func near(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= math.Max(abs, rel*math.Abs(want))
}

// nearPtr is near for optional values, which must both be set or unset.
func nearPtr(got, want *float64, rel, abs float64) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return near(*got, *want, rel, abs)
}

// diffStats describes how got differs from want, or returns "". Quantiles
// may differ by 2%, other ratios and averages only by rounding.
func diffStats(got, want runs.Stats) string {
	var d []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	counts := func(s runs.Stats) [9]uint64 {
		return [9]uint64{s.Runs, s.Pending, s.Processing, s.Success, s.Failed, s.Partial, s.RecordsTotal, s.RecordsSuccess, s.RecordsFailed}
	}
	check("counts", counts(got) == counts(want), counts(got), counts(want))
	check("success_ratio", nearPtr(got.SuccessRatio, want.SuccessRatio, 1e-9, 1e-12), fmtPtr(got.SuccessRatio), fmtPtr(want.SuccessRatio))
	check("record_success_ratio", nearPtr(got.RecordSuccessRatio, want.RecordSuccessRatio, 1e-9, 1e-12), fmtPtr(got.RecordSuccessRatio), fmtPtr(want.RecordSuccessRatio))
	check("failed_per_hour", near(got.FailedPerHour, want.FailedPerHour, 1e-9, 1e-12), got.FailedPerHour, want.FailedPerHour)
	check("duration_avg", nearPtr(got.DurationAvg, want.DurationAvg, 1e-9, 1e-9), fmtPtr(got.DurationAvg), fmtPtr(want.DurationAvg))
	check("duration_p50", nearPtr(got.DurationP50, want.DurationP50, 0.02, 0.002), fmtPtr(got.DurationP50), fmtPtr(want.DurationP50))
	check("duration_p95", nearPtr(got.DurationP95, want.DurationP95, 0.02, 0.002), fmtPtr(got.DurationP95), fmtPtr(want.DurationP95))
	check("duration_p99", nearPtr(got.DurationP99, want.DurationP99, 0.02, 0.002), fmtPtr(got.DurationP99), fmtPtr(want.DurationP99))
	check("duration_max", nearPtr(got.DurationMax, want.DurationMax, 0, 1e-9), fmtPtr(got.DurationMax), fmtPtr(want.DurationMax))
	return strings.Join(d, "; ")
}

func TestStats(t *testing.T) {
	s, m := loadedStore(t)
	ctx := context.Background()
	all := runs.Filter{Since: day(0), Until: day(mainDays)}
	tests := []struct {
		name string
		q    runs.StatsQuery
	}{
		{"overall", runs.StatsQuery{Filter: all}},
		{"by sync type", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.BySyncType}}},
		{"by source", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.BySource}}},
		{"by status", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.ByStatus}}},
		{"by sync type and source", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.BySyncType, runs.BySource}}},
		{"by status and sync type", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.ByStatus, runs.BySyncType}}},
		{"by all three", runs.StatsQuery{Filter: all, GroupBy: []runs.GroupBy{runs.BySource, runs.BySyncType, runs.ByStatus, runs.BySource}}},
		{"hourly", runs.StatsQuery{Filter: all, Interval: time.Hour}},
		{"daily by sync type", runs.StatsQuery{Filter: all, Interval: 24 * time.Hour, GroupBy: []runs.GroupBy{runs.BySyncType}}},
		{"six-hourly by status", runs.StatsQuery{Filter: all, Interval: 6 * time.Hour, GroupBy: []runs.GroupBy{runs.ByStatus}}},
		{"90 minutes", runs.StatsQuery{Filter: runs.Filter{Since: day(2), Until: day(4)}, Interval: 90 * time.Minute}},
		{"window", runs.StatsQuery{Filter: runs.Filter{Since: day(3).Add(7 * time.Hour), Until: day(5)}, GroupBy: []runs.GroupBy{runs.BySyncType}}},
		{"filtered", runs.StatsQuery{Filter: runs.Filter{
			Since: day(1), Until: day(9), Sources: []string{"erp", "shopify"},
			Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial, synclog.StatusProcessing},
		}, GroupBy: []runs.GroupBy{runs.BySyncType}}},
		{"query", runs.StatsQuery{Filter: runs.Filter{Since: day(0), Until: day(mainDays), Query: "TIMEOUT"}, GroupBy: []runs.GroupBy{runs.BySource}}},
		{"in progress only", runs.StatsQuery{Filter: runs.Filter{Since: day(0), Until: day(mainDays),
			Statuses: []synclog.Status{synclog.StatusPending, synclog.StatusProcessing}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.GroupBy = dedupGroupBy(q.GroupBy)
			want := m.expectStats(q)
			if len(want) == 0 {
				t.Fatal("the model has no statistics for the query")
			}
			got, err := s.Stats(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("%d groups, want %d", len(got), len(want))
			}
			var keys []statsKey
			terminal := 0
			for _, g := range got {
				k := statsKey{syncType: g.SyncType, source: g.Source, status: g.Status}
				if (g.Bucket != nil) != (q.Interval > 0) {
					t.Fatalf("bucket %v with interval %s", g.Bucket, q.Interval)
				}
				if g.Bucket != nil {
					k.bucket = g.Bucket.UnixMilli()
				}
				keys = append(keys, k)
				w, ok := want[k]
				if !ok {
					t.Errorf("unexpected group %+v", k)
					continue
				}
				if w.DurationAvg != nil {
					terminal++
				}
				if d := diffStats(g, w); d != "" {
					t.Errorf("group %+v: %s", k, d)
				}
			}
			if !slices.IsSortedFunc(keys, func(a, b statsKey) int { return compareStatsKeys(a, b, q.GroupBy) }) {
				t.Errorf("groups are not ordered by bucket and group: %v", keys)
			}
			if len(keys) > 0 && slices.Contains(q.Filter.Statuses, synclog.StatusFailed) && terminal == 0 {
				t.Error("no group has durations")
			}
		})
	}

	t.Run("no runs", func(t *testing.T) {
		got, err := s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Since: day(-20), Until: day(-10)}, GroupBy: []runs.GroupBy{runs.BySyncType}})
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v; want no groups", got, err)
		}
		got, err = s.Stats(ctx, runs.StatsQuery{Filter: runs.Filter{Since: day(-20), Until: day(-10)}})
		if err != nil || len(got) != 0 {
			t.Errorf("ungrouped: got %v, %v; want no groups", got, err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, q := range []runs.StatsQuery{
			{Filter: runs.Filter{Until: day(1)}},
			{Filter: runs.Filter{Since: day(1)}},
			{Filter: runs.Filter{Since: day(2), Until: day(1)}},
			{Filter: all, Interval: time.Second},
			{Filter: all, GroupBy: []runs.GroupBy{"message"}},
			{Filter: all, GroupBy: []runs.GroupBy{"sync_type; DROP TABLE runs"}},
		} {
			if _, err := s.Stats(ctx, q); err == nil {
				t.Errorf("%+v: no error", q)
			}
		}
	})
}

// compareStatsKeys orders statistics keys by bucket, then by the groups in
// the order the query names them.
func compareStatsKeys(a, b statsKey, groups []runs.GroupBy) int {
	if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	for _, g := range groups {
		var c int
		switch g {
		case runs.BySyncType:
			c = strings.Compare(a.syncType, b.syncType)
		case runs.BySource:
			c = strings.Compare(a.source, b.source)
		case runs.ByStatus:
			c = strings.Compare(a.status, b.status)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// expectDaily computes the daily report of the day that starts at midnight
// of day in loc.
func (m *model) expectDaily(day time.Time, loc *time.Location) []runs.DailyRow {
	y, mo, d := day.In(loc).Date()
	start := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	prev, from, to := start.AddDate(0, 0, -1), start.AddDate(0, 0, -7), start.AddDate(0, 0, 1)
	in := func(r *runs.Run, a, b time.Time) bool { return !r.StartedAt.Before(a) && r.StartedAt.Before(b) }
	figures := func(syncType string, a, b time.Time, days float64) runs.DayFigures {
		var f runs.DayFigures
		var secs []float64
		for _, r := range m.runs {
			if r.SyncType != syncType || !in(r, a, b) {
				continue
			}
			f.Runs++
			switch r.Status {
			case synclog.StatusSuccess:
				f.Success++
			case synclog.StatusFailed:
				f.Failed++
			case synclog.StatusPartial:
				f.Partial++
			}
			if r.Status.Terminal() {
				f.Records += float64(r.TotalCount)
				secs = append(secs, float64(*r.DurationMS)/1000)
			}
		}
		if term := f.Success + f.Failed + f.Partial; term > 0 {
			f.SuccessRate = ptr(f.Success / term)
		}
		if s := testutil.Summarise(secs); s != nil {
			f.DurationAvg, f.DurationP95 = ptr(s.Avg), ptr(s.P95)
		}
		f.Runs /= days
		f.Success /= days
		f.Failed /= days
		f.Partial /= days
		f.Records /= days
		return f
	}
	var types []string
	for _, r := range m.runs {
		if in(r, from, to) && !slices.Contains(types, r.SyncType) {
			types = append(types, r.SyncType)
		}
	}
	slices.Sort(types)
	var rows []runs.DailyRow
	for _, st := range types {
		dr := runs.DailyRow{
			SyncType: st,
			Day:      figures(st, start, to, 1),
			Previous: figures(st, prev, start, 1),
			SevenDay: figures(st, from, start, 7),
		}
		dr.ChangeRuns = dr.Day.Runs - dr.Previous.Runs
		if dr.Day.SuccessRate != nil && dr.Previous.SuccessRate != nil {
			dr.ChangeSuccessRate = ptr(*dr.Day.SuccessRate - *dr.Previous.SuccessRate)
		}
		rows = append(rows, dr)
	}
	return rows
}

func diffDay(got, want runs.DayFigures) string {
	var d []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	for _, c := range []struct {
		name string
		g, w float64
	}{{"runs", got.Runs, want.Runs}, {"success", got.Success, want.Success}, {"failed", got.Failed, want.Failed},
		{"partial", got.Partial, want.Partial}, {"records", got.Records, want.Records}} {
		check(c.name, near(c.g, c.w, 1e-9, 1e-9), c.g, c.w)
	}
	check("success_rate", nearPtr(got.SuccessRate, want.SuccessRate, 1e-9, 1e-12), fmtPtr(got.SuccessRate), fmtPtr(want.SuccessRate))
	check("duration_avg", nearPtr(got.DurationAvg, want.DurationAvg, 1e-9, 1e-9), fmtPtr(got.DurationAvg), fmtPtr(want.DurationAvg))
	check("duration_p95", nearPtr(got.DurationP95, want.DurationP95, 0.02, 0.002), fmtPtr(got.DurationP95), fmtPtr(want.DurationP95))
	return strings.Join(d, "; ")
}

func TestDailyReport(t *testing.T) {
	s, m := loadedStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		day  time.Time
		loc  *time.Location
		// full is true when the day, the day before and the week all hold
		// runs of every sync type.
		full  bool
		empty bool
	}{
		{name: "utc", day: day(8).Add(13 * time.Hour), loc: time.UTC, full: true},
		{name: "utc+8", day: day(8), loc: time.FixedZone("UTC+8", 8*3600), full: true},
		{name: "utc-5", day: day(9).Add(-time.Hour), loc: time.FixedZone("", -5*3600), full: true},
		{name: "local", day: day(8), loc: time.Local, full: true},
		{name: "nil location", day: day(8), loc: nil, full: true},
		{name: "partial week", day: day(2), loc: time.UTC},
		{name: "first day", day: day(0), loc: time.UTC},
		{name: "after the data", day: day(mainDays + 3), loc: time.UTC},
		{name: "before the data", day: day(-3), loc: time.UTC, empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			want := m.expectDaily(tc.day, loc)
			if tc.empty != (len(want) == 0) {
				t.Fatalf("the model has %d rows; the case expects empty=%v", len(want), tc.empty)
			}
			if tc.full {
				if len(want) != len(synclog.DefaultSyncTypes) {
					t.Fatalf("the model has %d sync types", len(want))
				}
				for _, w := range want {
					if w.Day.Runs == 0 || w.Previous.Runs == 0 || w.SevenDay.DurationP95 == nil || w.ChangeSuccessRate == nil {
						t.Fatalf("the model's figures are incomplete: %+v", w)
					}
				}
			}
			got, err := s.DailyReport(ctx, tc.day, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.SyncType != w.SyncType {
					t.Errorf("row %d: sync type %s, want %s", i, g.SyncType, w.SyncType)
					continue
				}
				for _, c := range []struct {
					name string
					g, w runs.DayFigures
				}{{"day", g.Day, w.Day}, {"previous day", g.Previous, w.Previous}, {"seven-day average", g.SevenDay, w.SevenDay}} {
					if d := diffDay(c.g, c.w); d != "" {
						t.Errorf("%s %s: %s", w.SyncType, c.name, d)
					}
				}
				if !near(g.ChangeRuns, w.ChangeRuns, 1e-9, 1e-9) || !nearPtr(g.ChangeSuccessRate, w.ChangeSuccessRate, 1e-9, 1e-12) {
					t.Errorf("%s: changes %v %v, want %v %v", w.SyncType, g.ChangeRuns, fmtPtr(g.ChangeSuccessRate), w.ChangeRuns, fmtPtr(w.ChangeSuccessRate))
				}
			}
		})
	}
}

// expectErrorGroups computes the error groups of the failed and partial
// runs f selects, largest first, and for each the messages of its latest
// runs (any of them may be the sample when they share a start).
func (m *model) expectErrorGroups(f runs.Filter, limit int) ([]runs.ErrorGroup, map[runs.Fingerprint][]string) {
	since, until := f.Since, f.Until
	prevSince := since.Add(-until.Sub(since))
	f.Statuses = []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}
	f.Since = prevSince
	groups := map[runs.Fingerprint]*runs.ErrorGroup{}
	samples := map[runs.Fingerprint][]string{}
	for _, r := range m.list(f) {
		if r.Fingerprint == 0 {
			continue
		}
		g := groups[r.Fingerprint]
		if g == nil {
			g = &runs.ErrorGroup{Fingerprint: r.Fingerprint}
			groups[r.Fingerprint] = g
		}
		if r.StartedAt.Before(since) {
			g.Previous++
			continue
		}
		g.Count++
		if g.FirstSeen.IsZero() || r.StartedAt.Before(g.FirstSeen) {
			g.FirstSeen = r.StartedAt
		}
		switch {
		case r.StartedAt.After(g.LastSeen):
			g.LastSeen = r.StartedAt
			samples[r.Fingerprint] = []string{r.Message}
		case r.StartedAt.Equal(g.LastSeen):
			samples[r.Fingerprint] = append(samples[r.Fingerprint], r.Message)
		}
		if !slices.Contains(g.SyncTypes, r.SyncType) {
			g.SyncTypes = append(g.SyncTypes, r.SyncType)
		}
		if !slices.Contains(g.Sources, r.Source) {
			g.Sources = append(g.Sources, r.Source)
		}
	}
	var out []runs.ErrorGroup
	for _, g := range groups {
		if g.Count == 0 {
			continue
		}
		slices.Sort(g.SyncTypes)
		slices.Sort(g.Sources)
		g.Rising = g.Count >= g.Previous+2 && 2*g.Count >= 3*g.Previous
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b runs.ErrorGroup) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out[:min(limit, len(out))], samples
}

func TestErrorGroups(t *testing.T) {
	s, m := loadedStore(t)
	ctx := context.Background()
	last3 := runs.Filter{Since: day(7), Until: day(mainDays)}
	tests := []struct {
		name   string
		filter runs.Filter
		limit  int
		// mixed is true when some groups rise and some do not.
		mixed bool
	}{
		{name: "last three days", filter: last3, limit: 1000, mixed: true},
		{name: "top three", filter: last3, limit: 3},
		{name: "one day", filter: runs.Filter{Since: day(5), Until: day(6)}, limit: 100},
		{name: "hours", filter: runs.Filter{Since: day(4).Add(5 * time.Hour), Until: day(4).Add(17 * time.Hour)}, limit: 100},
		{name: "source", filter: runs.Filter{Since: day(6), Until: day(mainDays), Sources: []string{"erp"}}, limit: 100},
		{name: "sync types", filter: runs.Filter{Since: day(6), Until: day(mainDays), SyncTypes: []string{"stock", "order"}}, limit: 100},
		{name: "query", filter: runs.Filter{Since: day(2), Until: day(mainDays), Query: "timeout"}, limit: 100},
		// A status filter is replaced by failed and partial.
		{name: "status ignored", filter: runs.Filter{Since: day(7), Until: day(mainDays), Statuses: []synclog.Status{synclog.StatusSuccess}}, limit: 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, samples := m.expectErrorGroups(tc.filter, tc.limit)
			if len(want) == 0 {
				t.Fatal("the model has no error group")
			}
			if tc.mixed {
				rising := 0
				for _, g := range want {
					if g.Rising {
						rising++
					}
				}
				if rising == 0 || rising == len(want) {
					t.Fatalf("%d of %d groups rise; the case needs both kinds", rising, len(want))
				}
			}
			got, err := s.ErrorGroups(ctx, tc.filter, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("%d groups, want %d", len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				g, w := got[i], want[i]
				if g.Fingerprint != w.Fingerprint || g.Count != w.Count || g.Previous != w.Previous || g.Rising != w.Rising ||
					!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) ||
					!slices.Equal(g.SyncTypes, w.SyncTypes) || !slices.Equal(g.Sources, w.Sources) {
					t.Errorf("group %d:\n got %+v\nwant %+v", i, g, w)
				}
				if !slices.Contains(samples[w.Fingerprint], g.Sample) {
					t.Errorf("group %d: sample %q is not the message of its latest run %q", i, g.Sample, samples[w.Fingerprint])
				}
			}
		})
	}

	t.Run("invalid", func(t *testing.T) {
		for _, c := range []struct {
			f     runs.Filter
			limit int
		}{
			{runs.Filter{Until: day(1)}, 10},
			{runs.Filter{Since: day(1)}, 10},
			{runs.Filter{Since: day(1), Until: day(1)}, 10},
			{last3, 0},
			{last3, 1001},
		} {
			if _, err := s.ErrorGroups(ctx, c.f, c.limit); err == nil {
				t.Errorf("%+v limit %d: no error", c.f, c.limit)
			}
		}
	})
}

// tableCounts returns the number of runs and of distinct reports stored.
func tableCounts(t *testing.T, s *Store) (runs, reports uint64) {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), `SELECT
(SELECT count() FROM runs FINAL) AS runs,
(SELECT count() FROM reports FINAL) AS reports`, nil)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	var c struct{ Runs, Reports uint64 }
	if err := json.Unmarshal(firstLine(out), &c); err != nil {
		t.Fatalf("decode counts %q: %v", out, err)
	}
	return c.Runs, c.Reports
}

// modelCounts returns the number of runs and distinct reports of the model.
func (m *model) counts() (runs, reports uint64) {
	for _, reps := range m.reports {
		reports += uint64(len(reps))
	}
	return uint64(len(m.runs)), reports
}

// checkContents compares everything the store holds with the model.
func checkContents(t *testing.T, s *Store, m *model) {
	t.Helper()
	gr, gp := tableCounts(t, s)
	wr, wp := m.counts()
	if gr != wr || gp != wp {
		t.Errorf("store holds %d runs and %d reports, want %d and %d", gr, gp, wr, wp)
	}
	checkList(t, listAll(t, s, runs.Filter{}, 10000), m.list(runs.Filter{}))
}

func TestDeleteRuns(t *testing.T) {
	s, m := loadedStoreWith(t, smallDataset())
	ctx := context.Background()
	checkContents(t, s, m)
	tests := []struct {
		name   string
		filter runs.Filter
		empty  bool
		// boundary is true when a run starts exactly at Until.
		boundary bool
	}{
		{name: "sync type and status before a day", filter: runs.Filter{
			SyncTypes: []string{"stock"}, Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusSuccess}, Until: day(5)}},
		{name: "source in a window", filter: runs.Filter{Sources: []string{"erp"}, Since: day(2), Until: day(4)}},
		{name: "message", filter: runs.Filter{Query: "100%_used", Until: day(mainDays)}},
		{name: "in progress", filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusProcessing}, Since: day(8), Until: day(9)}},
		{name: "everything before a day", filter: runs.Filter{Until: day(1)}, boundary: true},
		{name: "nothing selected", filter: runs.Filter{Sources: []string{"nope"}, Until: day(mainDays)}, empty: true},
		{name: "again", filter: runs.Filter{Until: day(1)}, empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			victims := m.list(tc.filter)
			if tc.empty != (len(victims) == 0) {
				t.Fatalf("the model selects %d runs; the case expects empty=%v", len(victims), tc.empty)
			}
			want := runs.DeleteResult{Runs: uint64(len(victims))}
			for _, r := range victims {
				want.Reports += uint64(len(m.reports[r.RunID]))
			}
			// A run that the filter would select but for starting exactly
			// at Until stays.
			var kept []*runs.Run
			later := tc.filter
			later.Until = later.Until.Add(time.Millisecond)
			for _, r := range m.runs {
				if r.StartedAt.Equal(tc.filter.Until) && matches(r, later) {
					kept = append(kept, r)
				}
			}
			if tc.boundary && len(kept) == 0 {
				t.Fatal("no run starts at until")
			}

			dry, err := s.DeleteRuns(ctx, tc.filter, true)
			if err != nil {
				t.Fatal(err)
			}
			if !dry.DryRun || dry.Runs != want.Runs || dry.Reports != want.Reports {
				t.Errorf("dry run: %+v, want %+v", dry, want)
			}
			checkContents(t, s, m)

			res, err := s.DeleteRuns(ctx, tc.filter, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.DryRun || res.Runs != dry.Runs || res.Reports != dry.Reports {
				t.Errorf("delete: %+v, dry run said %+v", res, dry)
			}
			for _, r := range victims {
				m.delete(r.RunID)
			}
			checkContents(t, s, m)
			for _, r := range victims[:min(3, len(victims))] {
				if _, err := s.GetRun(ctx, r.RunID); !errors.Is(err, runs.ErrNotFound) {
					t.Errorf("deleted run %s: %v, want runs.ErrNotFound", r.RunID, err)
				}
			}
			for _, r := range kept {
				if _, err := s.GetRun(ctx, r.RunID); err != nil {
					t.Errorf("run %s at until: %v", r.RunID, err)
				}
			}
		})
	}
	t.Run("until required", func(t *testing.T) {
		for _, dry := range []bool{true, false} {
			if _, err := s.DeleteRuns(ctx, runs.Filter{Since: day(0), Sources: []string{"erp"}}, dry); err == nil {
				t.Errorf("dry run %v: no error without until", dry)
			}
		}
		checkContents(t, s, m)
	})
	// Reports of a deleted run that arrive later start it afresh.
	t.Run("late report", func(t *testing.T) {
		var id string
		for _, g := range m.ds.runs {
			if _, ok := m.runs[g.id]; !ok {
				id = g.id
				break
			}
		}
		if id == "" {
			t.Fatal("no run was deleted")
		}
		late := m.ds.byID()[id].reports
		late = late[len(late)-1:]
		if err := s.InsertReports(ctx, late); err != nil {
			t.Fatal(err)
		}
		d, err := s.GetRun(ctx, id)
		if err != nil || len(d.Reports) != 1 {
			t.Fatalf("get run: %v, %v", d, err)
		}
	})
}

func TestPaginationWhileInserting(t *testing.T) {
	tests := []struct {
		name   string
		filter runs.Filter
		limit  int
	}{
		{name: "all runs", filter: runs.Filter{}, limit: 100},
		{name: "one sync type", filter: runs.Filter{SyncTypes: []string{"stock"}}, limit: 20},
		{name: "failures since a day", filter: runs.Filter{Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}, Since: day(3)}, limit: 15},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, m := loadedStoreWith(t, smallDataset())
			ctx := context.Background()
			want := runIDs(m.list(tc.filter))
			if len(want) < 5*tc.limit {
				t.Fatalf("the model selects only %d runs", len(want))
			}
			original := map[string]bool{}
			for id := range m.runs {
				original[id] = true
			}
			// New runs, all newer than every original run.
			newer := generate(uint64(7000+i), 400, day(mainDays).Add(time.Hour), 2*24*time.Hour, "new", false)
			var pending [][]synclog.Report
			pending = append(pending, newer.batches...)
			// Completions of original runs in progress: their key stays.
			recv := day(mainDays + 4)
			var done []synclog.Report
			for id, r := range m.runs {
				if r.Status.Terminal() {
					continue
				}
				recv = recv.Add(time.Second)
				c := recv.Add(-time.Millisecond)
				rep := synclog.Report{RunID: id, EventID: id + "-late", Source: r.Source, SyncType: r.SyncType,
					Status: synclog.StatusFailed, Message: "late failure", TotalCount: 3, FailedCount: 3, CompletedAt: &c}
				rep.Normalize(recv)
				rep.RunStartedAt = r.StartedAt // as the collector anchors it
				done = append(done, rep)
			}
			for len(done) > 0 {
				n := min(40, len(done))
				pending = append(pending, done[:n])
				done = done[n:]
			}

			anchors := runAnchors{}
			var got []string
			var after *runs.Cursor
			for page := 0; ; page++ {
				found, next, err := s.ListRuns(ctx, runs.ListOptions{Filter: tc.filter, Limit: tc.limit, After: after})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, runIDs(found)...)
				if next == nil {
					break
				}
				after = next
				if page < len(pending) {
					if err := s.InsertReports(ctx, anchors.apply(pending[page])); err != nil {
						t.Fatal(err)
					}
				}
			}
			inserted := min(len(pending), len(got)/tc.limit)
			if inserted < len(pending)/2 {
				t.Fatalf("only %d of %d batches were inserted between pages", inserted, len(pending))
			}
			var gotOriginal []string
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Errorf("run %s repeated", id)
				}
				seen[id] = true
				if original[id] {
					gotOriginal = append(gotOriginal, id)
				} else {
					t.Errorf("new run %s, newer than the first page, appeared", id)
				}
			}
			// A run in progress that failed meanwhile may leave or join a
			// status filter: compare the others.
			changed := map[string]bool{}
			for _, b := range pending[len(newer.batches):min(len(pending), inserted)] {
				for _, r := range b {
					changed[r.RunID] = true
				}
			}
			if len(tc.filter.Statuses) == 0 {
				clear(changed)
			}
			strip := func(ids []string) []string {
				return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return changed[id] })
			}
			if g, w := strip(gotOriginal), strip(want); !slices.Equal(g, w) {
				t.Errorf("original runs: got %d, want %d (in order, without skips or repeats)", len(g), len(w))
			}
			// The store ends up with every report.
			for _, b := range pending[inserted:] {
				if err := s.InsertReports(ctx, anchors.apply(b)); err != nil {
					t.Fatal(err)
				}
			}
			for _, g := range newer.runs {
				m.addRun(g.id, g.reports)
			}
			for _, b := range pending[len(newer.batches):] {
				for _, r := range b {
					m.addRun(r.RunID, append(slices.Clone(m.reports[r.RunID]), r))
				}
			}
			checkContents(t, s, m)
		})
	}
}

// injectionPayloads are strings that would change a query built by
// concatenation, or break the escaping of a bound parameter.
var injectionPayloads = []string{
	`' OR 1=1 --`,
	`' OR '1'='1`,
	`\'; DROP TABLE runs; --`,
	`'); DROP TABLE reports; --`,
	`erp' OR source != '`,
	`', 'erp`,
	`erp', 'shopify`,
	`'] OR 1=1 --`,
	`{f_query:String}`,
	`{f_sources:Array(String)}`,
	`{limit:UInt32}`,
	`\`,
	`\\`,
	`\'`,
	`erp\`,
	`'`,
	`"`,
	"`",
	"erp\x00",
	"\x00",
	"a\x00' OR 1=1 --",
	"\t\n\r",
	"%",
	"_",
	"%' OR '1'='1",
	`\%`,
	`\_`,
	"erp; SELECT * FROM system.tables",
	"failed' OR status != 'failed",
}

func TestInjection(t *testing.T) {
	s, m := loadedStoreWith(t, smallDataset())
	ctx := context.Background()
	window := runs.Filter{Since: day(0), Until: day(mainDays)}
	erp := m.list(runs.Filter{Sources: []string{"erp"}})
	failed := m.list(runs.Filter{Statuses: []synclog.Status{synclog.StatusFailed}})
	stock := m.list(runs.Filter{SyncTypes: []string{"stock"}})
	if len(erp) == 0 || len(failed) == 0 || len(stock) == 0 {
		t.Fatal("the dataset lacks erp, failed or stock runs")
	}
	all := m.list(runs.Filter{})
	wantRuns, wantReports := m.counts()

	// list returns the runs f selects, or nil when the store rejected f.
	list := func(t *testing.T, f runs.Filter) ([]runs.Run, bool) {
		t.Helper()
		found, _, err := s.ListRuns(ctx, runs.ListOptions{Filter: f, Limit: 10000})
		if err != nil {
			t.Logf("rejected: %v", err)
			return nil, false
		}
		return found, true
	}
	expect := func(t *testing.T, f runs.Filter, want []*runs.Run) {
		t.Helper()
		if got, ok := list(t, f); ok && !slices.Equal(runIDs(got), runIDs(want)) {
			t.Errorf("filter %+v: %d runs, want %d", f, len(got), len(want))
		}
	}
	for _, p := range injectionPayloads {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			// Next to a real value, the payload selects nothing more: no
			// other data, and no change to how the real value matches.
			expect(t, runs.Filter{Sources: []string{p, "erp"}}, erp)
			expect(t, runs.Filter{Sources: []string{"erp", p}}, erp)
			expect(t, runs.Filter{SyncTypes: []string{"stock", p}}, stock)
			expect(t, runs.Filter{Statuses: []synclog.Status{synclog.Status(p), synclog.StatusFailed}}, failed)
			// The message search finds the payload as a literal substring:
			// "%" and "_" do select runs, but only those whose message holds
			// them.
			q := m.list(runs.Filter{Query: p})
			if len(q) == len(all) && strings.TrimSpace(p) != "" {
				t.Fatalf("the model selects every run for query %q", p)
			}
			expect(t, runs.Filter{Query: p}, q)

			// A cursor with the payload as run id continues after it.
			c := runs.Cursor{StartedAt: all[200].StartedAt, RunID: p}
			var after []*runs.Run
			for _, r := range all {
				if r.StartedAt.Before(c.StartedAt) || r.StartedAt.Equal(c.StartedAt) && r.RunID < c.RunID {
					after = append(after, r)
				}
			}
			after = after[:50]
			if found, _, err := s.ListRuns(ctx, runs.ListOptions{Limit: 50, After: &c}); err == nil && !slices.Equal(runIDs(found), runIDs(after)) {
				t.Errorf("after cursor %q: %v, want %v", p, runIDs(found), runIDs(after))
			}

			if _, err := s.GetRun(ctx, p); err == nil {
				t.Errorf("get run %q: found", p)
			} else if !errors.Is(err, runs.ErrNotFound) {
				t.Logf("get run rejected: %v", err)
			}

			for _, f := range []runs.Filter{
				{Sources: []string{p}}, {SyncTypes: []string{p}}, {Statuses: []synclog.Status{synclog.Status(p)}},
			} {
				f.Since, f.Until = window.Since, window.Until
				if st, err := s.Stats(ctx, runs.StatsQuery{Filter: f, GroupBy: []runs.GroupBy{runs.BySyncType}}); err == nil && len(st) != 0 {
					t.Errorf("stats %+v: %d groups, want none", f, len(st))
				}
				// Error groups replace a status filter by failed and partial.
				wantGroups, _ := m.expectErrorGroups(f, 100)
				if g, err := s.ErrorGroups(ctx, f, 100); err == nil && len(g) != len(wantGroups) {
					t.Errorf("error groups %+v: %d groups, want %d", f, len(g), len(wantGroups))
				}
				// The dry run counts what the same selection would delete.
				if res, err := s.DeleteRuns(ctx, f, true); err == nil && (res.Runs != 0 || res.Reports != 0) {
					t.Errorf("delete %+v (dry run): %+v, want nothing", f, res)
				}
			}
			if res, err := s.DeleteRuns(ctx, runs.Filter{Sources: []string{p}, Until: window.Until}, false); err == nil && res.Runs != 0 {
				t.Errorf("delete source %q: %+v, want nothing", p, res)
			}
			qf := window
			qf.Query = p
			wantGroups, _ := m.expectErrorGroups(qf, 1000)
			if g, err := s.ErrorGroups(ctx, qf, 1000); err == nil && len(g) != len(wantGroups) {
				t.Errorf("error groups for query %q: %d, want %d", p, len(g), len(wantGroups))
			}
			if st, err := s.Stats(ctx, runs.StatsQuery{Filter: qf}); err == nil {
				var n uint64
				for _, x := range st {
					n += x.Runs
				}
				if n != uint64(len(m.list(qf))) {
					t.Errorf("stats for query %q count %d runs, want %d", p, n, len(m.list(qf)))
				}
			}
			if res, err := s.DeleteRuns(ctx, runs.Filter{Query: p, Sources: []string{p}, Until: window.Until}, false); err == nil && res.Runs != 0 {
				t.Errorf("delete for query %q: %+v, want nothing", p, res)
			}
		})
	}
	// Nothing was dropped or deleted.
	if r, p := tableCounts(t, s); r != wantRuns || p != wantReports {
		t.Errorf("after the payloads the store holds %d runs and %d reports, want %d and %d", r, p, wantRuns, wantReports)
	}
	checkContents(t, s, m)
}

// TestReportRowJSON checks the hand-written encoding of report rows against
// encoding/json's encoding of the same fields.
func TestReportRowJSON(t *testing.T) {
	tricky := []string{"", "plain", `quote " and \ backslash`, "nul \x00 tab \t nl \n cr \r bell \a esc \x1b",
		"invalid \xff\xfe utf-8 \xc3", "html <b>&amp;</b>", "line sep \u2028 para \u2029", "emoji 🚀 汉字 Ünïcödé", "\x7f del"}
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []reportRow
	for i := range 200 {
		str := func() string { return tricky[rng.IntN(len(tricky))] }
		ts := func() chTime {
			return chTime(time.UnixMilli(rng.Int64N(1 << 42)).In(time.FixedZone("x", 3600*rng.IntN(24)-12*3600)))
		}
		r := reportRow{
			EventID: str(), RunID: str(), Source: str(), SyncType: str(), Status: str(), Message: str(),
			Fingerprint: rng.Uint64(), TotalCount: rng.Uint64(), SuccessCount: uint64(rng.IntN(10)), FailedCount: math.MaxUint64,
			StartedAt: ts(), ReceivedAt: ts(), RunStartedAt: ts(), Version: rng.Uint64(),
		}
		if i%2 == 0 {
			c := ts()
			r.CompletedAt = &c
		}
		if i%3 != 0 {
			r.Attributes = map[string]string{str(): str(), str() + "2": str(), "k": ""}
		}
		rows = append(rows, r)
	}
	rows = append(rows, reportRow{StartedAt: chTime(time.Date(3, 2, 1, 4, 5, 6, 7e6, time.UTC)),
		ReceivedAt: chTime(time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC))})
	// Times render as formatTime renders them.
	for i := range 2000 {
		tm := time.UnixMilli(rng.Int64N(1<<46) - 1<<45).Add(time.Duration(rng.IntN(1e6))).In(time.FixedZone("y", 60*rng.IntN(1440)))
		if i == 0 {
			tm = time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if got, want := string(appendTime(nil, tm)), formatTime(tm); got != want {
			t.Errorf("time %s: %s, want %s", tm, got, want)
		}
	}
	for i := range rows {
		got := rows[i].appendJSON(nil)
		want, err := json.Marshal(&rows[i])
		if err != nil {
			t.Fatal(err)
		}
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("row %d: %v in %s", i, err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if w["attributes"] == nil {
			w["attributes"] = map[string]any{}
		}
		// Numbers beyond 2^53 lose precision in any; compare their text.
		for _, k := range []string{"fingerprint", "total_count", "failed_count", "version"} {
			g[k], w[k] = nil, nil
			if !strings.Contains(string(got), fmt.Sprintf(`"%s":%d`, k, map[string]uint64{
				"fingerprint": rows[i].Fingerprint, "total_count": rows[i].TotalCount,
				"failed_count": rows[i].FailedCount, "version": rows[i].Version}[k])) {
				t.Errorf("row %d: %s missing from %s", i, k, got)
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
