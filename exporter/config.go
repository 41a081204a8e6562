package exporter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/syncwatch/syncwatch/synclog"
)

// DefaultExpectedIntervals returns how often each default sync type
// should succeed; 0 means it is not expected to run on a schedule. The
// values are synclog's catalogue.
func DefaultExpectedIntervals() map[string]time.Duration { return synclog.DefaultExpectedIntervals() }

// DefaultMaxRuntimes returns how long a run of each default sync type may
// take before it counts as hung, from synclog's catalogue.
func DefaultMaxRuntimes() map[string]time.Duration { return synclog.DefaultMaxRuntimes() }

// ParseDurations parses "type=duration" items such as
// ["products=6h", "manual=0"] into a map. Durations are Prometheus
// durations (5m, 6h, 2d, 1h30m); 0 means "none". Every type must be in
// syncTypes.
func ParseDurations(items []string, syncTypes []string) (map[string]time.Duration, error) {
	known := make(map[string]bool, len(syncTypes))
	for _, t := range syncTypes {
		known[t] = true
	}
	out := make(map[string]time.Duration, len(items))
	for _, item := range items {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q: want sync_type=duration, e.g. products=6h", item)
		}
		if !known[k] {
			return nil, fmt.Errorf("%q: unknown sync type %q; configured are %s", item, k, strings.Join(syncTypes, ", "))
		}
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		out[k] = d
	}
	return out, nil
}

// parseDuration reads a duration as Prometheus writes one (5m, 6h, 2d,
// 1h30m), or 0 for none.
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 5m, 6h or 2d, or 0 for none", s)
	}
	return time.Duration(d), nil
}

// MergeDurations returns defaults overridden by overrides, limited to the
// configured sync types.
func MergeDurations(defaults, overrides map[string]time.Duration, syncTypes []string) map[string]time.Duration {
	out := make(map[string]time.Duration, len(syncTypes))
	for _, t := range syncTypes {
		if d, ok := defaults[t]; ok {
			out[t] = d
		}
		if d, ok := overrides[t]; ok {
			out[t] = d
		}
	}
	return out
}

// windowLabel renders a window as the value of the window label: "1h",
// "24h", "30m", "90s".
func windowLabel(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
}
