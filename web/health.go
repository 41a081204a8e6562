package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Health states of a component and of the whole report.
const (
	StatusOK      = "ok"
	StatusFailing = "failing"
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

// Check inspects one component of the pipeline.
type Check struct {
	// Name is the component's key in the report.
	Name string
	// Required components make /readyz fail when they fail; the others
	// only make the report say so.
	Required bool
	// Run inspects the component: Status is set from Error ("failing"
	// when it is not empty), so Run need only fill Error and Detail.
	Run func(ctx context.Context) ComponentHealth
}

// checkTimeout bounds one health report.
const checkTimeout = 2 * time.Second

// Health runs its checks and answers the health endpoints.
type Health struct {
	checks []Check
}

// NewHealth returns the health endpoints over checks, run in their order.
func NewHealth(checks ...Check) *Health { return &Health{checks: checks} }

// Report runs every check.
func (h *Health) Report(ctx context.Context) HealthReport {
	rep := HealthReport{Status: StatusOK, Components: map[string]ComponentHealth{}, CheckedAt: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	for _, c := range h.checks {
		ch := c.Run(ctx)
		ch.Status = StatusOK
		if ch.Error != "" {
			ch.Status = StatusFailing
			rep.Status = StatusFailing
		}
		rep.Components[c.Name] = ch
	}
	return rep
}

// ready reports whether every required component is ok.
func (h *Health) ready(rep HealthReport) bool {
	for _, c := range h.checks {
		if c.Required && rep.Components[c.Name].Status != StatusOK {
			return false
		}
	}
	return true
}

// handleHealthz answers 200 while the process serves.
func handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": StatusOK})
}

// handleReadyz answers 200 when the required components are ok: when
// syncwatch can accept and store reports. It needs no token, so it says
// only ok or failing per component: versions, sizes and errors are in the
// detailed report behind a token (/api/v1/health).
func (h *Health) handleReadyz(c *gin.Context) {
	rep := h.Report(c.Request.Context())
	code := http.StatusOK
	if !h.ready(rep) {
		code = http.StatusServiceUnavailable
	}
	for name, ch := range rep.Components {
		rep.Components[name] = ComponentHealth{Status: ch.Status}
	}
	c.JSON(code, rep)
}

// handleHealth reports each component's state.
func (h *Health) handleHealth(c *gin.Context) {
	rep := h.Report(c.Request.Context())
	code := http.StatusOK
	if rep.Status != StatusOK {
		code = http.StatusServiceUnavailable
	}
	c.JSON(code, rep)
}
