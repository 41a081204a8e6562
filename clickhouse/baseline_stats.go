package clickhouse

import (
	"fmt"
	"math"
	"slices"

	"github.com/syncwatch/syncwatch/diagnose"
)

// typeSamplesQuery reads each type's baseline samples: the successful runs
// the daily summaries (%[2]s) keep of the whole UTC days before the
// window's first day, with their hour of the day (0 for a type that runs
// in fewer than 12 different hours), weekday, duration in milliseconds and
// record count (integers: a third of the bytes of their floats), and whether they fall in the last BaselineDays (from
// {bfrom}); and the exact number of successful runs there. The medians are taken by typeSamples.baseline: the embedded
// engine computes a median over a window once per row, and the samples of
// all types are a few tens of thousands of numbers.
const typeSamplesQuery = `SELECT source, sync_type, hourly, n,
  arrayMap(x -> if(hourly, toHour(x.1), 0), xs) AS hour, arrayMap(x -> toDayOfWeek(x.1), xs) AS wday,
  arrayMap(x -> toUInt64(round(x.2 * 1000)), xs) AS ms, arrayMap(x -> toUInt64(x.3), xs) AS c, arrayMap(x -> x.4, xs) AS recent
FROM (
  SELECT source, sync_type, bitCount(groupBitOr(hour_mask)) >= 12 AS hourly, sumIf(timed_success, day >= {bfrom:Date}) AS n,
    groupArrayArray(arrayMap(x -> (x.2, x.3, x.4, toUInt8(day >= {bfrom:Date})), durations)) AS xs
  FROM (%[2]s)
  GROUP BY source, sync_type
)
ORDER BY source, sync_type` + finalSettings

// typeSamples is a row of typeSamplesQuery.
type typeSamples struct {
	Source   string   `json:"source"`
	SyncType string   `json:"sync_type"`
	Hourly   uint8    `json:"hourly"`
	N        uint64   `json:"n"`
	Hour     []uint8  `json:"hour"`
	Wday     []uint8  `json:"wday"`
	MS       []uint64 `json:"ms"`
	C        []uint64 `json:"c"`
	Recent   []uint8  `json:"recent"`
}

// typeBaseline is a type's duration and record-count baseline.
type typeBaseline struct {
	Source, SyncType string
	// Hourly is false for a type that runs in fewer than 12 different
	// hours of the day: its hour slot is always 0.
	Hourly bool
	// N is the number of successful runs of the last BaselineDays (the
	// history a type needs before it is judged).
	N uint64
	// Med, MAD, CMed and CMAD are the plain baseline of the last
	// BaselineDays: the median and MAD of durations and of record counts.
	Med, MAD, CMed, CMAD float64
	// The seasonal baseline, in log space: the median of each hour of the
	// day and of what is left per weekday (index 1-7), the number of runs
	// of each, and the MAD of the pooled residuals of the runs whose two
	// slots hold at least SeasonalMinSlotRuns runs. Seasonal (CSeasonal for
	// record counts) when that MAD is at most SeasonalGain times the MAD
	// around the overall median.
	HMed, HCMed, HN   [24]float64
	DMed, DCMed, DN   [8]float64
	RMAD, RCMAD       float64
	Seasonal, CSeason bool
}

// median is quantileExact(0.5)'s: the element at n/2 of the sorted values
// (the upper of two middles), 0 for none. It reorders xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return nthElement(xs, len(xs)/2)
}

