package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/synclog"
)

// Querier is what the query, report and monitor API needs of the store.
// *clickhouse.Store implements it.
type Querier interface {
	// ListRuns returns a page of runs, newest first, and the cursor of the
	// next page (nil on the last).
	ListRuns(ctx context.Context, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error)
	// GetRun returns a run with all its reports, or runs.ErrNotFound.
	GetRun(ctx context.Context, runID string) (runs.RunDetail, error)
	// Stats computes figures over runs, grouped and bucketed.
	Stats(ctx context.Context, q runs.StatsQuery) ([]runs.Stats, error)
	// DailyReport compares one day of loc per sync type with the day
	// before and the average day of the week before.
	DailyReport(ctx context.Context, day time.Time, loc *time.Location) ([]runs.DailyRow, error)
	// ErrorGroups groups failed and partial runs by message fingerprint.
	ErrorGroups(ctx context.Context, f runs.Filter, limit int) ([]runs.ErrorGroup, error)
	// Trends returns daily p95 durations and success ratios per sync type,
	// flagged against a trailing baseline.
	Trends(ctx context.Context, since, until time.Time, loc *time.Location, baselineDays int) ([]runs.TrendPoint, error)
	// LastSuccesses returns when each sync type last succeeded.
	LastSuccesses(ctx context.Context) (map[string]time.Time, error)
	// DeleteRuns removes (or, with dryRun, counts) the runs f selects.
	DeleteRuns(ctx context.Context, f runs.Filter, dryRun bool) (runs.DeleteResult, error)
	// Retention is how long runs are kept.
	Retention() time.Duration
}

// Limits of the query API.
const (
	// DefaultPageSize and MaxPageSize bound the runs of one page.
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// MaxQueryLength bounds the message search q, in characters.
	MaxQueryLength = 200
	// MaxBuckets bounds the time buckets of one statistics query.
	MaxBuckets = 10000
	// DefaultErrorGroups and MaxErrorGroups bound the error report.
	DefaultErrorGroups = 50
	MaxErrorGroups     = 1000
	// DefaultTrendDays is how many days the trend report covers by
	// default, today included; DefaultBaselineDays its default baseline.
	DefaultTrendDays    = 14
	DefaultBaselineDays = 7
	// maxCursorLength bounds a cursor before it is decoded.
	maxCursorLength = 512
)

// Guard admits the callers of a role; *auth.Middleware is one.
type Guard interface {
	Require(r auth.Role) gin.HandlerFunc
}

// HealthReporter reports the pipeline's health, which the dashboard
// shows; *web.Health is one.
type HealthReporter interface {
	Report(ctx context.Context) web.HealthReport
}

// Config configures the API.
type Config struct {
	// SyncTypes are the configured sync types: filters accept them, and
	// the dashboard lists each of them, a silent one too.
	SyncTypes synclog.SyncTypes
	// PublicMonitor serves the three read-only monitor URLs (dashboard,
	// records, statistics) without a token, as the original module did.
	PublicMonitor bool
	// Digests are the configured digests GET /api/v1/reports/digest
	// renders by name.
	Digests []config.Digest
}

// Deps are the parts the API is built from.
type Deps struct {
	Querier Querier
	Health  HealthReporter
	Guard   Guard
	// Registerer receives the API's metrics.
	Registerer prometheus.Registerer
	// Archive, when set, answers GET /api/v1/runs?archive=YYYY-MM.
	Archive ArchiveReader
	// Now, when set, replaces the clock (tests).
	Now func() time.Time
	// Diagnoser, when set, answers /api/v1/diagnostics/... and the
	// diagnosis of a failed or anomalous run; without it those routes
	// answer 503.
	Diagnoser Diagnoser
	// Digester builds GET /api/v1/reports/digest; a digest.Builder over
	// the querier, without links, when nil.
	Digester DigestBuilder
}

// API serves the query, report and monitor routes.
type API struct {
	types    synclog.SyncTypes
	q        Querier
	archive  ArchiveReader
	overview *runs.Overviews
	health   HealthReporter
	guard    Guard
	clears   *prometheus.CounterVec
	now      func() time.Time
	// public serves the read-only monitor URLs without a token.
	public   bool
	digests  []config.Digest
	digester DigestBuilder
	diag     Diagnoser
}

