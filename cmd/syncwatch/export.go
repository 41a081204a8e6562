package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/chsource"
	"github.com/syncwatch/syncwatch/exporter/diagsource"
	"github.com/syncwatch/syncwatch/synclog"
)

// newRegistry returns the registry every command that serves /metrics
// starts from: the Go and process collectors and syncwatch_build_info.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncwatch_build_info",
		Help: "Always 1; the labels say which build of syncwatch runs.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(buildInfo)
	return reg
}

// exporterOptions are the settings of the metrics that serve and export
// share.
type exporterOptions struct {
	maxSources        int
	expectedIntervals []string
	maxRuntimes       []string
	windows           []string
	cacheTTL          time.Duration
	lookback          time.Duration
	maxStaleness      time.Duration
	diagInterval      time.Duration
}

func (o *exporterOptions) register(s *config.Set) {
	s.Int(&o.maxSources, "max-sources", exporter.DefaultMaxSources, "sources that keep their own label in metrics; later ones are counted as source=\"_other\"")
	s.List(&o.expectedIntervals, "expected-intervals", nil, "how often each sync type should succeed, e.g. products=6h,prices=1h; 0 for none (defaults: "+config.CatalogueDefaults(config.ExpectedInterval)+")")
	s.List(&o.maxRuntimes, "max-runtimes", nil, "how long a run of each sync type may take, e.g. products=2h,order=5m (defaults: "+config.CatalogueDefaults(config.MaxRuntime)+")")
	s.List(&o.windows, "exporter-windows", []string{"1h", "24h"}, "windows of the syncwatch_window_* metrics")
	s.Duration(&o.cacheTTL, "exporter-cache-ttl", exporter.DefaultCacheTTL, "how long metrics computed from ClickHouse are served before scrapes query it again")
	s.Duration(&o.lookback, "exporter-lookback", exporter.DefaultLookback, "runs read for runs in progress and consecutive failures")
	s.Duration(&o.maxStaleness, "exporter-max-staleness", exporter.DefaultMaxStaleness, "while ClickHouse fails, how long cached metrics are still served")
	s.Duration(&o.diagInterval, "exporter-diagnostics-interval", exporter.DefaultDiagnosticsInterval, "how often the syncwatch_anomaly_* and syncwatch_forecast_* metrics are recomputed")
}

// config returns the exporter's configuration for the sync types.
func (o *exporterOptions) config(types synclog.SyncTypes, limiter *exporter.SourceLimiter, log logrus.FieldLogger) (exporter.Config, error) {
	names := types.Names()
	expected, err := exporter.ParseDurations(o.expectedIntervals, names)
	if err != nil {
		return exporter.Config{}, usageError{fmt.Errorf("--expected-intervals: %w", err)}
	}
	runtimes, err := exporter.ParseDurations(o.maxRuntimes, names)
	if err != nil {
		return exporter.Config{}, usageError{fmt.Errorf("--max-runtimes: %w", err)}
	}
	if o.maxSources < 1 {
		return exporter.Config{}, usageError{fmt.Errorf("--max-sources %d: must be at least 1", o.maxSources)}
	}
	var windows []time.Duration
	for _, w := range o.windows {
		d, err := config.ParseDuration(w)
		if err != nil {
			return exporter.Config{}, usageError{fmt.Errorf("--exporter-windows: %w", err)}
		}
		windows = append(windows, d)
	}
	return exporter.Config{
		SyncTypes:           names,
		Windows:             windows,
		CacheTTL:            o.cacheTTL,
		Lookback:            o.lookback,
		MaxStaleness:        o.maxStaleness,
		DiagnosticsInterval: o.diagInterval,
		ExpectedIntervals:   exporter.MergeDurations(synclog.DefaultExpectedIntervals(), expected, names),
		MaxRuntimes:         exporter.MergeDurations(synclog.DefaultMaxRuntimes(), runtimes, names),
		Limiter:             limiter,
		Log:                 log.WithField("component", "exporter"),
	}, nil
}

