package diagnose

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestBinomialTail(t *testing.T) {
	for _, c := range []struct {
		k, n int
		p    float64
		want float64
	}{
		{0, 10, 0.01, 1},
		{11, 10, 0.01, 0},
		{1, 10, 0.01, 1 - math.Pow(0.99, 10)},
		{2, 10, 0.01, 1 - math.Pow(0.99, 10) - 10*0.01*math.Pow(0.99, 9)},
		{3, 3, 0.01, 1e-6},
		// Far in the tail, where 1 − CDF would round to zero.
		{20, 20, 0.01, 1e-40},
	} {
		t.Run("", func(t *testing.T) {
			if got := binomialTail(c.k, c.n, c.p); !near(got, c.want, 1e-9) && !near(got/c.want, 1, 1e-9) {
				t.Errorf("P[X ≥ %d | n=%d, p=%g] = %g, want %g", c.k, c.n, c.p, got, c.want)
			}
		})
	}
}

func TestConsecutiveThreshold(t *testing.T) {
	for _, c := range []struct {
		p0   float64
		want int
	}{{0.001, 2}, {0.01, 2}, {0.05, 3}, {0.1, 3}, {0.2, 5}, {0.5, 10}} {
		if got := consecutiveThreshold(0.001, c.p0, 2); got != c.want {
			t.Errorf("threshold at p0=%g: %d, want %d", c.p0, got, c.want)
		}
	}
}

func TestFisherGreater(t *testing.T) {
	for _, c := range []struct {
		a, bad, c, good uint64
		want            float64
	}{
		// All 3 bad runs carry a value no good run has: 1/C(13,3).
		{3, 3, 0, 10, 1.0 / 286},
		// The value is as common in bad runs as in good ones.
		{0, 3, 0, 10, 1},
		// 2 of 3 bad and 2 of 10 good: P[X ≥ 2] with 4 carriers of 13.
		{2, 3, 2, 10, (6.0*9 + 4) / 286},
	} {
		if got := fisherGreater(c.a, c.bad, c.c, c.good); !near(got, c.want, 1e-9) {
			t.Errorf("fisher(%d/%d vs %d/%d) = %g, want %g", c.a, c.bad, c.c, c.good, got, c.want)
		}
	}
}

func TestFitPredicts(t *testing.T) {
	xs := []float64{-6, -5, -4, -3, -2, -1, 0}
	ys := make([]float64, len(xs))
	for i, x := range xs {
		ys[i] = 2*x + 10 + 0.1*math.Sin(x*7)
	}
	f := fitLine(xs, ys)
	y, lo, hi := f.predict(7)
	if !near(y, 24, 0.02) || !(lo < y && y < hi) || hi-lo > 2 {
		t.Errorf("predict(7) = %g in [%g, %g], want about 24 in a narrow interval", y, lo, hi)
	}
	o := overrun("limit", 30, f, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if o.At == nil || o.At.Day() < 11 || o.At.Day() > 12 || o.Earliest == nil || o.Latest == nil || o.Earliest.After(*o.At) || o.Latest.Before(*o.At) {
		t.Errorf("overrun of 30 = %+v, want about 10 days ahead, inside its interval", o)
	}
	if o := overrun("limit", 1000, f, time.Now()); o.At != nil || o.Note != "not within 30 days" {
		t.Errorf("overrun of 1000 = %+v, want not within 30 days", o)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"z threshold":   func(c *Config) { c.ZThreshold = 0 },
		"min history":   func(c *Config) { c.MinHistory = 1 },
		"failure alpha": func(c *Config) { c.FailureAlpha = 0.7 },
		"regression":    func(c *Config) { c.RegressionOf = 4 },
		"baseline days": func(c *Config) { c.BaselineDays = 0 },
	} {
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); err == nil || !contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming it", name, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
