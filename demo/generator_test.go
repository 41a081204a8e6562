package demo

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/synclog"
)

// simulate returns the events of the first span of a simulation.
func simulate(cfg Config, from, until time.Duration) []Event {
	g := NewGenerator(cfg, from)
	var out []Event
	for {
		ev := g.Next()
		if ev.At > until {
			return out
		}
		out = append(out, ev)
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a := simulate(Config{Seed: 42}, -time.Hour, 3*time.Hour)
	b := simulate(Config{Seed: 42}, -time.Hour, 3*time.Hour)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generators with the same seed yielded different events")
	}
	c := simulate(Config{Seed: 43}, -time.Hour, 3*time.Hour)
	if reflect.DeepEqual(a, c) {
		t.Fatal("generators with different seeds yielded the same events")
	}
}

func TestGeneratorEventsAreInOrderAndConsistent(t *testing.T) {
	events := simulate(Config{Seed: 1}, -2*time.Hour, 6*time.Hour)
	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	runs := map[string][]Event{}
	for i, ev := range events {
		if i > 0 && ev.At < events[i-1].At {
			t.Fatalf("event %d at %s comes after one at %s", i, ev.At, events[i-1].At)
		}
		if ev.Report == nil {
			if ev.Note == "" {
				t.Fatalf("event %d has neither a report nor a note", i)
			}
			continue
		}
		r := ev.Report
		runs[r.RunID] = append(runs[r.RunID], ev)
		// The report is valid once timestamps are filled as Run does.
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(3 * time.Hour)
		rep := synclog.Report{RunID: r.RunID, EventID: r.EventID, Source: r.Source, SyncType: r.SyncType, Status: r.Status,
			Message: r.Message, TotalCount: r.TotalCount, SuccessCount: r.SuccessCount, FailedCount: r.FailedCount,
			StartedAt: base.Add(ev.Start), Attributes: r.Attributes}
		if r.Status.Terminal() {
			c := base.Add(ev.End)
			rep.CompletedAt = &c
		}
		now := base.Add(7 * time.Hour)
		rep.Normalize(now)
		if err := rep.Validate(types, now); err != nil {
			t.Fatalf("event %d: invalid report %+v: %v", i, *r, err)
		}
	}
	for id, evs := range runs {
		last := evs[len(evs)-1]
		for _, ev := range evs {
			if ev.Start != evs[0].Start {
				t.Errorf("run %s: reports give different starts", id)
			}
		}
		// Only the run of a job that hangs never ends.
		hangs := slices.ContainsFunc(Jobs, func(j Job) bool {
			return j.HangsLive && j.Source == last.Report.Source && j.SyncType == last.Report.SyncType
		})
		if len(evs) > 3 || (last.At < 5*time.Hour && !last.Report.Status.Terminal() && !hangs) {
			t.Errorf("run %s: reports %v", id, statuses(evs))
		}
		ids := map[string]bool{}
		for _, ev := range evs {
			if ids[ev.Report.EventID] {
				t.Errorf("run %s: event id %s used twice", id, ev.Report.EventID)
			}
			ids[ev.Report.EventID] = true
		}
	}
}

func statuses(evs []Event) []client.Status {
	var out []client.Status
	for _, ev := range evs {
		out = append(out, ev.Report.Status)
	}
	return out
}

func TestGeneratorCoversEveryStatusTypeAndFailure(t *testing.T) {
	events := simulate(Config{Seed: 7, SlowdownAfter: time.Hour}, 0, 3*time.Hour)
	seen := map[string]bool{}
	var notes []string
	for _, ev := range events {
		if ev.Report == nil {
			notes = append(notes, ev.Note)
			continue
		}
		seen["status:"+string(ev.Report.Status)] = true
		seen["type:"+ev.Report.SyncType] = true
		seen["source:"+ev.Report.Source] = true
		msg := ev.Report.Message
		for kind, marker := range map[string]string{"timeout": "timeout", "5xx": "answered 50", "auth": "401", "malformed": "malformed payload"} {
			if strings.Contains(msg, marker) || (kind == "5xx" && strings.Contains(msg, "HTTP 500")) {
				seen["failure:"+kind] = true
			}
		}
		if synclog.Redact(msg) != msg {
			seen["secret"] = true
		}
	}
	var want []string
	for _, s := range synclog.Statuses {
		want = append(want, "status:"+string(s))
	}
	for _, ty := range synclog.DefaultSyncTypes {
		want = append(want, "type:"+ty)
	}
	want = append(want, "source:haier", "source:jd", "secret")
	for _, w := range want {
		if !seen[w] {
			t.Errorf("3 simulated hours produced no %s", w)
		}
	}
	for _, note := range []string{"slows down", "goes silent", "supplier incident begins", "supplier incident over"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, note) }) {
			t.Errorf("no note says %q; notes: %q", note, notes)
		}
	}
}

