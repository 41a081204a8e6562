package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// digestConfig writes a configuration file with one channel and one
// digest, the digest's fields replaced by extra, and returns its path.
func digestConfig(t *testing.T, digestYAML string) string {
	t.Helper()
	dir := t.TempDir()
	url := filepath.Join(dir, "ding-url")
	if err := os.WriteFile(url, []byte("https://oapi.dingtalk.com/robot/send?access_token=SECRET-TOKEN"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := "channels:\n  - {name: ding, type: dingtalk, url_file: " + url + "}\ndigests:\n  - " + digestYAML + "\n"
	p := filepath.Join(dir, "syncwatch.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDigestBadConfigStopsStartUp checks that serve and digest refuse a
// bad digest before opening storage, naming the digest and the field.
func TestDigestBadConfigStopsStartUp(t *testing.T) {
	tests := []struct{ name, digest, want string }{
		{"bad cron", `{name: daily, schedule: "0 25 * * *", channels: [ding]}`, `digest "daily": schedule "0 25 * * *": `},
		{"bad zone", `{name: daily, schedule: "0 8 * * *", time_zone: Asia/Atlantis, channels: [ding]}`, `digest "daily": time_zone "Asia/Atlantis"`},
		{"unknown channel", `{name: daily, schedule: "0 8 * * *", channels: [mail]}`, `digest "daily": channels: "mail" is not a configured channel`},
		{"unknown sync type", `{name: daily, schedule: "0 8 * * *", channels: [ding], sync_types: [teleport]}`, `digest "daily": sync_types: "teleport" is not a configured sync type`},
	}
	for _, tc := range tests {
		for _, cmd := range [][]string{{"serve"}, {"digest", "preview", "daily"}} {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				args := append(cmd, "--config", digestConfig(t, tc.digest), "--data-dir", "/dev/null/db")
				code := run(args, env(nil), &stdout, &stderr)
				if code != 2 || !strings.Contains(stderr.String(), tc.want) {
					t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
				}
				if strings.Contains(stderr.String(), "SECRET-TOKEN") {
					t.Fatal("the error shows the channel's address")
				}
			})
		}
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"digest", "preview", "weekly", "--config", digestConfig(t, `{name: daily, schedule: "0 8 * * *", channels: [ding]}`)}, env(nil), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `no digest is called "weekly" in the configuration: configured are ["daily"]`) {
		t.Fatalf("unknown digest: exit %d, %s", code, stderr.String())
	}
}

// TestDigestPreview renders a digest of an empty embedded database (no
// expected intervals, so no missed runs either) in a
// process of its own: nothing is sent, and the empty period is said to be
// skipped.
func TestDigestPreview(t *testing.T) {
	cfg := digestConfig(t, `{name: daily, schedule: "0 8 * * *", time_zone: Asia/Shanghai, language: zh, channels: [ding]}`)
	e := cleanEnv("SYNCWATCH_LIBCHDB="+libchdb(t), "SYNCWATCH_DATA_DIR="+t.TempDir(), "SYNCWATCH_LOG_LEVEL=warn")
	if code, _, errOut := runBinary(t, e, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	code, out, errOut := runBinary(t, e, "digest", "preview", "daily", "--config", cfg, "--format", "markdown", "--date", "2026-11-30", "--console-url", "https://sw.example.com",
		"--expected-intervals", "products=0,prices=0,stock=0,order=0,logistics=0,manual=0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"### syncwatch 同步日报 2026-11-30 · daily", "本期没有运行。", "[控制台](https://sw.example.com/ui/runs?"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "the period 2026-11-30 has nothing to say: digest daily skips it") {
		t.Errorf("stderr %q", errOut)
	}
}

// TestDigestServeRestart runs `syncwatch serve` as a process with a
// digest due since midnight (UTC): it sends yesterday's digest to a real
// receiver once; a second serve on the same data directory,
// after a SIGTERM, finds it in the ledger and sends nothing.
func TestDigestServeRestart(t *testing.T) {
	var mu sync.Mutex
	var titles []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Title string }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		titles = append(titles, p.Title)
		mu.Unlock()
	}))
	defer receiver.Close()
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), titles...)
	}
	cfg := filepath.Join(t.TempDir(), "syncwatch.yml")
	if err := os.WriteFile(cfg, []byte("channels: [{name: hook, type: webhook, url: '"+receiver.URL+"/hook'}]\n"+
		"digests: [{name: daily, schedule: '0 0 * * *', period: day, catch_up: 24h, send_empty: true, channels: [hook]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	serve := func(until func(addr string) bool, what string) {
		t.Helper()
		addr := testutil.FreeAddr(t)
		cmd := exec.Command(binary(t), "serve", "--config", cfg, "--data-dir", dataDir, "--libchdb", libchdb(t), "--listen", addr, "--log-format", "json")
		cmd.Env = cleanEnv()
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for !until(addr) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%s: not within 90s; log:\n%s", what, logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	}
	serve(func(string) bool { return len(got()) > 0 }, "the first serve sends yesterday's digest")
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	// Yesterday's; in the first 30 seconds of a day the day before is
	// still within catch_up and comes too, once.
	first := got()
	if !slices.ContainsFunc(first, func(title string) bool {
		return strings.HasPrefix(title, "syncwatch daily digest "+yesterday+" · daily")
	}) || len(first) > 2 || (len(first) == 2 && first[0] == first[1]) {
		t.Fatalf("got %q", first)
	}
	// The second serve ticks at start: wait for its health report to
	// show a tick, then stop it.
	serve(func(addr string) bool {
		resp, err := http.Get("http://" + addr + "/api/v1/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var h struct {
			Components map[string]struct {
				Detail map[string]any `json:"detail"`
			} `json:"components"`
		}
		if json.NewDecoder(resp.Body).Decode(&h) != nil {
			return false
		}
		_, ok := h.Components["digests"].Detail["last_tick"]
		return ok
	}, "the second serve ticks")
	if g := got(); len(g) != len(first) {
		t.Fatalf("after a restart: got %q, want only %q", g, first)
	}
}
