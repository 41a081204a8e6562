package exporter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/web"
)

// TestHealthCheck checks the exporter's component of /api/v1/health: the
// cache age, the last refresh, the last error and each scraper's state,
// failing while refreshes fail.
func TestHealthCheck(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	checks := f.c.HealthChecks()
	if len(checks) != 1 || checks[0].Name != "exporter" || checks[0].Required {
		t.Fatalf("checks = %+v, want one optional check named exporter", checks)
	}
	report := func() web.ComponentHealth {
		t.Helper()
		return web.NewHealth(checks...).Report(context.Background()).Components["exporter"]
	}

	t.Run("before a refresh", func(t *testing.T) {
		ch := report()
		if ch.Status != web.StatusOK {
			t.Errorf("status %q (%s), want ok before the first scrape", ch.Status, ch.Error)
		}
		if ch.Detail["refreshed"] != false {
			t.Errorf("detail %v: refreshed should be false", ch.Detail)
		}
	})
	f.scrape(t, time.Second)
	t.Run("fresh", func(t *testing.T) {
		f.clock.Add(3 * time.Second)
		ch := report()
		if ch.Status != web.StatusOK {
			t.Fatalf("status %q (%s)", ch.Status, ch.Error)
		}
		if got := ch.Detail["cache_age_seconds"]; got != 3.0 {
			t.Errorf("cache_age_seconds = %v, want 3", got)
		}
		if got := ch.Detail["last_refresh"]; got != testNow {
			t.Errorf("last_refresh = %v, want %v", got, testNow)
		}
		if _, ok := ch.Detail["last_error"]; ok {
			t.Errorf("last_error set after a good refresh: %v", ch.Detail)
		}
		sc, ok := ch.Detail["scrapers"].(map[string]any)
		if !ok || len(sc) != 2 {
			t.Fatalf("scrapers = %#v", ch.Detail["scrapers"])
		}
		for _, name := range []string{"type_states", "window_stats"} {
			s, ok := sc[name].(map[string]any)
			if !ok || s["success"] != true {
				t.Errorf("scraper %s = %#v", name, sc[name])
			}
		}
	})
	t.Run("failing", func(t *testing.T) {
		f.src.set(0, nil, errors.New("connection refused"))
		f.clock.Add(exporter.DefaultCacheTTL)
		f.scrape(t, time.Second)
		ch := report()
		if ch.Status != web.StatusFailing {
			t.Fatalf("status %q, want failing", ch.Status)
		}
		if got, _ := ch.Detail["last_error"].(string); got == "" {
			t.Errorf("last_error missing: %v", ch.Detail)
		}
		if got := ch.Detail["last_refresh"]; got != testNow {
			t.Errorf("last_refresh = %v, want the last good one %v", got, testNow)
		}
		s := ch.Detail["scrapers"].(map[string]any)["type_states"].(map[string]any)
		if s["success"] != false || s["error"] == nil {
			t.Errorf("type_states = %#v", s)
		}
	})
}
