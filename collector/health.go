package collector

import (
	"context"
	"time"

	"github.com/syncwatch/syncwatch/web"
)

// HealthChecks are the checks of the ingest path, in the order the health
// report runs them: ClickHouse and the spool must be ok for syncwatch to
// be ready; a failing batcher alone does not make it unready, since the
// spool still takes reports while ClickHouse is away, up to its high-water
// mark.
func (s *Service) HealthChecks() []web.Check {
	return []web.Check{
		{Name: "clickhouse", Required: true, Run: s.checkClickHouse},
		{Name: "spool", Required: true, Run: s.checkSpool},
		{Name: "batcher", Run: s.checkBatcher},
	}
}

// checkClickHouse pings ClickHouse and records whether it answered.
func (s *Service) checkClickHouse(ctx context.Context) web.ComponentHealth {
	start := time.Now()
	version, err := s.storage.ServerVersion(ctx)
	ch := web.ComponentHealth{Detail: map[string]any{"latency_seconds": time.Since(start).Seconds()}}
	if err != nil {
		ch.Error = err.Error()
		s.metrics.clickhouseUp.Set(0)
		return ch
	}
	ch.Detail["version"] = version
	s.metrics.clickhouseUp.Set(1)
	return ch
}

// checkSpool fails when the spool's last write failed or it is above its
// high-water mark.
func (s *Service) checkSpool(context.Context) web.ComponentHealth {
	st := s.spool.Stats()
	sp := web.ComponentHealth{Detail: map[string]any{
		"entries": st.Entries, "reports": st.Reports, "bytes": st.Bytes, "max_bytes": st.MaxBytes,
		"oldest_age_seconds": 0.0,
	}}
	if !st.Oldest.IsZero() {
		sp.Detail["oldest_age_seconds"] = time.Since(st.Oldest).Seconds()
	}
	switch {
	case st.LastError != nil:
		sp.Error = "last write failed: " + st.LastError.Error()
	case float64(st.Bytes) >= s.cfg.SpoolHighWater*float64(st.MaxBytes):
		sp.Error = "spool is above its high-water mark"
	}
	return sp
}

// checkBatcher fails while inserts into ClickHouse fail.
func (s *Service) checkBatcher(context.Context) web.ComponentHealth {
	bs := s.batcher.Status()
	b := web.ComponentHealth{Detail: map[string]any{"consecutive_failures": bs.Failures}}
	if !bs.LastFlush.IsZero() {
		b.Detail["last_flush"] = bs.LastFlush.UTC()
	}
	qs := s.quarant.Status()
	b.Detail["quarantined_reports"] = qs.Reports
	if qs.Reports > 0 {
		b.Detail["last_quarantined_at"] = qs.LastAt.UTC()
		b.Detail["last_quarantine_error"] = qs.LastError
	}
	if bs.LastError != nil {
		b.Detail["last_error"] = bs.LastError.Error()
		b.Detail["last_error_at"] = bs.LastErrAt.UTC()
	}
	if bs.Failures > 0 {
		b.Error = "inserts are failing; reports wait in the spool"
	}
	return b
}
