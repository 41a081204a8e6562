// Package synth generates labelled run histories for measuring the
// detectors of package diagnose: jobs on 5-minute, hourly and daily
// schedules, with hour-of-day and weekday seasonality in their durations
// and record counts, log-normal noise, a small rate of ordinary failures,
// and planted events whose kind, start and affected runs are known.
//
// A History is fully determined by its Spec: the same spec gives the same
// runs, so a table of scores measured on it can be kept in the docs and
// checked by a test.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// EventKind names a planted event.
type EventKind string

// The planted events.
const (
	// Step50 and Step100 make every run of a stretch 50 % and 100 %
	// slower.
	Step50  EventKind = "step_50"
	Step100 EventKind = "step_100"
	// Drift makes runs slower and slower, to twice as slow at its end.
	Drift EventKind = "drift"
	// Burst makes consecutive runs fail.
	Burst EventKind = "failure_burst"
	// Small makes one run succeed with 3 % of its usual records.
	Small EventKind = "small_success"
	// Fast makes one run finish in a tenth of its usual time.
	Fast EventKind = "too_fast"
	// Gap silences a job for six of its intervals.
	Gap EventKind = "silent_gap"
	// NewVersion deploys a new version on one host, whose runs then fail
	// with a new error.
	NewVersion EventKind = "new_version"
	// Outage makes every job of a source fail for three hours.
	Outage EventKind = "supplier_outage"
)

// Job is one scheduled job of a history.
type Job struct {
	Source, SyncType string
	Every            time.Duration
	// Duration and Records are the typical run's, before seasonality.
	Duration time.Duration
	Records  int
	// Events are planted in the job's runs, in order.
	Events []Event
}

// Event is a planted event of one job; Runs are the starts of the runs it
// affects (for a gap, the starts it removed).
type Event struct {
	Kind   EventKind
	Source string
	Type   string
	Start  time.Time
	// Length is how long a step, drift, burst or version lasts (one run
	// for a single-run event).
	Length time.Duration
	Runs   []time.Time
}

// Spec describes a history.
type Spec struct {
	Seed uint64
	// End is the end of the history, Weeks its length.
	End   time.Time
	Weeks int
	// Noise is the standard deviation of the log-normal noise of
	// durations (records get half of it); FailureRate the rate of
	// ordinary failures.
	Noise       float64
	FailureRate float64
	Jobs        []Job
}

// History is a spec's runs, as terminal reports in start order, and its
// planted events.
type History struct {
	Reports []synclog.Report
	Events  []Event
	// Starts are the run starts of each job, in order, keyed by
	// "source/sync_type".
	Starts map[string][]time.Time
}

// Key names a job.
func Key(source, syncType string) string { return source + "/" + syncType }

// ordinaryErrors are the failures every job has now and then.
var ordinaryErrors = []string{
	"timeout after 30s contacting supplier API",
	"HTTP 502 Bad Gateway from supplier",
	"connection reset by peer",
}

// Generate builds the history of a spec.
func Generate(spec Spec) History {
	h := History{Starts: map[string][]time.Time{}}
	start := spec.End.AddDate(0, 0, -7*spec.Weeks)
	for ji, job := range spec.Jobs {
		rng := rand.New(rand.NewPCG(spec.Seed, uint64(ji)+1))
		key := Key(job.Source, job.SyncType)
		events := slices.Clone(job.Events)
		for i := range events {
			events[i].Source, events[i].Type = job.Source, job.SyncType
		}
		n := 0
		for t := start.Add(job.Every / 3); t.Before(spec.End); t = t.Add(job.Every) {
			// Jitter of the start, a few percent of the interval.
			at := t.Add(time.Duration(rng.NormFloat64() * 0.01 * float64(job.Every)))
			n++
			r, skip := run(rng, spec, job, events, at, n)
			if skip {
				continue
			}
			h.Starts[key] = append(h.Starts[key], at)
			h.Reports = append(h.Reports, r)
		}
		h.Events = append(h.Events, events...)
	}
	slices.SortStableFunc(h.Reports, func(a, b synclog.Report) int { return a.StartedAt.Compare(b.StartedAt) })
	return h
}

// seasonal is the factor of a start's hour of day and weekday.
func seasonal(t time.Time) float64 {
	f := 1 + 0.35*math.Sin(2*math.Pi*float64(t.Hour()-8)/24)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		f *= 0.7
	}
	return f
}

// run makes one run of a job starting at at, applying the events that
// cover it; skip is true when a gap removes it.
func run(rng *rand.Rand, spec Spec, job Job, events []Event, at time.Time, n int) (synclog.Report, bool) {
	season := seasonal(at)
	if job.Every >= 24*time.Hour {
		season = 1
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			season = 0.7
		}
	}
	dur := job.Duration.Seconds() * season * math.Exp(rng.NormFloat64()*spec.Noise)
	recs := float64(job.Records) * season * math.Exp(rng.NormFloat64()*spec.Noise/2)
	status := synclog.StatusSuccess
	msg := fmt.Sprintf("synced %d records", int(recs))
	hosts := []string{"sync-1", "sync-2", "sync-3"}
	attrs := map[string]string{"host": hosts[rng.IntN(len(hosts))], "version": "1.4.2", "trigger": "cron"}
	if rng.Float64() < spec.FailureRate {
		status = synclog.StatusFailed
		msg = ordinaryErrors[rng.IntN(len(ordinaryErrors))]
	}
	for i := range events {
		e := &events[i]
		in := !at.Before(e.Start) && at.Before(e.Start.Add(e.Length))
		if !in {
			continue
		}
		switch e.Kind {
		case Step50:
			dur *= 1.5
		case Step100:
			dur *= 2
		case Drift:
			dur *= 1 + float64(at.Sub(e.Start))/float64(e.Length)
		case Burst:
			status, msg = synclog.StatusFailed, "HTTP 503 Service Unavailable: supplier maintenance"
		case Outage:
			status, msg = synclog.StatusFailed, "dial tcp: connection refused by supplier gateway"
			dur *= 0.2
		case Small:
			recs *= 0.03
			msg = fmt.Sprintf("synced %d records", int(recs))
		case Fast:
			dur *= 0.1
		case Gap:
			e.Runs = append(e.Runs, at)
			return synclog.Report{}, true
		case NewVersion:
			if attrs["host"] != "sync-2" {
				continue
			}
			attrs["version"] = "2.0.0"
			status, msg = synclog.StatusFailed, "KeyError: 'sku_v2' in payload mapping"
		}
		e.Runs = append(e.Runs, at)
	}
	total := uint64(math.Max(recs, 0))
	ok, failed := total, uint64(0)
	if status == synclog.StatusFailed {
		ok, failed = 0, total
	}
	done := at.Add(time.Duration(dur * float64(time.Second))).Truncate(time.Millisecond)
	at = at.Truncate(time.Millisecond)
	id := fmt.Sprintf("%s-%s-%06d", job.Source, job.SyncType, n)
	return synclog.Report{
		RunID: id, EventID: id + "-end", Source: job.Source, SyncType: job.SyncType, Status: status, Message: msg,
		TotalCount: total, SuccessCount: ok, FailedCount: failed, StartedAt: at, CompletedAt: &done, Attributes: attrs,
	}, false
}
