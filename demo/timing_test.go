package demo

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/synclog"
)

// realTime is the wall-clock time after the start of `make run` at which
// an event of simulated time at happens, at the default speed.
func realTime(at time.Duration) time.Duration { return at / DefaultSpeed }

// pairKey is a source and a sync type.
type pairKey struct{ source, syncType string }

// TestAlertConditionsEarly checks when, after `make run` (the default
// speed, no backfill), the demo's runs first meet the condition of each
// alert kind of alerts/rules/alerts.yml that concerns sync jobs, with the
// shipped thresholds, expected intervals and maximum runtimes. The README
// adds each rule's `for:` to these times; keep them in step.
func TestAlertConditionsEarly(t *testing.T) {
	// make run draws a new seed each time.
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { checkAlertConditions(t, seed) })
	}
}

// checkAlertConditions is TestAlertConditionsEarly for one seed.
func checkAlertConditions(t *testing.T, seed uint64) {
	events := simulate(Config{Seed: seed}, 0, DefaultSpeed*30*time.Minute)
	intervals, runtimes := synclog.DefaultExpectedIntervals(), synclog.DefaultMaxRuntimes()

	type runState struct {
		key        pairKey
		start, end time.Duration
		status     client.Status
		total, ok  uint64
	}
	runs := map[string]*runState{}
	var order []*runState
	for _, ev := range events {
		r := ev.Report
		if r == nil {
			continue
		}
		rs := runs[r.RunID]
		if rs == nil {
			rs = &runState{key: pairKey{r.Source, r.SyncType}, start: ev.Start}
			runs[r.RunID] = rs
			order = append(order, rs)
		}
		rs.status = r.Status
		if r.Status.Terminal() {
			rs.end, rs.total, rs.ok = ev.End, r.TotalCount, r.SuccessCount
		}
	}
	// holds reports whether cond holds at every minute of real time from
	// `from` to `from + d`.
	holds := func(from, d time.Duration, cond func(now time.Duration) bool) bool {
		for now := from; now <= from+d; now += time.Minute {
			if !cond(now) {
				return false
			}
		}
		return true
	}
	first := func(cond func(now time.Duration) bool) time.Duration {
		// Every 15 seconds, the exporter's cache age.
		for now := time.Duration(0); now <= 30*time.Minute; now += 15 * time.Second {
			if cond(now) {
				return now
			}
		}
		return -1
	}
	// window returns the terminal runs of k that finished in the real hour
	// before now.
	window := func(k pairKey, now time.Duration) (finished, failed int, total, ok uint64) {
		for _, r := range order {
			if r.key != k || !r.status.Terminal() || realTime(r.end) > now || realTime(r.end) <= now-time.Hour {
				continue
			}
			finished++
			if r.status == client.StatusFailed {
				failed++
			}
			total, ok = total+r.total, ok+r.ok
		}
		return
	}
	pairs := map[pairKey]bool{}
	for _, r := range order {
		pairs[r.key] = true
	}
	anyPair := func(cond func(k pairKey, now time.Duration) bool) func(time.Duration) bool {
		return func(now time.Duration) bool {
			for k := range pairs {
				if cond(k, now) {
					return true
				}
			}
			return false
		}
	}

	conditions := map[string]func(k pairKey, now time.Duration) bool{
		// SyncConsecutiveFailures (warning): the latest 3 finished runs failed.
		"SyncConsecutiveFailures": func(k pairKey, now time.Duration) bool {
			streak := 0
			for _, r := range order {
				if r.key != k || !r.status.Terminal() || realTime(r.end) > now {
					continue
				}
				if r.status == client.StatusFailed {
					streak++
				} else {
					streak = 0
				}
			}
			return streak >= 3
		},
		// SyncFailureRateHigh (critical): over half of at least 3 runs
		// finished in the last hour failed.
		"SyncFailureRateHigh": func(k pairKey, now time.Duration) bool {
			n, f, _, _ := window(k, now)
			return n >= 3 && float64(f)/float64(n) > 0.5
		},
		// SyncRecordFailuresHigh: over 10% of the records of the runs
		// finished in the last hour failed.
		"SyncRecordFailuresHigh": func(k pairKey, now time.Duration) bool {
			_, _, total, ok := window(k, now)
			return total > 0 && 1-float64(ok)/float64(total) > 0.1
		},
		// SyncRunStuck: a run in progress for longer than its type's
		// maximum runtime.
		"SyncRunStuck": func(k pairKey, now time.Duration) bool {
			for _, r := range order {
				if r.key == k && realTime(r.start) <= now && (!r.status.Terminal() || realTime(r.end) > now) &&
					now-realTime(r.start) > runtimes[k.syncType] {
					return true
				}
			}
			return false
		},
		// SyncSilent (warning): no success for 1.5 expected intervals.
		"SyncSilent": func(k pairKey, now time.Duration) bool {
			if intervals[k.syncType] == 0 {
				return false
			}
			last := time.Duration(-1)
			for _, r := range order {
				if r.key == k && r.status == client.StatusSuccess && realTime(r.end) <= now {
					last = max(last, realTime(r.end))
				}
			}
			return last >= 0 && now-last > intervals[k.syncType]*3/2
		},
	}
	// Each condition begins within minutes and lasts past the rule's `for:`.
	for _, c := range []struct {
		alert  string
		within time.Duration
		lasts  time.Duration
	}{
		{"SyncConsecutiveFailures", 5 * time.Minute, time.Minute},
		{"SyncFailureRateHigh", 5 * time.Minute, 10 * time.Minute},
		{"SyncRecordFailuresHigh", 5 * time.Minute, 15 * time.Minute},
		{"SyncRunStuck", 6 * time.Minute, 5 * time.Minute},
		{"SyncSilent", 10 * time.Minute, 10 * time.Minute},
	} {
		t.Run(c.alert, func(t *testing.T) {
			cond := conditions[c.alert]
			// The first time a pair meets the condition and keeps meeting
			// it over the rule's for:.
			at := first(anyPair(func(k pairKey, now time.Duration) bool {
				return cond(k, now) && holds(now, c.lasts, func(t time.Duration) bool { return cond(k, t) })
			}))
			if at < 0 || at > c.within {
				t.Fatalf("no pair meets the condition from within %s of real time for %s (first: %s)", c.within, c.lasts, at)
			}
			t.Logf("from %s", at)
		})
	}
}

