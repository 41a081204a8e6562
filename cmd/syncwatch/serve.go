package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/digest/diaginsights"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/notify"
	"github.com/syncwatch/syncwatch/relay"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
	"github.com/syncwatch/syncwatch/web/ui"
)

// serveOptions are the settings of `syncwatch serve`.
type serveOptions struct {
	storage config.Storage
	logs    config.Log
	metrics exporterOptions
	pprof   pprofOptions
	archive config.Archive
	config.Serve
	diagnose config.Diagnose
	// notify are the digests and channels (issue 17).
	notify config.Notify
}

func (o *serveOptions) register(s *config.Set) {
	o.storage.Register(s)
	o.logs.Register(s)
	o.metrics.register(s)
	o.pprof.register(s)
	o.archive.Register(s)
	o.Serve.Register(s)
	o.diagnose.Register(s)
	o.notify.Register(s)
	s.Check(func() error { return o.metrics.check(o.SyncTypes) })
	s.Check(func() error { return digestScopes(o.notify.Digests, o.SyncTypes) })
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := config.New("serve", "", stderr)
	var o serveOptions
	o.register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	if err := noArguments(s); err != nil {
		return err
	}
	log, err := newLogger(o.logs, stderr)
	if err != nil {
		return err
	}
	types, err := synclog.NewSyncTypes(o.SyncTypes)
	if err != nil {
		return usageError{fmt.Errorf("--sync-types: %w", err)}
	}
	tokens, err := o.auth()
	if err != nil {
		return usageError{err}
	}
	listen, err := listenAddress(o.Listen, tokens.Enabled())
	if err != nil {
		return usageError{err}
	}
	defer o.pprof.start(log)()
	if !tokens.Enabled() {
		log.WithField("listen", listen).Warn("no tokens configured: the API is open to anyone who can reach it, so syncwatch listens on loopback only")
	}
	// Console sessions are signed: replicas that share the secrets accept
	// each other's sessions.
	var sessionKeys [][]byte
	if o.SessionSecretFile != "" {
		if sessionKeys, err = ui.LoadSessionKeys(o.SessionSecretFile); err != nil {
			return usageError{err}
		}
	} else if tokens.Enabled() {
		log.Info("no --session-secret-file: console sessions are signed with a random key of this process, so a sign-in holds on this replica only and until it restarts")
	}

	// Start-up, in order; shutdown runs in reverse.
	storeCfg := storageConfig(o.storage)
	storeCfg.RetentionByArchive = o.archive.Enabled
	store, err := clickhouse.Open(ctx, storeCfg, log)
	if err != nil {
		return err
	}
	defer closeLogged(log, "clickhouse", store.Close)
	if o.Migrate {
		if err := store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	} else if o.archive.Enabled {
		// The TTL must go before the archiver counts on it being gone.
		if err := store.ApplyRetention(ctx); err != nil {
			return err
		}
	}
	spool, err := collector.OpenSpool(filepath.Join(o.storage.DataDir, "spool"), int64(o.SpoolMaxBytes), log.WithField("component", "spool"))
	if err != nil {
		return err
	}
	defer closeLogged(log, "spool", spool.Close)
	quarantine, err := collector.OpenQuarantine(filepath.Join(o.storage.DataDir, "quarantine"))
	if err != nil {
		return err
	}
	if n := quarantine.Status().Reports; n > 0 {
		log.WithField("reports", n).Warn("the quarantine holds reports clickhouse refused: syncwatch quarantine list")
	}

	reg := newRegistry()
	metrics := collector.NewMetrics(reg)
	// The ingest instruments and the ClickHouse-backed collector share the
	// source cap.
	limiter := exporter.NewSourceLimiter(o.metrics.maxSources)
	ingest, err := exporter.NewIngest(reg, types.Names(), limiter)
	if err != nil {
		return err
	}
	// Publish the pairs ClickHouse knows at 0, so that their first report
	// after this start is an increase Prometheus sees.
	known, err := store.ExporterTypeStates(ctx, time.Now())
	if err != nil {
		return err
	}
	for _, k := range known {
		ingest.Initialize(k.Source, k.SyncType)
	}
	// The console rates each sync type's last success against the
	// intervals the exporter alerts on.
	expected, err := o.metrics.config(types, limiter, log)
	if err != nil {
		return err
	}
	// Diagnostics judge each type by its history, and forecasts its
	// overruns against the maximum runtimes the exporter alerts on.
	diagCfg, err := diagnoseConfig(o.diagnose, types, expected.MaxRuntimes)
	if err != nil {
		return err
	}
	diag, err := diagnose.New(store, diagCfg)
	if err != nil {
		return err
	}
	var exp *exporter.Collector
	var checks []web.Check
	// With the exporter, /metrics serves reg and the exporter's cached
	// families, encoded once per refresh.
	var metricsHandler http.Handler
	if o.Exporter {
		if exp, err = o.metrics.newExporter(nil, types, limiter, store, diag, log); err != nil {
			return err
		}
		checks = exp.HealthChecks()
		metricsHandler = exp.Handler(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	}
	archived, autoArchive, err := startArchive(ctx, o.archive, o.storage.Retention, store, reg, log)
	if err != nil {
		return err
	}
	var archiveReader api.ArchiveReader
	if archived != nil {
		archiveReader = archived
	}
	if autoArchive != nil {
		defer autoArchive.stop()
		checks = append(checks, autoArchive.check())
	}

	// Digests (issue 17): the content the API renders, and the
	// scheduler when this process sends them.
	channels, err := notify.NewAll(o.notify.Channels, notify.Options{})
	if err != nil {
		return err
	}
	digestBuilder, digests, err := o.digests(reg, types, expected.ExpectedIntervals, store, diag, channels, log)
	if err != nil {
		return err
	}
	if digests != nil {
		checks = append(checks, app.DigestCheck(digests))
	}
	batcher := collector.NewBatcher(spool, quarantine, store, collector.BatcherConfig{Size: o.BatchSize, MaxSize: o.BatchMaxSize, MaxAge: o.BatchMaxAge}, log.WithField("component", "batcher"), metrics)
	srv, err := app.New(app.Config{
		Ingest: collector.Config{
			SyncTypes: types, MaxBodyBytes: int64(o.MaxBodyBytes), MaxItems: o.MaxItems, DedupWindow: o.DedupWindow,
			MaxInFlight: o.MaxInFlight, QueueWait: o.QueueWait, Retention: store.Retention(),
			MaxInFlightPerClient: o.MaxInFlightPerClient, BodyTimeout: o.BodyTimeout,
			OnAccepted: ingest.Observe,
		},
		Console: &ui.Config{
			ExpectedIntervals: expected.ExpectedIntervals, Lookback: expected.Lookback, SecureCookies: o.SecureCookies,
			SessionKeys: sessionKeys,
		},
		TrustedProxies: o.TrustedProxies,
		PublicMonitor:  o.PublicMonitor,
		Digests:        o.notify.Digests,
		Relay:          o.relay(channels),
	}, app.Deps{
		Log: log, Registerer: reg, Gatherer: reg, MetricsHandler: metricsHandler, Auth: tokens, Spool: spool, Batcher: batcher, Quarantine: quarantine,
		Storage: store, Metrics: metrics, Query: store, States: store, Checks: checks, Digester: digestBuilder,
		Archive: archiveReader, Diagnose: diag,
	})
	if err != nil {
		return err
	}
	// What the collector must know of ClickHouse before it takes
	// reports: the runs in progress and the reports of the last day.
	inProgress, recent, err := srv.Ingest.Seed(ctx, store)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	go batcher.Run()
	handler := srv.Handler()
	if exp != nil {
		// Scrapes of /metrics wait for fresh ClickHouse-backed values
		// within their timeout.
		handler = exp.WrapHandler(handler, "/metrics")
	}
	httpSrv := newHTTPServer(handler)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.WithFields(logrus.Fields{
		"listen": ln.Addr().String(), "engine": store.Engine(), "runs_in_progress": inProgress, "recent_reports": recent,
		"version": version, "auth": tokens.Enabled(),
	}).Info("syncwatch is serving")
	// The digest scheduler starts last and stops first.
	digestsDone := make(chan struct{})
	digestCtx, stopDigests := context.WithCancel(context.Background())
	go func() {
		defer close(digestsDone)
		if digests != nil {
			digests.Run(digestCtx)
		}
	}()

	// The diagnostics' daily summaries are kept in the background; a
	// question computes from the runs what is not summarised yet.
	baselinesDone := make(chan struct{})
	baselineCtx, stopBaselines := context.WithCancel(context.Background())
	go func() {
		defer close(baselinesDone)
		diagnose.MaintainBaselines(baselineCtx, store, diagCfg, baselineInterval, log.WithField("component", "baselines"), diag.KeepWarm)
	}()

	select {
	case <-ctx.Done():
		log.Info("shutting down: no new requests; flushing the batcher")
	case err := <-serveErr:
		log.WithError(err).Error("http server stopped")
	}
	stopBaselines()
	<-baselinesDone
	stopDigests()
	<-digestsDone
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.WithError(err).Warn("http shutdown")
	}
	if err := batcher.Stop(shutdownCtx); err != nil {
		log.WithError(err).Warn("batcher stop")
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer returns the HTTP server of `syncwatch serve` over handler,
// with the timeouts and limits that keep slow or hostile clients from
// holding its resources.
func newHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// A request line and headers beyond this are refused with 431:
		// the default of 1 MiB let a 64 KiB method name through.
		MaxHeaderBytes: maxHeaderBytes,
	}
}

