// Package collector is syncwatch's ingest service: the HTTP handler that
// sync jobs post their run reports to, the decoding and validation of
// those reports, event_id deduplication, run anchoring, and the durable
// spool and batcher that feed them into ClickHouse.
package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/synclog"
)

// Storage is what the collector needs of ClickHouse.
type Storage interface {
	ReportWriter
	// ServerVersion pings ClickHouse and returns its version.
	ServerVersion(ctx context.Context) (string, error)
}

// Config configures the ingest service.
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
	// AnchorCacheSize bounds the runs whose start and source are
	// remembered for their later reports (default 200,000).
	AnchorCacheSize int
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

// Route is where jobs post their reports.
const Route = "/api/v1/runs"

// Service is the ingest service: it takes reports over HTTP, answers
// duplicates, and spools the rest for the batcher.
type Service struct {
	cfg     Config
	log     logrus.FieldLogger
	spool   *Spool
	batcher *Batcher
	quarant *Quarantine
	storage Storage
	metrics *Metrics
	events  *eventSet
	anchors RunAnchors
	// inFlight holds a token for each ingest request being served.
	inFlight chan struct{}
}

// Deps are the parts the service is built from.
type Deps struct {
	Log     logrus.FieldLogger
	Spool   *Spool
	Batcher *Batcher
	// Quarantine holds the reports ClickHouse refused for good; the
	// service publishes its size and lets admins list and replay it.
	Quarantine *Quarantine
	Storage    Storage
	Metrics    *Metrics
	// Anchors remembers the runs' starts and sources; an AnchorCache of
	// Config.AnchorCacheSize runs when nil.
	Anchors RunAnchors
	// Registerer receives the spool's gauges.
	Registerer prometheus.Registerer
}

// NewService builds the ingest service. Reports spooled before a restart
// are remembered at once: their retries are duplicates, and the later
// reports of their runs keep the runs' start.
func NewService(cfg Config, d Deps) (*Service, error) {
	cfg.defaults()
	if len(cfg.SyncTypes.Names()) == 0 {
		return nil, errors.New("collector: no sync types configured")
	}
	if cfg.SpoolHighWater < 0 || cfg.SpoolHighWater > 1 {
		return nil, fmt.Errorf("collector: spool high-water mark %v: want a ratio in (0, 1]", cfg.SpoolHighWater)
	}
	if d.Quarantine == nil {
		return nil, errors.New("collector: no quarantine")
	}
	if d.Anchors == nil {
		d.Anchors = NewAnchorCache(cfg.AnchorCacheSize)
	}
	if d.Log == nil || d.Spool == nil || d.Batcher == nil || d.Storage == nil || d.Metrics == nil || d.Registerer == nil {
		return nil, errors.New("collector: a logger, spool, batcher, storage, metrics and registerer are required")
	}
	s := &Service{
		cfg: cfg, log: d.Log, spool: d.Spool, batcher: d.Batcher, quarant: d.Quarantine, storage: d.Storage,
		metrics: d.Metrics, events: newEventSet(cfg.DedupWindow), anchors: d.Anchors,
		inFlight: make(chan struct{}, cfg.MaxInFlight),
	}
	d.Metrics.registerSpool(d.Registerer, d.Spool)
	d.Metrics.registerQuarantine(d.Registerer, d.Quarantine)
	for _, r := range d.Spool.Replayed() {
		s.events.add(eventKey(r.Source, r.EventID), r.RunID, nil)
		if !r.RunStartedAt.IsZero() {
			s.anchors.Resolve(r.RunID, r.Source, r.RunStartedAt)
		}
	}
	return s, nil
}

// Guard admits the callers of a role; *auth.Middleware is one.
type Guard interface {
	Require(r auth.Role) gin.HandlerFunc
}

// Register adds the ingest route and the quarantine's admin routes to r.
func (s *Service) Register(r gin.IRouter, g Guard) {
	r.POST(Route, g.Require(auth.RoleIngest), s.shedLoad, s.limitBody, s.handleIngest)
	r.GET("/api/v1/quarantine", g.Require(auth.RoleAdmin), s.handleQuarantineList)
	r.POST("/api/v1/quarantine/replay", g.Require(auth.RoleAdmin), s.handleQuarantineReplay)
}

// RememberEvents marks reports as seen, so that a retry of a report stored
// before a restart is answered as a duplicate, with its run id.
func (s *Service) RememberEvents(events []synclog.EventRef) {
	for _, e := range events {
		s.events.add(eventKey(e.Source, e.EventID), e.RunID, nil)
	}
}

// ForgetEvents lets the reports of events be sent again: a clear deleted
// them.
func (s *Service) ForgetEvents(events []synclog.EventRef) {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = eventKey(e.Source, e.EventID)
	}
	s.events.forget(keys)
}
