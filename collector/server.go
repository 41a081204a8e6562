// Package collector is syncwatch's HTTP service: the ingest API that sync
// jobs report to, the health endpoints, and the durable spool and batcher
// that feed ClickHouse.
package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/synclog"
)

// Storage is what the collector needs of ClickHouse.
type Storage interface {
	ReportWriter
	// ServerVersion pings ClickHouse and returns its version.
	ServerVersion(ctx context.Context) (string, error)
	// RunStart returns the start time every report of the run must carry.
	RunStart(runID string, start time.Time) time.Time
}

// Config configures the HTTP service.
type Config struct {
	// SyncTypes are the sync types reports may name.
	SyncTypes synclog.SyncTypes
	// MaxBodyBytes limits a request body, decompressed (default 10 MiB).
	MaxBodyBytes int64
	// MaxItems limits the reports in one request (default 10,000).
	MaxItems int
	// RetryAfter is what a 503 or 429 asks clients to wait (default 5s).
	RetryAfter time.Duration
	// SpoolHighWater is the fill ratio of the spool above which /readyz
	// fails (default 0.9).
	SpoolHighWater float64
	// DedupWindow is how many recent event ids are remembered to answer
	// retries as duplicates (default 1,000,000).
	DedupWindow int
	// OnAccepted, when set, sees every report once it is spooled.
	OnAccepted func([]synclog.Report)
	// MaxInFlight bounds the ingest requests being served at once
	// (default 128); a request that finds no room within QueueWait is
	// refused with 503 and Retry-After, so overload is shed at once
	// instead of queueing without bound.
	MaxInFlight int
	// QueueWait is how long an ingest request may wait for room
	// (default 100ms).
	QueueWait time.Duration
	// Retention is how long ClickHouse keeps runs. A report of a run that
	// started longer ago is refused (400, started_at): its rows would be
	// due for deletion the moment they were stored. Zero accepts any age.
	Retention time.Duration
}

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.MaxItems <= 0 {
		c.MaxItems = 10000
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.SpoolHighWater == 0 {
		c.SpoolHighWater = 0.9
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = 1_000_000
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 128
	}
	if c.QueueWait <= 0 {
		c.QueueWait = 100 * time.Millisecond
	}
}

// Server is the collector's HTTP service.
type Server struct {
	cfg      Config
	log      logrus.FieldLogger
	auth     *Auth
	spool    *Spool
	batcher  *Batcher
	quarant  *Quarantine
	storage  Storage
	metrics  *Metrics
	gatherer prometheus.Gatherer
	events   *eventSet
	// inFlight holds a token for each ingest request being served.
	inFlight chan struct{}
	engine   *gin.Engine
}

// Deps are the parts the server is built from.
type Deps struct {
	Log     logrus.FieldLogger
	Auth    *Auth
	Spool   *Spool
	Batcher *Batcher
	// Quarantine holds the reports ClickHouse refused for good; the
	// server publishes its size and lets admins list and replay it.
	Quarantine *Quarantine
	Storage    Storage
	Metrics    *Metrics
	// Registerer receives the spool's gauges; Gatherer serves /metrics.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Query, when set, answers the query, report and monitor API (see
	// RegisterQueryAPI).
	Query Querier
	// Console, when set with Query, serves the web console under /ui/
	// (see RegisterConsole).
	Console *ConsoleConfig
}

