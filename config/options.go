package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/synclog"
)

// Storage are the settings of every command that reaches ClickHouse.
type Storage struct {
	// DSN names a ClickHouse server; empty for the embedded engine.
	DSN string
	// DataDir holds the spool and the embedded database.
	DataDir string
	// Libchdb is the path of libchdb.so; empty for the scripts' cache.
	Libchdb string
	// Database is the database of the embedded engine.
	Database string
	// Retention is how long runs are kept.
	Retention time.Duration

	// Cluster names the ClickHouse cluster the schema is spread over;
	// empty for a single node (see cluster.go).
	Cluster string
	// AsyncInsert makes inserts on a server asynchronous, waiting for the
	// flush.
	AsyncInsert bool
	// NoServer says that the command reaches no database (migrate
	// --print-ddl), so that a cluster needs no DSN.
	NoServer bool
}

// Register binds the storage settings to s.
func (o *Storage) Register(s *Set) {
	s.String(&o.DSN, "clickhouse-dsn", "", "ClickHouse server DSN, clickhouse://user:pass@host:9000/db?compress=lz4; empty for the embedded engine")
	s.String(&o.DataDir, "data-dir", "./data", "directory of the spool and the embedded database")
	s.String(&o.Libchdb, "libchdb", "", "path of libchdb.so for the embedded engine (default: the cache scripts/fetch-libchdb.sh fills)")
	s.String(&o.Database, "database", "syncwatch", "database of the embedded engine")
	s.Duration(&o.Retention, "retention", 90*24*time.Hour, "how long runs are kept, e.g. 90d")
	o.registerCluster(s)
	s.Check(func() error { return nonEmpty(s, "data-dir", o.DataDir) })
	s.Check(func() error { return nonEmpty(s, "database", o.Database) })
	s.Check(func() error {
		// The tables' TTL counts whole days.
		if o.Retention < 24*time.Hour || o.Retention%(24*time.Hour) != 0 {
			return s.Invalid("retention", "%s: want a whole number of days, at least one, e.g. 90d", o.Retention)
		}
		return nil
	})
}

// Target names the database the settings reach, for messages before a
// destructive change: the server's DSN without its password, or the
// embedded database in its data directory.
func (o *Storage) Target() string {
	if o.DSN != "" {
		return "ClickHouse server " + redactDSN(o.DSN)
	}
	dir := o.DataDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return fmt.Sprintf("embedded database %q in %s", o.Database, dir)
}

// Log are the settings of the logger.
type Log struct {
	// Format is json, text, or auto (text on a terminal, else JSON).
	Format string
	// Level is a logrus level name.
	Level string
}

// Register binds the log settings to s.
func (o *Log) Register(s *Set) {
	s.String(&o.Format, "log-format", "auto", "log format: json, text, or auto (text on a terminal, else JSON)")
	s.String(&o.Level, "log-level", "info", "log level: debug, info, warn, error")
	s.Check(func() error {
		switch o.Format {
		case "json", "text", "auto":
			return nil
		}
		return s.Invalid("log-format", "%q: want json, text or auto", o.Format)
	})
	s.Check(func() error {
		if _, err := logrus.ParseLevel(o.Level); err != nil {
			return s.Invalid("log-level", "%q: want debug, info, warn or error", o.Level)
		}
		return nil
	})
}

