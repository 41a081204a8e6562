package diagnose

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func slowRuns(total uint64, idx ...uint64) []ScoredRun {
	var out []ScoredRun
	for _, i := range idx {
		out = append(out, ScoredRun{Source: "s", SyncType: "stock", RunID: "r" + string(rune('a'+i)), Index: i, Total: total,
			Started: t0.Add(time.Duration(i) * time.Hour), Seconds: 20, Expected: 10, Z: 5, Kind: KindDuration})
	}
	return out
}

// TestRegressions checks the 2-of-3 rule: the change point is the first
// slow run, the detection the run that completes the rule, and isolated
// slow runs stay single anomalies.
func TestRegressions(t *testing.T) {
	s, err := New(nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		slow     []ScoredRun
		kinds    []Kind
		began    uint64 // index of the first run of the first anomaly
		detected uint64
		ongoing  bool
	}{
		{"two in a row", slowRuns(20, 5, 6), []Kind{KindRegression}, 5, 6, false},
		{"two of three", slowRuns(20, 5, 7, 8, 10), []Kind{KindRegression}, 5, 7, false},
		{"ongoing at the end", slowRuns(10, 8, 10), []Kind{KindRegression}, 8, 10, true},
		{"isolated", slowRuns(20, 5, 9), []Kind{KindDuration, KindDuration}, 5, 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := s.regressions(c.slow)
			if len(got) != len(c.kinds) {
				t.Fatalf("%d anomalies %+v, want kinds %v", len(got), got, c.kinds)
			}
			for i, k := range c.kinds {
				if got[i].Kind != k {
					t.Errorf("anomaly %d: %s, want %s", i, got[i].Kind, k)
				}
			}
			a := got[0]
			if !a.Began.Equal(t0.Add(time.Duration(c.began)*time.Hour)) || !a.Detected.Equal(t0.Add(time.Duration(c.detected)*time.Hour)) || a.Ongoing != c.ongoing {
				t.Errorf("began %s detected %s ongoing %v, want runs %d and %d, %v", a.Began, a.Detected, a.Ongoing, c.began, c.detected, c.ongoing)
			}
		})
	}
}

// TestBursts checks the adaptive streak: at a 1 % baseline two failures in
// a row are improbable, at 20 % it takes five.
func TestBursts(t *testing.T) {
	s, err := New(nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	series := func(baseN, baseFailed uint64, n int, failed ...int) FailureSeries {
		fs := FailureSeries{Source: "s", SyncType: "stock", BaselineRuns: baseN, Failed: baseFailed}
		flags := make([]byte, n)
		for i := range flags {
			flags[i] = '0'
		}
		for _, i := range failed {
			flags[i-1] = '1'
			fs.Failures = append(fs.Failures, FailedRun{Index: i, RunID: "f" + string(rune('a'+i)), Started: t0.Add(time.Duration(i) * time.Hour)})
		}
		fs.Flags = string(flags)
		return fs
	}
	for _, c := range []struct {
		name   string
		fs     FailureSeries
		want   int
		k      uint64
		detect int
	}{
		{"streak at 1 %", series(1000, 9, 50, 10, 11, 12), 1, 3, 11},
		{"scattered at 1 %", series(1000, 9, 50, 3, 20), 0, 0, 0},
		{"four in a row at 20 %", series(100, 20, 50, 10, 11, 12, 13), 0, 0, 0},
		{"five in a row at 20 %", series(100, 20, 50, 10, 11, 12, 13, 14), 1, 5, 14},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := s.failureAnomalies(c.fs)
			var bursts []Anomaly
			for _, a := range got {
				if a.Evidence.N != nil && *a.Evidence.N == *a.Evidence.K {
					bursts = append(bursts, a)
				}
			}
			if len(bursts) != c.want {
				t.Fatalf("%d bursts %+v, want %d", len(bursts), got, c.want)
			}
			if c.want == 1 && (*bursts[0].Evidence.K != c.k || !bursts[0].Detected.Equal(t0.Add(time.Duration(c.detect)*time.Hour)) || *bursts[0].Evidence.PValue >= 0.001) {
				t.Errorf("burst %+v, want %d failures detected at run %d with p < 0.001", bursts[0], c.k, c.detect)
			}
		})
	}
}

// TestCheckWindow checks the refusals of a question's window.
func TestCheckWindow(t *testing.T) {
	s, err := New(nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		since, until time.Time
		param        string
	}{
		{time.Time{}, t0, "since"},
		{t0, time.Time{}, "until"},
		{t0, t0, "until"},
		{t0, t0.AddDate(0, 0, 40), "since"},
	} {
		err := s.checkWindow(c.since, c.until)
		qe, ok := err.(*QueryError)
		if !ok || qe.Param != c.param {
			t.Errorf("window %s – %s: %v, want an error naming %s", c.since, c.until, err, c.param)
		}
	}
	if m := msg(msgFewRuns, 5, 8).english(); m != "not enough history (5 of 8 runs)" {
		t.Error(m)
	}
}