// NewServer builds the HTTP service and its routes.
func NewServer(cfg Config, d Deps) (*Server, error) {
	cfg.defaults()
	if cfg.SpoolHighWater < 0 || cfg.SpoolHighWater > 1 {
		return nil, fmt.Errorf("collector: spool high water %v: want a ratio above 0 and at most 1", cfg.SpoolHighWater)
	}
	if len(cfg.SyncTypes.Names()) == 0 {
		return nil, errors.New("collector: no sync types configured")
	}
	if d.Auth == nil {
		a, err := NewAuth(nil, 0)
		if err != nil {
			return nil, err
		}
		d.Auth = a
	}
	s := &Server{
		cfg: cfg, log: d.Log, auth: d.Auth, spool: d.Spool, batcher: d.Batcher, quarant: d.Quarantine, storage: d.Storage,
		metrics: d.Metrics, gatherer: d.Gatherer, events: newEventSet(cfg.DedupWindow),
		inFlight: make(chan struct{}, cfg.MaxInFlight),
	}
	if d.Quarantine == nil {
		return nil, errors.New("collector: no quarantine")
	}
	d.Metrics.registerSpool(d.Registerer, d.Spool)
	d.Metrics.registerQuarantine(d.Registerer, d.Quarantine)
	// Reports spooled before a restart are acknowledged but may not be in
	// ClickHouse yet: their retries are duplicates too, and the later
	// reports of their runs keep the runs' start.
	for _, r := range d.Spool.Replayed() {
		s.events.add(eventKey(r.Source, r.EventID), r.RunID, nil)
		if !r.RunStartedAt.IsZero() {
			d.Storage.RunStart(r.RunID, r.RunStartedAt)
		}
	}
	s.routes()
	if d.Query != nil {
		if err := s.RegisterQueryAPI(d.Query, d.Registerer); err != nil {
			return nil, err
		}
		if d.Console != nil {
			if err := s.RegisterConsole(d.Query, *d.Console); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine returns the gin engine so that other packages can add routes.
func (s *Server) Engine() *gin.Engine { return s.engine }

// Require returns middleware that admits only requests with a token of role
// r (when auth is configured).
func (s *Server) Require(r Role) gin.HandlerFunc { return s.require(r) }

// RememberEvents marks reports as seen, so that a retry of a report stored
// before a restart is answered as a duplicate, with its run id.
func (s *Server) RememberEvents(events []synclog.EventRef) {
	for _, e := range events {
		s.events.add(eventKey(e.Source, e.EventID), e.RunID, nil)
	}
}

// ForgetEvents lets the reports of events be sent again: a clear deleted
// them.
func (s *Server) ForgetEvents(events []synclog.EventRef) {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = eventKey(e.Source, e.EventID)
	}
	s.events.forget(keys)
}

func (s *Server) routes() {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(s.requestID, s.accessLog, gin.CustomRecovery(s.recovered))
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, ErrorResponse{Error: "no such route: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	e.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, ErrorResponse{Error: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})))
	e.GET("/api/v1/health", s.require(RoleQuery), s.handleHealth)
	e.GET("/openapi.yaml", handleOpenAPI)
	e.POST(ingestRoute, s.require(RoleIngest), s.shedLoad, s.limitBody, s.handleIngest)
	e.GET("/api/v1/quarantine", s.require(RoleAdmin), s.handleQuarantineList)
	e.POST("/api/v1/quarantine/replay", s.require(RoleAdmin), s.handleQuarantineReplay)
	s.engine = e
}

// ingestRoute is where jobs post their reports.
const ingestRoute = "/api/v1/runs"

// levelEnabled reports whether log writes entries at level; a logger that
// cannot say is assumed to.
func levelEnabled(log logrus.FieldLogger, level logrus.Level) bool {
	switch l := log.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(level)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	}
	return true
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Keys of values the middleware puts in a gin context.
const (
	keyLog   = "syncwatch.log"
	keyToken = "syncwatch.token"
)

// requestID takes a well-formed X-Request-ID from the client or makes one,
// echoes it, and puts a logger carrying it in the context.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		id = uuid.NewString()
	}
	c.Header("X-Request-ID", id)
	c.Set(keyLog, s.log.WithField("request_id", id))
	c.Next()
}

// logEntry returns the request's logger.
func logEntry(c *gin.Context) logrus.FieldLogger {
	if v, ok := c.Get(keyLog); ok {
		return v.(logrus.FieldLogger)
	}
	return logrus.StandardLogger()
}

func tokenOf(c *gin.Context) *Token {
	if v, ok := c.Get(keyToken); ok {
		return v.(*Token)
	}
	return nil
}

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
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(code)).Inc()
	s.metrics.requestDuration.WithLabelValues(route, c.Request.Method).Observe(d.Seconds())
	level := logrus.InfoLevel
	switch {
	case code >= 500:
		level = logrus.WarnLevel
	case code >= 400:
	case route == "/metrics" || route == "/healthz" || route == "/readyz":
		return // probes are frequent; log only their failures
	case route == ingestRoute:
		// Accepted reports come by the thousand a second and are counted
		// in syncwatch_ingest_reports_total and the request metrics; one
		// info line each cost about 5% of the CPU under load.
		level = logrus.DebugLevel
	}
	if !levelEnabled(s.log, level) {
		return
	}
	fields := logrus.Fields{
		"method": c.Request.Method, "route": route, "path": c.Request.URL.Path, "status": code,
		"duration_ms": float64(d.Microseconds()) / 1000, "bytes_in": c.Request.ContentLength,
		"bytes_out": c.Writer.Size(), "client": c.ClientIP(),
	}
	if t := tokenOf(c); t != nil {
		fields["token"] = t.Name
	}
	logEntry(c).WithFields(fields).Log(level, "request")
}