// New builds the API and registers its metrics.
func New(cfg Config, d Deps) (*API, error) {
	if d.Querier == nil || d.Health == nil || d.Guard == nil || d.Registerer == nil {
		return nil, errors.New("api: a querier, a health reporter, a guard and a registerer are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	a := &API{
		types: cfg.SyncTypes, q: d.Querier, overview: runs.NewOverviews(d.Querier, nil), health: d.Health,
		guard: d.Guard, now: d.Now, public: cfg.PublicMonitor, archive: d.Archive,
		digests: cfg.Digests, digester: d.Digester, diag: d.Diagnoser,
	}
	if a.digester == nil {
		a.digester = digest.NewBuilder(d.Querier, digest.BuilderConfig{SyncTypes: cfg.SyncTypes.Names(), Now: d.Now})
	}
	a.clears = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncwatch_monitor_clears_total",
		Help: "Clears of stored runs through /api/monitor/clear/, by whether they were dry runs.",
	}, []string{"dry_run"})
	a.clears.WithLabelValues("true")
	a.clears.WithLabelValues("false")
	if err := d.Registerer.Register(a.clears); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	return a, nil
}

// Register adds the query and report API (/api/v1/runs GET,
// /api/v1/runs/{run_id}, /api/v1/stats, /api/v1/reports/...) and the
// monitor URLs of the original module (/api/monitor/...) to e. It may be
// called once per engine.
func (a *API) Register(e *gin.Engine) error {
	for _, r := range e.Routes() {
		if r.Path == "/api/v1/stats" {
			return errors.New("api: the query API is registered already")
		}
	}
	query := a.guard.Require(auth.RoleQuery)
	// Every query URL takes lang; those with one format take format=json.
	formats, json := common(true), common(false)
	monitor := query
	if a.public {
		monitor = func(*gin.Context) {}
	}
	e.GET("/api/v1/runs", query, formats, a.handleRuns)
	e.GET("/api/v1/runs/:run_id", query, json, a.handleRun)
	e.GET("/api/v1/stats", query, json, a.handleStats)
	e.GET("/api/v1/reports/daily", query, formats, a.handleDaily)
	e.GET("/api/v1/reports/errors", query, json, a.handleErrors)
	e.GET("/api/v1/reports/trends", query, json, a.handleTrends)
	e.GET("/api/v1/diagnostics/anomalies", query, json, a.handleAnomalies)
	e.GET("/api/v1/diagnostics/forecasts", query, json, a.handleForecasts)
	e.GET("/api/v1/diagnostics/root-cause", query, json, a.handleRootCause)
	e.GET("/api/v1/reports/digest", query, markLang, formats, a.handleDigest)
	// The monitor URLs answer with and without their trailing slash.
	for _, p := range []string{"/api/monitor/dashboard/", "/api/monitor/dashboard"} {
		e.GET(p, monitor, json, a.handleDashboard)
	}
	for _, p := range []string{"/api/monitor/records/", "/api/monitor/records"} {
		e.GET(p, monitor, formats, djangoRecords, a.handleRuns)
	}
	for _, p := range []string{"/api/monitor/statistics/", "/api/monitor/statistics"} {
		e.GET(p, monitor, json, a.handleStats)
	}
	for _, p := range []string{"/api/monitor/clear/", "/api/monitor/clear"} {
		e.POST(p, a.guard.Require(auth.RoleAdmin), a.handleClear)
	}
	return nil
}

// env is what parameter parsing needs to know, now.
func (a *API) env() Env {
	return NewEnv(a.types, a.now().UTC(), a.q.Retention())
}

// Env is what parameter parsing needs to know of the server.
type Env struct {
	types     synclog.SyncTypes
	now       time.Time
	retention time.Duration
}

// NewEnv returns the environment of parameter parsing: the configured
// sync types, the time now, and the retention that bounds ranges.
func NewEnv(types synclog.SyncTypes, now time.Time, retention time.Duration) Env {
	return Env{types: types, now: now, retention: retention}
}
