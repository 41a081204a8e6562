package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/demo"
)

// demoOptions are the settings of `syncwatch demo`.
type demoOptions struct {
	server        serverOptions
	speed         float64
	duration      time.Duration
	backfill      time.Duration
	seed          int
	waitReady     time.Duration
	silentAfter   time.Duration
	slowdownAfter time.Duration
	summaryEvery  time.Duration
}

func (o *demoOptions) register(s *config.Set) {
	o.server.register(s)
	o.speed = demo.DefaultSpeed
	s.Var((*floatValue)(&o.speed), "speed", "how many times faster than real time the simulated jobs run")
	s.Duration(&o.duration, "duration", 0, "stop after this long; 0 runs until interrupted")
	s.Duration(&o.backfill, "backfill", 0, "first send this much history at once (simulated at the same speed), e.g. 10m")
	s.Int(&o.seed, "seed", 0, "seed of the simulation, for a repeatable demo; 0 for a new one each time")
	s.Duration(&o.waitReady, "wait-ready", 2*time.Minute, "how long to wait for the server's /readyz before starting")
	s.Duration(&o.silentAfter, "silent-after", 45*time.Minute, "simulated time after which haier/logistics stops reporting")
	s.Duration(&o.slowdownAfter, "slowdown-after", demo.DefaultSlowdownAfter, "simulated time after which haier/prices slows down (50 minutes of real time at the default speed)")
	s.Duration(&o.summaryEvery, "summary-every", 30*time.Second, "how often to print what was sent")
}

const demoUsage = `usage: syncwatch demo [--server URL] [--speed X] [--duration D] [--seed N]

Feeds a syncwatch server with the runs of a simulated supplier integration:
the six sync types of source haier and four of source jd on their own
schedules, with occasional supplier incidents (timeouts, HTTP 5xx,
authentication failures, malformed payloads). haier/prices slows down more
and more after --slowdown-after, and haier/logistics goes silent after
--silent-after (both simulated).

flags:
`

// runDemo is `syncwatch demo`.
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("demo", demoUsage, stderr)
	var o demoOptions
	o.register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", s.Args()[0])}
	}
	if o.speed <= 0 {
		return usageError{errors.New("--speed must be greater than 0")}
	}
	seed := uint64(o.seed)
	if o.seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	c, err := o.server.client(client.WithTimeout(5*time.Second), client.WithRetries(2), client.WithBackoff(100*time.Millisecond, time.Second))
	if err != nil {
		return usageError{fmt.Errorf("--server: %w", err)}
	}
	if err := waitReady(ctx, c, o.waitReady, stderr); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	fmt.Fprintf(stderr, "demo: reporting simulated runs to %s at %gx speed (seed %d); Ctrl-C stops\n", c.BaseURL(), o.speed, seed)
	_, err = demo.Run(ctx, demo.Options{
		Client: c, Speed: o.speed, Duration: o.duration, Backfill: o.backfill,
		Config:       demo.Config{Seed: seed, SilentAfter: o.silentAfter, SlowdownAfter: o.slowdownAfter},
		Log:          stderr,
		SummaryEvery: o.summaryEvery,
	})
	return err
}

// waitReady polls the server's /readyz until it answers 200, for at most
// limit.
func waitReady(ctx context.Context, c *client.Client, limit time.Duration, stderr io.Writer) error {
	deadline := time.Now().Add(limit)
	told := false
	for {
		err := c.Ready(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("syncwatch is not ready after %s: %w", limit, err)
		}
		if !told {
			fmt.Fprintf(stderr, "demo: waiting for syncwatch at %s to be ready\n", c.BaseURL())
			told = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// floatValue is a flag of a floating-point number.
type floatValue float64

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("want a number")
	}
	*v = floatValue(f)
	return nil
}

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