// Serve are the settings of `syncwatch serve` apart from storage, logs,
// metrics and profiling.
type Serve struct {
	// Exporter publishes the ClickHouse-backed metrics in this process.
	Exporter bool
	// Listen is the address the service listens on.
	Listen string
	// PublicMonitor serves the read-only monitor URLs without a token.
	PublicMonitor bool
	// Migrate applies schema migrations at start-up.
	Migrate bool
	// SyncTypes are the sync types reports may name.
	SyncTypes []string
	// TokensFile is a YAML file of bearer tokens.
	TokensFile string
	// IngestTokens, QueryTokens and AdminTokens are comma-separated tokens.
	IngestTokens, QueryTokens, AdminTokens string
	// RateLimit is requests per second per token; 0 for no limit.
	RateLimit int
	// MaxBodyBytes is the largest request body, decompressed.
	MaxBodyBytes int
	// MaxItems is the most reports in one request.
	MaxItems int
	// SpoolMaxBytes is the spool's limit.
	SpoolMaxBytes int
	// BatchSize is the number of waiting reports that triggers an insert.
	BatchSize int
	// BatchMaxSize is the most reports in one insert; 0 for 4 × BatchSize.
	BatchMaxSize int
	// BatchMaxAge is the longest a report waits for a fuller batch.
	BatchMaxAge time.Duration
	// ShutdownTimeout bounds draining and flushing on SIGTERM.
	ShutdownTimeout time.Duration
	// DedupWindow is how many recent event ids are remembered.
	DedupWindow int
	// MaxInFlight is how many ingest requests are served at once.
	MaxInFlight int
	// QueueWait is how long an ingest request may wait for room.
	QueueWait time.Duration
	// MaxInFlightPerClient is how many of those one token (or, without
	// tokens, one client address) may hold; 0 for half of MaxInFlight.
	MaxInFlightPerClient int
	// BodyTimeout bounds the time an ingest request takes to deliver its
	// body.
	BodyTimeout time.Duration
	// TrustedProxies are the addresses or CIDR networks of the proxies
	// whose X-Forwarded-For names the client; none by default.
	TrustedProxies []string
	// SecureCookies marks the console's cookies Secure for TLS that ends
	// at a proxy in front.
	SecureCookies bool
	// SessionSecretFile holds the secrets that sign console sessions, one
	// a line, the first signing: replicas that share it accept each
	// other's sessions. Empty: a random key of the process.
	SessionSecretFile string
}

