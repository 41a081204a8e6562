package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
)

// accessLog logs each request once it is served and counts it. It logs no
// body, no query string and no header but the request id.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	code := c.Writer.Status()
	s.metrics.observe(route, c.Request.Method, code, d)
	level := s.logLevel(route, code)
	if level > logrus.TraceLevel || !LevelEnabled(s.log, level) {
		return
	}
	fields := logrus.Fields{
		"method": methodLabel(c.Request.Method), "route": route, "path": c.Request.URL.Path, "status": code,
		"duration_ms": float64(d.Microseconds()) / 1000, "bytes_in": c.Request.ContentLength,
		"bytes_out": c.Writer.Size(), "client": c.ClientIP(),
	}
	if name := principal(c); name != "" {
		fields["token"] = name
	}
	Log(c).WithFields(fields).Log(level, "request")
}

// noLog is a level above every real one: the request is not logged.
const noLog = logrus.TraceLevel + 1

// logLevel is the level a served request is logged at: warnings for server
// errors, info for the rest, but debug for the routes Options.DebugRoutes
// names and nothing for healthy probes.
func (s *Server) logLevel(route string, code int) logrus.Level {
	switch {
	case code >= 500:
		return logrus.WarnLevel
	case code >= 400:
		return logrus.InfoLevel
	case route == "/metrics" || route == "/healthz" || route == "/readyz":
		return noLog // probes are frequent; log only their failures
	case slices.Contains(s.opts.DebugRoutes, route):
		return logrus.DebugLevel
	}
	return logrus.InfoLevel
}

// recovered answers 500 when a handler panics, and logs the panic.
func recovered(c *gin.Context, err any) {
	Log(c).WithField("panic", err).Error("handler panicked")
	c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorResponse{Error: "internal error"})
}

// statusText renders a status code as the metrics' code label: the code
// when it is a valid HTTP status, "other" when not.
func statusText(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}
