package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testStoreConfig returns the configuration of a store on a fresh database:
// of the embedded engine, or of the server named by
// SYNCWATCH_TEST_CLICKHOUSE_DSN (which then drops it when the test ends).
func testStoreConfig(t testing.TB) Config {
	t.Helper()
	cfg := Config{
		DataDir:  testDataDir,
		Database: fmt.Sprintf("t%d_%d", os.Getpid(), testDBSeq.Add(1)),
		PoolSize: 2,
	}
	if dsn := os.Getenv("SYNCWATCH_TEST_CLICKHOUSE_DSN"); dsn != "" {
		cfg.DSN = freshServerDatabase(t, dsn, cfg.Database)
	} else {
		cfg.LibchdbPath = libchdbPath(t)
	}
	return cfg
}

// openStoreWith opens a store with cfg, closed when the test ends. It does
// not migrate.
func openStoreWith(t testing.TB, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openTestStore opens a store on a fresh database like newTestStore, but
// does not migrate it. The database is dropped when the test ends.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	cfg := testStoreConfig(t)
	s := openStoreWith(t, cfg)
	if cfg.DSN == "" {
		// Registered after the store's close, so it runs before it.
		t.Cleanup(func() {
			_ = s.eng.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(cfg.Database), nil)
		})
	}
	return s
}

// schemaObjects returns the tables and views of the store's database, sorted.
func schemaObjects(t testing.TB, s *Store) []string {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name", nil)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	names := []string{}
	for _, line := range splitLines(out) {
		var row struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		names = append(names, row.Name)
	}
	return names
}

func testMigrator(t testing.TB, s *Store) *Migrator {
	t.Helper()
	m, err := s.Migrator()
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	return m
}

func wantVersion(t testing.TB, m *Migrator, version uint, dirty bool) {
	t.Helper()
	v, d, err := m.Version()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if v != version || d != dirty {
		t.Errorf("version = %d, dirty = %v; want %d, %v", v, d, version, dirty)
	}
}

// latestMigration returns the highest version of the embedded migrations.
func latestMigration(t testing.TB) uint {
	t.Helper()
	v := migrationVersions(t)
	return v[len(v)-1]
}

// previousMigration returns the version below the highest one (versions
// may skip numbers), or 0.
func previousMigration(t testing.TB) uint {
	t.Helper()
	v := migrationVersions(t)
	if len(v) < 2 {
		return 0
	}
	return v[len(v)-2]
}

// migrationVersions returns the versions of the embedded migrations in
// ascending order.
func migrationVersions(t testing.TB) []uint {
	t.Helper()
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions []uint
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		v, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		versions = append(versions, uint(v))
	}
	if len(versions) == 0 {
		t.Fatal("no migrations embedded")
	}
	slices.Sort(versions)
	return versions
}

var (
	// version1Objects are the tables and views migration 1 creates, with
	// the table of schema versions.
	version1Objects = []string{"reports", "runs", "runs_mv", migrationsTable}
	emptySchema     = []string{migrationsTable}
)

// wantObjects checks the store's tables and views: exactly want, or at
// least want when later migrations may add more.
func wantObjects(t testing.TB, s *Store, want []string, exact bool) {
	t.Helper()
	got := schemaObjects(t, s)
	if exact && !slices.Equal(got, want) {
		t.Errorf("tables = %q, want %q", got, want)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("tables = %q, want %s among them", got, w)
		}
	}
}

func TestMigrateUpAndDown(t *testing.T) {
	s := openTestStore(t)
	m := testMigrator(t, s)
	latest := latestMigration(t)
	// What one step back from the latest migration leaves.
	previous := version1Objects
	if latest == 1 {
		previous = emptySchema
	}
	steps := []struct {
		name    string
		run     func() error
		version uint
		objects []string
		exact   bool
	}{
		{name: "empty", run: func() error { return nil }, version: 0, objects: emptySchema, exact: true},
		{name: "migration 1 alone", run: func() error { return m.Steps(1) }, version: 1, objects: version1Objects, exact: true},
		{name: "back to empty", run: func() error { return m.Steps(-1) }, version: 0, objects: emptySchema, exact: true},
		{name: "up from empty", run: m.Up, version: latest, objects: version1Objects},
		{name: "up again is a no-op", run: m.Up, version: latest, objects: version1Objects},
		{name: "up from a new migrator", run: func() error { return testMigrator(t, s).Up() }, version: latest, objects: version1Objects},
		{name: "down", run: m.Down, version: 0, objects: emptySchema, exact: true},
		{name: "down again is a no-op", run: m.Down, version: 0, objects: emptySchema, exact: true},
		{name: "up after down", run: m.Up, version: latest, objects: version1Objects},
		{name: "one step back", run: func() error { return m.Steps(-1) }, version: previousMigration(t), objects: previous},
		{name: "one step forward", run: func() error { return m.Steps(1) }, version: latest, objects: version1Objects},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.run(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			wantVersion(t, m, st.version, false)
			wantObjects(t, s, st.objects, st.exact)
		})
	}
}

