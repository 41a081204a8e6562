package collector

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// ComponentHealth is the state of one part of the pipeline.
type ComponentHealth struct {
	Status string         `json:"status"` // "ok" or "failing"
	Error  string         `json:"error,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

// HealthReport is the answer of GET /api/v1/health and /readyz.
type HealthReport struct {
	Status     string                     `json:"status"` // "ok" or "failing"
	Components map[string]ComponentHealth `json:"components"`
	CheckedAt  time.Time                  `json:"checked_at"`
}

func (s *Server) handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// check inspects ClickHouse, the spool and the batcher.
func (s *Server) check(ctx context.Context) HealthReport {
	rep := HealthReport{Status: "ok", Components: map[string]ComponentHealth{}, CheckedAt: time.Now().UTC()}
	fail := func(name string, h ComponentHealth) {
		h.Status = "failing"
		rep.Status = "failing"
		rep.Components[name] = h
	}

	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	version, err := s.storage.ServerVersion(ctx)
	ch := ComponentHealth{Status: "ok", Detail: map[string]any{"latency_seconds": time.Since(start).Seconds()}}
	if err != nil {
		ch.Error = err.Error()
		s.metrics.clickhouseUp.Set(0)
		fail("clickhouse", ch)
	} else {
		ch.Detail["version"] = version
		s.metrics.clickhouseUp.Set(1)
		rep.Components["clickhouse"] = ch
	}

	st := s.spool.Stats()
	sp := ComponentHealth{Status: "ok", Detail: map[string]any{
		"entries": st.Entries, "reports": st.Reports, "bytes": st.Bytes, "max_bytes": st.MaxBytes,
		"oldest_age_seconds": 0.0,
	}}
	if !st.Oldest.IsZero() {
		sp.Detail["oldest_age_seconds"] = time.Since(st.Oldest).Seconds()
	}
	switch {
	case st.LastError != nil:
		sp.Error = "last write failed: " + st.LastError.Error()
		fail("spool", sp)
	case float64(st.Bytes) >= s.cfg.SpoolHighWater*float64(st.MaxBytes):
		sp.Error = "spool is above its high-water mark"
		fail("spool", sp)
	default:
		rep.Components["spool"] = sp
	}

	bs := s.batcher.Status()
	b := ComponentHealth{Status: "ok", Detail: map[string]any{"consecutive_failures": bs.Failures}}
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
		fail("batcher", b)
	} else {
		rep.Components["batcher"] = b
	}
	return rep
}

// handleReadyz answers 200 when syncwatch can accept and store reports.
func (s *Server) handleReadyz(c *gin.Context) {
	rep := s.check(c.Request.Context())
	// A failing batcher alone does not make the service unready: the spool
	// still takes reports while ClickHouse is away, up to its high-water mark.
	ready := rep.Components["spool"].Status == "ok" && rep.Components["clickhouse"].Status == "ok"
	if !ready {
		c.JSON(http.StatusServiceUnavailable, rep)
		return
	}
	c.JSON(http.StatusOK, rep)
}

// handleHealth reports each component's state.
func (s *Server) handleHealth(c *gin.Context) {
	rep := s.check(c.Request.Context())
	code := http.StatusOK
	if rep.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	c.JSON(code, rep)
}
