package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// Options configure the engine.
type Options struct {
	// Log receives the access log and the request loggers.
	Log logrus.FieldLogger
	// Registerer receives the HTTP metrics; Gatherer serves /metrics.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Metrics, when set, serves /metrics instead of promhttp over
	// Gatherer: the exporter's handler, which encodes the families it
	// caches once per refresh.
	Metrics http.Handler
	// Health answers /healthz, /readyz and /api/v1/health.
	Health *Health
	// HealthGuard, when set, runs before the detailed health report
	// (/api/v1/health), to admit only some callers.
	HealthGuard gin.HandlerFunc
	// TrustedProxies are the addresses or networks (CIDR) of the proxies
	// whose X-Forwarded-For and X-Real-IP name the client in the logs and
	// the limits; none by default, so the client is the peer address.
	TrustedProxies []string
	// LocalOnly guards a service without tokens: only loopback Host
	// names are answered, and writes from other web sites are refused.
	LocalOnly bool
	// DebugRoutes are logged at debug level when they succeed: routes
	// served by the thousand a second, counted by metrics instead.
	DebugRoutes []string
}

// Server is the gin engine with syncwatch's middleware and its own routes.
type Server struct {
	opts    Options
	log     logrus.FieldLogger
	metrics *metrics
	engine  *gin.Engine
}

// NewServer builds the engine: request ids, the access log and panic
// recovery on every route, JSON answers for unknown routes and methods,
// /metrics, the health endpoints and /openapi.yaml.
func NewServer(o Options) (*Server, error) {
	if o.Log == nil || o.Registerer == nil || o.Gatherer == nil && o.Metrics == nil {
		return nil, errors.New("web: a logger, a registerer and a gatherer are required")
	}
	if o.Metrics == nil {
		o.Metrics = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})
	}
	if o.Health == nil {
		o.Health = NewHealth()
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("web: register metrics: %w", err)
	}
	s := &Server{opts: o, log: o.Log, metrics: m}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("web: trusted proxies: %w", err)
	}
	e.Use(requestID(o.Log), s.accessLog, gin.CustomRecovery(recovered), noSniffNoStore)
	if o.LocalOnly {
		e.Use(localOnly)
	}
	e.NoRoute(noRoute)
	e.NoMethod(noMethod)
	e.GET("/healthz", handleHealthz)
	e.GET("/readyz", o.Health.handleReadyz)
	e.GET("/metrics", gin.WrapH(o.Metrics))
	detail := []gin.HandlerFunc{o.Health.handleHealth}
	if o.HealthGuard != nil {
		detail = append([]gin.HandlerFunc{o.HealthGuard}, detail...)
	}
	e.GET("/api/v1/health", detail...)
	e.GET("/openapi.yaml", handleOpenAPI)
	s.engine = e
	return s, nil
}

// Engine returns the gin engine, for other packages to add routes to.
func (s *Server) Engine() *gin.Engine { return s.engine }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// noSniffNoStore sets the headers every answer starts with: browsers take
// its content type as given (a JSON or CSV answer is never run as a page),
// and caches keep nothing, since answers hold run data. Handlers whose
// answers may be cached (static files, the OpenAPI document) say so.
func noSniffNoStore(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.Next()
}
