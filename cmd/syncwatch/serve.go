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

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web/ui"
)

// serveOptions are the settings of `syncwatch serve`.
type serveOptions struct {
	storage storageOptions
	logs    logOptions
	metrics exporterOptions
	pprof   pprofOptions
	// exporter publishes the ClickHouse-backed metrics in this process.
	exporter bool

	listen          string
	migrate         bool
	syncTypes       []string
	tokensFile      string
	ingestTokens    string
	queryTokens     string
	adminTokens     string
	rateLimit       int
	maxBodyBytes    int
	maxItems        int
	spoolMaxBytes   int
	batchSize       int
	batchMaxSize    int
	batchMaxAge     time.Duration
	shutdownTimeout time.Duration
	dedupWindow     int
	maxInFlight     int
	queueWait       time.Duration
}

func (o *serveOptions) register(s *settings) {
	o.storage.register(s)
	o.logs.register(s)
	o.metrics.register(s)
	o.pprof.register(s)
	s.Bool(&o.exporter, "exporter", true, "publish the metrics computed from ClickHouse on /metrics; turn off on replicas when syncwatch export publishes them")
	s.String(&o.listen, "listen", "127.0.0.1:8080", "address to listen on; without tokens only a loopback address is used")
	s.Bool(&o.migrate, "migrate", true, "apply schema migrations at start-up")
	s.List(&o.syncTypes, "sync-types", synclog.DefaultSyncTypes, "comma-separated sync types reports may name")
	s.String(&o.tokensFile, "tokens-file", "", "YAML file of bearer tokens (name, token or token_sha256, roles, sources, rate_limit)")
	s.String(&o.ingestTokens, "ingest-tokens", "", "comma-separated ingest tokens (prefer the environment to a flag)")
	s.String(&o.queryTokens, "query-tokens", "", "comma-separated query tokens")
	s.String(&o.adminTokens, "admin-tokens", "", "comma-separated admin tokens")
	s.Int(&o.rateLimit, "rate-limit", 0, "requests per second per token unless the token sets its own; 0 for no limit")
	s.Int(&o.maxBodyBytes, "max-body-bytes", 10<<20, "largest request body, decompressed")
	s.Int(&o.maxItems, "max-items", 10000, "most reports in one request")
	s.Int(&o.spoolMaxBytes, "spool-max-bytes", 1<<30, "the spool's limit in bytes; when full, ingest answers 503")
	s.Int(&o.batchSize, "batch-size", 5000, "reports waiting that trigger an insert into ClickHouse")
	s.Int(&o.batchMaxSize, "batch-max-size", 0, "most reports in one insert, taken when ClickHouse is behind; 0 means 4 × --batch-size")
	s.Duration(&o.batchMaxAge, "batch-max-age", time.Second, "longest a report waits for a fuller batch")
	s.Duration(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "time to drain requests and flush the batcher on SIGTERM")
	s.Int(&o.maxInFlight, "max-inflight", 128, "ingest requests served at once; beyond it, after --queue-wait, ingest answers 503 with Retry-After")
	s.Duration(&o.queueWait, "queue-wait", 100*time.Millisecond, "how long an ingest request may wait for room under --max-inflight")
	s.Int(&o.dedupWindow, "dedup-window", 1_000_000, "recent event ids remembered to answer retries as duplicates")
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := newSettings("serve", "", stderr)
	var o serveOptions
	o.register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	log, err := o.logs.logger(stderr)
	if err != nil {
		return err
	}
	types, err := synclog.NewSyncTypes(o.syncTypes)
	if err != nil {
		return usageError{fmt.Errorf("--sync-types: %w", err)}
	}
	tokens, err := o.auth()
	if err != nil {
		return usageError{err}
	}
	listen, err := listenAddress(o.listen, tokens.Enabled())
	if err != nil {
		return usageError{err}
	}
	defer o.pprof.start(log)()
	if !tokens.Enabled() {
		log.WithField("listen", listen).Warn("no tokens configured: the API is open to anyone who can reach it, so syncwatch listens on loopback only")
	}

	// Start-up, in order; shutdown runs in reverse.
	store, err := clickhouse.Open(ctx, o.storage.config(), log)
	if err != nil {
		return err
	}
	defer closeLogged(log, "clickhouse", store.Close)
	if o.migrate {
		if err := store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	inProgress, err := store.LoadAnchors(ctx)
	if err != nil {
		return err
	}
	spool, err := collector.OpenSpool(filepath.Join(o.storage.dataDir, "spool"), int64(o.spoolMaxBytes), log.WithField("component", "spool"))
	if err != nil {
		return err
	}
	defer closeLogged(log, "spool", spool.Close)
	quarantine, err := collector.OpenQuarantine(filepath.Join(o.storage.dataDir, "quarantine"))
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
	var exp *exporter.Collector
	if o.exporter {
		if exp, err = o.metrics.newExporter(reg, types, limiter, store, log); err != nil {
			return err
		}
	}

	// The console rates each sync type's last success against the
	// intervals the exporter alerts on.
	expected, err := o.metrics.config(types, limiter, log)
	if err != nil {
		return err
	}
	batcher := collector.NewBatcher(spool, quarantine, store, collector.BatcherConfig{Size: o.batchSize, MaxSize: o.batchMaxSize, MaxAge: o.batchMaxAge}, log.WithField("component", "batcher"), metrics)
	srv, err := app.New(app.Config{
		Ingest: collector.Config{
			SyncTypes: types, MaxBodyBytes: int64(o.maxBodyBytes), MaxItems: o.maxItems, DedupWindow: o.dedupWindow,
			MaxInFlight: o.maxInFlight, QueueWait: o.queueWait, Retention: store.Retention(),
			OnAccepted: ingest.Observe,
		},
		Console: &ui.Config{ExpectedIntervals: expected.ExpectedIntervals, Lookback: expected.Lookback},
	}, app.Deps{
		Log: log, Registerer: reg, Gatherer: reg, Auth: tokens, Spool: spool, Batcher: batcher, Quarantine: quarantine,
		Storage: store, Metrics: metrics, Query: store, States: store,
	})
	if err != nil {
		return err
	}
	recent, err := store.RecentEventIDs(ctx, time.Now().Add(-24*time.Hour), o.dedupWindow/2)
	if err != nil {
		return err
	}
	srv.Ingest.RememberEvents(recent)

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
	httpSrv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          nil,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.WithFields(logrus.Fields{
		"listen": ln.Addr().String(), "engine": store.Engine(), "runs_in_progress": inProgress,
		"version": version, "auth": tokens.Enabled(),
	}).Info("syncwatch is serving")

	select {
	case <-ctx.Done():
		log.Info("shutting down: no new requests; flushing the batcher")
	case err := <-serveErr:
		log.WithError(err).Error("http server stopped")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
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

func (o *serveOptions) auth() (*auth.Auth, error) {
	var tokens []auth.Token
	if o.tokensFile != "" {
		t, err := auth.LoadTokens(o.tokensFile)
		if err != nil {
			return nil, err
		}
		tokens = t
	}
	tokens = append(tokens, auth.TokensFromEnv(o.ingestTokens, o.queryTokens, o.adminTokens)...)
	return auth.NewAuth(tokens, float64(o.rateLimit))
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