func (s *Server) recovered(c *gin.Context, err any) {
	logEntry(c).WithField("panic", err).Error("handler panicked")
	c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorResponse{Error: "internal error"})
}

// require admits requests with a token of role r, when tokens are
// configured, and applies the token's rate limit.
func (s *Server) require(r Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.auth.Enabled() {
			c.Next()
			return
		}
		t := s.auth.Authenticate(c.GetHeader("Authorization"))
		if t == nil {
			s.metrics.rejections.WithLabelValues(ReasonUnauthorized).Inc()
			c.Header("WWW-Authenticate", `Bearer realm="syncwatch"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, ErrorResponse{Error: "a valid bearer token is required (Authorization: Bearer <token>)"})
			return
		}
		if !t.Has(r) {
			c.AbortWithStatusJSON(http.StatusForbidden, ErrorResponse{Error: "this token lacks the " + string(r) + " role"})
			return
		}
		if ok, wait := s.auth.Allow(t); !ok {
			s.metrics.rejections.WithLabelValues(ReasonRateLimited).Inc()
			secs := int(wait/time.Second) + 1
			c.Header("Retry-After", strconv.Itoa(secs))
			c.AbortWithStatusJSON(http.StatusTooManyRequests, ErrorResponse{Error: "rate limit of this token exceeded: retry after " + strconv.Itoa(secs) + "s"})
			return
		}
		c.Set(keyToken, t)
		c.Next()
	}
}

// shedLoad admits at most MaxInFlight ingest requests at once. A request
// that finds no room within QueueWait gets 503 with Retry-After: the job
// retries later and nothing of its request was stored.
func (s *Server) shedLoad(c *gin.Context) {
	select {
	case s.inFlight <- struct{}{}:
	default:
		t := time.NewTimer(s.cfg.QueueWait)
		select {
		case s.inFlight <- struct{}{}:
			t.Stop()
		case <-t.C:
			s.metrics.rejections.WithLabelValues(ReasonOverloaded).Inc()
			c.Header("Retry-After", s.retryAfter())
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, ErrorResponse{Error: "syncwatch is at its limit of concurrent ingest requests: retry later; nothing of this request was stored"})
			return
		case <-c.Request.Context().Done():
			t.Stop()
			c.Abort()
			return
		}
	}
	defer func() { <-s.inFlight }()
	c.Next()
}

// limitBody refuses bodies that declare a length over the limit before
// reading them, and caps the raw body for the rest.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.MaxBodyBytes {
		s.metrics.rejections.WithLabelValues(ReasonTooLarge).Inc()
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, ErrorResponse{Error: tooLarge(s.cfg.MaxBodyBytes).Error()})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	c.Next()
}
