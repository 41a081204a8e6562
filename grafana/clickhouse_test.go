package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

var testDBSeq atomic.Int64

// quietLogger discards everything below errors.
func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

// newTestStore opens a migrated store on a fresh database of the embedded
// engine.
func newTestStore(t testing.TB) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := clickhouse.Open(ctx, clickhouse.Config{
		DataDir:     testDataDir,
		LibchdbPath: testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()),
		Database:    fmt.Sprintf("g%d_%d", os.Getpid(), testDBSeq.Add(1)),
		PoolSize:    2,
	}, quietLogger())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// errorMessages are the error messages of the generated failed and partial
// runs: four shapes, so that the runs fall into four error groups.
var errorMessages = []string{
	"HTTP 503 from supplier API after 30s (attempt %d)",
	"authentication failed: token for account %d expired",
	"timeout after %d retries talking to warehouse",
	"mapping error: %d products lack a mandatory field sku",
}

// dataset generates runs over the last 20 hours with every lifecycle, a
// failure streak of erp/products in the last minutes, varied error
// messages with their fingerprints, and hosts on the runs in progress.
func dataset(now time.Time, runs int) *exportertest.Dataset {
	ds := exportertest.Generate(exportertest.Options{Seed: 42, Runs: runs, Now: now, Span: 20 * time.Hour})
	for _, batch := range ds.Batches {
		for i := range batch {
			r := &batch[i]
			h := fnv.New32a()
			h.Write([]byte(r.RunID))
			n := int(h.Sum32())
			if r.Status == synclog.StatusFailed || r.Status == synclog.StatusPartial {
				r.Message = fmt.Sprintf(errorMessages[n%len(errorMessages)], n%97)
				r.Fingerprint = synclog.Fingerprint(r.Message)
			}
			r.Attributes = map[string]string{"host": fmt.Sprintf("worker-%d", n%3)}
		}
	}
	return ds
}

// insertDataset stores the dataset's batches.
func insertDataset(t testing.TB, st *clickhouse.Store, ds *exportertest.Dataset) {
	t.Helper()
	for i, b := range ds.Batches {
		if err := st.InsertReports(context.Background(), b); err != nil {
			t.Fatalf("insert batch %d: %v", i, err)
		}
	}
}

// numericType reports whether a ClickHouse type holds numbers.
var numericType = regexp.MustCompile(`^(Nullable\()?(U?Int\d+|Float\d+|Decimal)`)

// timeType reports whether a ClickHouse type holds times.
var timeType = regexp.MustCompile(`^(Nullable\()?DateTime`)

// fieldRefs matches the fields a display name or a link refers to.
var fieldRefs = regexp.MustCompile(`\$\{__(?:field\.labels|data\.fields)\.([A-Za-z0-9_]+)\}`)

// TestClickHouseQueriesRunOnSchema expands every ClickHouse query of the
// dashboards (the panels' and the variables') as Grafana and the plugin do,
// runs it on the real schema in the embedded engine over a generated
// dataset, and checks that it returns rows with the columns its panel
// expects: a time column and numbers for time series, the fields that
// overrides, transformations, display names and links name, numbers for
// stats, and statuses the timeline maps.
func TestClickHouseQueriesRunOnSchema(t *testing.T) {
	st := newTestStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	insertDataset(t, st, dataset(now, 1200))
	ctx := context.Background()

	d := dashboardByUID(t, DrilldownUID)
	base := chEnv{from: now.Add(-24 * time.Hour), to: now.Add(time.Minute), interval: 5 * time.Minute,
		vars: map[string][]string{"console_url": {DefaultConsoleURL}}, all: map[string]bool{}}

	// The variables, in order: each may use the ones before it.
	options := map[string][]string{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		sql, err := v.variableSQL()
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		q, err := base.expand(sql)
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		cols, err := st.QueryColumns(ctx, q)
		if err != nil {
			t.Fatalf("variable %s: %v\n%s", v.Name, err, q)
		}
		if len(cols) != 1 {
			t.Errorf("variable %s: %d columns, want one (the values)", v.Name, len(cols))
		}
		rows, err := st.QueryJSON(ctx, q)
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		for _, r := range rows {
			options[v.Name] = append(options[v.Name], fmt.Sprint(r[cols[0].Name]))
		}
		if len(options[v.Name]) == 0 {
			t.Fatalf("variable %s lists no value", v.Name)
		}
		base.vars[v.Name] = options[v.Name]
		base.all[v.Name] = true
	}
	if want := []string{"pending", "processing", "success", "failed", "partial"}; !slices.Equal(options["status"], want) {
		t.Errorf("status variable lists %v, want %v", options["status"], want)
	}
	if !slices.Contains(options["sync_type"], "products") || !slices.Contains(options["source"], "erp") {
		t.Errorf("variables list sync types %v and sources %v", options["sync_type"], options["source"])
	}

	// "All" everywhere, with the run table's default statuses; and one
	// sync type and source, as an alert's link selects them.
	all := base
	all.vars = map[string][]string{}
	for k, v := range base.vars {
		all.vars[k] = v
	}
	all.vars["status"] = []string{"failed", "partial"}
	all.all = map[string]bool{"sync_type": true, "source": true}
	alert := all
	alert.vars = map[string][]string{}
	for k, v := range all.vars {
		alert.vars[k] = v
	}
	alert.vars["sync_type"] = []string{"products"}
	alert.vars["source"] = []string{"erp"}
	alert.all = map[string]bool{}

	checked := 0
	for _, p := range d.allPanels() {
		var columns []clickhouse.Column
		for _, q := range p.Targets {
			if q.RawSQL == "" {
				continue
			}
			checked++
			where := fmt.Sprintf("panel %q query %s", p.Title, q.RefID)
			format, err := strconv.Atoi(string(q.Format))
			if err != nil {
				t.Errorf("%s: format %s", where, q.Format)
			}
			for _, env := range []struct {
				name     string
				env      chEnv
				wantRows bool
			}{{"all", all, true}, {"alert link", alert, false}} {
				sql, err := env.env.expand(q.RawSQL)
				if err != nil {
					t.Errorf("%s (%s): %v", where, env.name, err)
					continue
				}
				cols, err := st.QueryColumns(ctx, sql)
				if err != nil {
					t.Errorf("%s (%s): %v\n%s", where, env.name, err, sql)
					continue
				}
				rows, err := st.QueryJSON(ctx, sql)
				if err != nil {
					t.Errorf("%s (%s): %v\n%s", where, env.name, err, sql)
					continue
				}
				if env.wantRows && len(rows) == 0 {
					t.Errorf("%s (%s): no rows\n%s", where, env.name, sql)
				}
				if env.name == "all" {
					columns = append(columns, cols...)
					checkShape(t, where, p, format, cols, rows)
					checkFingerprints(t, where, rows)
				}
			}
		}
		checkFieldRefs(t, p, columns)
	}
	if checked < 15 {
		t.Errorf("only %d ClickHouse queries checked", checked)
	}
}

