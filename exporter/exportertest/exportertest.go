// Package exportertest generates datasets of run reports for the tests of
// the exporter and of its queries, and computes in Go, independently of
// any SQL, the figures the exporter's Source must answer for them. Model
// is itself an exporter.Source over a dataset.
package exportertest

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// Options shape a generated dataset.
type Options struct {
	Seed uint64
	// Runs is the number of random runs (default 1000).
	Runs int
	// Now is the end of the dataset: runs start in [Now-Span, Now).
	Now  time.Time
	Span time.Duration
	// Sources and SyncTypes are the label values (defaults: three sources,
	// the default sync types).
	Sources   []string
	SyncTypes []string
	// Prefix starts every run id, so that datasets can share a table.
	Prefix string
	// BatchSize is the number of reports per batch (default 500).
	BatchSize int
}

// Run is one generated run: its reports, distinct, in arrival order.
type Run struct {
	ID       string
	Source   string
	SyncType string
	Start    time.Time
	Reports  []synclog.Report
}

// Latest returns the run's latest state as the store keeps it: the report
// of highest status rank, the last to arrive among equals.
func (r *Run) Latest() *synclog.Report {
	var best *synclog.Report
	for i := range r.Reports {
		rep := &r.Reports[i]
		if best == nil || rep.Status.Rank() > best.Status.Rank() ||
			rep.Status.Rank() == best.Status.Rank() && !rep.ReceivedAt.Before(best.ReceivedAt) {
			best = rep
		}
	}
	return best
}

// Dataset is a set of generated runs and the batches that deliver them,
// some reports twice.
type Dataset struct {
	Now     time.Time
	Runs    []*Run
	Batches [][]synclog.Report
	// Duplicates is the number of reports delivered a second time.
	Duplicates int
}

// typical is the median duration of each default sync type.
var typical = map[string]time.Duration{
	"products": 2 * time.Minute, "prices": 30 * time.Second, "stock": 10 * time.Second,
	"order": 2 * time.Second, "logistics": 5 * time.Second, "manual": time.Minute,
}

