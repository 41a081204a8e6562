package synth

import (
	"time"
)

// EvalWeeks is the length of the evaluation histories, and EvalWindow the
// span at their end in which events are planted: the weeks before it are
// clean, the detectors' baseline.
const (
	EvalWeeks  = 8
	EvalWindow = 21 * 24 * time.Hour
)

// The sources of the evaluation: e* carry duration, failure, volume and
// cadence events, c* none, v* a new version on one host, o* a supplier
// outage across their types.
var (
	EventSources = []string{"e1", "e2", "e3", "e4"}
	CleanSources = []string{"c1", "c2"}
)

func stock(src string) Job {
	return Job{Source: src, SyncType: "stock", Every: 5 * time.Minute, Duration: 20 * time.Second, Records: 500}
}

func prices(src string) Job {
	return Job{Source: src, SyncType: "prices", Every: time.Hour, Duration: time.Minute, Records: 2000}
}

func logistics(src string) Job {
	return Job{Source: src, SyncType: "logistics", Every: time.Hour, Duration: 30 * time.Second, Records: 300}
}

func order(src string) Job {
	return Job{Source: src, SyncType: "order", Every: time.Hour, Duration: 10 * time.Second, Records: 40}
}

func products(src string) Job {
	return Job{Source: src, SyncType: "products", Every: 24 * time.Hour, Duration: 20 * time.Minute, Records: 12000}
}

// cycle are the event kinds each evented job goes through, in order,
// before a final drift.
var cycle = []EventKind{Burst, Small, Fast, Gap, Step50, Step100}

// EvaluationSpec returns the labelled histories the evaluation scores,
// ending at end (a whole week, so that slots fall on the same hours).
func EvaluationSpec(end time.Time) Spec {
	spec := Spec{Seed: 16, End: end, Weeks: EvalWeeks, Noise: 0.1, FailureRate: 0.01}
	histStart := end.AddDate(0, 0, -7*EvalWeeks)
	w := end.Add(-EvalWindow)
	// grid returns the start of the first scheduled run at or after
	// w + day days, less half an interval, so that an event from there
	// covers whole runs.
	grid := func(j Job, day float64) time.Time {
		t := w.Add(time.Duration(day * 24 * float64(time.Hour)))
		first := histStart.Add(j.Every / 3)
		k := (t.Sub(first) + j.Every - 1) / j.Every
		return first.Add(k*j.Every - j.Every/2)
	}
	plan := func(j Job, spacing, firstDay float64, kinds []EventKind, stepRuns int, drift float64) Job {
		day := firstDay
		for _, k := range kinds {
			runs := 1
			switch k {
			case Step50, Step100:
				runs = stepRuns
			case Burst:
				runs = 6
				if j.Every >= 24*time.Hour {
					runs = 3
				}
			case Gap:
				runs = 3
			}
			j.Events = append(j.Events, Event{Kind: k, Start: grid(j, day), Length: time.Duration(runs) * j.Every})
			day += spacing
		}
		if drift > 0 {
			s := grid(j, day)
			j.Events = append(j.Events, Event{Kind: Drift, Start: s, Length: end.Sub(s)})
		}
		return j
	}
	for i, src := range EventSources {
		if i < 2 {
			spec.Jobs = append(spec.Jobs, plan(stock(src), 1.5, 1+0.3*float64(i), append(cycle, cycle...), 72, 1))
		}
		spec.Jobs = append(spec.Jobs, plan(prices(src), 2.5, 1+0.4*float64(i), cycle, 36, 1))
		kinds := append(cycle[i%len(cycle):], cycle[:i%len(cycle)]...)
		spec.Jobs = append(spec.Jobs, plan(products(src), 5, 0.5, kinds[:4], 3, 0))
	}
	for _, src := range CleanSources {
		spec.Jobs = append(spec.Jobs, stock(src), prices(src), products(src))
	}
	// A new version on one host of v1's stock job and of v2's prices job.
	v1 := stock("v1")
	v1.Events = []Event{{Kind: NewVersion, Start: grid(v1, 10), Length: 24 * time.Hour}}
	v2 := prices("v2")
	v2.Events = []Event{{Kind: NewVersion, Start: grid(v2, 10), Length: 3 * 24 * time.Hour}}
	spec.Jobs = append(spec.Jobs, v1, prices("v1"), v2, logistics("v2"))
	// Three-hour supplier outages across the types of o1 and o2.
	for i, src := range []string{"o1", "o2"} {
		at := w.Add(time.Duration(8+4*i)*24*time.Hour + 7*time.Hour)
		for _, j := range []Job{prices(src), logistics(src), order(src)} {
			j.Events = []Event{{Kind: Outage, Start: at, Length: 3 * time.Hour}}
			spec.Jobs = append(spec.Jobs, j)
		}
	}
	return spec
}
