package exporter

import (
	"context"
	"time"

	"github.com/syncwatch/syncwatch/web"
)

// HealthChecks are the exporter's checks for the health report: one
// component, "exporter", that fails while refreshes from ClickHouse fail
// or before the cached values go past Config.MaxStaleness. It is not
// required: syncwatch still accepts and stores reports without it.
func (c *Collector) HealthChecks() []web.Check {
	return []web.Check{{Name: "exporter", Run: c.checkHealth}}
}

// checkHealth reports the age of the cached values, the last successful
// refresh, the last error and each scraper's state.
func (c *Collector) checkHealth(context.Context) web.ComponentHealth {
	now := c.cfg.Now()
	c.mu.Lock()
	st := c.cache
	c.mu.Unlock()

	detail := map[string]any{"refreshed": !st.attemptEnd.IsZero()}
	if !st.attemptEnd.IsZero() {
		detail["last_attempt"] = st.attemptEnd.UTC()
	}
	if !st.inflight.IsZero() {
		detail["refresh_running_seconds"] = max(0, now.Sub(st.inflight).Seconds())
	}
	scrapers := make(map[string]any, len(c.scrapers))
	var oldest time.Time
	complete := true
	for i, sc := range c.scrapers {
		var p scrapedPart
		if i < len(st.parts) {
			p = st.parts[i]
		}
		s := map[string]any{"success": !p.done.IsZero() && p.err == nil, "duration_seconds": p.dur.Seconds()}
		if !p.done.IsZero() {
			s["last_success"] = p.done.UTC()
		}
		if p.err != nil {
			s["error"] = p.err.Error()
		}
		scrapers[sc.name()] = s
		if p.done.IsZero() {
			complete = false
		} else if oldest.IsZero() || p.done.Before(oldest) {
			oldest = p.done
		}
	}
	detail["scrapers"] = scrapers
	if complete && !oldest.IsZero() {
		detail["last_refresh"] = oldest.UTC()
		detail["cache_age_seconds"] = max(0, now.Sub(oldest).Seconds())
	}
	ch := web.ComponentHealth{Detail: detail}
	if err := st.errs(); err != nil {
		detail["last_error"] = err.Error()
		ch.Error = "refreshes from clickhouse fail; cached values are served until they are " + c.cfg.MaxStaleness.String() + " old"
		if complete && now.Sub(oldest) > c.cfg.MaxStaleness {
			ch.Error = "refreshes from clickhouse fail; the cached values are older than " + c.cfg.MaxStaleness.String() + " and no longer served"
		}
	}
	return ch
}