func TestGeneratorFailureKindsOverALongRun(t *testing.T) {
	events := simulate(Config{Seed: 3}, 0, 48*time.Hour)
	kinds := map[string]int{}
	for _, ev := range events {
		if ev.Report == nil || ev.Report.Status != client.StatusFailed {
			continue
		}
		msg := ev.Report.Message
		switch {
		case strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline exceeded"):
			kinds["timeout"]++
		case strings.Contains(msg, "answered 50") || strings.Contains(msg, "HTTP 500"):
			kinds["5xx"]++
		case strings.Contains(msg, "401") || strings.Contains(msg, "403"):
			kinds["auth"]++
		case strings.Contains(msg, "malformed payload"):
			kinds["malformed"]++
		default:
			t.Errorf("failure message of no known kind: %q", msg)
		}
	}
	for _, k := range []string{"timeout", "5xx", "auth", "malformed"} {
		if kinds[k] == 0 {
			t.Errorf("two simulated days had no %s failure: %v", k, kinds)
		}
	}
}

func TestIncidentsBringFailureBursts(t *testing.T) {
	cfg := Config{Seed: 5}
	events := simulate(cfg, 0, 6*time.Hour)
	var inBurst, inBurstFailed, outside, outsideFailed int
	// The first live incident of haier begins at FirstIncident (20m) and
	// lasts 8-20 minutes; runs starting in its first 8 minutes are in it.
	for _, ev := range events {
		r := ev.Report
		if r == nil || r.Source != "haier" || !r.Status.Terminal() {
			continue
		}
		start := ev.Start
		switch {
		case start >= 20*time.Minute && start < 28*time.Minute:
			inBurst++
			if r.Status == client.StatusFailed {
				inBurstFailed++
			}
		case start < 20*time.Minute:
			outside++
			if r.Status == client.StatusFailed {
				outsideFailed++
			}
		}
	}
	if inBurst == 0 || float64(inBurstFailed)/float64(inBurst) < 0.5 {
		t.Errorf("%d of %d haier runs in the first incident failed, want most", inBurstFailed, inBurst)
	}
	if outside == 0 || float64(outsideFailed)/float64(outside) > 0.3 {
		t.Errorf("%d of %d haier runs before the incident failed, want few", outsideFailed, outside)
	}
}

func TestSilentJobStops(t *testing.T) {
	cfg := Config{Seed: 11, SilentAfter: time.Hour}
	events := simulate(cfg, -time.Hour, 4*time.Hour)
	var lastLogistics, lastStock time.Duration
	n := 0
	for _, ev := range events {
		if ev.Report == nil || ev.Report.Source != "haier" {
			continue
		}
		switch ev.Report.SyncType {
		case "logistics":
			lastLogistics = max(lastLogistics, ev.Start)
			n++
		case "stock":
			lastStock = max(lastStock, ev.Start)
		}
	}
	if n == 0 || lastLogistics >= time.Hour {
		t.Errorf("haier/logistics: %d reports, the last run started at %s; want reports until %s and none after", n, lastLogistics, time.Hour)
	}
	if lastStock < 3*time.Hour {
		t.Errorf("haier/stock stopped too (last run at %s)", lastStock)
	}
}

func TestSlowJobSlowsDown(t *testing.T) {
	events := simulate(Config{Seed: 13, SlowdownAfter: time.Hour}, -time.Hour, 10*time.Hour)
	var before, early, late []time.Duration
	for _, ev := range events {
		r := ev.Report
		if r == nil || r.Source != "haier" || r.SyncType != "prices" || r.Status != client.StatusSuccess {
			continue
		}
		d := ev.End - ev.Start
		switch {
		case ev.Start < 0:
			before = append(before, d)
		case ev.Start < time.Hour:
			early = append(early, d)
		case ev.Start > 3*time.Hour:
			late = append(late, d)
		}
	}
	if len(before) == 0 || len(early) == 0 || len(late) == 0 {
		t.Fatalf("too few prices runs: %d before, %d early, %d late", len(before), len(early), len(late))
	}
	// Before SlowdownAfter the job keeps its pace; two hours later
	// (SlowdownPer) its runs take Slowdown times as long.
	if mean(early) > 3*mean(before)/2 || mean(late) < Slowdown/2*mean(early) {
		t.Errorf("prices durations: %s in the history, %s in the first hour, %s after three; want the same pace, then %dx",
			mean(before), mean(early), mean(late), Slowdown)
	}
	// The other jobs keep their pace.
	var stockEarly, stockLate []time.Duration
	for _, ev := range events {
		if r := ev.Report; r != nil && r.Source == "haier" && r.SyncType == "stock" && r.Status == client.StatusSuccess {
			if ev.Start < time.Hour {
				stockEarly = append(stockEarly, ev.End-ev.Start)
			} else if ev.Start > 3*time.Hour {
				stockLate = append(stockLate, ev.End-ev.Start)
			}
		}
	}
	if m := mean(stockLate); m > 2*mean(stockEarly) {
		t.Errorf("haier/stock slowed down too: %s then %s", mean(stockEarly), m)
	}
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
