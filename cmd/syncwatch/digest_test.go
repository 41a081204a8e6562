package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
