// Package app assembles syncwatch's HTTP service from its parts: the web
// engine with its health endpoints, the auth middleware, the ingest
// service, and, when a store to read is given, the query API and the
// console. `syncwatch serve` and every test harness build the service here,
// so that what is tested is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/relay"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
	"github.com/syncwatch/syncwatch/web/ui"
)

// Config configures the HTTP service.
type Config struct {
	// Ingest configures the ingest service; its sync types are the query
	// API's and the console's too.
	Ingest collector.Config
	// Console, when set with Deps.Query, serves the web console under /ui/.
	Console *ui.Config
	// TrustedProxies are the addresses or networks of the proxies whose
	// X-Forwarded-For and X-Real-IP name the client; none by default.
	TrustedProxies []string
	// PublicMonitor serves the read-only monitor URLs without a token.
	PublicMonitor bool
	// Digests are the configured digests the API renders by name.
	Digests []config.Digest
	// Relay configures POST /api/v1/alerts/relay/{channel}; without
	// channels every channel is unknown (404).
	Relay relay.Config
}

// Deps are the parts the service is built from.
type Deps struct {
	Log logrus.FieldLogger
	// Registerer receives every instrument; Gatherer serves /metrics.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// MetricsHandler, when set, serves /metrics instead of promhttp over
	// Gatherer (the exporter's Collector.Handler).
	MetricsHandler http.Handler
	// Auth checks bearer tokens; nil leaves the API open.
	Auth       *auth.Auth
	Spool      *collector.Spool
	Batcher    *collector.Batcher
	Quarantine *collector.Quarantine
	Storage    collector.Storage
	Metrics    *collector.Metrics
	// Anchors remembers the runs' starts and sources; the collector's own
	// AnchorCache when nil.
	Anchors collector.RunAnchors
	// Query, when set, answers the query, report and monitor API and the
	// console; States, when set too, gives the console's overview each
	// sync type's latest activity.
	Query  api.Querier
	States runs.TypeStater
	// Diagnose, when set with Query, answers the diagnostics API and the
	// diagnosis of a run.
	Diagnose api.Diagnoser
	// Checks are further components of the health report, supplied by
	// their owners (the exporter's, when this process publishes it).
	Checks []web.Check
	// Archive, when set, reads archived months in place for
	// GET /api/v1/runs?archive=YYYY-MM.
	Archive api.ArchiveReader
	// Digester, when set, builds GET /api/v1/reports/digest (with the
	// links and expected intervals serve configures); a builder over
	// Query when nil.
	Digester api.DigestBuilder
}

// Service is the assembled HTTP service.
type Service struct {
	Web     *web.Server
	Guard   *auth.Middleware
	Ingest  *collector.Service
	API     *api.API
	Console *ui.Console
}

// New builds the service and its routes.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Auth == nil {
		a, err := auth.NewAuth(nil, 0)
		if err != nil {
			return nil, err
		}
		d.Auth = a
	}
	if d.Metrics == nil {
		return nil, errors.New("app: the collector's metrics are required")
	}
	s := &Service{Guard: auth.NewMiddleware(d.Auth, d.Metrics.Rejected)}
	ingest, err := collector.NewService(cfg.Ingest, collector.Deps{
		Log: d.Log, Spool: d.Spool, Batcher: d.Batcher, Quarantine: d.Quarantine, Storage: d.Storage, Metrics: d.Metrics,
		Anchors: d.Anchors, Registerer: d.Registerer,
	})
	if err != nil {
		return nil, err
	}
	s.Ingest = ingest
	health := web.NewHealth(append(ingest.HealthChecks(), d.Checks...)...)
	s.Web, err = web.NewServer(web.Options{
		Log: d.Log, Registerer: d.Registerer, Gatherer: d.Gatherer, Metrics: d.MetricsHandler, Health: health,
		HealthGuard:    s.Guard.Require(auth.RoleQuery),
		TrustedProxies: cfg.TrustedProxies,
		// Without tokens, anyone who reaches the service may use it: only
		// the local machine, and not web pages it visits.
		LocalOnly: !d.Auth.Enabled(),
		// Accepted reports come by the thousand a second and are counted
		// in syncwatch_ingest_reports_total and the request metrics; one
		// info line each cost about 5% of the CPU under load.
		DebugRoutes: []string{collector.Route},
	})
	if err != nil {
		return nil, err
	}
	ingest.Register(s.Web.Engine(), s.Guard)
	rl, err := relay.New(cfg.Relay, d.Log, d.Registerer)
	if err != nil {
		return nil, err
	}
	rl.Register(s.Web.Engine(), s.Guard)
	if d.Query == nil {
		return s, nil
	}
	if err := s.addReadSide(cfg, d, health); err != nil {
		return nil, err
	}
	return s, nil
}

// addReadSide adds the query API and, when configured, the console.
func (s *Service) addReadSide(cfg Config, d Deps, health *web.Health) error {
	var err error
	s.API, err = api.New(api.Config{SyncTypes: cfg.Ingest.SyncTypes, PublicMonitor: cfg.PublicMonitor, Digests: cfg.Digests}, api.Deps{
		Querier: d.Query, Health: health, Guard: s.Guard, Registerer: d.Registerer, Archive: d.Archive, Digester: d.Digester,
		Diagnoser: d.Diagnose,
	})
	if err != nil {
		return err
	}
	if err := s.API.Register(s.Web.Engine()); err != nil {
		return err
	}
	if cfg.Console == nil {
		return nil
	}
	c := *cfg.Console
	c.SyncTypes = cfg.Ingest.SyncTypes
	s.Console, err = ui.New(c, ui.Deps{
		Querier: d.Query, States: d.States, Auth: d.Auth, Rejected: d.Metrics.Rejected, Diagnoser: d.Diagnose,
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return s.Console.Register(s.Web.Engine())
}

// Handler returns the HTTP handler.
func (s *Service) Handler() http.Handler { return s.Web.Handler() }

// Engine returns the gin engine, for tests and extensions to add routes.
func (s *Service) Engine() *gin.Engine { return s.Web.Engine() }

// DigestCheck is the digest scheduler's component of the health report,
// "digests": failing while a delivery fails or the scheduler cannot reach
// its ledger; not required, since ingest does not depend on it.
func DigestCheck(s *digest.Service) web.Check {
	return web.Check{Name: "digests", Run: func(context.Context) web.ComponentHealth {
		h, err := s.Health()
		detail := map[string]any{"digests": h.Digests, "instance": h.Instance}
		if h.LastTick != nil {
			detail["last_tick"] = h.LastTick
		}
		if len(h.Failing) > 0 {
			detail["failing"] = h.Failing
		}
		c := web.ComponentHealth{Detail: detail}
		if err != nil {
			c.Error = err.Error()
		}
		return c
	}}
}