func TestMigrateDirty(t *testing.T) {
	s := openTestStore(t)
	m := testMigrator(t, s)
	// Mark the schema as if migration 1 had failed halfway.
	drv := &migrateDriver{eng: s.eng, timeout: time.Minute}
	if err := drv.SetVersion(1, true); err != nil {
		t.Fatalf("set dirty version: %v", err)
	}
	wantVersion(t, m, 1, true)

	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"up", m.Up},
		{"down", m.Down},
		{"steps", func() error { return m.Steps(1) }},
	} {
		t.Run(op.name+" refuses", func(t *testing.T) {
			err := op.run()
			if !errors.Is(err, ErrDirty) {
				t.Fatalf("%s on a dirty schema: %v, want ErrDirty", op.name, err)
			}
			for _, want := range []string{"migration 1 failed halfway", "`syncwatch migrate force 0`", "syncwatch migrate up"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
	// Nothing ran: the schema is still as the failed migration left it.
	wantObjects(t, s, emptySchema, true)

	t.Run("force clears it", func(t *testing.T) {
		// The operator repaired the schema by applying migration 1 by hand.
		if err := drv.Run(strings.NewReader(readMigration(t, "000001_create_reports_and_runs.up.sql"))); err != nil {
			t.Fatalf("apply migration 1 by hand: %v", err)
		}
		if err := m.Force(1); err != nil {
			t.Fatalf("force 1: %v", err)
		}
		wantVersion(t, m, 1, false)
		if err := m.Up(); err != nil {
			t.Fatalf("up after force: %v", err)
		}
		wantVersion(t, m, latestMigration(t), false)
		wantObjects(t, s, version1Objects, false)
	})
}

func readMigration(t testing.TB, name string) string {
	t.Helper()
	b, err := migrationFiles.ReadFile("migrations/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMigrateFailedStatement checks that a failing migration statement
// leaves the schema dirty and says which statement failed.
func TestMigrateFailedStatement(t *testing.T) {
	s := openTestStore(t)
	drv := &migrateDriver{eng: s.eng, timeout: time.Minute}
	err := drv.Run(strings.NewReader("CREATE TABLE ok_t (a UInt8) ENGINE = MergeTree ORDER BY a;\nCREATE TABLE broken (a NoSuchType) ENGINE = MergeTree ORDER BY a;\n"))
	if err == nil {
		t.Fatal("run succeeded, want an error")
	}
	// golang-migrate's database.Error does not unwrap, so the statement
	// and ClickHouse's message are only in the text.
	for _, want := range []string{"CREATE TABLE broken", "NoSuchType"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := schemaObjects(t, s); !slices.Contains(got, "ok_t") || slices.Contains(got, "broken") {
		t.Errorf("tables = %q, want ok_t (run before the failure) and not broken", got)
	}
}

// ttlOf returns the engine_full of each of the store's tables.
func ttlOf(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name IN ('reports', 'runs')", nil)
	if err != nil {
		t.Fatalf("read engine_full: %v", err)
	}
	got := map[string]string{}
	for _, line := range splitLines(out) {
		var row struct {
			Name       string `json:"name"`
			EngineFull string `json:"engine_full"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(err)
		}
		got[row.Name] = row.EngineFull
	}
	return got
}

func TestApplyRetention(t *testing.T) {
	// The first store holds the database (and drops it at the end); each
	// step reopens it with another retention, as a restart would.
	cfg := openTestStore(t).cfg
	steps := []struct {
		name string
		days int
	}{
		{"first migration", 30},
		{"longer retention", 45},
		{"same retention again", 45},
		{"shorter retention", 7},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := cfg
			c.Retention = time.Duration(st.days) * 24 * time.Hour
			s := openStoreWith(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			got := ttlOf(t, s)
			for _, table := range []string{"reports", "runs"} {
				want := fmt.Sprintf("toIntervalDay(%d)", st.days)
				if !strings.Contains(got[table], want) {
					t.Errorf("%s engine_full = %q, want a TTL of %s", table, got[table], want)
				}
				if strings.Count(got[table], "toIntervalDay(") != 1 {
					t.Errorf("%s engine_full = %q, want exactly one TTL", table, got[table])
				}
			}
		})
	}

	t.Run("under a day", func(t *testing.T) {
		c := cfg
		c.Retention = 12 * time.Hour
		s := openStoreWith(t, c)
		err := s.ApplyRetention(context.Background())
		if err == nil || !strings.Contains(err.Error(), "must be at least one day") {
			t.Errorf("retention of 12h: %v, want an error saying it must be at least one day", err)
		}
	})
	t.Run("before migrating", func(t *testing.T) {
		s := openTestStore(t)
		err := s.ApplyRetention(context.Background())
		if err == nil || !strings.Contains(err.Error(), "run migrations first") {
			t.Errorf("retention on an empty database: %v, want an error saying to run migrations first", err)
		}
	})
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{name: "empty", sql: "", want: nil},
		{name: "only whitespace and semicolons", sql: " ;\n; ;", want: nil},
		{name: "one without semicolon", sql: "SELECT 1", want: []string{"SELECT 1"}},
		{name: "two", sql: "SELECT 1;\nSELECT 2;\n", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "empty statements between", sql: "SELECT 1;;; ;SELECT 2", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "semicolon in single quotes", sql: "SELECT 'a;b'; SELECT 2", want: []string{"SELECT 'a;b'", "SELECT 2"}},
		{name: "semicolon in double quotes", sql: `SELECT "a;b" FROM t; SELECT 2`, want: []string{`SELECT "a;b" FROM t`, "SELECT 2"}},
		{name: "semicolon in backquotes", sql: "SELECT `a;b` FROM t; SELECT 2", want: []string{"SELECT `a;b` FROM t", "SELECT 2"}},
		{name: "escaped quote", sql: `SELECT 'it\'s; fine'; SELECT 2`, want: []string{`SELECT 'it\'s; fine'`, "SELECT 2"}},
		{name: "escaped backslash before quote", sql: `SELECT 'a\\'; SELECT 2`, want: []string{`SELECT 'a\\'`, "SELECT 2"}},
		{name: "doubled quote", sql: `SELECT 'it''s; fine'; SELECT 2`, want: []string{`SELECT 'it''s; fine'`, "SELECT 2"}},
		{name: "comment with semicolon", sql: "-- a; b\nSELECT 1; -- c;\nSELECT 2", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "comment only", sql: "-- nothing; here\n-- at all", want: nil},
		{name: "comment inside a statement", sql: "SELECT 1, -- first; column\n 2;", want: []string{"SELECT 1, \n 2"}},
		{name: "comment at end without newline", sql: "SELECT 1; -- end", want: []string{"SELECT 1"}},
		{name: "dashes in quotes are not a comment", sql: "SELECT '--;'; SELECT 2", want: []string{"SELECT '--;'", "SELECT 2"}},
		{name: "quote in comment", sql: "-- don't\nSELECT 1; SELECT 2", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "single dash", sql: "SELECT 2 - 1; SELECT 2", want: []string{"SELECT 2 - 1", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitStatements(tt.sql); !slices.Equal(got, tt.want) {
				t.Errorf("splitStatements(%q) =\n%q\nwant\n%q", tt.sql, got, tt.want)
			}
		})
	}
	t.Run("migrations", func(t *testing.T) {
		for name, want := range map[string]int{
			"000001_create_reports_and_runs.up.sql":   3,
			"000001_create_reports_and_runs.down.sql": 3,
		} {
			stmts := splitStatements(readMigration(t, name))
			if len(stmts) != want {
				t.Errorf("%s splits into %d statements, want %d: %q", name, len(stmts), want, stmts)
			}
			for _, s := range stmts {
				if strings.Contains(s, "--") {
					t.Errorf("%s: statement keeps a comment: %q", name, s)
				}
			}
		}
	})
}
