package testutil

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestLookTool(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantErr string
	}{
		{name: "found", names: []string{"sh"}},
		{name: "first missing, second found", names: []string{"no-such-tool-syncwatch", "sh"}},
		{name: "missing", names: []string{"no-such-tool-syncwatch"}, wantErr: "no-such-tool-syncwatch is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LookTool(tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LookTool(%v) = %q, %v; want error containing %q", tt.names, p, err, tt.wantErr)
				}
				return
			}
			if err != nil || filepath.Base(p) != "sh" {
				t.Fatalf("LookTool(%v) = %q, %v; want sh", tt.names, p, err)
			}
		})
	}
}

func TestLibchdb(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libchdb.so")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, fallback, want string
	}{
		{name: "environment first", env: lib, fallback: "/nowhere", want: lib},
		{name: "fallback", env: "", fallback: lib, want: lib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(LibchdbEnv, tt.env)
			if got := Libchdb(t, tt.fallback); got != tt.want {
				t.Fatalf("Libchdb = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.Bytes()); got != 800 {
		t.Fatalf("wrote %d bytes, want 800", got)
	}
}

func TestQuantileAndMedian(t *testing.T) {
	tests := []struct {
		name         string
		values       []float64
		level        float64
		want, median float64
	}{
		{name: "one value", values: []float64{7}, level: 0.95, want: 7, median: 7},
		{name: "odd count", values: []float64{30, 60, 120}, level: 0.5, want: 60, median: 60},
		{name: "even count interpolates", values: []float64{30, 60, 90, 120}, level: 0.5, want: 75, median: 75},
		{name: "p95 interpolates", values: []float64{30, 60, 120}, level: 0.95, want: 114, median: 60},
		{name: "top level is the maximum", values: []float64{1, 2, 3}, level: 1, want: 3, median: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quantile(tt.values, tt.level); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.values, tt.level, got, tt.want)
			}
			shuffled := slices.Clone(tt.values)
			slices.Reverse(shuffled)
			if got := Median(shuffled); math.Abs(got-tt.median) > 1e-9 {
				t.Errorf("Median(%v) = %v, want %v", shuffled, got, tt.median)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	if got := Summarise(nil); got != nil {
		t.Errorf("Summarise(nil) = %+v, want nil", got)
	}
	got := Summarise([]float64{120, 30, 60})
	want := Durations{N: 3, Avg: 70, P50: 60, P95: 114, P99: 118.8, Max: 120}
	if got == nil || got.N != want.N || math.Abs(got.Avg-want.Avg) > 1e-9 || math.Abs(got.P95-want.P95) > 1e-9 ||
		math.Abs(got.P99-want.P99) > 1e-9 || got.P50 != want.P50 || got.Max != want.Max {
		t.Errorf("Summarise = %+v, want %+v", got, want)
	}
}