// Generate builds a dataset deterministically from o.Seed. Runs follow
// every lifecycle a job can report: one terminal report; processing then
// terminal (with or without started_at); terminal then a stale processing
// report; pending then processing; a run still in progress. About one run
// in ten has a report delivered twice. The latest runs of the first source
// and sync type fail three times in a row. Random runs start in
// [Now-Span, Now-5m), the streak in the last five minutes.
func Generate(o Options) *Dataset {
	if o.Runs == 0 {
		o.Runs = 1000
	}
	if len(o.Sources) == 0 {
		o.Sources = []string{"erp", "shopify", "warehouse-eu"}
	}
	if len(o.SyncTypes) == 0 {
		o.SyncTypes = synclog.DefaultSyncTypes
	}
	if o.BatchSize == 0 {
		o.BatchSize = 500
	}
	if o.Prefix == "" {
		o.Prefix = "run"
	}
	now := o.Now.UTC().Truncate(time.Millisecond)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	ds := &Dataset{Now: now}
	// Random runs start before the failure streak of the first pair.
	spanMS := max(o.Span-5*time.Minute, time.Millisecond).Milliseconds()
	newRun := func(i int, source, syncType string, start time.Time) *Run {
		return &Run{ID: fmt.Sprintf("%s-%d", o.Prefix, i), Source: source, SyncType: syncType, Start: start}
	}
	for i := range o.Runs {
		start := now.Add(-5*time.Minute - time.Duration(rng.Int64N(spanMS))*time.Millisecond)
		r := newRun(i, o.Sources[rng.IntN(len(o.Sources))], o.SyncTypes[rng.IntN(len(o.SyncTypes))], start)
		fillRun(rng, r, randomTerminal(rng), rng.IntN(6))
		ds.Runs = append(ds.Runs, r)
	}
	// A failure streak at the end of the first pair: three failed runs
	// after every other run, the last a minute before now.
	for k := range 3 {
		start := now.Add(-time.Duration(3-k) * time.Minute)
		r := newRun(o.Runs+k, o.Sources[0], o.SyncTypes[0], start)
		fillRun(rng, r, synclog.StatusFailed, 0)
		ds.Runs = append(ds.Runs, r)
	}
	// Arrival order: by received time; then batches, with a tenth of the
	// runs delivering one report again in a later batch.
	var all []synclog.Report
	for _, r := range ds.Runs {
		all = append(all, r.Reports...)
	}
	slices.SortStableFunc(all, func(a, b synclog.Report) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	for len(all) > 0 {
		n := min(o.BatchSize, len(all))
		ds.Batches = append(ds.Batches, all[:n:n])
		all = all[n:]
	}
	for _, r := range ds.Runs {
		if rng.IntN(10) != 0 {
			continue
		}
		rep := r.Reports[rng.IntN(len(r.Reports))]
		b := rng.IntN(len(ds.Batches))
		ds.Batches[b] = append(ds.Batches[b], rep)
		ds.Duplicates++
	}
	return ds
}

func randomTerminal(rng *rand.Rand) synclog.Status {
	switch x := rng.IntN(10); {
	case x < 7:
		return synclog.StatusSuccess
	case x < 9:
		return synclog.StatusFailed
	default:
		return synclog.StatusPartial
	}
}

// fillRun gives r the reports of a lifecycle: 0 one terminal report; 1
// processing then terminal; 2 processing then terminal without
// started_at; 3 terminal then a stale processing report; 4 in progress
// only; 5 pending then processing.
func fillRun(rng *rand.Rand, r *Run, final synclog.Status, lifecycle int) {
	base := typical[r.SyncType]
	if base == 0 {
		base = 10 * time.Second
	}
	// Log-normal around the typical duration, at millisecond precision.
	dur := time.Duration(float64(base) * math.Exp(rng.NormFloat64()*0.6)).Truncate(time.Millisecond)
	completed := r.Start.Add(dur)
	total := uint64(rng.IntN(1000))
	var succ, failed uint64
	switch final {
	case synclog.StatusSuccess:
		succ = total
	case synclog.StatusFailed:
		failed = uint64(rng.IntN(int(total) + 1))
	case synclog.StatusPartial:
		if total > 0 {
			failed = 1 + uint64(rng.IntN(int(total)))
		}
		succ = total - failed
	}
	n := 0
	report := func(status synclog.Status, received time.Time) synclog.Report {
		n++
		rep := synclog.Report{
			RunID: r.ID, EventID: fmt.Sprintf("%s-e%d", r.ID, n), Source: r.Source, SyncType: r.SyncType,
			Status: status, StartedAt: r.Start, ReceivedAt: received, RunStartedAt: r.Start,
		}
		if status.Terminal() {
			c := completed
			rep.CompletedAt = &c
			rep.TotalCount, rep.SuccessCount, rep.FailedCount = total, succ, failed
			if final != synclog.StatusSuccess {
				rep.Message = "3 of 4 requests timed out"
			}
		}
		return rep
	}
	switch lifecycle {
	case 0:
		r.Reports = append(r.Reports, report(final, completed))
	case 1:
		r.Reports = append(r.Reports, report(synclog.StatusProcessing, r.Start), report(final, completed))
	case 2:
		terminal := report(final, completed)
		terminal.StartedAt = completed // the job omitted started_at
		r.Reports = append(r.Reports, report(synclog.StatusProcessing, r.Start), terminal)
	case 3:
		stale := report(synclog.StatusProcessing, completed.Add(time.Second))
		r.Reports = append(r.Reports, report(final, completed), stale)
	case 4:
		st := synclog.StatusProcessing
		if rng.IntN(2) == 0 {
			st = synclog.StatusPending
		}
		r.Reports = append(r.Reports, report(st, r.Start))
	case 5:
		r.Reports = append(r.Reports, report(synclog.StatusPending, r.Start), report(synclog.StatusProcessing, r.Start.Add(time.Millisecond)))
	}
}

// Model answers the exporter's queries over a dataset in Go. It is an
// exporter.Source.
type Model struct {
	DS *Dataset
}

var _ exporter.Source = Model{}

// WindowStats computes the figures of the runs of the window: terminal runs
// by when they finished, runs in progress by when they started.
func (m Model) WindowStats(_ context.Context, q exporter.WindowQuery) ([]exporter.WindowStat, error) {
	keep := map[string]bool{}
	for _, s := range q.Sources {
		keep[s] = true
	}
	type key struct{ source, syncType string }
	stats := map[key]*exporter.WindowStat{}
	durs := map[key][]float64{}
	for _, r := range m.DS.Runs {
		// A terminal run belongs to the window it finished in (having
		// started at most a week before it), a run in progress to the one
		// it started in.
		l := r.Latest()
		at := r.Start
		if l.Status.Terminal() {
			at = *l.CompletedAt
			if r.Start.Before(q.Since.Add(-7*24*time.Hour)) || !r.Start.Before(q.Until) {
				continue
			}
		}
		if at.Before(q.Since) || !at.Before(q.Until) {
			continue
		}
		source := r.Source
		if q.Sources != nil && !keep[source] {
			source = exporter.OtherSource
		}
		k := key{source, r.SyncType}
		s := stats[k]
		if s == nil {
			s = &exporter.WindowStat{Source: source, SyncType: r.SyncType}
			stats[k] = s
		}
		switch l.Status {
		case synclog.StatusPending:
			s.Pending++
		case synclog.StatusProcessing:
			s.Processing++
		case synclog.StatusSuccess:
			s.Success++
		case synclog.StatusFailed:
			s.Failed++
		case synclog.StatusPartial:
			s.Partial++
		}
		if l.Status.Terminal() {
			s.RecordsTotal += l.TotalCount
			s.RecordsSuccess += l.SuccessCount
			durs[k] = append(durs[k], l.CompletedAt.Sub(r.Start).Seconds())
		}
	}
	out := make([]exporter.WindowStat, 0, len(stats))
	for k, s := range stats {
		d := slices.Sorted(slices.Values(durs[k]))
		s.Durations = uint64(len(d))
		s.DurationAvg, s.DurationP50, s.DurationP95, s.DurationP99 = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if len(d) > 0 {
			var sum float64
			for _, v := range d {
				sum += v
			}
			s.DurationAvg = sum / float64(len(d))
			s.DurationP50, s.DurationP95, s.DurationP99 = testutil.Quantile(d, 0.5), testutil.Quantile(d, 0.95), testutil.Quantile(d, 0.99)
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		return cmp.Or(cmp.Compare(out[i].Source, out[j].Source), cmp.Compare(out[i].SyncType, out[j].SyncType)) < 0
	})
	return out, nil
}

// TypeStates computes the latest activity of every source and sync type.
// The last success is the latest completion of a success report.
func (m Model) TypeStates(_ context.Context, since time.Time) ([]exporter.TypeState, error) {
	type key struct{ source, syncType string }
	states := map[key]*exporter.TypeState{}
	terminal := map[key][]*Run{}
	for _, r := range m.DS.Runs {
		k := key{r.Source, r.SyncType}
		s := states[k]
		if s == nil {
			s = &exporter.TypeState{Source: r.Source, SyncType: r.SyncType, FirstRun: r.Start}
			states[k] = s
		}
		if r.Start.Before(s.FirstRun) {
			s.FirstRun = r.Start
		}
		if r.Start.After(s.LastRun) {
			s.LastRun = r.Start
		}
		for _, rep := range r.Reports {
			if rep.Status == synclog.StatusSuccess && rep.CompletedAt.After(s.LastSuccess) {
				s.LastSuccess = *rep.CompletedAt
			}
		}
		if r.Start.Before(since) {
			continue
		}
		if l := r.Latest(); l.Status.Terminal() {
			terminal[k] = append(terminal[k], r)
		} else {
			s.InProgress++
			if s.OldestInProgress.IsZero() || r.Start.Before(s.OldestInProgress) {
				s.OldestInProgress = r.Start
			}
		}
	}
	out := make([]exporter.TypeState, 0, len(states))
	for k, s := range states {
		runs := terminal[k]
		slices.SortFunc(runs, func(a, b *Run) int { return b.Start.Compare(a.Start) })
		for _, r := range runs {
			if r.Latest().Status != synclog.StatusFailed {
				break
			}
			s.ConsecutiveFailures++
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		return cmp.Or(cmp.Compare(out[i].Source, out[j].Source), cmp.Compare(out[i].SyncType, out[j].SyncType)) < 0
	})
	return out, nil
}
