package diagnose

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// builds is a BaselineBuilder whose passes fail as told.
type builds struct {
	mu    sync.Mutex
	fail  []bool // the outcome of each pass; later passes succeed
	calls int
}

func (b *builds) BuildBaselines(context.Context, time.Time, time.Time) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls <= len(b.fail) && b.fail[b.calls-1] {
		return 0, errors.New("the database went away")
	}
	return 1, nil
}

// TestMaintainBaselinesWarms checks that the maintainer asks the questions
// to keep warm after each pass that summarised, not after a failed one
// (the questions would read the runs), and that a failing warm-up does
// not stop it.
func TestMaintainBaselinesWarms(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	b := &builds{fail: []bool{true, false, true, false}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		warms []int // the pass each warm-up followed
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		MaintainBaselines(ctx, b, DefaultConfig(), time.Millisecond, log, func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			b.mu.Lock()
			warms = append(warms, b.calls)
			b.mu.Unlock()
			if len(warms) == 3 {
				cancel()
			}
			return errors.New("warm-up failed")
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the maintainer did not warm three times")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int{2, 4, 5}
	if len(warms) != len(want) {
		t.Fatalf("warmed after passes %v, want %v", warms, want)
	}
	for i := range want {
		if warms[i] != want[i] {
			t.Fatalf("warmed after passes %v, want %v", warms, want)
		}
	}
}
