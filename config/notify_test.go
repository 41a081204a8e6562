package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifySet returns a set with the notification settings bound.
func notifySet() (*Set, *Notify) {
	s := New("serve", "", io.Discard)
	var n Notify
	n.Register(s)
	return s, &n
}

// secretFiles writes the files channels read their credentials from.
func secretFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"ding-url":    "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET-ding\n",
		"ding-secret": "SECtopsecret\n",
		"feishu-url":  "https://open.feishu.cn/open-apis/bot/v2/hook/TOPSECRET-feishu",
		"wecom-url":   "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOPSECRET-wecom",
		"slack-url":   "https://hooks.slack.com/services/T0/B0/TOPSECRET",
		"password":    "TOPSECRET-smtp",
		"empty":       "  \n",
		"not-a-url":   "TOPSECRET-not-a-url",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const validNotify = `
channels:
  - {name: ding, type: dingtalk, url_file: %[1]s/ding-url, secret_file: %[1]s/ding-secret, language: zh}
  - {name: feishu, type: feishu, url_file: %[1]s/feishu-url}
  - {name: wecom, type: wecom, url_file: %[1]s/wecom-url}
  - {name: slack, type: slack, url_file: %[1]s/slack-url}
  - {name: hook, type: webhook, url: "https://example.com/hook"}
  - name: mail
    type: email
    smtp_host: smtp.example.com
    username: syncwatch
    password_file: %[1]s/password
    from: syncwatch@example.com
    to: [ops@example.com]
digests:
  - name: daily
    schedule: "0 8 * * *"
    time_zone: Asia/Shanghai
    period: day
    language: zh
    sync_types: [products, prices]
    channels: [ding, mail]
  - {name: weekly, schedule: "@weekly", period: week, channels: [slack]}
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "syncwatch.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNotifyValid reads every kind of channel and two digests, with their
// defaults, secrets and schedules resolved.
func TestNotifyValid(t *testing.T) {
	dir := secretFiles(t)
	s, n := notifySet()
	if err := s.Parse([]string{"--config", writeConfig(t, fmt.Sprintf(validNotify, dir)), "--grafana-url", "https://grafana.example.com"}, noEnv); err != nil {
		t.Fatal(err)
	}
	if len(n.Channels) != 6 || len(n.Digests) != 2 {
		t.Fatalf("got %d channels, %d digests", len(n.Channels), len(n.Digests))
	}
	ding := n.Channel("ding")
	if ding.Endpoint.Reveal() != "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET-ding" || ding.Secret.Reveal() != "SECtopsecret" || ding.Language != "zh" {
		t.Errorf("ding: %+v", ding)
	}
	mail := n.Channel("mail")
	if mail.SMTPPort != 587 || mail.TLS != "starttls" || mail.Password.Reveal() != "TOPSECRET-smtp" {
		t.Errorf("mail: port %d tls %s", mail.SMTPPort, mail.TLS)
	}
	d := n.Digest("daily")
	if d.Location.String() != "Asia/Shanghai" || d.CatchUpAfter != 24*time.Hour {
		t.Errorf("daily: %v %v", d.Location, d.CatchUpAfter)
	}
	next := d.Cron.Next(time.Date(2026, 3, 1, 0, 0, 0, 0, d.Location))
	if want := time.Date(2026, 3, 1, 8, 0, 0, 0, d.Location); !next.Equal(want) {
		t.Errorf("next firing %v, want %v", next, want)
	}
	w := n.Digest("weekly")
	if w.Location != time.UTC || w.Language != "en" || w.CatchUpAfter != 7*24*time.Hour {
		t.Errorf("weekly defaults: %v %s %v", w.Location, w.Language, w.CatchUpAfter)
	}
	for _, v := range []any{*ding, *mail} {
		for _, out := range []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), mustJSON(t, v)} {
			if strings.Contains(out, "TOPSECRET") {
				t.Errorf("a secret shows: %s", out)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNotifyInvalid checks that each broken channel or digest stops
// start-up with an error naming it and the field, and never a secret.
func TestNotifyInvalid(t *testing.T) {
	mailOK := `{name: m, type: email, smtp_host: h, from: a@example.com, to: [b@example.com]}`
	digestOK := `{name: d, schedule: "0 8 * * *", channels: [m]}`
	tests := []struct {
		name     string
		channels string
		digests  string
		want     string
	}{
		{"bad cron", mailOK, `{name: d, schedule: "61 8 * * *", channels: [m]}`, `digest "d": schedule "61 8 * * *": `},
		{"six fields", mailOK, `{name: d, schedule: "0 0 8 * * *", channels: [m]}`, `digest "d": schedule "0 0 8 * * *": expected exactly 5 fields`},
		{"missing schedule", mailOK, `{name: d, channels: [m]}`, `digest "d": schedule is required`},
		{"zone in the schedule", mailOK, `{name: d, schedule: "CRON_TZ=Asia/Tokyo 0 8 * * *", channels: [m]}`, `digest "d": schedule "CRON_TZ=Asia/Tokyo 0 8 * * *": give the zone in time_zone`},
		{"bad zone", mailOK, `{name: d, schedule: "0 8 * * *", time_zone: Mars/Olympus, channels: [m]}`, `digest "d": time_zone "Mars/Olympus": want an IANA zone name`},
		{"local zone", mailOK, `{name: d, schedule: "0 8 * * *", time_zone: Local, channels: [m]}`, `digest "d": time_zone "Local"`},
		{"bad period", mailOK, `{name: d, schedule: "0 8 * * *", period: year, channels: [m]}`, `digest "d": period "year": want day, week or month`},
		{"bad language", mailOK, `{name: d, schedule: "0 8 * * *", language: fr, channels: [m]}`, `digest "d": language "fr": want en or zh`},
		{"unknown channel", mailOK, `{name: d, schedule: "0 8 * * *", channels: [pager]}`, `digest "d": channels: "pager" is not a configured channel`},
		{"no channel", mailOK, `{name: d, schedule: "0 8 * * *"}`, `digest "d": channels: at least one is required`},
		{"digest twice", mailOK, digestOK + `, ` + digestOK, `digest "d": name: used twice`},
		{"unknown digest key", mailOK, `{name: d, schedule: "0 8 * * *", channels: [m], cc: x}`, `digests[0]: yaml: unmarshal errors:`},
		{"bad catch_up", mailOK, `{name: d, schedule: "0 8 * * *", channels: [m], catch_up: soon}`, `digest "d": catch_up: invalid duration "soon"`},
		{"unknown type", `{name: pd, type: pagerduty}`, ``, `channel "pd": type "pagerduty": want one of email, slack, webhook, dingtalk, wecom, feishu`},
		{"robot url inline", `{name: r, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET"}`, ``, `channel "r": url: a dingtalk address carries its credential; give url_file`},
		{"missing url file", `{name: r, type: feishu, url_file: $DIR/absent}`, ``, `channel "r": url_file: open `},
		{"empty url file", `{name: r, type: wecom, url_file: $DIR/empty}`, ``, `channel "r": url_file $DIR/empty: the file is empty`},
		{"url file not a url", `{name: r, type: slack, url_file: $DIR/not-a-url}`, ``, `channel "r": url_file: not an http or https address`},
		{"no url", `{name: r, type: feishu}`, ``, `channel "r": url_file is required`},
		{"webhook bad url", `{name: r, type: webhook, url: "ftp://example.com"}`, ``, `channel "r": url: not an http or https address`},
		{"wecom secret", `{name: r, type: wecom, url_file: $DIR/wecom-url, secret_file: $DIR/ding-secret}`, ``, `channel "r": secret_file: a wecom webhook is not signed`},
		{"missing secret file", `{name: r, type: dingtalk, url_file: $DIR/ding-url, secret_file: $DIR/absent}`, ``, `channel "r": secret_file: open `},
		{"mail without host", `{name: m, type: email, from: a@example.com, to: [b@example.com]}`, ``, `channel "m": smtp_host is required`},
		{"mail bad from", `{name: m, type: email, smtp_host: h, from: "not an address", to: [b@example.com]}`, ``, `channel "m": from "not an address": `},
		{"mail no to", `{name: m, type: email, smtp_host: h, from: a@example.com}`, ``, `channel "m": to: at least one address is required`},
		{"mail bad tls", `{name: m, type: email, smtp_host: h, from: a@example.com, to: [b@example.com], tls: maybe}`, ``, `channel "m": tls "maybe": want starttls, tls or none`},
		{"mail user without password", `{name: m, type: email, smtp_host: h, from: a@example.com, to: [b@example.com], username: u}`, ``, `channel "m": username and password_file: give both or neither`},
		{"mail password missing", `{name: m, type: email, smtp_host: h, from: a@example.com, to: [b@example.com], username: u, password_file: $DIR/absent}`, ``, `channel "m": password_file: open `},
		{"channel twice", mailOK + `, ` + mailOK, ``, `channel "m": name: used twice`},
		{"channel without name", `{type: email}`, ``, `channels[0]: name is required`},
		{"channels not a list", ``, ``, `channels: want a list`},
	}
	dir := secretFiles(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := "channels: [" + strings.ReplaceAll(tc.channels, "$DIR", dir) + "]\n"
			if tc.name == "channels not a list" {
				body = "channels: {name: x}\n"
			}
			if tc.digests != "" {
				body += "digests: [" + tc.digests + "]\n"
			}
			path := writeConfig(t, body)
			s, _ := notifySet()
			err := s.Parse([]string{"--config", path}, noEnv)
			want := strings.ReplaceAll(tc.want, "$DIR", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an error containing %q", err, want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file %s: %v", path, err)
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// TestNotifyFlags checks the links and the scheduler switch through flags
// and the environment.
func TestNotifyFlags(t *testing.T) {
	s, n := notifySet()
	env := map[string]string{"SYNCWATCH_CONSOLE_URL": "https://sw.example.com", "SYNCWATCH_DIGEST_SCHEDULER": "false"}
	if err := s.Parse([]string{"--grafana-url", "https://g.example.com"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if n.ConsoleURL != "https://sw.example.com" || n.GrafanaURL != "https://g.example.com" || n.Scheduler || n.RetryFor != 6*time.Hour {
		t.Fatalf("%+v", n)
	}
	s, _ = notifySet()
	if err := s.Parse([]string{"--grafana-url", "grafana:3000"}, noEnv); err == nil || !strings.Contains(err.Error(), `--grafana-url "grafana:3000": want an http or https address`) {
		t.Fatalf("got %v", err)
	}
}