// nthElement returns the element that would be at k if xs were sorted,
// reordering xs (Hoare's selection: linear on average, where sorting the
// samples of every slot of every type was most of a question's time).
func nthElement(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		pivot := xs[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// mad is the median absolute deviation of xs around m.
func mad(xs []float64, m float64) float64 {
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return median(dev)
}

// baseline computes the type's baseline from its samples.
func (ts typeSamples) baseline(c diagnose.Config) (typeBaseline, error) {
	b := typeBaseline{Source: ts.Source, SyncType: ts.SyncType, Hourly: ts.Hourly == 1, N: ts.N}
	n := len(ts.MS)
	if len(ts.Hour) != n || len(ts.Wday) != n || len(ts.C) != n || len(ts.Recent) != n {
		return b, fmt.Errorf("samples of %s/%s: %d durations, %d hours, %d weekdays, %d counts, %d flags",
			ts.Source, ts.SyncType, n, len(ts.Hour), len(ts.Wday), len(ts.C), len(ts.Recent))
	}
	// Seconds and records, and in log space as the scores take them
	// (logDuration, logRecords).
	d, cnt, ld, lc := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		d[i], cnt[i] = float64(ts.MS[i])/1000, float64(ts.C[i])
		ld[i], lc[i] = math.Log(max(d[i], 0.001)), math.Log(cnt[i]+1)
	}
	var ds, cs []float64
	for i := range n {
		if ts.Recent[i] == 1 {
			ds, cs = append(ds, d[i]), append(cs, cnt[i])
		}
	}
	b.Med, b.CMed = median(ds), median(cs)
	b.MAD, b.CMAD = mad(ds, b.Med), mad(cs, b.CMed)

	var byHour, cByHour [24][]float64
	for i := range n {
		h := min(int(ts.Hour[i]), 23)
		byHour[h], cByHour[h] = append(byHour[h], ld[i]), append(cByHour[h], lc[i])
	}
	for h := range 24 {
		b.HN[h] = float64(len(byHour[h]))
		b.HMed[h], b.HCMed[h] = median(byHour[h]), median(cByHour[h])
	}
	r, rc := make([]float64, n), make([]float64, n)
	var byDay, cByDay [8][]float64
	for i := range n {
		h, w := min(int(ts.Hour[i]), 23), min(int(ts.Wday[i]), 7)
		r[i], rc[i] = ld[i]-b.HMed[h], lc[i]-b.HCMed[h]
		byDay[w], cByDay[w] = append(byDay[w], r[i]), append(cByDay[w], rc[i])
	}
	for w := 1; w <= 7; w++ {
		b.DN[w] = float64(len(byDay[w]))
		b.DMed[w], b.DCMed[w] = median(byDay[w]), median(cByDay[w])
	}
	var res, cres []float64
	minSlot := float64(c.SeasonalMinSlotRuns)
	for i := range n {
		h, w := min(int(ts.Hour[i]), 23), min(int(ts.Wday[i]), 7)
		if b.HN[h] >= minSlot && b.DN[w] >= minSlot {
			res, cres = append(res, math.Abs(r[i]-b.DMed[w])), append(cres, math.Abs(rc[i]-b.DCMed[w]))
		}
	}
	b.RMAD, b.RCMAD = median(res), median(cres)
	lmad, lcmad := mad(ld, median(slices.Clone(ld))), mad(lc, median(slices.Clone(lc)))
	b.Seasonal = len(res) >= c.MinHistory && b.RMAD <= c.SeasonalGain*lmad
	b.CSeason = len(cres) >= c.MinHistory && b.RCMAD <= c.SeasonalGain*lcmad
	return b, nil
}

// baselineParams lays the types' baselines out as durationScoreQuery's
// array parameters, per type and slot (hour of the day and weekday; a type
// not seasonal has one slot, from t_offset, t_wide says which). A run
// is judged against its hour and weekday slots when its type is seasonal
// and both slots hold at least SeasonalMinSlotRuns runs, in log space,
// with the residual MAD widened by the uncertainty of the two slot
// medians, sqrt(1 + π/2·(1/n_hour + 1/n_weekday)); otherwise against the
// plain median and MAD. Each scale is floored at MADFloorRatio of the
// expected value (and, for durations, at MADFloorSeconds). The layout is
// returned too: the store reads a flagged run's expected values and
// history from it by the slot and type the query returns.
func baselineParams(types []typeBaseline, c diagnose.Config, p Params) slotLayout {
	n := len(types)
	pairs := make([][2]string, n)
	for i, t := range types {
		pairs[i] = [2]string{t.Source, t.SyncType}
	}
	typeNumbers(pairs, p)
	hist, wide, offset := make([]uint64, n), make([]uint8, n), make([]uint64, n)
	// A type judged the same in every slot (neither its durations nor
	// its record counts seasonal) has one: the arrays are parsed and
	// planned at every question, and most types are not seasonal.
	var xLog, cLog []uint8
	var xCenter, xScale, xExpected, cCenter, cScale, cExpected []float64
	logFloor, minSlot := math.Log1p(c.MADFloorRatio), float64(c.SeasonalMinSlotRuns)
	for i, t := range types {
		hist[i] = t.N
		offset[i] = uint64(len(xLog))
		hours, days := 1, 1
		if t.Seasonal || t.CSeason {
			wide[i], hours, days = 1, 24, 7
		}
		plainScale := max(t.MAD, c.MADFloorRatio*t.Med, c.MADFloorSeconds)
		plainCScale := max(t.CMAD, c.MADFloorRatio*t.CMed, 1)
		for hour := range hours {
			h := hour
			if !t.Hourly {
				h = 0
			}
			for wd := 1; wd <= days; wd++ {
				slotted := t.HN[h] >= minSlot && t.DN[wd] >= minSlot
				widen := math.Sqrt(1 + 1.5708*(1/max(t.HN[h], 1)+1/max(t.DN[wd], 1)))
				var xl, cl uint8
				var xc, xs, xe, cc, cs, ce float64
				if t.Seasonal && slotted {
					elog := t.HMed[h] + t.DMed[wd]
					xl, xc, xe = 1, elog, math.Exp(elog)
					xs = max(t.RMAD*widen, logFloor, math.Log1p(c.MADFloorSeconds/math.Exp(elog)))
				} else {
					xc, xe, xs = t.Med, t.Med, plainScale
				}
				if t.CSeason && slotted {
					eclog := t.HCMed[h] + t.DCMed[wd]
					cl, cc, ce = 1, eclog, math.Exp(eclog)-1
					cs = max(t.RCMAD*widen, logFloor)
				} else {
					cc, ce, cs = t.CMed, t.CMed, plainCScale
				}
				xLog, xCenter, xScale, xExpected = append(xLog, xl), append(xCenter, xc), append(xScale, xs), append(xExpected, xe)
				cLog, cCenter, cScale, cExpected = append(cLog, cl), append(cCenter, cc), append(cScale, cs), append(cExpected, ce)
			}
		}
	}
	for k, v := range map[string]any{
		"t_n": hist, "t_wide": wide, "t_offset": offset,
		"x_log": xLog, "x_center": xCenter, "x_scale": xScale, "x_expected": xExpected,
		"c_log": cLog, "c_center": cCenter, "c_scale": cScale, "c_expected": cExpected,
	} {
		p[k] = v
	}
	return slotLayout{history: hist, seasonal: xLog, expected: xExpected, expectedRecords: cExpected}
}

// slotLayout is what the store reads back of baselineParams' arrays: per
// type (from 1) its history, per slot (from 1) whether durations are
// judged in log space and the expected duration and record count.
type slotLayout struct {
	history                   []uint64
	seasonal                  []uint8
	expected, expectedRecords []float64
}

// at returns element i (from 1) of xs, or the zero value for 0 or beyond,
// as arrayElement does.
func at[T any](xs []T, i uint64) T {
	var zero T
	if i == 0 || i > uint64(len(xs)) {
		return zero
	}
	return xs[i-1]
}

// typeNumbers numbers the types (source, sync type) from 1 for a query:
// runTypeNumber is a run's number, 0 for a type not among them. The values
// go into p: the distinct sources and sync types, and the grid of their
// numbers, so that a run costs two look-ups on the columns' dictionaries
// rather than a comparison per type.
func typeNumbers(pairs [][2]string, p Params) {
	var sources, syncTypes []string
	si, yi := map[string]int{}, map[string]int{}
	for _, t := range pairs {
		if _, ok := si[t[0]]; !ok {
			si[t[0]] = len(sources)
			sources = append(sources, t[0])
		}
		if _, ok := yi[t[1]]; !ok {
			yi[t[1]] = len(syncTypes)
			syncTypes = append(syncTypes, t[1])
		}
	}
	grid := make([]uint64, len(sources)*len(syncTypes))
	for i, t := range pairs {
		grid[si[t[0]]*len(syncTypes)+yi[t[1]]] = uint64(i + 1)
	}
	p["t_sources"], p["t_types"], p["t_grid"] = orEmpty(sources), orEmpty(syncTypes), grid
}

// runTypeNumber is a run's number among typeNumbers' types.
const runTypeNumber = `if(indexOf({t_sources:Array(String)}, source) = 0 OR indexOf({t_types:Array(String)}, sync_type) = 0, 0,
  {t_grid:Array(UInt64)}[(indexOf({t_sources:Array(String)}, source) - 1) * length({t_types:Array(String)}) + indexOf({t_types:Array(String)}, sync_type)])`
