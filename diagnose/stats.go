package diagnose

import (
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// binomialTail returns P[X ≥ k] for X ~ Binomial(n, p), through the
// regularised incomplete beta function I_p(k, n−k+1), which keeps its
// precision far into the tail where 1 − CDF would cancel to zero.
func binomialTail(k, n int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n:
		return 0
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	return mathext.RegIncBeta(float64(k), float64(n-k+1), p)
}

// consecutiveThreshold is the number of consecutive failures whose
// probability under the failure rate p0 falls below alpha,
// ceil(ln α / ln p0), and never less than minK.
func consecutiveThreshold(alpha, p0 float64, minK int) int {
	if p0 <= 0 {
		return minK
	}
	if p0 >= 1 {
		return math.MaxInt32
	}
	k := int(math.Ceil(math.Log(alpha) / math.Log(p0)))
	return max(k, minK)
}

// fisherGreater is the one-sided p-value of Fisher's exact test that a
// value is over-represented in the bad runs: with a of bad bad runs and c
// of good good runs carrying it, the probability under the hypergeometric
// null of a or more bad runs carrying it.
func fisherGreater(a, bad, c, good uint64) float64 {
	n := bad + good // all runs
	k := a + c      // runs with the value
	if n == 0 || k == 0 || bad == 0 {
		return 1
	}
	lc := func(n, k uint64) float64 {
		x, _ := math.Lgamma(float64(n) + 1)
		y, _ := math.Lgamma(float64(k) + 1)
		z, _ := math.Lgamma(float64(n-k) + 1)
		return x - y - z
	}
	total := lc(n, bad)
	hi := min(k, bad)
	var p float64
	for x := a; x <= hi; x++ {
		if bad-x > n-k {
			continue
		}
		p += math.Exp(lc(k, x) + lc(n-k, bad-x) - total)
	}
	return min(p, 1)
}

// lift is how many times more often the bad runs carry a value than the
// good ones, with one pseudo-run on the good side so that a value never
// seen among them has a finite lift.
func lift(a, bad, c, good uint64) float64 {
	if bad == 0 {
		return 0
	}
	return (float64(a) / float64(bad)) / ((float64(c) + 1) / (float64(good) + 1))
}

// fit is a least-squares line through a daily series with what its
// prediction intervals need.
type fit struct {
	alpha, beta float64 // y = alpha + beta·x
	n           int
	s           float64 // residual standard deviation
	meanX, sxx  float64
	t           float64 // the two-sided 95 % Student t quantile
}

// fitLine fits y against x (ordinary least squares, through gonum's
// stat.LinearRegression).
func fitLine(xs, ys []float64) fit {
	a, b := stat.LinearRegression(xs, ys, nil, false)
	f := fit{alpha: a, beta: b, n: len(xs), meanX: stat.Mean(xs, nil)}
	var ssr float64
	for i := range xs {
		r := ys[i] - (a + b*xs[i])
		ssr += r * r
		d := xs[i] - f.meanX
		f.sxx += d * d
	}
	if f.n > 2 {
		f.s = math.Sqrt(ssr / float64(f.n-2))
		f.t = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(f.n - 2)}.Quantile(0.975)
	}
	return f
}

// predict returns the fitted value at x and its 95 % prediction interval.
func (f fit) predict(x float64) (y, lo, hi float64) {
	y = f.alpha + f.beta*x
	if f.sxx == 0 || f.n <= 2 {
		return y, y, y
	}
	d := x - f.meanX
	w := f.t * f.s * math.Sqrt(1+1/float64(f.n)+d*d/f.sxx)
	return y, y - w, y + w
}
