package ui

import (
	"time"

	"github.com/syncwatch/syncwatch/runs"
)

// chartSize is the size of a chart in SVG user units. The page scales it
// to the width of its box.
type chartSize struct{ W, H float64 }

// The sizes of the overview's charts.
var (
	smallChart = chartSize{W: 240, H: 36}
	largeChart = chartSize{W: 720, H: 110}
)

// chart is a bar chart of runs per hour, drawn server-side as SVG: for each
// hour a bar of all the runs started in it, and at its foot the failed and
// the partial ones.
type chart struct {
	W, H float64
	// Max is the most runs of one hour, the top of the scale.
	Max  uint64
	Bars []chartBar
}

// chartBar is one hour of a chart and its geometry.
type chartBar struct {
	Start                 time.Time
	Runs, Failed, Partial uint64
	X, W                  float64
	// Y and H place the bar of all runs; FY, FH the failed part; PY, PH
	// the partial part above it.
	Y, H, FY, FH, PY, PH float64
}

// hourlyChart draws n hourly buckets from start out of statistics
// bucketed by hour (any grouping: the groups of a bucket are summed).
func hourlyChart(stats []runs.Stats, start time.Time, n int, size chartSize) chart {
	ch := chart{W: size.W, H: size.H, Bars: make([]chartBar, n)}
	for i := range ch.Bars {
		ch.Bars[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	for _, s := range stats {
		if s.Bucket == nil {
			continue
		}
		i := int(s.Bucket.Sub(start) / time.Hour)
		if s.Bucket.Before(start) || i >= n {
			continue
		}
		b := &ch.Bars[i]
		b.Runs += s.Runs
		b.Failed += s.Failed
		b.Partial += s.Partial
	}
	for _, b := range ch.Bars {
		ch.Max = max(ch.Max, b.Runs)
	}
	slot := size.W / float64(n)
	top := size.H - 1 // room for the baseline
	scale := func(v uint64) float64 {
		if v == 0 || ch.Max == 0 {
			return 0
		}
		// A non-empty hour shows at least one unit.
		return max(1, float64(v)/float64(ch.Max)*top)
	}
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.X, b.W = float64(i)*slot+slot*0.1, slot*0.8
		b.H = scale(b.Runs)
		b.Y = top - b.H
		b.FH = scale(b.Failed)
		b.FY = top - b.FH
		b.PH = scale(b.Partial)
		b.PY = b.FY - b.PH
		if b.PY < b.Y { // the minimum heights may overshoot the bar
			b.PH = max(0, b.PH-(b.Y-b.PY))
			b.PY = b.Y
		}
	}
	return ch
}
