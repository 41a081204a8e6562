package backoff

import (
	"fmt"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	tests := []struct {
		attempt      int
		first, limit time.Duration
		ceiling      time.Duration
	}{
		{0, 100 * time.Millisecond, time.Second, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, time.Second, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, time.Second, 200 * time.Millisecond},
		{3, 100 * time.Millisecond, time.Second, 400 * time.Millisecond},
		{5, 100 * time.Millisecond, time.Second, time.Second},
		{1000, 100 * time.Millisecond, 30 * time.Second, 30 * time.Second},
		{4, 50 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond},
		{3, 0, time.Second, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%s/%s", tc.attempt, tc.first, tc.limit), func(t *testing.T) {
			for range 200 {
				if d := Wait(tc.attempt, tc.first, tc.limit); d < tc.ceiling/2 || d > tc.ceiling {
					t.Fatalf("Wait = %s, want within [%s, %s]", d, tc.ceiling/2, tc.ceiling)
				}
			}
		})
	}
}
