package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/internal/app"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web/ui"
)

// The browser test of the web console: the real server handler, on the
// embedded engine, on a loopback port, seeded through the ingest API, and
// used by a headless Chromium as an operator would use it.

// chromiumPath is Debian's chromium; SYNCWATCH_CHROMIUM overrides it.
const chromiumPath = "/usr/bin/chromium"

const (
	ingestSecret = "e2e-ingest-secret-0123456789"
	querySecret  = "e2e-query-secret-01234567890"
)

// hostileMessage must show as text; were it markup, the browser would
// open a dialog or report a CSP violation.
const hostileMessage = `<script>alert(1)</script><img src=x onerror=alert(2)> & "quoted"`

func TestMain(m *testing.M) { apptest.Main(m, verifyMain) }

// artifactDir returns the directory the screenshots go to:
// $SYNCWATCH_ARTIFACTS, else a new directory in the system's temporary
// directory. It is kept after the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SYNCWATCH_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "syncwatch-e2e")
	}
	dir := filepath.Join(base, "console-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium returns the browser's path and fails the test when it is
// missing: the console's end-to-end test is never skipped.
func chromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath
	if env := os.Getenv("SYNCWATCH_CHROMIUM"); env != "" {
		p = env
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("chromium is missing at %s: run scripts/install-deps.sh (make test does) or set SYNCWATCH_CHROMIUM: %v", p, err)
	}
	return p
}

// serve starts the server as `syncwatch serve` wires it, on the embedded
// engine and a loopback port, with an ingest and a query token.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	log.SetOutput(testutil.LogWriter{T: t})
	store := apptest.NewRealStore(t)
	dir := t.TempDir()
	spool, err := collector.OpenSpool(filepath.Join(dir, "spool"), 64<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := collector.NewMetrics(reg)
	quarantine, err := collector.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	batcher := collector.NewBatcher(spool, quarantine, store, collector.BatcherConfig{MaxAge: 20 * time.Millisecond}, log, metrics)
	diag, err := diagnose.New(store, diagnose.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewAuth([]auth.Token{
		{Name: "ingest", Secret: ingestSecret, Roles: []auth.Role{auth.RoleIngest}},
		{Name: "query", Secret: querySecret, Roles: []auth.Role{auth.RoleQuery}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := app.New(app.Config{
		Ingest:  collector.Config{SyncTypes: synclog.MustSyncTypes(synclog.DefaultSyncTypes)},
		Console: &ui.Config{ExpectedIntervals: exporter.DefaultExpectedIntervals()},
	}, app.Deps{
		Log: log, Auth: tokens, Spool: spool, Batcher: batcher, Quarantine: quarantine, Storage: store, Metrics: metrics,
		Registerer: reg, Gatherer: reg, Query: store, States: store, Diagnose: diag,
	})
	if err != nil {
		t.Fatal(err)
	}
	go batcher.Run()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = batcher.Stop(ctx)
		_ = spool.Close()
	})
	seed(t, ts.URL)
	deadline := time.Now().Add(2 * time.Minute)
	for spool.Stats().Reports > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the batcher did not drain the spool")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ts
}

// seed reports a day of runs through the ingest API.
func seed(t *testing.T, base string) {
	t.Helper()
	now := time.Now().UTC()
	var reports []map[string]any
	add := func(id, source, syncType, status string, ago, took time.Duration, msg string, total, ok, failed int) {
		start := now.Add(-ago)
		r := map[string]any{
			"run_id": id, "event_id": id + "-e1", "source": source, "sync_type": syncType, "status": status,
			"started_at": start.Format(time.RFC3339Nano), "message": msg,
			"total_count": total, "success_count": ok, "failed_count": failed,
			"attributes": map[string]string{"host": "worker-" + fmt.Sprint(len(reports)%3), "trigger": "cron"},
		}
		if status != "processing" && status != "pending" {
			r["completed_at"] = start.Add(took).Format(time.RFC3339Nano)
		}
		reports = append(reports, r)
	}
	// A day of product, price and stock runs, mostly successful.
	for h := range 24 {
		ago := time.Duration(h)*time.Hour + 7*time.Minute
		add(fmt.Sprintf("e2e-prices-%02d", h), "haier", "prices", "success", ago, 25*time.Second, "synced 420 prices", 420, 420, 0)
		if h%6 == 3 {
			add(fmt.Sprintf("e2e-products-%02d", h), "haier", "products", "success", ago+20*time.Minute, 2*time.Minute, "synced 1200 products", 1200, 1200, 0)
		}
		if h%4 == 1 {
			add(fmt.Sprintf("e2e-stock-%02d", h), "midea", "stock", "partial", ago+30*time.Minute, 9*time.Second, "17 items without a warehouse", 300, 283, 17)
		}
	}
	add("e2e-products-fail-1", "haier", "products", "failed", 150*time.Minute, 30*time.Second, "connection timeout after 3000 ms contacting supplier", 0, 0, 0)
	add("e2e-products-fail-2", "haier", "products", "failed", 70*time.Minute, 30*time.Second, "connection timeout after 4500 ms contacting supplier", 0, 0, 0)
	add("e2e-order-hostile", "gree", "order", "failed", 40*time.Minute, time.Second, hostileMessage, 1, 0, 1)
	add("e2e-stock-running", "haier", "stock", "processing", 4*time.Minute, 0, "working", 0, 0, 0)
	add("e2e-logistics-ok", "haier", "logistics", "success", 12*time.Minute, 4*time.Second, "looked up 9 parcels", 9, 9, 0)
	body, _ := json.Marshal(reports)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/runs", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ingestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ack collector.IngestResponse
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || resp.StatusCode != http.StatusAccepted || ack.Accepted != len(reports) {
		t.Fatalf("seed: %d %+v %v", resp.StatusCode, ack, err)
	}
}

// consoleLog collects what the page writes to the console.
type consoleLog struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	dialogs  []string
}

func (l *consoleLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.messages {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning ||
			strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, fmt.Sprintf("%s (%s %s)", m, m.Source, m.URL))
		}
	}
	for _, d := range l.dialogs {
		out = append(out, "dialog: "+d)
	}
	return out
}

