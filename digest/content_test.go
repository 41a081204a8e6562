package digest_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// engineDir is the embedded engine's directory for this test process:
// the engine keeps one per process, and each test a database of its own.
var engineDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncwatch-digest-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	engineDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var storeSeq atomic.Int64

// newStore opens a migrated store on a database of its own in this
// process's embedded engine, keeping runs for twenty years so that the
// dataset's fixed dates stay.
func newStore(t *testing.T) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(testutil.LogWriter{T: t})
	log.SetLevel(logrus.WarnLevel)
	st, err := clickhouse.Open(ctx, clickhouse.Config{
		DataDir: engineDir, LibchdbPath: testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()),
		Database: fmt.Sprintf("digest_%d_%d", os.Getpid(), storeSeq.Add(1)), PoolSize: 2,
		Retention: 20 * 365 * 24 * time.Hour,
	}, log)
	if err != nil {
		t.Fatalf("open embedded store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// run is one run of the test dataset.
type run struct {
	source, syncType string
	status           synclog.Status
	start            time.Time
	took             time.Duration
	message          string
	total, failed    uint64
}

var runSeq int

func insertRuns(t *testing.T, st *clickhouse.Store, rs []run) {
	t.Helper()
	var reps []synclog.Report
	for _, r := range rs {
		runSeq++
		end := r.start.Add(r.took)
		rep := synclog.Report{
			RunID: fmt.Sprintf("run-%d", runSeq), EventID: fmt.Sprintf("ev-%d", runSeq), Source: r.source, SyncType: r.syncType,
			Status: r.status, Message: r.message, TotalCount: r.total, SuccessCount: r.total - r.failed, FailedCount: r.failed,
			StartedAt: r.start.UTC(), CompletedAt: &end, ReceivedAt: end.UTC(), RunStartedAt: r.start.UTC(),
		}
		if r.status != synclog.StatusSuccess {
			rep.Fingerprint = synclog.Fingerprint(r.message)
		}
		reps = append(reps, rep)
	}
	if err := st.InsertReports(context.Background(), reps); err != nil {
		t.Fatal(err)
	}
}

// shanghai is the zone of the test digests; day is the reported day,
// 2026-03-27, and at the firing that reports it.
var (
	shanghai, _ = time.LoadLocation("Asia/Shanghai")
	day         = time.Date(2026, 3, 27, 0, 0, 0, 0, shanghai)
	firing      = time.Date(2026, 3, 28, 8, 0, 0, 0, shanghai)
)

// dataset is the runs of the reported day and the day before:
//   - products: three successes (10, 20, 30 s) and a failure whose
//     message is new; the day before four successes of 10 s;
//   - prices (expected every hour): 16 successes and 4 partial runs of a
//     message seen once the day before (rising); 20 runs of 24 expected;
//   - stock: two failures of a message seen as often the day before
//     (neither new nor rising);
//   - midea's products, outside a digest scoped to haier.
func dataset() []run {
	var rs []run
	h := func(d time.Time, hour int) time.Time { return d.Add(time.Duration(hour) * time.Hour) }
	prev := day.AddDate(0, 0, -1)
	for i, took := range []time.Duration{10, 20, 30} {
		rs = append(rs, run{"haier", "products", synclog.StatusSuccess, h(day, i*6), took * time.Second, "", 100, 0})
	}
	rs = append(rs, run{"haier", "products", synclog.StatusFailed, h(day, 18), 5 * time.Second, "connection refused by supplier api", 100, 100})
	for i := range 4 {
		rs = append(rs, run{"haier", "products", synclog.StatusSuccess, h(prev, i*6), 10 * time.Second, "", 100, 0})
	}
	for i := range 20 {
		st, msg, failed := synclog.StatusSuccess, "", uint64(0)
		if i%5 == 4 {
			st, msg, failed = synclog.StatusPartial, "timeout after 30s waiting for lock", 3
		}
		rs = append(rs, run{"haier", "prices", st, h(day, i), 2 * time.Second, msg, 50, failed})
	}
	for i := range 24 {
		st, msg, failed := synclog.StatusSuccess, "", uint64(0)
		if i == 7 {
			st, msg, failed = synclog.StatusPartial, "timeout after 30s waiting for lock", 3
		}
		rs = append(rs, run{"haier", "prices", st, h(prev, i), 2 * time.Second, msg, 50, failed})
	}
	for _, d := range []time.Time{day, prev} {
		for i := range 2 {
			rs = append(rs, run{"haier", "stock", synclog.StatusFailed, h(d, 3+i), time.Second, "disk full on /var/spool", 10, 10})
		}
	}
	rs = append(rs, run{"midea", "products", synclog.StatusFailed, h(day, 9), time.Second, "midea only failure", 1, 1})
	return rs
}

func testBuilder(st *clickhouse.Store) *digest.Builder {
	return digest.NewBuilder(st, digest.BuilderConfig{
		SyncTypes:  synclog.DefaultSyncTypeNames(),
		Expected:   map[string]time.Duration{"prices": time.Hour, "products": 6 * time.Hour, "manual": 0},
		ConsoleURL: "https://sw.example.com/", GrafanaURL: "https://grafana.example.com",
		Now: func() time.Time { return firing },
	})
}

func testDigest(lang string, scope ...string) *config.Digest {
	d := &config.Digest{Name: "ops-daily", Period: "day", Language: lang, Location: shanghai, Cron: mustParseSpec("0 8 * * *")}
	if len(scope) > 0 {
		d.Sources = scope
	}
	return d
}

func mustParseSpec(spec string) cron.Schedule {
	s, err := parser.Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// TestContent builds a digest from the embedded engine and checks its
// figures, its error groups and its missed runs.
func TestContent(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	b := testBuilder(st)
	d := testDigest("en", "haier")
	c, err := b.Build(context.Background(), digest.RequestFor(d, digest.PeriodBefore("day", firing, shanghai)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Period.Label != "2026-03-27" || c.Empty {
		t.Fatalf("period %s, empty %v", c.Period.Label, c.Empty)
	}
	rows := map[string]digest.TypeRow{}
	for _, r := range c.SyncTypes {
		rows[r.SyncType] = r
	}
	p := rows["products"]
	if p.Period.Runs != 4 || p.Period.Success != 3 || p.Period.Failed != 1 || p.Previous.Runs != 4 || p.Period.Records != 400 {
		t.Errorf("products: %+v", p.Period)
	}
	if p.Period.SuccessRatio == nil || *p.Period.SuccessRatio != 0.75 {
		t.Errorf("products success ratio %v", p.Period.SuccessRatio)
	}
	if p.P95Change == nil || *p.P95Change <= 0 {
		t.Errorf("products p95 change %v: the day was slower", p.P95Change)
	}
	if p.SevenDay.Runs != 8 || p.SevenDayRunsPerDay != 8.0/7 {
		t.Errorf("products seven days: %d runs, %v a day", p.SevenDay.Runs, p.SevenDayRunsPerDay)
	}
	if !strings.HasPrefix(p.ConsoleURL, "https://sw.example.com/ui/runs?") || !strings.Contains(p.ConsoleURL, "source=haier") {
		t.Errorf("console link %s", p.ConsoleURL)
	}
	if pr := rows["prices"]; pr.Period.Runs != 20 || pr.Period.Partial != 4 {
		t.Errorf("prices: %+v", pr.Period)
	}
	if c.Totals.Runs != 26 || c.Totals.Failed != 3 {
		t.Errorf("totals %+v", c.Totals)
	}
	var groups []string
	for _, g := range c.ErrorGroups {
		groups = append(groups, fmt.Sprintf("%s new=%v regressed=%v count=%d previous=%d", g.Sample, g.New, g.Regressed, g.Count, g.Previous))
	}
	want := []string{
		"timeout after 30s waiting for lock new=false regressed=true count=4 previous=1",
		"connection refused by supplier api new=true regressed=false count=1 previous=0",
	}
	if strings.Join(groups, "\n") != strings.Join(want, "\n") {
		t.Errorf("error groups:\n%s\nwant\n%s", strings.Join(groups, "\n"), strings.Join(want, "\n"))
	}
	if len(c.Missed) != 1 || c.Missed[0].SyncType != "prices" || c.Missed[0].Missed != 4 || c.Missed[0].Expected != 24 {
		t.Errorf("missed %+v", c.Missed)
	}

	// Unscoped, midea's failure counts too.
	all, err := b.Build(context.Background(), digest.RequestFor(testDigest("en"), c.Period))
	if err != nil {
		t.Fatal(err)
	}
	if all.Totals.Runs != 27 || len(all.ErrorGroups) != 3 {
		t.Errorf("unscoped: %d runs, %d groups", all.Totals.Runs, len(all.ErrorGroups))
	}

	// A day without runs has nothing to say: no run, no group, and no
	// expected interval to miss.
	quiet, err := digest.NewBuilder(st, digest.BuilderConfig{Now: func() time.Time { return firing }}).Build(context.Background(),
		digest.RequestFor(testDigest("en"), digest.PeriodBefore("day", firing.AddDate(0, 0, 30), shanghai)))
	if err != nil {
		t.Fatal(err)
	}
	if !quiet.Empty || quiet.Totals.Runs != 0 {
		t.Errorf("a quiet day: empty=%v runs=%d", quiet.Empty, quiet.Totals.Runs)
	}

	// Each rendering in each language is kept as a golden file.
	for _, lang := range []string{"en", "zh"} {
		c, err := b.Build(context.Background(), digest.RequestFor(testDigest(lang, "haier"), c.Period))
		if err != nil {
			t.Fatal(err)
		}
		due := firing
		c.Late, c.DueAt = lang == "zh", &due
		html, err := c.HTML()
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		for ext, body := range map[string]string{"md": c.Markdown(), "slack": c.Slack(), "txt": c.Text(), "html": html, "json": string(js)} {
			golden(t, filepath.Join("testdata", "digest-"+lang+"."+ext), body)
		}
	}
}

// golden compares body with the file at path, or rewrites it with
// -update.
func golden(t *testing.T, path, body string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != body {
		t.Errorf("%s differs from the rendering (go test -update rewrites it):\n%s", path, body)
	}
}

// insights stands for the diagnostics of issue 16 behind the optional
// port.
type insights struct {
	got  []digest.Insight
	err  error
	lang string
}

func (i *insights) Insights(_ context.Context, scope digest.Scope, p digest.Period, lang string) ([]digest.Insight, error) {
	i.lang = lang
	return i.got, i.err
}

// TestInsightsSeam checks that what the diagnostics say of a period
// reaches the digest and its renderings, and that their failure fails
// the digest rather than sending it without them silently.
func TestInsightsSeam(t *testing.T) {
	st := newStore(t)
	ins := &insights{got: []digest.Insight{{Kind: "anomaly", SyncType: "prices", Summary: "prices ran 3× slower than usual at 14:00", Link: "https://sw.example.com/ui/runs?sync_type=prices"}}}
	b := digest.NewBuilder(st, digest.BuilderConfig{Insights: ins, Now: func() time.Time { return firing }})
	c, err := b.Build(context.Background(), digest.RequestFor(testDigest("zh"), digest.PeriodBefore("day", firing, shanghai)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Empty || len(c.Insights) != 1 || ins.lang != "zh" {
		t.Fatalf("empty %v, insights %v asked in %q", c.Empty, c.Insights, ins.lang)
	}
	if md := c.Markdown(); !strings.Contains(md, "#### 异常与预测\n- [异常] prices ran 3× slower than usual at 14:00 [控制台](https://sw.example.com/ui/runs?sync_type=prices)") {
		t.Errorf("markdown:\n%s", md)
	}
	ins.err = errors.New("diagnostics down")
	if _, err := b.Build(context.Background(), digest.RequestFor(testDigest("zh"), c.Period)); err == nil || !strings.Contains(err.Error(), "diagnostics down") {
		t.Fatalf("got %v", err)
	}
}
