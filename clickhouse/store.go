package clickhouse

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/internal/jsonenc"
	"github.com/syncwatch/syncwatch/synclog"
)

// Config says how to reach ClickHouse.
type Config struct {
	// DSN names a ClickHouse server
	// (clickhouse://user:pass@host:9000/db?compress=lz4&secure=true&dial_timeout=5s).
	// When empty, the embedded engine is used.
	DSN string
	// DataDir holds the embedded engine's data (under DataDir/clickhouse).
	DataDir string
	// LibchdbPath is the path of libchdb.so; DefaultLibchdbPath when empty.
	LibchdbPath string
	// Database is the embedded engine's database; "syncwatch" when empty.
	// A server's database comes from the DSN.
	Database string
	// Retention is how long runs and reports are kept; 90 days when zero.
	Retention time.Duration
	// RetentionByArchive hands retention to the archiver: the tables get
	// no TTL, so that ClickHouse never drops a month the archiver has not
	// archived, and the archiver drops each month once its archive is
	// verified (see package archive).
	RetentionByArchive bool
	// PoolSize is the number of embedded connections; 4 when zero.
	PoolSize int
	// QueryTimeout bounds schema statements; 2 minutes when zero.
	QueryTimeout time.Duration
	// Cluster names the ClickHouse cluster (of the server's remote_servers)
	// the schema is spread over; empty for a single node. It needs a DSN.
	// See cluster.go for the schema it builds.
	Cluster string
	// AsyncInsert makes inserts on a server asynchronous, waiting for the
	// flush (async_insert = 1, wait_for_async_insert = 1); it needs a DSN.
	// See insertSettings.
	AsyncInsert bool
}

func (c *Config) defaults() {
	if c.Database == "" {
		c.Database = "syncwatch"
	}
	if c.Retention == 0 {
		c.Retention = 90 * 24 * time.Hour
	}
	if c.PoolSize == 0 {
		c.PoolSize = 4
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 2 * time.Minute
	}
	if c.LibchdbPath == "" {
		c.LibchdbPath = DefaultLibchdbPath()
	}
}

// Store is syncwatch's storage API over ClickHouse.
type Store struct {
	eng engine
	cfg Config
	log logrus.FieldLogger
	// window keeps the diagnostics' answers of whole past days
	// (window_days.go); nil keeps none.
	window *windowCache
}

// Open connects to the server named by cfg.DSN, or starts the embedded
// engine when the DSN is empty. It does not migrate the schema.
func Open(ctx context.Context, cfg Config, log logrus.FieldLogger) (*Store, error) {
	cfg.defaults()
	var (
		eng engine
		err error
	)
	if cfg.DSN == "" && (cfg.Cluster != "" || cfg.AsyncInsert) {
		return nil, errors.New("cluster mode and asynchronous inserts need a ClickHouse server (a DSN), not the embedded engine")
	}
	if cfg.Cluster != "" && !ValidClusterName(cfg.Cluster) {
		return nil, fmt.Errorf("cluster name %q: use letters, digits and '_'", cfg.Cluster)
	}
	if cfg.DSN != "" {
		o := nativeOptions{asyncInsert: cfg.AsyncInsert}
		if cfg.Cluster != "" {
			o.settings = clusterSettings
		}
		eng, err = openNativeWith(ctx, cfg.DSN, o)
	} else {
		if cfg.DataDir == "" {
			return nil, errors.New("embedded clickhouse needs a data directory")
		}
		if !validDatabaseName(cfg.Database) {
			return nil, fmt.Errorf("database name %q: use letters, digits and '_'", cfg.Database)
		}
		eng, err = openEmbedded(cfg.LibchdbPath, embeddedPath(cfg.DataDir), cfg.Database, cfg.PoolSize)
	}
	if err != nil {
		return nil, err
	}
	window, err := newWindowCache(windowCacheEntries)
	if err != nil {
		return nil, errors.Join(err, eng.close())
	}
	return &Store{eng: eng, cfg: cfg, log: log, window: window}, nil
}

