package clickhouse

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	chmigrate "github.com/golang-migrate/migrate/v4/database/clickhouse"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// ClusterMigrationsEngine is the engine of the schema_migrations table in
// cluster mode: one table replicated to every node of the cluster, shards
// included (its Keeper path has no {shard}), so that whichever node a
// later `syncwatch migrate` reaches knows the schema's version. The
// replica names of the nodes' {replica} macros must therefore be unique
// across the cluster, not only within a shard. golang-migrate's
// ClickHouse driver adds ORDER BY only to an engine name ending in "Tree",
// so the clause is part of the engine here.
const ClusterMigrationsEngine = "ReplicatedMergeTree('/clickhouse/tables/{database}/" + migrationsTable + "', '{replica}') ORDER BY sequence"

// clusterSettings are the settings of every query of a store in cluster
// mode, on top of the DSN's:
//   - distributed_foreground_insert = 1: an insert into a Distributed table
//     returns once every shard has its rows, so that the spool forgets
//     reports only when they are stored, and reads right after see them;
//   - prefer_global_in_and_join = 1: an IN over a subquery or a temporary
//     table is evaluated once, on the node that runs the query, rather than
//     on each shard (where a subquery on a Distributed table is refused and
//     a temporary table does not exist);
//   - optimize_skip_unused_shards = 1: a query that names its run_id (one
//     run, its reports) asks only the shard cityHash64(run_id) chose.
var clusterSettings = ch.Settings{
	"distributed_foreground_insert": 1,
	"prefer_global_in_and_join":     1,
	"optimize_skip_unused_shards":   1,
}

// newClusterMigrator builds a golang-migrate instance for cluster mode on
// the server of dsn: golang-migrate's own ClickHouse driver (over
// clickhouse-go v2's database/sql interface), which creates
// schema_migrations ON CLUSTER with ClusterMigrationsEngine, and the
// embedded migrations rendered for the cluster.
func newClusterMigrator(dsn, cluster string) (*Migrator, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	r, err := newClusterRenderer(cluster, sub)
	if err != nil {
		return nil, err
	}
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	return newDriverMigrator(dsn, &chmigrate.Config{
		ClusterName:           cluster,
		MigrationsTable:       migrationsTable,
		MigrationsTableEngine: ClusterMigrationsEngine,
		MultiStatementEnabled: true,
	}, &clusterSource{Driver: src, r: r})
}

// newDriverMigrator runs the migrations of src with golang-migrate's
// ClickHouse driver, configured by cfg, on the server of dsn.
func newDriverMigrator(dsn string, cfg *chmigrate.Config, src source.Driver) (*Migrator, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	cfg.DatabaseName = opts.Auth.Database
	db := ch.OpenDB(opts)
	drv, err := chmigrate.WithInstance(db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("start migrations on %s: %w", redactDSN(dsn), err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "clickhouse", &versionWriter{Driver: drv, db: db, table: cfg.MigrationsTable})
	if err != nil {
		_ = drv.Close()
		return nil, fmt.Errorf("start migrations: %w", err)
	}
	return &Migrator{m: m}, nil
}

// versionWriter is golang-migrate's ClickHouse driver with SetVersion
// written as a prepared batch. The driver's own inserts the row with
// tx.Exec and bound arguments, which clickhouse-go v2's database/sql
// interface sends as a query with inline VALUES; Debian's server answers
// that with a broken connection (TestDriverMigratorOnServer), while the
// prepared form is the driver's batch insert, which every server takes.
type versionWriter struct {
	database.Driver
	db    *sql.DB
	table string
}

// SetVersion records version and whether the schema is dirty.
func (d *versionWriter) SetVersion(version int, dirty bool) error {
	tx, err := d.db.Begin()
	if err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	query := "INSERT INTO " + quoteIdent(d.table) + " (version, dirty, sequence)"
	st, err := tx.Prepare(query)
	if err != nil {
		_ = tx.Rollback()
		return &database.Error{OrigErr: err, Query: []byte(query)}
	}
	var flag uint8
	if dirty {
		flag = 1
	}
	if _, err := st.Exec(int64(version), flag, uint64(time.Now().UnixNano())); err != nil {
		_ = tx.Rollback()
		return &database.Error{OrigErr: err, Query: []byte(query)}
	}
	if err := tx.Commit(); err != nil {
		return &database.Error{OrigErr: err, Query: []byte(query)}
	}
	return nil
}

// clusterSource is the embedded migrations source with every migration
// rendered for the cluster.
type clusterSource struct {
	source.Driver
	r *clusterRenderer
}

// ReadUp returns the cluster form of the up migration of version.
func (s *clusterSource) ReadUp(version uint) (io.ReadCloser, string, error) {
	return s.rendered(s.Driver.ReadUp(version))
}

// ReadDown returns the cluster form of the down migration of version.
func (s *clusterSource) ReadDown(version uint) (io.ReadCloser, string, error) {
	return s.rendered(s.Driver.ReadDown(version))
}

func (s *clusterSource) rendered(rc io.ReadCloser, ident string, err error) (io.ReadCloser, string, error) {
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return nil, "", fmt.Errorf("read migration %s: %w", ident, err)
	}
	stmts, err := s.r.renderStatements(string(body))
	if err != nil {
		return nil, "", fmt.Errorf("migration %s: %w", ident, err)
	}
	// golang-migrate's driver splits a migration at every ';', even in a
	// string: a statement must hold none.
	for _, st := range stmts {
		if strings.Contains(st, ";") {
			return nil, "", fmt.Errorf("migration %s: a statement holds a ';', which the cluster driver would split: %.60q", ident, st)
		}
	}
	return io.NopCloser(bytes.NewReader([]byte(strings.Join(stmts, ";\n") + ";\n"))), ident, nil
}

// clusterTable is the table that holds table's data: its local table in
// cluster mode.
func (s *Store) clusterTable(table string) string {
	if s.cfg.Cluster == "" {
		return table
	}
	return table + localSuffix
}

// onCluster is the ON CLUSTER clause of DDL in cluster mode, or nothing.
func (s *Store) onCluster() string {
	if s.cfg.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + s.cfg.Cluster
}

// errClusterDelete is DeleteRuns' answer in cluster mode.
var errClusterDelete = errors.New("delete: clearing runs is not supported in cluster mode: delete on the local tables with ALTER TABLE … ON CLUSTER DELETE (see docs/scaling.md)")