// Register binds the settings of serve to s.
func (o *Serve) Register(s *Set) {
	s.Bool(&o.Exporter, "exporter", true, "publish the metrics computed from ClickHouse on /metrics; turn off on replicas when syncwatch export publishes them")
	s.String(&o.Listen, "listen", "127.0.0.1:8080", "address to listen on; without tokens only a loopback address is used")
	s.Bool(&o.Migrate, "migrate", true, "apply schema migrations at start-up")
	s.Bool(&o.PublicMonitor, "public-monitor", false, "serve /api/monitor/dashboard/, /records/ and /statistics/ without a token, as the original module did (clear still needs an admin token)")
	s.List(&o.SyncTypes, "sync-types", synclog.DefaultSyncTypeNames(), "comma-separated sync types reports may name")
	s.String(&o.TokensFile, "tokens-file", "", "YAML file of bearer tokens (name, token or token_sha256, roles, sources, rate_limit)")
	s.String(&o.IngestTokens, "ingest-tokens", "", "comma-separated ingest tokens (prefer the environment to a flag)")
	s.String(&o.QueryTokens, "query-tokens", "", "comma-separated query tokens")
	s.String(&o.AdminTokens, "admin-tokens", "", "comma-separated admin tokens")
	s.Int(&o.RateLimit, "rate-limit", 0, "requests per second per token unless the token sets its own; 0 for no limit")
	s.Int(&o.MaxBodyBytes, "max-body-bytes", 10<<20, "largest request body, decompressed")
	s.Int(&o.MaxItems, "max-items", 10000, "most reports in one request")
	s.Int(&o.SpoolMaxBytes, "spool-max-bytes", 1<<30, "the spool's limit in bytes; when full, ingest answers 503")
	s.Int(&o.BatchSize, "batch-size", 5000, "reports waiting that trigger an insert into ClickHouse")
	s.Int(&o.BatchMaxSize, "batch-max-size", 0, "most reports in one insert, taken when ClickHouse is behind; 0 means 4 × --batch-size")
	s.Duration(&o.BatchMaxAge, "batch-max-age", time.Second, "longest a report waits for a fuller batch")
	s.Duration(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "time to drain requests and flush the batcher on SIGTERM")
	s.Int(&o.MaxInFlight, "max-inflight", 128, "ingest requests served at once; beyond it, after --queue-wait, ingest answers 503 with Retry-After")
	s.Duration(&o.QueueWait, "queue-wait", 100*time.Millisecond, "how long an ingest request may wait for room under --max-inflight")
	s.Int(&o.MaxInFlightPerClient, "max-inflight-per-client", 0, "ingest requests one token (without tokens, one client address) may have served at once; 0 means half of --max-inflight")
	s.Duration(&o.BodyTimeout, "body-timeout", 15*time.Second, "longest an ingest request may take to deliver its body; slower ones get 408")
	s.List(&o.TrustedProxies, "trusted-proxies", nil, "comma-separated addresses or CIDR networks of the proxies in front whose X-Forwarded-For names the client; none by default")
	s.Bool(&o.SecureCookies, "secure-cookies", false, "mark the console's cookies Secure although requests arrive without TLS: for TLS that ends at a proxy in front")
	s.Int(&o.DedupWindow, "dedup-window", 1_000_000, "recent event ids remembered to answer retries as duplicates")
	s.String(&o.SessionSecretFile, "session-secret-file", "", "file of the secrets that sign console sessions, one a line (at least 32 bytes), the first signing, all accepted: share it between replicas; empty for a random key of this process")

	s.Check(func() error { return nonEmpty(s, "listen", o.Listen) })
	s.Check(func() error { return SyncTypesRule(s, "sync-types", o.SyncTypes) })
	s.Check(func() error { return atLeast(s, "rate-limit", o.RateLimit, 0) })
	s.Check(func() error {
		var errs []error
		for _, c := range []struct {
			name string
			v    int
		}{{"max-body-bytes", o.MaxBodyBytes}, {"max-items", o.MaxItems}, {"spool-max-bytes", o.SpoolMaxBytes},
			{"batch-size", o.BatchSize}, {"max-inflight", o.MaxInFlight}, {"dedup-window", o.DedupWindow}} {
			errs = append(errs, atLeast(s, c.name, c.v, 1))
		}
		return errors.Join(errs...)
	})
	s.Check(func() error {
		if o.BatchMaxSize != 0 && o.BatchMaxSize < o.BatchSize {
			return s.Invalid("batch-max-size", "%d is less than batch-size %d: want 0 (4 × batch-size) or at least batch-size", o.BatchMaxSize, o.BatchSize)
		}
		return atLeast(s, "batch-max-size", o.BatchMaxSize, 0)
	})
	s.Check(func() error { return positive(s, "batch-max-age", o.BatchMaxAge) })
	s.Check(func() error { return positive(s, "shutdown-timeout", o.ShutdownTimeout) })
	s.Check(func() error { return positive(s, "queue-wait", o.QueueWait) })
	s.Check(func() error { return positive(s, "body-timeout", o.BodyTimeout) })
	s.Check(func() error {
		for _, p := range o.TrustedProxies {
			if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
				return s.Invalid("trusted-proxies", "%q: want an IP address or a CIDR network", p)
			}
		}
		return nil
	})
	s.Check(func() error {
		if o.MaxInFlightPerClient < 0 {
			return s.Invalid("max-inflight-per-client", "%d: want 0 (half of --max-inflight) or more", o.MaxInFlightPerClient)
		}
		return nil
	})
}

// SyncTypesRule checks the list of sync types of option name.
func SyncTypesRule(s *Set, name string, names []string) error {
	if _, err := synclog.NewSyncTypes(names); err != nil {
		return fmt.Errorf("%s: %w", s.Source(name), err)
	}
	return nil
}

func nonEmpty(s *Set, name, v string) error {
	if v == "" {
		return s.Invalid(name, "must not be empty")
	}
	return nil
}

func atLeast(s *Set, name string, v, lowest int) error {
	if v < lowest {
		return s.Invalid(name, "%d is less than %d", v, lowest)
	}
	return nil
}

func positive(s *Set, name string, d time.Duration) error {
	if d <= 0 {
		return s.Invalid(name, "%s: want a duration above 0", d)
	}
	return nil
}

// redactDSN returns dsn without its password.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