// fingerprintNotation is the one notation of error groups: that of the
// API, the CSV export and the console.
var fingerprintNotation = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkFingerprints checks that error groups are shown in that notation.
func checkFingerprints(t *testing.T, where string, rows []map[string]any) {
	t.Helper()
	for _, r := range rows {
		if g, ok := r["error_group"]; ok && !fingerprintNotation.MatchString(fmt.Sprint(g)) {
			t.Errorf("%s: error group %v is not 16 lowercase hexadecimal digits", where, g)
			return
		}
	}
}

// checkShape checks the columns of a query against its format and panel.
func checkShape(t *testing.T, where string, p jsonPanel, format int, cols []clickhouse.Column, rows []map[string]any) {
	t.Helper()
	numeric := 0
	for _, c := range cols {
		if numericType.MatchString(c.Type) {
			numeric++
		}
	}
	switch format {
	case int(ClickHouseFormatTimeSeries):
		if len(cols) == 0 || cols[0].Name != "time" || !timeType.MatchString(cols[0].Type) {
			t.Errorf("%s: a time series query starts with a time column named time, has %v", where, cols)
		}
		for _, c := range cols[1:] {
			if !numericType.MatchString(c.Type) && c.Type != "String" && c.Type != "LowCardinality(String)" {
				t.Errorf("%s: column %s of type %s is neither a number nor a label", where, c.Name, c.Type)
			}
		}
		if numeric == 0 {
			t.Errorf("%s: a time series query returns no number: %v", where, cols)
		}
		// Long to wide needs the rows in time order.
		last := ""
		for _, r := range rows {
			ts := fmt.Sprint(r["time"])
			if ts < last {
				t.Errorf("%s: rows are not in time order (%s after %s)", where, ts, last)
				break
			}
			last = ts
		}
	case int(ClickHouseFormatTable):
	default:
		t.Errorf("%s: format %d", where, format)
	}
	switch p.Type {
	case "stat":
		if numeric == 0 {
			t.Errorf("%s: a stat panel's query returns no number: %v", where, cols)
		}
	case "state-timeline":
		// Every value is a status the mappings name.
		var mappings []struct {
			Options map[string]any `json:"options"`
		}
		_ = json.Unmarshal(p.FieldConfig.Defaults.Mappings, &mappings)
		for _, r := range rows {
			v := fmt.Sprint(r["status"])
			if len(mappings) == 0 || mappings[0].Options[v] == nil {
				t.Errorf("%s: status value %s has no mapping", where, v)
				break
			}
		}
	}
}

// checkFieldRefs checks that every field a panel's overrides, organize
// transformations, display name and links name is a column of its queries.
func checkFieldRefs(t *testing.T, p jsonPanel, cols []clickhouse.Column) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cols {
		names[c.Name] = true
	}
	var refs []string
	refs = append(refs, p.overrideNames()...)
	refs = append(refs, p.organizedNames()...)
	for _, s := range append(p.linkURLs(), p.FieldConfig.Defaults.DisplayName) {
		for _, m := range fieldRefs.FindAllStringSubmatch(s, -1) {
			refs = append(refs, m[1])
		}
	}
	slices.Sort(refs)
	for _, r := range slices.Compact(refs) {
		if !names[r] {
			t.Errorf("panel %q refers to field %q, which its queries do not return (columns: %s)", p.Title, r, columnNames(cols))
		}
	}
}

func columnNames(cols []clickhouse.Column) string {
	var s []string
	for _, c := range cols {
		s = append(s, c.Name)
	}
	return strings.Join(s, ", ")
}