// check is the rule serve and export add for the metrics settings, so that
// a bad --expected-intervals, --max-runtimes, --max-sources or
// --exporter-windows stops start-up before storage is opened. Bad sync
// types are left to their own rule.
func (o *exporterOptions) check(syncTypes []string) error {
	types, err := synclog.NewSyncTypes(syncTypes)
	if err != nil {
		return nil
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	_, err = o.config(types, nil, quiet)
	return err
}

// newExporter builds the ClickHouse-backed collector over store, with the
// diagnostics of diag, and registers it with reg; serve and export
// register it nowhere and serve it beside their registry with its
// Handler, which encodes the cached families once per refresh.
func (o *exporterOptions) newExporter(reg prometheus.Registerer, types synclog.SyncTypes, limiter *exporter.SourceLimiter, store *clickhouse.Store, diag *diagnose.Service, log logrus.FieldLogger) (*exporter.Collector, error) {
	cfg, err := o.config(types, limiter, log)
	if err != nil {
		return nil, err
	}
	cfg.Diagnostics = diagsource.New(diag)
	c, err := exporter.New(chsource.New(store), cfg, reg)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// exportOptions are the settings of `syncwatch export`.
type exportOptions struct {
	storage   config.Storage
	logs      config.Log
	metrics   exporterOptions
	listen    string
	migrate   bool
	syncTypes []string
	diagnose  config.Diagnose
}

func (o *exportOptions) register(s *config.Set) {
	o.storage.Register(s)
	o.logs.Register(s)
	o.metrics.register(s)
	s.String(&o.listen, "listen", "127.0.0.1:9464", "address to serve /metrics on")
	s.Bool(&o.migrate, "migrate", false, "apply schema migrations at start-up (serve usually does)")
	s.List(&o.syncTypes, "sync-types", synclog.DefaultSyncTypeNames(), "comma-separated sync types to publish")
	o.diagnose.Register(s)
	s.Check(func() error { return config.SyncTypesRule(s, "sync-types", o.syncTypes) })
	s.Check(func() error { return o.metrics.check(o.syncTypes) })
}

const exportUsage = `usage: syncwatch export [flags]

Serves the metrics computed from ClickHouse (success ratios, durations,
error frequencies, last success, runs in progress) on /metrics, apart from
the collectors: run one beside several 'syncwatch serve --exporter=false'
replicas so that every series is published once.
`

// runExport serves the ClickHouse-backed metrics alone.
func runExport(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := config.New("export", exportUsage, stderr)
	var o exportOptions
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
	types, err := synclog.NewSyncTypes(o.syncTypes)
	if err != nil {
		return usageError{fmt.Errorf("--sync-types: %w", err)}
	}
	store, err := clickhouse.Open(ctx, storageConfig(o.storage), log)
	if err != nil {
		return err
	}
	defer closeLogged(log, "clickhouse", store.Close)
	if o.migrate {
		if err := store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	expected, err := o.metrics.config(types, nil, log)
	if err != nil {
		return err
	}
	diagCfg, err := diagnoseConfig(o.diagnose, types, expected.MaxRuntimes)
	if err != nil {
		return err
	}
	diag, err := diagnose.New(store, diagCfg)
	if err != nil {
		return err
	}
	reg := newRegistry()
	c, err := o.metrics.newExporter(nil, types, exporter.NewSourceLimiter(o.metrics.maxSources), store, diag, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	httpSrv := &http.Server{
		Handler:           exportHandler(reg, c, store),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.WithFields(logrus.Fields{"listen": ln.Addr().String(), "engine": store.Engine(), "version": version}).Info("syncwatch export is serving /metrics")
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.WithError(err).Warn("http shutdown")
	}
	log.Info("stopped")
	return nil
}

// exportHandler serves the export command's routes: /metrics, waiting for
// fresh ClickHouse-backed values within the scrape timeout; /healthz; and
// /readyz, which pings ClickHouse.
func exportHandler(reg *prometheus.Registry, c *exporter.Collector, store *clickhouse.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.WrapHandler(c.Handler(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}), ""))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if _, err := store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "failing", "error": err.Error()})
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	return mux
}