// baselineInterval is how often the diagnostics' summaries are brought up
// to date: a day is summarised a minute after it ends, and again after a
// late report touches it.
const baselineInterval = 10 * time.Minute

// maxHeaderBytes bounds the request line and headers of one request.
const maxHeaderBytes = 64 << 10

func (o *serveOptions) auth() (*auth.Auth, error) {
	var tokens []auth.Token
	if o.TokensFile != "" {
		t, err := auth.LoadTokens(o.TokensFile)
		if err != nil {
			return nil, err
		}
		tokens = t
	}
	tokens = append(tokens, auth.TokensFromEnv(o.IngestTokens, o.QueryTokens, o.AdminTokens)...)
	return auth.NewAuth(tokens, float64(o.RateLimit))
}

// listenAddress returns the address to listen on: as configured, or, when
// no tokens are configured, the loopback address on the same port.
func listenAddress(addr string, authEnabled bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", addr, err)
	}
	if authEnabled {
		return addr, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return addr, nil
	}
	if host == "localhost" {
		return addr, nil
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

func closeLogged(log logrus.FieldLogger, what string, f func() error) {
	if err := f(); err != nil {
		log.WithError(err).WithField("component", what).Error("close failed")
	}
}

// digests returns the builder of digests' content and, when this process
// sends digests, their scheduler.
func (o *serveOptions) digests(reg prometheus.Registerer, types synclog.SyncTypes, expected map[string]time.Duration, store *clickhouse.Store, diag *diagnose.Service, channels map[string]notify.Channel, log logrus.FieldLogger) (*digest.Builder, *digest.Service, error) {
	b := digest.NewBuilder(store, digest.BuilderConfig{
		SyncTypes: types.Names(), Expected: expected, ConsoleURL: o.notify.ConsoleURL, GrafanaURL: o.notify.GrafanaURL,
		// Each digest carries the diagnostics' anomalies and forecasts.
		Insights: diaginsights.New(diag, o.notify.ConsoleURL),
	})
	if !o.notify.Scheduler || len(o.notify.Digests) == 0 {
		return b, nil, nil
	}
	svc, err := digest.NewService(digest.ServiceConfig{Digests: o.notify.Digests, RetryFor: o.notify.RetryFor}, digest.ServiceDeps{
		Log: log, Registerer: reg, Builder: b, Ledger: store, Channels: channels,
	})
	if err != nil {
		return nil, nil, err
	}
	log.WithFields(logrus.Fields{"digests": len(o.notify.Digests), "instance": svc.Instance()}).Info("digest scheduler on")
	return b, svc, nil
}

// relay configures the alert relay: the robot channels with their
// languages, and the links' addresses.
func (o *serveOptions) relay(channels map[string]notify.Channel) relay.Config {
	cfg := relay.Config{Channels: map[string]relay.Channel{}, ConsoleURL: o.notify.ConsoleURL, GrafanaURL: o.notify.GrafanaURL}
	for _, c := range o.notify.Channels {
		if relay.IsRelayType(c.Type) {
			cfg.Channels[c.Name] = relay.Channel{Channel: channels[c.Name], Language: c.Language}
		}
	}
	return cfg
}