// TestDurationRegressionTiming checks when, after `make run`, the demo's
// haier/prices runs first meet the condition of SyncDurationRegression
// (alerts/rules/alerts.yml) and keep meeting it over the rule's 30-minute
// `for:`, as Prometheus computes it: the p95 of the histogram of the runs
// finished in the last hour (the exporter's classic buckets, interpolated
// as histogram_quantile does) above twice the mean of the hourly p95
// recorded before the last hour, above the one-minute floor, with at least
// 3 runs finished in the hour. The README's table gives the times it logs.
func TestDurationRegressionTiming(t *testing.T) {
	const (
		factor = 2
		floor  = time.Minute
		minRun = 3
		forDur = 30 * time.Minute
		step   = time.Minute
		until  = 150 * time.Minute
	)
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			// finished holds each pair's terminal runs: real end time and
			// duration.
			type finish struct{ end, dur time.Duration }
			finished := map[pairKey][]finish{}
			for _, ev := range simulate(Config{Seed: seed}, 0, DefaultSpeed*until) {
				if r := ev.Report; r != nil && r.Status.Terminal() {
					k := pairKey{r.Source, r.SyncType}
					finished[k] = append(finished[k], finish{realTime(ev.End), realTime(ev.End - ev.Start)})
				}
			}
			// p95 is the pair's source_sync_type:syncwatch_run_duration_seconds:p95_1h
			// at now, and the number of runs it counts.
			p95 := func(k pairKey, now time.Duration) (float64, int) {
				var secs []float64
				for _, f := range finished[k] {
					if f.end <= now && f.end > now-time.Hour {
						secs = append(secs, f.dur.Seconds())
					}
				}
				return histogramQuantile(0.95, exporter.DurationBuckets(), secs), len(secs)
			}
			type series struct{ at, p95 []float64 }
			recorded := map[pairKey]*series{}
			cond := map[pairKey][]bool{}
			for now := step; now <= until; now += step {
				for k := range finished {
					s := recorded[k]
					if s == nil {
						s = &series{}
						recorded[k] = s
					}
					v, n := p95(k, now)
					holds := false
					if n > 0 {
						// The baseline: avg_over_time(p95_1h[7d] offset 1h).
						var sum float64
						var cnt int
						for i, at := range s.at {
							if time.Duration(at) <= now-time.Hour {
								sum += s.p95[i]
								cnt++
							}
						}
						holds = cnt > 0 && n >= minRun && v > factor*sum/float64(cnt) && v > floor.Seconds()
						s.at, s.p95 = append(s.at, float64(now)), append(s.p95, v)
					}
					cond[k] = append(cond[k], holds)
				}
			}
			// fires is when the alert fires: the condition's start plus
			// `for:`, the condition holding all along.
			fires := func(k pairKey) time.Duration {
				c := cond[k]
				need := int(forDur / step)
				for i := range c {
					if i+need >= len(c) {
						break
					}
					if !slices.Contains(c[i:i+need+1], false) {
						return time.Duration(i+1)*step + forDur
					}
				}
				return -1
			}
			prices := pairKey{"haier", "prices"}
			at := fires(prices)
			if at < 0 || at > 110*time.Minute {
				t.Fatalf("SyncDurationRegression for haier/prices fires at %s of real time; want within 110 minutes", at)
			}
			for k := range finished {
				if k != prices {
					if other := fires(k); other >= 0 {
						t.Errorf("SyncDurationRegression fires for %s/%s too, at %s", k.source, k.syncType, other)
					}
				}
			}
			t.Logf("condition from %s, fires at %s", at-forDur, at)
		})
	}
}

// histogramQuantile is Prometheus's histogram_quantile over observations
// counted in the classic buckets bounds: the rank's bucket, interpolated
// linearly; NaN without observations.
func histogramQuantile(q float64, bounds []float64, obs []float64) float64 {
	if len(obs) == 0 {
		return math.NaN()
	}
	cum := make([]float64, len(bounds))
	for _, o := range obs {
		for i, b := range bounds {
			if o <= b {
				cum[i]++
			}
		}
	}
	rank := q * float64(len(obs))
	lower, below := 0.0, 0.0
	for i, b := range bounds {
		if cum[i] >= rank {
			return lower + (b-lower)*(rank-below)/(cum[i]-below)
		}
		lower, below = b, cum[i]
	}
	// In the +Inf bucket: the highest finite bound.
	return bounds[len(bounds)-1]
}
