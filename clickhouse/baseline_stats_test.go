package clickhouse

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMedian checks the selection against sorting: the element at n/2 of
// the sorted values, as quantileExact(0.5) takes it, for sizes, ties and
// orders that trip up a hand-written selection.
func TestMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]float64{
		"empty": {}, "one": {3}, "two": {2, 1}, "three": {3, 1, 2}, "four": {4, 1, 3, 2},
		"all equal": {5, 5, 5, 5, 5}, "sorted": {1, 2, 3, 4, 5, 6}, "reversed": {6, 5, 4, 3, 2, 1},
		"ties around the middle": {1, 2, 2, 2, 2, 3}, "negative": {-1.5, 0, -3, 2},
	}
	for n := range 200 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rng.IntN(10)) // many ties
		}
		cases["random"+string(rune('a'+n%26))+string(rune('a'+n/26))] = xs
	}
	for name, xs := range cases {
		t.Run(name, func(t *testing.T) {
			want := 0.0
			if len(xs) > 0 {
				s := slices.Sorted(slices.Values(xs))
				want = s[len(s)/2]
			}
			if got := median(slices.Clone(xs)); got != want {
				t.Errorf("median(%v) = %v, want %v", xs, got, want)
			}
		})
	}
}