// embeddedPath is where the embedded engine keeps its data in dataDir.
func embeddedPath(dataDir string) string { return dataDir + "/clickhouse" }

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func validDatabaseName(s string) bool { return databaseName.MatchString(s) }

// Close closes the connection to ClickHouse.
func (s *Store) Close() error { return s.eng.close() }

// Engine names the way ClickHouse is reached: "server" or "embedded".
func (s *Store) Engine() string { return s.eng.kind() }

// Migrator returns the schema migrator for this store's database: in
// cluster mode golang-migrate's ClickHouse driver on a connection of its
// own, which the migrator's Close closes.
func (s *Store) Migrator() (*Migrator, error) {
	if s.cfg.Cluster != "" {
		return newClusterMigrator(s.cfg.DSN, s.cfg.Cluster)
	}
	return newMigrator(s.eng, s.cfg.QueryTimeout)
}

// Migrate applies pending migrations and then the configured retention.
func (s *Store) Migrate(ctx context.Context) error {
	m, err := s.Migrator()
	if err != nil {
		return err
	}
	err = m.Up()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.ApplyRetention(ctx)
}

// ApplyRetention sets the TTL of the tables to the configured retention
// when it differs, so that a changed setting applies to existing data.
// With RetentionByArchive it removes the TTL instead.
func (s *Store) ApplyRetention(ctx context.Context) error {
	days := int(s.cfg.Retention / (24 * time.Hour))
	if days < 1 {
		return fmt.Errorf("retention %s: must be at least one day", s.cfg.Retention)
	}
	for table, column := range map[string]string{"reports": "received_at", "runs": "started_at", "report_keys": "received_at"} {
		// report_keys (which reports are stored) keeps its TTL under the
		// archive: the archive drops months of reports and runs only, and
		// ingest refuses reports older than the retention anyway.
		byArchive := s.cfg.RetentionByArchive && table != "report_keys"
		table := s.clusterTable(table)
		out, err := s.eng.selectRows(ctx, `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}`, Params{"table": table})
		if err != nil {
			return fmt.Errorf("read ttl of %s: %w", table, err)
		}
		var row struct {
			EngineFull string `json:"engine_full"`
		}
		if err := json.Unmarshal(firstLine(out), &row); err != nil {
			return fmt.Errorf("table %s is missing; run migrations first: %w", table, err)
		}
		if byArchive {
			if !strings.Contains(row.EngineFull, " TTL ") {
				continue
			}
			if err := s.eng.exec(ctx, "ALTER TABLE "+table+s.onCluster()+" REMOVE TTL", nil); err != nil {
				return fmt.Errorf("hand the retention of %s to the archiver: %w", table, err)
			}
			s.log.WithField("table", table).Info("ttl removed: the archiver drops months once archived")
			continue
		}
		if strings.Contains(row.EngineFull, fmt.Sprintf("toIntervalDay(%d)", days)) {
			continue
		}
		// days is an integer from configuration, not user input.
		if err := s.eng.exec(ctx, s.retentionDDL(table, column, days), nil); err != nil {
			return fmt.Errorf("set retention of %s: %w", table, err)
		}
		s.log.WithFields(logrus.Fields{"table": table, "days": days}).Info("retention changed")
	}
	return nil
}

// retentionDDL is the statement that keeps table's rows for days after
// column; table is the table that holds the data (clusterTable's).
func (s *Store) retentionDDL(table, column string, days int) string {
	return fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL toDateTime(%s) + INTERVAL %d DAY", table, s.onCluster(), column, days)
}

// Retention returns the configured retention.
func (s *Store) Retention() time.Duration { return s.cfg.Retention }

// PingResult describes a successful ping.
type PingResult struct {
	Version string
	Latency time.Duration
}

