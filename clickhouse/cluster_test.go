package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	chmigrate "github.com/golang-migrate/migrate/v4/database/clickhouse"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/syncwatch/syncwatch/runs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testCluster is the cluster name of the golden DDL and deploy/cluster.
const testCluster = "syncwatch"

func clusterDDL(t testing.TB) string {
	t.Helper()
	ddl, err := SchemaDDL(testCluster)
	if err != nil {
		t.Fatalf("cluster DDL: %v", err)
	}
	return ddl
}

// TestClusterDDLGolden keeps the generated cluster DDL in
// testdata/cluster_ddl.sql, so that a change to it is seen in review; go
// test -update rewrites it.
func TestClusterDDLGolden(t *testing.T) {
	got := clusterDDL(t)
	path := filepath.Join("testdata", "cluster_ddl.sql")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./clickhouse -run TestClusterDDLGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("the cluster DDL differs from %s; if the change is meant, run go test ./clickhouse -run TestClusterDDLGolden -update\ngot:\n%s", path, got)
	}
}

// TestClusterDDLParses has the embedded engine's own parser read and
// format every statement of the cluster DDL, up and down: it checks the
// syntax a cluster receives, which no server here can run.
func TestClusterDDLParses(t *testing.T) {
	s := openTestStore(t)
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newClusterRenderer(testCluster, sub)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(sub, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	onCluster := regexp.MustCompile(`(?i)\bON CLUSTER ` + testCluster + `\b`)
	unreplicated := regexp.MustCompile(`ENGINE = (\w*)MergeTree`)
	for _, name := range names {
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := r.renderStatements(string(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, stmt := range stmts {
			out, err := s.eng.selectRows(ctx, `SELECT formatQuery({q:String}) AS f`, Params{"q": stmt})
			if err != nil {
				t.Errorf("%s, statement %d does not parse: %v\n%s", name, i+1, err, stmt)
				continue
			}
			var row struct {
				F string `json:"f"`
			}
			if err := json.Unmarshal(firstLine(out), &row); err != nil {
				t.Fatalf("decode %q: %v", out, err)
			}
			isInsert := strings.HasPrefix(row.F, "INSERT")
			if !isInsert && !onCluster.MatchString(row.F) {
				t.Errorf("%s, statement %d runs on one node only:\n%s", name, i+1, row.F)
			}
			if m := unreplicated.FindStringSubmatch(row.F); m != nil && !strings.HasPrefix(m[1], "Replicated") {
				t.Errorf("%s, statement %d creates a table that is not replicated:\n%s", name, i+1, row.F)
			}
		}
	}
}

// declustered turns cluster DDL into what one node without Keeper can run:
// no ON CLUSTER, the replicated engines' unreplicated forms, and Memory
// tables in place of the Distributed ones, which keep their columns. DROP
// loses its SYNC, which frees a Keeper path and now and then hangs the
// embedded engine.
func declustered(stmt string) string {
	stmt = strings.TrimSuffix(stmt, " SYNC")
	stmt = strings.ReplaceAll(stmt, " ON CLUSTER "+testCluster, "")
	stmt = strings.ReplaceAll(stmt, "Replicated", "")
	stmt = strings.ReplaceAll(stmt, "('"+ClusterTablePath+"', '{replica}', ", "(")
	stmt = strings.ReplaceAll(stmt, "('"+ClusterTablePath+"', '{replica}')", "")
	return regexp.MustCompile(`ENGINE = Distributed\(.*\)$`).ReplaceAllString(stmt, "ENGINE = Memory")
}

// tableColumns returns the columns of every table and view of the store's
// database, "name type" in order, by table; a view's name is marked with a
// leading '=', as it has no local twin.
func tableColumns(t testing.TB, s *Store) map[string][]string {
	t.Helper()
	out, err := s.eng.selectRows(context.Background(), `SELECT if(t.engine LIKE '%View', '=', '') || c.table AS table, c.name AS name, c.type AS type
FROM system.columns AS c INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
WHERE c.database = currentDatabase() AND c.table != {m:String} ORDER BY c.table, c.position`, Params{"m": migrationsTable})
	if err != nil {
		t.Fatalf("list columns: %v", err)
	}
	cols := map[string][]string{}
	for _, line := range splitLines(out) {
		var c struct{ Table, Name, Type string }
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		cols[c.Table] = append(cols[c.Table], c.Name+" "+c.Type)
	}
	return cols
}

// TestClusterSchemaMatchesSingleNode runs the cluster DDL, declustered, on
// the embedded engine beside the single-node schema, and checks that every
// local table and every Distributed table has exactly the columns, types
// and order of the single-node table of its name, and that the down
// migrations leave nothing behind.
func TestClusterSchemaMatchesSingleNode(t *testing.T) {
	single := tableColumns(t, newTestStore(t))
	if len(single) == 0 {
		t.Fatal("the single-node schema has no tables")
	}
	s := openTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(files []string) {
		sub, _ := fs.Sub(migrationFiles, "migrations")
		r, err := newClusterRenderer(testCluster, sub)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			body, err := fs.ReadFile(sub, name)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := r.renderStatements(string(body))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, stmt := range stmts {
				if err := s.eng.exec(ctx, declustered(stmt), nil); err != nil {
					t.Fatalf("%s: %v\n%s", name, err, declustered(stmt))
				}
			}
		}
	}
	ups, _ := fs.Glob(migrationFiles, "migrations/*.up.sql")
	for i := range ups {
		ups[i] = filepath.Base(ups[i])
	}
	slices.Sort(ups)
	run(ups)
	cluster := tableColumns(t, s)
	for table, want := range single {
		names := []string{table, table + localSuffix}
		if strings.HasPrefix(table, "=") {
			names = names[:1]
		}
		for _, name := range names {
			if got := cluster[name]; !slices.Equal(got, want) {
				t.Errorf("cluster table %s has columns\n%q\nwant those of %s:\n%q", name, got, table, want)
			}
			delete(cluster, name)
		}
	}
	for table := range cluster {
		t.Errorf("cluster table %s has no single-node twin", table)
	}

	downs := make([]string, len(ups))
	for i, up := range ups {
		downs[len(ups)-1-i] = strings.TrimSuffix(up, ".up.sql") + ".down.sql"
	}
	run(downs)
	if left := schemaObjects(t, s); len(left) != 0 {
		t.Errorf("after the down migrations, the cluster schema leaves %q", left)
	}
}

// TestClusterRender checks how each kind of statement is rendered, on
// migrations of its own (the form a later migration would take).
func TestClusterRender(t *testing.T) {
	files := fstest.MapFS{
		"000001_t.up.sql": {Data: []byte(`CREATE TABLE IF NOT EXISTS events (run_id String CODEC(ZSTD(1)), n UInt64, INDEX i n TYPE minmax) ENGINE = MergeTree ORDER BY run_id;
CREATE TABLE totals (day Date, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree() ORDER BY day`)},
	}
	r, err := newClusterRenderer("c1", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{name: "table with run_id", in: `CREATE TABLE IF NOT EXISTS events (run_id String CODEC(ZSTD(1)), n UInt64, INDEX i n TYPE minmax) ENGINE = MergeTree ORDER BY run_id`,
			want: []string{
				`CREATE TABLE IF NOT EXISTS events_local ON CLUSTER c1 (run_id String CODEC(ZSTD(1)), n UInt64, INDEX i n TYPE minmax) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') ORDER BY run_id`,
				"CREATE TABLE IF NOT EXISTS events ON CLUSTER c1\n(\n    run_id String,\n    n UInt64\n)\nENGINE = Distributed('c1', currentDatabase(), 'events_local', cityHash64(run_id))",
			}},
		{name: "rollup without run_id", in: `CREATE TABLE totals (day Date, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree() ORDER BY day`,
			want: []string{
				`CREATE TABLE totals_local ON CLUSTER c1 (day Date, n SimpleAggregateFunction(sum, UInt64)) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') ORDER BY day`,
				"CREATE TABLE totals ON CLUSTER c1\n(\n    day Date,\n    n SimpleAggregateFunction(sum, UInt64)\n)\nENGINE = Distributed('c1', currentDatabase(), 'totals_local', rand())",
			}},
		{name: "view reads the local table under its own name", in: `CREATE MATERIALIZED VIEW totals_mv TO totals AS SELECT toDate(now()) AS day, count() AS n FROM events WHERE events.n > 0`,
			want: []string{`CREATE MATERIALIZED VIEW totals_mv ON CLUSTER c1 TO totals_local AS SELECT toDate(now()) AS day, count() AS n FROM events_local AS events WHERE events.n > 0`}},
		{name: "view keeps an alias", in: `CREATE MATERIALIZED VIEW IF NOT EXISTS v TO totals AS SELECT e.n AS n FROM events e`,
			want: []string{`CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER c1 TO totals_local AS SELECT e.n AS n FROM events_local e`}},
		{name: "plain view", in: `CREATE VIEW recent AS SELECT * FROM events`,
			want: []string{`CREATE VIEW recent ON CLUSTER c1 AS SELECT * FROM events`}},
		{name: "column change reaches both tables", in: `ALTER TABLE events ADD COLUMN m UInt8 CODEC(ZSTD(1)) AFTER n`,
			want: []string{`ALTER TABLE events_local ON CLUSTER c1 ADD COLUMN m UInt8 CODEC(ZSTD(1)) AFTER n`, `ALTER TABLE events ON CLUSTER c1 ADD COLUMN m UInt8 AFTER n`}},
		{name: "setting reaches the data", in: `ALTER TABLE events MODIFY SETTING index_granularity_bytes = 1`,
			want: []string{`ALTER TABLE events_local ON CLUSTER c1 MODIFY SETTING index_granularity_bytes = 1`}},
		{name: "mixed alter", in: `ALTER TABLE events ADD COLUMN m UInt8, MODIFY TTL now()`, err: "separate statements"},
		{name: "drop table", in: `DROP TABLE IF EXISTS events`,
			want: []string{`DROP TABLE IF EXISTS events ON CLUSTER c1 SYNC`, `DROP TABLE IF EXISTS events_local ON CLUSTER c1 SYNC`}},
		{name: "drop view", in: `DROP VIEW IF EXISTS v`, want: []string{`DROP VIEW IF EXISTS v ON CLUSTER c1`}},
		{name: "backfill", in: `INSERT INTO totals SELECT today(), count() FROM events`, want: []string{`INSERT INTO totals SELECT today(), count() FROM events`}},
		{name: "unsupported", in: `OPTIMIZE TABLE events FINAL`, err: `cannot render "OPTIMIZE TABLE events FINAL"`},
		{name: "memory table", in: `CREATE TABLE m (a UInt8) ENGINE = Memory`, err: "engine Memory has no replicated form"},
		{name: "already replicated", in: `CREATE TABLE m (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a`, err: "has no replicated form"},
		{name: "qualified name", in: `CREATE TABLE db.m (a UInt8) ENGINE = MergeTree ORDER BY a`, err: "no table name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.render(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("render: %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("render =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if _, err := newClusterRenderer("no-dashes", files); err == nil {
		t.Error("a cluster name with '-' was accepted")
	}
}

// TestDriverMigratorOnServer runs golang-migrate's ClickHouse driver, the
// one cluster mode uses, over clickhouse-go v2's database/sql interface on
// a real server (Debian's, without a cluster): two multi-statement
// migrations up, the version recorded through the driver's transaction,
// and down again.
func TestDriverMigratorOnServer(t *testing.T) {
	eng := legacyEngine(t)
	ctx := context.Background()
	out, err := eng.selectRows(ctx, "SELECT currentDatabase() AS db", nil)
	if err != nil {
		t.Fatal(err)
	}
	var row struct{ DB string }
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		t.Fatal(err)
	}
	dsn, err := dsnWithDatabase(legacyServer(t).dsn, row.DB)
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(fstest.MapFS{
		"1_a.up.sql":   {Data: []byte("CREATE TABLE a (x UInt8) ENGINE = Memory;\nCREATE TABLE b (x UInt8) ENGINE = Memory;\n")},
		"1_a.down.sql": {Data: []byte("DROP TABLE b;\nDROP TABLE a;\n")},
		"2_c.up.sql":   {Data: []byte("CREATE TABLE c (x UInt8) ENGINE = Memory;\n")},
		"2_c.down.sql": {Data: []byte("DROP TABLE c;\n")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newDriverMigrator(dsn, &chmigrate.Config{MigrationsTable: migrationsTable, MigrationsTableEngine: "MergeTree", MultiStatementEnabled: true}, src)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tables := func() string {
		out, err := eng.selectRows(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name", nil)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(strings.NewReplacer(`{"name":`, "", `}`, "", `"`, "").Replace(string(out))), " ")
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up: %v", err)
	}
	wantVersion(t, m, 2, false)
	if got := tables(); got != "a b c "+migrationsTable {
		t.Errorf("after up: tables %q", got)
	}
	if err := m.Steps(-1); err != nil {
		t.Fatalf("one step down: %v", err)
	}
	wantVersion(t, m, 1, false)
	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	wantVersion(t, m, 0, false)
	if got := tables(); got != migrationsTable {
		t.Errorf("after down: tables %q", got)
	}
}

// TestNativeSettings checks that a store's own settings reach every query
// and that the DSN's win over them.
func TestNativeSettings(t *testing.T) {
	srv := legacyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := srv.dsn + map[bool]string{true: "&", false: "?"}[strings.Contains(srv.dsn, "?")] + "max_threads=5"
	eng, err := openNativeWith(ctx, dsn, nativeOptions{settings: map[string]any{"max_threads": 3, "max_block_size": 1234}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.close()
	out, err := eng.selectRows(ctx, "SELECT name, value FROM system.settings WHERE name IN ('max_threads', 'max_block_size') ORDER BY name", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(string(out)), " ")
	if !strings.Contains(got, `"name":"max_block_size","value":"1234"`) || !strings.Contains(got, `"name":"max_threads","value":"5"`) {
		t.Errorf("settings %s; want max_block_size 1234 (the store's) and max_threads 5 (the DSN's)", got)
	}
}

// TestOpenClusterNeedsAServer refuses cluster mode and asynchronous
// inserts on the embedded engine, and a cluster name that is not a plain
// identifier, before connecting to anything.
func TestOpenClusterNeedsAServer(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"cluster on the embedded engine", Config{DataDir: t.TempDir(), Cluster: "syncwatch"}, "need a ClickHouse server"},
		{"async insert on the embedded engine", Config{DataDir: t.TempDir(), AsyncInsert: true}, "need a ClickHouse server"},
		{"cluster name with SQL in it", Config{DSN: "clickhouse://127.0.0.1:1/db", Cluster: "c ON CLUSTER x"}, `cluster name "c ON CLUSTER x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.cfg, testLogger(t))
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("open: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestClusterStoreDDL checks what a store in cluster mode sends for its
// own DDL: the retention goes to the local tables ON CLUSTER (parsed by the
// embedded engine), and clearing
// runs, which the Distributed tables cannot do, is refused before any
// statement runs.
func TestClusterStoreDDL(t *testing.T) {
	s := &Store{cfg: Config{Cluster: "c1"}}
	if got := s.clusterTable("runs") + s.onCluster(); got != "runs_local ON CLUSTER c1" {
		t.Errorf("cluster mode: %q", got)
	}
	single := &Store{}
	if got := single.clusterTable("runs") + single.onCluster(); got != "runs" {
		t.Errorf("single node: %q", got)
	}
	stmt := s.retentionDDL(s.clusterTable("runs"), "started_at", 30)
	out, err := openTestStore(t).eng.selectRows(context.Background(), `SELECT formatQuery({q:String}) AS f`, Params{"q": stmt})
	if err != nil {
		t.Fatalf("the retention statement does not parse: %v\n%s", err, stmt)
	}
	if !strings.Contains(string(out), `ALTER TABLE runs_local ON CLUSTER c1\n    (MODIFY TTL toDateTime(started_at) + toIntervalDay(30))`) {
		t.Errorf("retention in cluster mode: %s", out)
	}
	_, err = s.DeleteRuns(context.Background(), runs.Filter{Until: time.Now()}, true)
	if !errors.Is(err, errClusterDelete) {
		t.Errorf("delete in cluster mode: %v, want %v", err, errClusterDelete)
	}
}