func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	ts := serve(t)
	artifacts := artifactDir(t)
	t.Logf("screenshots go to %s", artifacts)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	var logs consoleLog
	messages := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			logs.mu.Lock()
			logs.messages = append(logs.messages, m)
			logs.mu.Unlock()
		}
	}()
	go func() {
		for d, err := range dialogs {
			if err != nil {
				return
			}
			logs.mu.Lock()
			logs.dialogs = append(logs.dialogs, d.Message)
			logs.mu.Unlock()
			_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
				return err
			}))
		}
	}()

	step := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 90*time.Second)
		defer scancel()
		if err := f(sctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// submit clicks a button or link and waits for the page it loads.
	submit := func(sel chromedp.CSS) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(sel))(ctx, tg)
			return err
		})
	}
	text := func(ctx context.Context, sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %v: %v", sel, err)
		}
		return s
	}
	location := func(ctx context.Context) *url.URL {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(artifacts, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	expect := func(ctx context.Context, sel chromedp.CSS, want ...string) {
		t.Helper()
		got := text(ctx, sel)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%v lacks %q: %.2000s", sel, w, got)
			}
		}
	}
	absent := func(ctx context.Context, sel chromedp.CSS, unwanted ...string) {
		t.Helper()
		got := text(ctx, sel)
		for _, w := range unwanted {
			if strings.Contains(got, w) {
				t.Errorf("%v has %q: %.2000s", sel, w, got)
			}
		}
	}
	main := chromedp.CSS("main")

	step("open the console: the login form", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/")); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/login" {
			t.Errorf("without a session the console shows %s, want the login form", u)
		}
		expect(ctx, main, "Sign in", "query role")
		shot(ctx, "01-login")
		return nil
	})
	step("sign in: the overview", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#token"), querySecret),
			submit(chromedp.CSS("#sign-in")),
		); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/" || strings.Contains(u.String(), querySecret) {
			t.Errorf("after signing in: %s", u)
		}
		expect(ctx, main, "Overview", "Product sync", "Price sync", "Stock sync", "Order push", "Logistics lookup", "Manual operation",
			"Runs per hour", "Recent failures", "connection timeout after 4500 ms")
		expect(ctx, chromedp.CSS("#type-prices"), "On time")
		expect(ctx, chromedp.CSS("#type-order"), "Never succeeded")
		expect(ctx, chromedp.CSS("#type-products"), "Product sync", "2") // two consecutive failures
		shot(ctx, "02-overview")
		return nil
	})
	step("filter failed product runs", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			submit(chromedp.CSS(`nav a[href="/ui/runs"]`)),
			chromedp.SetValue(chromedp.CSS("#f-sync-type"), "products"),
			chromedp.SetValue(chromedp.CSS("#f-status"), "failed"),
			submit(chromedp.CSS("#f-apply")),
		); err != nil {
			return err
		}
		q := location(ctx).Query()
		if q.Get("sync_type") != "products" || q.Get("status") != "failed" {
			t.Errorf("the filter is not in the URL: %v", q)
		}
		expect(ctx, chromedp.CSS("table.runs"), "connection timeout after 3000 ms", "connection timeout after 4500 ms", "Failed", "Product sync")
		absent(ctx, chromedp.CSS("table.runs tbody"), "synced 1200 products", "Success")
		shot(ctx, "03-runs-failed-products")
		return nil
	})
	step("search a word of a message", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#f-q"), "4500"),
			submit(chromedp.CSS("#f-apply")),
		); err != nil {
			return err
		}
		if q := location(ctx).Query(); q.Get("q") != "4500" || q.Get("status") != "failed" {
			t.Errorf("the search is not in the URL: %v", q)
		}
		expect(ctx, chromedp.CSS("table.runs"), "connection timeout after 4500 ms")
		absent(ctx, chromedp.CSS("table.runs"), "3000 ms")
		shot(ctx, "04-runs-search")
		return nil
	})
	step("open the run", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, submit(chromedp.CSS("a.run-link"))); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/runs/e2e-products-fail-2" {
			t.Errorf("the run's page is %s", u)
		}
		expect(ctx, chromedp.CSS("#run-status"), "Failed")
		expect(ctx, chromedp.CSS("#message"), "connection timeout after 4500 ms contacting supplier")
		expect(ctx, chromedp.CSS("#timeline"), "Failed")
		expect(ctx, main, "Timeline", "Attributes", "worker-")
		shot(ctx, "05-run")
		return nil
	})
	step("switch to Chinese", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, submit(chromedp.CSS("#lang-switch"))); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/runs/e2e-products-fail-2" {
			t.Errorf("the switch went to %s", u)
		}
		expect(ctx, chromedp.CSS("#run-status"), "失败")
		expect(ctx, main, "时间线", "商品同步", "消息")
		shot(ctx, "06-run-zh")
		if err := chromedp.Do(ctx, submit(chromedp.CSS(`nav a[href="/ui/"]`))); err != nil {
			return err
		}
		expect(ctx, main, "概览", "商品同步", "价格同步", "订单推送", "从未成功", "最近的失败")
		absent(ctx, main, "Product sync")
		shot(ctx, "07-overview-zh")
		return nil
	})
	step("the hostile message is text", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/runs/e2e-order-hostile")); err != nil {
			return err
		}
		expect(ctx, chromedp.CSS("#message"), hostileMessage)
		n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("main script, main img"), chromedp.AtLeast(0)))
		if err != nil {
			return err
		}
		if len(n) != 0 {
			t.Errorf("the message became %d elements", len(n))
		}
		shot(ctx, "08-hostile-message-zh")
		return nil
	})
	step("errors and the daily report", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			submit(chromedp.CSS("#lang-switch")), // back to English
			chromedp.Navigate(ts.URL+"/ui/errors"),
		); err != nil {
			return err
		}
		expect(ctx, chromedp.CSS("#error-groups"), "connection timeout", "17 items without a warehouse", "Product sync")
		shot(ctx, "09-errors")
		if err := chromedp.Do(ctx, submit(chromedp.CSS("#error-groups a.group-runs"))); err != nil {
			return err
		}
		// The largest group first: the partial stock runs.
		expect(ctx, chromedp.CSS("table.runs"), "17 items without a warehouse", "Stock sync")
		absent(ctx, chromedp.CSS("table.runs tbody"), "connection timeout")
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/reports/daily")); err != nil {
			return err
		}
		expect(ctx, chromedp.CSS("#daily"), "Price sync", "Product sync")
		shot(ctx, "10-daily")
		return nil
	})
	step("the diagnosis of a sync type and the why of a failed run", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/diagnosis")); err != nil {
			return err
		}
		expect(ctx, main, "Diagnosis", "Product sync")
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#f-sync-type"), "products"),
			submit(chromedp.CSS(`#filters button[type="submit"]`)),
		); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/diagnosis" || u.Query().Get("sync_type") != "products" {
			t.Errorf("the diagnosis form went to %s", u)
		}
		// A day of history is not enough to judge, and the page says so
		// rather than guessing.
		expect(ctx, main, "Anomalies of the last 7 days", "not enough history", "Likely causes, last 24 hours", "Forecasts")
		// The two timeouts are one error group new in the day: a hint.
		expect(ctx, chromedp.CSS("#hints"), "new error on 2 failed runs: connection timeout")
		shot(ctx, "11-diagnosis")
		if err := chromedp.Do(ctx, submit(chromedp.CSS("#lang-switch"))); err != nil {
			return err
		}
		expect(ctx, main, "诊断", "最近 7 天的异常", "历史数据不足", "可能的原因（最近 24 小时）", "预测")
		absent(ctx, main, "Anomalies of the last 7 days")
		// The hints' summaries follow the page's language too.
		expect(ctx, chromedp.CSS("#hints"), "新出现的错误，涉及 2 次失败运行：connection timeout")
		absent(ctx, chromedp.CSS("#hints"), "new error", "failed runs")
		shot(ctx, "12-diagnosis-zh")
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/runs/e2e-products-fail-2")); err != nil {
			return err
		}
		expect(ctx, chromedp.CSS("#why"), "原因", "诊断", "新出现的错误，涉及 2 次失败运行")
		absent(ctx, chromedp.CSS("#why"), "new error")
		expect(ctx, chromedp.CSS("#message"), "connection timeout after 4500 ms")
		shot(ctx, "13-run-why-zh")
		return chromedp.Do(ctx, submit(chromedp.CSS("#lang-switch"))) // back to English
	})
	step("sign out", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, submit(chromedp.CSS("#logout"))); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/login" {
			t.Errorf("after signing out: %s", u)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/runs")); err != nil {
			return err
		}
		if u := location(ctx); u.Path != "/ui/login" {
			t.Errorf("signed out, /ui/runs shows %s", u)
		}
		return nil
	})

	// Messages arrive asynchronously; give the last ones a moment.
	time.Sleep(300 * time.Millisecond)
	for _, p := range logs.problems() {
		t.Errorf("browser console: %s", p)
	}
	logs.mu.Lock()
	for _, m := range logs.messages {
		t.Logf("browser console: %s (%s)", m, m.Source)
	}
	logs.mu.Unlock()
}