// Ping checks that ClickHouse answers and returns its version.
func (s *Store) Ping(ctx context.Context) (PingResult, error) {
	start := time.Now()
	out, err := s.eng.selectRows(ctx, `SELECT version() AS version`, nil)
	if err != nil {
		return PingResult{}, fmt.Errorf("ping clickhouse: %w", err)
	}
	var row struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		return PingResult{}, fmt.Errorf("decode version: %w", err)
	}
	return PingResult{Version: row.Version, Latency: time.Since(start)}, nil
}

// reportColumnList names the columns of reports in the order of
// reportRow.values.
const reportColumnList = "event_id, run_id, source, sync_type, status, message, fingerprint, total_count, success_count, failed_count, started_at, completed_at, received_at, run_started_at, version, attributes"

// reportRow is one row of the reports table.
type reportRow struct {
	EventID      string            `json:"event_id"`
	RunID        string            `json:"run_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	Fingerprint  uint64            `json:"fingerprint"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    chTime            `json:"started_at"`
	CompletedAt  *chTime           `json:"completed_at"`
	ReceivedAt   chTime            `json:"received_at"`
	RunStartedAt chTime            `json:"run_started_at"`
	Version      uint64            `json:"version"`
	Attributes   map[string]string `json:"attributes"`
}

func (r *reportRow) values() []any {
	var completed *time.Time
	if r.CompletedAt != nil {
		t := time.Time(*r.CompletedAt)
		completed = &t
	}
	attrs := r.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return []any{
		r.EventID, r.RunID, r.Source, r.SyncType, r.Status, r.Message, r.Fingerprint,
		r.TotalCount, r.SuccessCount, r.FailedCount,
		time.Time(r.StartedAt), completed, time.Time(r.ReceivedAt), time.Time(r.RunStartedAt),
		r.Version, attrs,
	}
}

// appendJSON appends the row as a JSONEachRow line of the reports table,
// without the newline: what encoding/json makes of its fields, without
// reflection, at about a fifth of the cost. The embedded engine inserts
// reports in this form, by the thousand. (A MarshalJSON method would not
// do: encoding/json validates and compacts its result, which costs more
// than the reflection it saves.) Kept because a library does not match it:
// 0.54 ms per 1,000 rows without allocating, against 1.65 ms and 6,000
// allocations for goccy/go-json, on a path that spends 20-70 µs per row.
func (r *reportRow) appendJSON(b []byte) []byte {
	b = append(b, `{"event_id":`...)
	b = jsonenc.AppendString(b, r.EventID)
	b = append(b, `,"run_id":`...)
	b = jsonenc.AppendString(b, r.RunID)
	b = append(b, `,"source":`...)
	b = jsonenc.AppendString(b, r.Source)
	b = append(b, `,"sync_type":`...)
	b = jsonenc.AppendString(b, r.SyncType)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, r.Status)
	b = append(b, `,"message":`...)
	b = jsonenc.AppendString(b, r.Message)
	b = append(b, `,"fingerprint":`...)
	b = strconv.AppendUint(b, r.Fingerprint, 10)
	b = append(b, `,"total_count":`...)
	b = strconv.AppendUint(b, r.TotalCount, 10)
	b = append(b, `,"success_count":`...)
	b = strconv.AppendUint(b, r.SuccessCount, 10)
	b = append(b, `,"failed_count":`...)
	b = strconv.AppendUint(b, r.FailedCount, 10)
	b = append(b, `,"started_at":"`...)
	b = appendTime(b, time.Time(r.StartedAt))
	b = append(b, `","completed_at":`...)
	if r.CompletedAt != nil {
		b = append(b, '"')
		b = appendTime(b, time.Time(*r.CompletedAt))
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"received_at":"`...)
	b = appendTime(b, time.Time(r.ReceivedAt))
	b = append(b, `","run_started_at":"`...)
	b = appendTime(b, time.Time(r.RunStartedAt))
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, r.Version, 10)
	b = append(b, `,"attributes":{`...)
	first := true
	for k, v := range r.Attributes {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonenc.AppendString(b, k)
		b = append(b, ':')
		b = jsonenc.AppendString(b, v)
	}
	return append(b, '}', '}')
}

