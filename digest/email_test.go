package digest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; SYNCWATCH_CHROMIUM overrides it.
const chromiumPath = "/usr/bin/chromium"

// TestEmailInBrowser renders the e-mail's HTML (the golden files, made
// from the embedded engine's figures) in headless Chromium, checks what a
// reader sees, and keeps a screenshot of each language under
// $SYNCWATCH_ARTIFACTS (else the system's temporary directory).
func TestEmailInBrowser(t *testing.T) {
	exe := chromiumPath
	if env := os.Getenv("SYNCWATCH_CHROMIUM"); env != "" {
		exe = env
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("chromium is missing at %s: run scripts/install-deps.sh (make test does) or set SYNCWATCH_CHROMIUM: %v", exe, err)
	}
	base := os.Getenv("SYNCWATCH_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "syncwatch-e2e")
	}
	artifacts := filepath.Join(base, "digest-email-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	for _, tc := range []struct {
		lang  string
		title string
		late  bool
		rows  []string
	}{
		{"en", "syncwatch daily digest 2026-03-27 · ops-daily", false, []string{"products", "prices", "stock"}},
		{"zh", "syncwatch 同步日报 2026-03-27 · ops-daily (补发：原定 2026-03-28 08:00 CST)", true, []string{"products", "prices", "stock"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			abs, err := filepath.Abs(filepath.Join("testdata", "digest-"+tc.lang+".html"))
			if err != nil {
				t.Fatal(err)
			}
			sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
			defer scancel()
			if err := chromedp.Do(sctx, chromedp.Navigate("file://"+abs)); err != nil {
				t.Fatal(err)
			}
			title, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("#title")))
			if err != nil || title != tc.title {
				t.Errorf("title %q (%v), want %q", title, err, tc.title)
			}
			table, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("#types")))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.rows {
				if !strings.Contains(table, r) {
					t.Errorf("the table lacks %s:\n%s", r, table)
				}
			}
			// Every row is as wide as the table: nothing overflows the
			// 900-pixel card.
			width, err := chromedp.Run(sctx, chromedp.Evaluate[float64](`document.querySelector("#types").getBoundingClientRect().width`))
			if err != nil || width <= 0 || width > 900 {
				t.Errorf("table width %v (%v)", width, err)
			}
			late, err := chromedp.Run(sctx, chromedp.Nodes(chromedp.CSS("#late"), chromedp.AtLeast(0)))
			if err != nil || (len(late) > 0) != tc.late {
				t.Errorf("late banner shown: %v, want %v (%v)", len(late) > 0, tc.late, err)
			}
			errs, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("#errors")))
			if err != nil || !strings.Contains(errs, "timeout after 30s waiting for lock") {
				t.Errorf("error groups %q (%v)", errs, err)
			}
			links, err := chromedp.Run(sctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a")].map(a => a.href)`))
			if err != nil || len(links) < 8 {
				t.Fatalf("%d links (%v)", len(links), err)
			}
			for _, l := range links {
				if !strings.HasPrefix(l, "https://sw.example.com/ui/") && !strings.HasPrefix(l, "https://grafana.example.com/d/") {
					t.Errorf("link %s leads elsewhere", l)
				}
			}
			png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(artifacts, "digest-"+tc.lang+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", p)
		})
	}
}
