package clickhouse

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable records the schema version, one row per change.
const migrationsTable = "schema_migrations"

// migrateDriver is a golang-migrate database driver on top of an engine, so
// that the same migrations run on a server and on the embedded engine.
type migrateDriver struct {
	eng     engine
	timeout time.Duration
	locked  atomic.Bool
}

var _ database.Driver = (*migrateDriver)(nil)

func (d *migrateDriver) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.timeout)
}

func (d *migrateDriver) ensureTable() error {
	ctx, cancel := d.ctx()
	defer cancel()
	return d.eng.exec(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
    version  Int64,
    dirty    UInt8,
    sequence UInt64
) ENGINE = MergeTree ORDER BY sequence`, nil)
}

// Open is not supported: the driver is always built from a live engine.
func (d *migrateDriver) Open(string) (database.Driver, error) {
	return nil, errors.New("clickhouse migrate driver: open by URL is not supported")
}

// Close does nothing: the engine belongs to the store.
func (d *migrateDriver) Close() error { return nil }

// Lock guards against concurrent migrations within this process. ClickHouse
// has no advisory locks; across processes, the embedded engine's data
// directory lock and a single migrating deployment step are the guard.
func (d *migrateDriver) Lock() error {
	if !d.locked.CompareAndSwap(false, true) {
		return database.ErrLocked
	}
	return nil
}

// Unlock releases Lock.
func (d *migrateDriver) Unlock() error {
	if !d.locked.CompareAndSwap(true, false) {
		return database.ErrNotLocked
	}
	return nil
}

// Run executes the statements of one migration file in order.
func (d *migrateDriver) Run(migration io.Reader) error {
	body, err := io.ReadAll(migration)
	if err != nil {
		return fmt.Errorf("read migration: %w", err)
	}
	for _, stmt := range splitStatements(string(body)) {
		ctx, cancel := d.ctx()
		err := d.eng.exec(ctx, stmt, nil)
		cancel()
		if err != nil {
			return database.Error{OrigErr: err, Err: "migration statement failed", Query: []byte(stmt)}
		}
	}
	return nil
}

// SetVersion records version and whether the schema is dirty.
func (d *migrateDriver) SetVersion(version int, dirty bool) error {
	ctx, cancel := d.ctx()
	defer cancel()
	return d.eng.exec(ctx, `INSERT INTO `+migrationsTable+` (version, dirty, sequence)
SELECT {version:Int64}, {dirty:UInt8}, {sequence:UInt64}`, Params{
		"version":  int64(version),
		"dirty":    dirty,
		"sequence": uint64(time.Now().UnixNano()),
	})
}

// Version returns the latest recorded version, or database.NilVersion.
func (d *migrateDriver) Version() (int, bool, error) {
	ctx, cancel := d.ctx()
	defer cancel()
	out, err := d.eng.selectRows(ctx, `SELECT version, dirty FROM `+migrationsTable+` ORDER BY sequence DESC LIMIT 1`, nil)
	if err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return database.NilVersion, false, nil
	}
	var row struct {
		Version int   `json:"version"`
		Dirty   uint8 `json:"dirty"`
	}
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		return 0, false, fmt.Errorf("decode schema version: %w", err)
	}
	return row.Version, row.Dirty == 1, nil
}

// Drop removes every table and view of the database.
func (d *migrateDriver) Drop() error {
	ctx, cancel := d.ctx()
	defer cancel()
	out, err := d.eng.selectRows(ctx, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY engine = 'MaterializedView' DESC`, nil)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, line := range splitLines(out) {
		var t struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(line, &t); err != nil {
			return fmt.Errorf("decode table name: %w", err)
		}
		if err := d.eng.exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(t.Name)+" SYNC", nil); err != nil {
			return fmt.Errorf("drop %s: %w", t.Name, err)
		}
	}
	return nil
}

// splitStatements splits SQL text into statements at semicolons outside
// quotes and comments, dropping empty ones.
func splitStatements(sql string) []string {
	var stmts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(sql) {
				i++
				cur.WriteByte(sql[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
			cur.WriteByte(c)
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == ';':
			if s := strings.TrimSpace(cur.String()); s != "" {
				stmts = append(stmts, s)
			}
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

// Migrator applies the embedded schema migrations.
type Migrator struct {
	m *migrate.Migrate
}

// newMigrator builds a golang-migrate instance over eng.
func newMigrator(eng engine, timeout time.Duration) (*Migrator, error) {
	drv := &migrateDriver{eng: eng, timeout: timeout}
	if err := drv.ensureTable(); err != nil {
		return nil, fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "clickhouse", drv)
	if err != nil {
		return nil, fmt.Errorf("start migrations: %w", err)
	}
	return &Migrator{m: m}, nil
}

// Up applies every pending migration. It is a no-op when the schema is
// current.
func (mg *Migrator) Up() error { return mg.wrap(mg.m.Up()) }

// Down reverts every migration, dropping the schema's tables.
func (mg *Migrator) Down() error { return mg.wrap(mg.m.Down()) }

// Steps applies n migrations forward (n > 0) or back (n < 0).
func (mg *Migrator) Steps(n int) error { return mg.wrap(mg.m.Steps(n)) }

// Force records version as current and clean without running anything; it
// is how an operator clears a dirty state after repairing the schema.
func (mg *Migrator) Force(version int) error { return mg.wrap(mg.m.Force(version)) }

// Close releases the migrator's connection, if it has one of its own.
func (mg *Migrator) Close() error {
	srcErr, dbErr := mg.m.Close()
	if err := errors.Join(srcErr, dbErr); err != nil {
		return fmt.Errorf("close migrator: %w", err)
	}
	return nil
}

// Version returns the current schema version and whether it is dirty; the
// version is 0 on an empty database.
func (mg *Migrator) Version() (uint, bool, error) {
	v, dirty, err := mg.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("schema version: %w", err)
	}
	return v, dirty, nil
}

// ErrDirty is returned when an earlier migration failed halfway.
var ErrDirty = errors.New("schema is dirty")

func (mg *Migrator) wrap(err error) error {
	var dirty migrate.ErrDirty
	switch {
	case err == nil, errors.Is(err, migrate.ErrNoChange):
		return nil
	case errors.As(err, &dirty):
		return fmt.Errorf("%w: migration %d failed halfway. Repair the schema by hand (see the failed statement in the log), then run `syncwatch migrate force %d` with the last version that is fully applied, and `syncwatch migrate up`", ErrDirty, dirty.Version, dirty.Version-1)
	}
	return fmt.Errorf("migrate: %w", err)
}

func firstLine(b []byte) []byte {
	if ls := splitLines(b); len(ls) > 0 {
		return ls[0]
	}
	return nil
}

// splitLines splits JSONEachRow output into its non-empty lines.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if line := b[:i]; len(strings.TrimSpace(string(line))) > 0 {
			out = append(out, line)
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
