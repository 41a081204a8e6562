package config

import (
	"io"
	"strings"
	"testing"
)

// TestDiagnoseOptions checks the defaults of the design, the precedence of
// flags over the environment, and that every rule names its option.
func TestDiagnoseOptions(t *testing.T) {
	parse := func(args []string, env map[string]string) (*Diagnose, error) {
		s := New("serve", "", io.Discard)
		var d Diagnose
		d.Register(s)
		return &d, s.Parse(args, func(k string) string { return env[k] })
	}
	d, err := parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.ZThreshold != 3.5 || d.MinHistory != 8 || d.FailureAlpha != 0.001 || d.MADFloorRatio != 0.05 || d.BaselineDays != 28 {
		t.Fatalf("defaults: %+v", d)
	}
	d, err = parse([]string{"--diagnose-z-threshold", "4"}, map[string]string{"SYNCWATCH_DIAGNOSE_Z_THRESHOLD": "5", "SYNCWATCH_DIAGNOSE_FAILURE_ALPHA": "0.01"})
	if err != nil || d.ZThreshold != 4 || d.FailureAlpha != 0.01 {
		t.Fatalf("flag over environment: %v %+v", err, d)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--diagnose-z-threshold", "0"}, "--diagnose-z-threshold 0: want above 0"},
		{[]string{"--diagnose-z-threshold", "x"}, "diagnose-z-threshold"},
		{[]string{"--diagnose-failure-alpha", "0.5"}, "--diagnose-failure-alpha 0.5"},
		{[]string{"--diagnose-min-history", "2"}, "--diagnose-min-history 2: want between 3 and 10000"},
		{[]string{"--diagnose-regression-of", "4"}, "--diagnose-regression-of 4"},
		{[]string{"--diagnose-forecast-days", "100"}, "--diagnose-forecast-days 100"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if _, err := parse(c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