// chTime is a time that encodes as a DateTime64(3) JSON value with
// millisecond precision.
type chTime time.Time

// MarshalText renders the time as ClickHouse parses it, as formatTime
// does. encoding/json quotes text as it is, whereas it validates and
// compacts what a MarshalJSON returns: with four times in every report and
// reports inserted by the thousand, that pass dominated their encoding.
func (t chTime) MarshalText() ([]byte, error) {
	return appendTime(make([]byte, 0, len("2006-01-02 15:04:05.000")), time.Time(t)), nil
}

// appendTime appends t in UTC as "2006-01-02 15:04:05.000".
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return append(b, formatTime(t)...)
	}
	h, mi, sec := t.Clock()
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, int(mo), 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, ' ')
	b = appendDigits(b, h, 2)
	b = append(b, ':')
	b = appendDigits(b, mi, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	return appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
}

// appendDigits appends the n lowest decimal digits of v ≥ 0.
func appendDigits(b []byte, v, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// version orders the reports of a run: a terminal status outranks an
// in-progress one, and among equals the later arrival wins.
func version(r *synclog.Report) uint64 {
	ms := uint64(r.ReceivedAt.UnixMilli())
	return uint64(r.Status.Rank())<<48 | ms&(1<<48-1)
}

// InsertReports stores a batch of normalised, valid reports, whichever
// collector replica took them. Every report of a run is stored under the
// run's anchor, the earliest start its reports gave (the runs table's
// key), so lifecycle updates replace the run's row rather than add one; a
// report already stored (a retry that reached another replica) is not
// stored again; a report naming a run of another source is refused with
// a *RunConflictError. See replicas.go.
//
// The batch is inserted in chunks that each touch at most
// maxPartitionsPerInsert monthly partitions of every table, so that no
// batch, however its runs' starts are spread (a backfill of several years),
// meets ClickHouse's max_partitions_per_insert_block. Each chunk carries a
// deduplication token made of its rows: an insert repeated after a failure
// adds nothing to the tables it reached and fills the views it did not.
func (s *Store) InsertReports(ctx context.Context, reports []synclog.Report) error {
	if len(reports) == 0 {
		return nil
	}
	ids := make([]string, 0, len(reports))
	seen := make(map[string]bool, len(reports))
	for i := range reports {
		if id := reports[i].RunID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	stored, err := s.lookUpRuns(ctx, ids)
	if err != nil {
		return err
	}
	rows, conflicts := reconcile(reports, stored)
	if len(conflicts) > 0 {
		e := &RunConflictError{}
		for _, r := range conflicts {
			e.Reports = append(e.Reports, fmt.Sprintf("%s (run %s, source %s)", r.EventID, r.RunID, r.Source))
		}
		return e
	}
	for _, chunk := range splitByPartition(rows, maxPartitionsPerInsert) {
		if len(chunk) == 0 {
			continue
		}
		if err := s.eng.insertReports(ctx, chunk, dedupToken(chunk)); err != nil {
			return fmt.Errorf("insert %d reports: %w", len(chunk), err)
		}
	}
	return s.mendSplitRuns(ctx, ids)
}

// maxPartitionsPerInsert bounds the monthly partitions one insert writes
// to in each table, well below ClickHouse's max_partitions_per_insert_block
// (100 by default): each partition an insert touches costs a part.
const maxPartitionsPerInsert = 24

// monthOf returns the monthly partition of t, as toYYYYMM computes it.
func monthOf(t chTime) int {
	y, m, _ := time.Time(t).UTC().Date()
	return y*100 + int(m)
}

// splitByPartition cuts rows into chunks that each hold at most max months
// of run starts (the partitions of runs and run_activity) and of arrivals
// (the partitions of reports). Rows keep their order within a month. The
// common batch, all of one month, is returned as it is.
func splitByPartition(rows []reportRow, max int) [][]reportRow {
	starts, arrivals := map[int]bool{}, map[int]bool{}
	for i := range rows {
		starts[monthOf(rows[i].RunStartedAt)] = true
		arrivals[monthOf(rows[i].ReceivedAt)] = true
	}
	if len(starts) <= max && len(arrivals) <= max {
		return [][]reportRow{rows}
	}
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b reportRow) int {
		if c := cmp.Compare(monthOf(a.RunStartedAt), monthOf(b.RunStartedAt)); c != 0 {
			return c
		}
		return cmp.Compare(monthOf(a.ReceivedAt), monthOf(b.ReceivedAt))
	})
	var chunks [][]reportRow
	first := 0
	clear(starts)
	clear(arrivals)
	for i := range sorted {
		s, a := monthOf(sorted[i].RunStartedAt), monthOf(sorted[i].ReceivedAt)
		if (!starts[s] && len(starts) == max) || (!arrivals[a] && len(arrivals) == max) {
			chunks = append(chunks, sorted[first:i])
			first = i
			clear(starts)
			clear(arrivals)
		}
		starts[s], arrivals[a] = true, true
	}
	return append(chunks, sorted[first:])
}

