package testutil

import "slices"

// The expected statistics of the suites' oracles are defined here once, as
// ClickHouse computes them, so that the store's, the exporter's and the
// trend tests cannot disagree about what a p95 or a median is.

// Quantile is the level quantile of sorted values with linear
// interpolation between the closest ranks, as ClickHouse's quantile
// computes it over fewer values than its sample size (8,192). sorted must
// not be empty.
func Quantile(sorted []float64, level float64) float64 {
	idx := level * float64(len(sorted)-1)
	i := int(idx)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (idx-float64(i))*(sorted[i+1]-sorted[i])
}

// Median is the median of xs, in any order: the mean of the two middle
// values when there is an even number of them. xs is left as it is and
// must not be empty.
func Median(xs []float64) float64 {
	return Quantile(slices.Sorted(slices.Values(xs)), 0.5)
}

// Durations summarises run durations in seconds.
type Durations struct {
	N                       int
	Avg, P50, P95, P99, Max float64
}

// Summarise returns the count, mean, quantiles 0.5, 0.95 and 0.99 and
// maximum of secs, in any order; nil when secs is empty.
func Summarise(secs []float64) *Durations {
	if len(secs) == 0 {
		return nil
	}
	s := slices.Sorted(slices.Values(secs))
	d := &Durations{N: len(s), Max: s[len(s)-1]}
	for _, v := range s {
		d.Avg += v
	}
	d.Avg /= float64(len(s))
	d.P50, d.P95, d.P99 = Quantile(s, 0.5), Quantile(s, 0.95), Quantile(s, 0.99)
	return d
}
