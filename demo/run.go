package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/client"
)

// DefaultSpeed is how many times faster than real time the demo runs by
// default: a report every second or so.
const DefaultSpeed = 30

// Options configure Run.
type Options struct {
	// Client sends the reports. Required.
	Client *client.Client
	// Speed compresses the simulated clock: at 30, a job that runs every
	// 15 minutes runs every 30 seconds and takes a thirtieth of its
	// typical time. DefaultSpeed when zero.
	Speed float64
	// Duration ends the demo after this much real time; zero runs until
	// the context ends.
	Duration time.Duration
	// Backfill sends, at once, the history of this much real time before
	// the start (at the same speed), so that charts have a past.
	Backfill time.Duration
	// Config shapes the simulation (seed, jobs, incidents).
	Config Config
	// Log receives notes about the simulation and a summary now and then;
	// nothing when nil.
	Log io.Writer
	// SummaryEvery is how often a summary is logged; 30 seconds when
	// zero.
	SummaryEvery time.Duration
}

// Stats count what Run sent.
type Stats struct {
	// Sent counts reports the server took, by status.
	Sent map[client.Status]int
	// Failed counts reports that could not be delivered.
	Failed int
}

// maxPerRequest bounds the reports Run puts in one request.
const maxPerRequest = 500

// Run plays the simulation against the server of o.Client until the
// context ends or o.Duration passes. Reports carry real timestamps: a run
// that starts at simulated time t is reported as starting at
// start + t/speed. A failed delivery is logged and dropped, so a server
// that is down for a while costs that part of the demo and nothing else.
func Run(ctx context.Context, o Options) (Stats, error) {
	st := Stats{Sent: map[client.Status]int{}}
	if o.Client == nil {
		return st, errors.New("demo: no client")
	}
	speed := o.Speed
	if speed == 0 {
		speed = DefaultSpeed
	}
	if speed < 0 || o.Duration < 0 || o.Backfill < 0 {
		return st, errors.New("demo: speed, duration and backfill must not be negative")
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "demo: "+format+"\n", args...)
		}
	}
	summaryEvery := o.SummaryEvery
	if summaryEvery <= 0 {
		summaryEvery = 30 * time.Second
	}

	sim := func(d time.Duration) time.Duration { return time.Duration(float64(d) * speed) }
	start := time.Now()
	wall := func(at time.Duration) time.Time {
		return start.Add(time.Duration(float64(at) / speed)).UTC().Truncate(time.Millisecond)
	}
	var end time.Duration
	if o.Duration > 0 {
		end = sim(o.Duration)
	}
	gen := NewGenerator(o.Config, -sim(o.Backfill))
	if o.Backfill > 0 {
		logf("sending %s of history (%s simulated)", o.Backfill, sim(o.Backfill).Round(time.Minute))
	}

	lastSummary, lastWarning := time.Now(), time.Time{}
	next := gen.Next()
	for {
		if end > 0 && next.At > end {
			break
		}
		if wait := time.Until(wall(next.At)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				logf("stopped: %s", st)
				return st, nil
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			logf("stopped: %s", st)
			return st, nil
		}
		// Everything due goes in one request.
		var batch []client.Report
		now := time.Now()
		for (end == 0 || next.At <= end) && !wall(next.At).After(now) && len(batch) < maxPerRequest {
			if next.Note != "" {
				logf("%s", next.Note)
			} else {
				r := *next.Report
				r.StartedAt = wall(next.Start)
				if r.Status.Terminal() {
					r.CompletedAt = wall(next.End)
				}
				batch = append(batch, r)
			}
			next = gen.Next()
		}
		if len(batch) == 0 {
			continue
		}
		resp, err := o.Client.Send(ctx, batch...)
		if resp != nil {
			for _, it := range resp.Items {
				st.Sent[batch[it.Index].Status]++
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				logf("stopped: %s", st)
				return st, nil
			}
			st.Failed += len(batch) - len(respItems(resp))
			if time.Since(lastWarning) > summaryEvery {
				logf("warning: %v (reports are dropped until syncwatch answers)", err)
				lastWarning = time.Now()
			}
		}
		if time.Since(lastSummary) >= summaryEvery {
			logf("%s", st)
			lastSummary = time.Now()
		}
	}
	logf("done: %s", st)
	return st, nil
}

func respItems(r *client.Response) []client.Item {
	if r == nil {
		return nil
	}
	return r.Items
}

// String summarises the counts.
func (s Stats) String() string {
	total := 0
	var parts []string
	for status, n := range s.Sent {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", status, n))
	}
	sort.Strings(parts)
	out := fmt.Sprintf("%d reports sent", total)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	if s.Failed > 0 {
		out += fmt.Sprintf(", %d not delivered", s.Failed)
	}
	return out
}