// dedupToken names the content of an insert: the event ids, versions and
// anchors of its rows, which together identify every row's content. A
// repeated insert of the same rows gets the same token; a report sent
// again later has a new version, and a report moved to its run's earlier
// start (mendSplitRuns) a new anchor, so neither insert is mistaken for a
// repeat.
func dedupToken(rows []reportRow) string {
	h := sha256.New()
	var b [8]byte
	for i := range rows {
		h.Write([]byte(rows[i].EventID))
		binary.LittleEndian.PutUint64(b[:], rows[i].Version)
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(time.Time(rows[i].RunStartedAt).UnixMilli()))
		h.Write(b[:])
	}
	return "syncwatch-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// ServerVersion returns the version ClickHouse reports.
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	p, err := s.Ping(ctx)
	return p.Version, err
}

// RunsInProgress returns the start and source of every run still in
// progress, so that their later reports join them after a restart.
func (s *Store) RunsInProgress(ctx context.Context) ([]synclog.RunAnchor, error) {
	out, err := s.eng.selectRows(ctx, `SELECT run_id, source, started_at FROM runs FINAL
WHERE status IN ('pending', 'processing')
SETTINGS do_not_merge_across_partitions_select_final = 1`, nil)
	if err != nil {
		return nil, fmt.Errorf("load runs in progress: %w", err)
	}
	rows, err := decodeRows[struct {
		RunID     string    `json:"run_id"`
		Source    string    `json:"source"`
		StartedAt time.Time `json:"started_at"`
	}](out)
	if err != nil {
		return nil, fmt.Errorf("decode runs in progress: %w", err)
	}
	anchors := make([]synclog.RunAnchor, len(rows))
	for i, r := range rows {
		anchors[i] = synclog.RunAnchor{RunID: r.RunID, Source: r.Source, StartedAt: r.StartedAt}
	}
	return anchors, nil
}

// RecentEvents returns up to limit reports received since since, newest
// first, so that the collector can answer a retry of a report stored before
// a restart as a duplicate, with the run id it was stored with.
func (s *Store) RecentEvents(ctx context.Context, since time.Time, limit int) ([]synclog.EventRef, error) {
	out, err := s.eng.selectRows(ctx, `SELECT source, event_id, run_id FROM reports
WHERE received_at >= {since:DateTime64(3, 'UTC')}
ORDER BY received_at DESC LIMIT {limit:UInt32}`, Params{"since": since, "limit": limit})
	if err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	rows, err := decodeRows[struct {
		Source  string `json:"source"`
		EventID string `json:"event_id"`
		RunID   string `json:"run_id"`
	}](out)
	if err != nil {
		return nil, err
	}
	refs := make([]synclog.EventRef, len(rows))
	for i, r := range rows {
		refs[i] = synclog.EventRef{Source: r.Source, EventID: r.EventID, RunID: r.RunID}
	}
	return refs, nil
}
