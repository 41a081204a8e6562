package relay_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	swtestutil "github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/notify"
	"github.com/syncwatch/syncwatch/relay"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

// payload is what Alertmanager 0.25 posts for a group of two firing
// alerts of syncwatch's rules, labelled lang=zh.
const payload = `{
  "receiver": "chat-dingtalk", "status": "firing", "version": "4",
  "groupKey": "{}/{severity=\"warning\"}:{alertname=\"SyncFailureRateHigh\", source=\"haier\", sync_type=\"products\"}",
  "truncatedAlerts": 0, "externalURL": "http://alertmanager:9093",
  "groupLabels": {"alertname": "SyncFailureRateHigh", "source": "haier", "sync_type": "products"},
  "commonLabels": {"alertname": "SyncFailureRateHigh", "severity": "warning", "source": "haier", "sync_type": "products", "lang": "zh"},
  "commonAnnotations": {},
  "alerts": [
    {"status": "firing", "fingerprint": "a1",
     "labels": {"alertname": "SyncFailureRateHigh", "severity": "warning", "source": "haier", "sync_type": "products", "lang": "zh"},
     "annotations": {"summary": "products sync (haier): 40% of runs failed in the last hour",
       "description": "4 of 10 runs failed.",
       "runbook_url": "https://github.com/syncwatch/syncwatch/blob/main/docs/runbooks.md#syncfailureratehigh",
       "dashboard_url": "/d/syncwatch-drilldown?var-sync_type=products&var-source=haier",
       "console_url": "/ui/runs?sync_type=products&source=haier&status=failed"},
     "startsAt": "2026-03-28T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph"},
    {"status": "firing", "fingerprint": "a2",
     "labels": {"alertname": "SyncFailureRateHigh", "severity": "warning", "source": "haier", "sync_type": "products", "lang": "zh", "escalated": "true"},
     "annotations": {"summary": "*bold* [x](javascript:alert(1)) <b>", "console_url": "javascript:alert(1)"},
     "startsAt": "2026-03-28T07:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}
  ]
}`

// robot is a real HTTP server standing for a chat robot.
type robot struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	query  []url.Values
	status int
	answer string
}

func newRobot(t *testing.T, answer string) *robot {
	r := &robot{status: 200, answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, b)
		r.query = append(r.query, req.URL.Query())
		w.WriteHeader(r.status)
		io.WriteString(w, r.answer)
	}))
	t.Cleanup(r.Close)
	return r
}

const (
	relaySecret = "relay-secret-0123456789"
	querySecret = "query-secret-0123456789"
	adminSecret = "admin-secret-0123456789"
)

var now = time.Date(2026, 3, 28, 8, 5, 0, 0, time.UTC)

// harness serves the relay with three robots and a Slack channel.
type harness struct {
	h                   http.Handler
	reg                 *prometheus.Registry
	ding, wecom, feishu *robot
	logs                *swtestutil.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	hs := &harness{
		ding: newRobot(t, `{"errcode":0,"errmsg":"ok"}`), wecom: newRobot(t, `{"errcode":0,"errmsg":"ok"}`),
		feishu: newRobot(t, `{"code":0,"msg":"success"}`), reg: prometheus.NewRegistry(),
	}
	mk := func(name, kind, u, secret string) notify.Channel {
		ch, err := notify.New(config.Channel{Name: name, Type: kind, Endpoint: config.Secret(u), Secret: config.Secret(secret)},
			notify.Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	log, logs := swtestutil.NewLogger()
	hs.logs = logs
	r, err := relay.New(relay.Config{
		Channels: map[string]relay.Channel{
			"ops-ding":   {Channel: mk("ops-ding", "dingtalk", hs.ding.URL+"/robot/send?access_token=tok", "SEC000"), Language: "en"},
			"ops-wecom":  {Channel: mk("ops-wecom", "wecom", hs.wecom.URL+"/cgi-bin/webhook/send?key=k", ""), Language: "zh"},
			"ops-feishu": {Channel: mk("ops-feishu", "feishu", hs.feishu.URL+"/open-apis/bot/v2/hook/h", "feishu-secret"), Language: "en"},
			"ops-slack":  {Channel: mk("ops-slack", "slack", hs.ding.URL, ""), Language: "en"},
		},
		ConsoleURL: "https://sw.example.com/", GrafanaURL: "https://grafana.example.com",
	}, log, hs.reg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewAuth([]auth.Token{
		{Name: "am", Secret: relaySecret, Roles: []auth.Role{auth.RoleRelay}},
		{Name: "q", Secret: querySecret, Roles: []auth.Role{auth.RoleQuery}},
		{Name: "ops", Secret: adminSecret, Roles: []auth.Role{auth.RoleAdmin}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	r.Register(e, auth.NewMiddleware(a, nil))
	hs.h = e
	return hs
}

func (hs *harness) post(t *testing.T, channel, secret, body string, o contract.Options) *httptest.ResponseRecorder {
	t.Helper()
	if o.Header == nil {
		o.Header = http.Header{"Content-Type": {"application/json"}}
	}
	if secret != "" {
		o.Header.Set("Authorization", "Bearer "+secret)
	}
	o.Body = []byte(body)
	return contract.Call(t, hs.h, http.MethodPost, "/api/v1/alerts/relay/"+channel, o)
}

// TestRelayDingTalk relays a notification to a signed DingTalk robot and
// checks the exact body: Chinese (the alerts' lang label beats the
// channel's English), the links joined to the console's and Grafana's
// addresses, the escalation, and the hostile annotation made harmless.
func TestRelayDingTalk(t *testing.T) {
	hs := newHarness(t)
	w := hs.post(t, "ops-ding", relaySecret, payload, contract.Options{})
	if w.Code != 200 || w.Body.String() != `{"channel":"ops-ding","alerts":2}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	want := `{"markdown":{"text":"## [告警:2] SyncFailureRateHigh (haier products)\n\n` +
		`**[告警] products sync (haier): 40% of runs failed in the last hour**\n\n` +
		`\u003e 4 of 10 runs failed.\n\n` +
		`级别: warning · source: haier · sync_type: products · 开始于 2026-03-28 08:00 UTC\n\n` +
		`[处理手册](https://github.com/syncwatch/syncwatch/blob/main/docs/runbooks.md#syncfailureratehigh) · ` +
		`[Grafana](https://grafana.example.com/d/syncwatch-drilldown?var-sync_type=products\u0026var-source=haier) · ` +
		`[控制台](https://sw.example.com/ui/runs?sync_type=products\u0026source=haier\u0026status=failed)\n\n` +
		`**[告警] ∗bold∗ ［x］(javascript:alert(1)) ‹b›**\n\n` +
		`级别: warning · source: haier · sync_type: products · 已升级：告警长时间未解决 · 开始于 2026-03-28 07:00 UTC",` +
		`"title":"[告警:2] SyncFailureRateHigh (haier products)"},"msgtype":"markdown"}`
	if got := string(hs.ding.bodies[0]); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	q := hs.ding.query[0]
	if q.Get("access_token") != "tok" || q.Get("timestamp") != "1774685100000" || q.Get("sign") != notify.DingTalkSign("SEC000", 1774685100000) {
		t.Errorf("query %v", q)
	}
	if v := testutil.ToFloat64(counter(t, hs.reg, "ops-ding", relay.OutcomeDelivered)); v != 1 {
		t.Errorf("delivered = %v", v)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, channel, outcome string) prometheus.Collector {
	t.Helper()
	return &series{reg: reg, channel: channel, outcome: outcome}
}

// series reads one series of syncwatch_alert_relay_total from a
// registry, as a collector testutil.ToFloat64 can read.
type series struct {
	reg              *prometheus.Registry
	channel, outcome string
}

func (s *series) Describe(ch chan<- *prometheus.Desc) {}
func (s *series) Collect(ch chan<- prometheus.Metric) {
	fams, _ := s.reg.Gather()
	for _, f := range fams {
		if f.GetName() != "syncwatch_alert_relay_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["channel"] == s.channel && l["outcome"] == s.outcome {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
			}
		}
	}
}

// TestRelayRobots relays a resolved English notification to WeCom and
// Feishu (signed) and checks their bodies.
func TestRelayRobots(t *testing.T) {
	hs := newHarness(t)
	resolved := strings.NewReplacer(`"status": "firing"`, `"status": "resolved"`, `"lang": "zh"`, `"lang": "en"`).Replace(payload)
	for _, ch := range []string{"ops-wecom", "ops-feishu"} {
		if w := hs.post(t, ch, adminSecret, resolved, contract.Options{}); w.Code != 200 {
			t.Fatalf("%s: %d %s", ch, w.Code, w.Body)
		}
	}
	var we struct {
		MsgType  string `json:"msgtype"`
		Markdown struct{ Content string }
	}
	if err := json.Unmarshal(hs.wecom.bodies[0], &we); err != nil {
		t.Fatal(err)
	}
	if we.MsgType != "markdown" || !strings.HasPrefix(we.Markdown.Content, "## [RESOLVED:2] SyncFailureRateHigh (haier products)\n**[RESOLVED] products sync") ||
		!strings.Contains(we.Markdown.Content, "[Runbook](https://github.com/syncwatch/syncwatch/blob/main/docs/runbooks.md#syncfailureratehigh)") {
		t.Errorf("wecom: %s", we.Markdown.Content)
	}
	var fs struct {
		MsgType   string `json:"msg_type"`
		Timestamp string
		Sign      string
		Card      struct {
			Header struct {
				Template string
				Title    struct{ Content string }
			}
			Elements []struct{ Tag, Content string }
		}
	}
	if err := json.Unmarshal(hs.feishu.bodies[0], &fs); err != nil {
		t.Fatal(err)
	}
	if fs.MsgType != "interactive" || fs.Timestamp != "1774685100" || fs.Sign != notify.FeishuSign("feishu-secret", 1774685100) ||
		fs.Card.Header.Template != "green" || fs.Card.Header.Title.Content != "[RESOLVED:2] SyncFailureRateHigh (haier products)" ||
		len(fs.Card.Elements) != 1 || fs.Card.Elements[0].Tag != "markdown" || !strings.Contains(fs.Card.Elements[0].Content, "escalated: unresolved warning") {
		t.Errorf("feishu: %s", hs.feishu.bodies[0])
	}
}

// TestRelayRefusals checks every refusal: who may post, which channels
// exist, what a body must be, and what a failing robot gives Alertmanager.
func TestRelayRefusals(t *testing.T) {
	hs := newHarness(t)
	tests := []struct {
		name, channel, secret, body string
		header                      http.Header
		before                      func()
		code                        int
		want                        string
	}{
		{name: "no token", channel: "ops-ding", body: payload, code: 401, want: "a valid bearer token is required"},
		{name: "query token", channel: "ops-ding", secret: querySecret, body: payload, code: 403, want: "lacks the relay role"},
		{name: "unknown channel", channel: "pager", secret: relaySecret, body: payload, code: 404, want: `no relay channel is called \"pager\"`},
		{name: "slack is not a relay channel", channel: "ops-slack", secret: relaySecret, body: payload, code: 404, want: `no relay channel is called \"ops-slack\"`},
		{name: "not json", channel: "ops-ding", secret: relaySecret, body: "x", header: http.Header{"Content-Type": {"text/plain"}}, code: 415, want: "Content-Type: application/json"},
		{name: "malformed", channel: "ops-ding", secret: relaySecret, body: "{", code: 400, want: "not Alertmanager's webhook JSON"},
		{name: "no alerts", channel: "ops-ding", secret: relaySecret, body: `{"status":"firing","alerts":[]}`, code: 400, want: `"field":"alerts"`},
		{name: "bad status", channel: "ops-ding", secret: relaySecret, body: `{"status":"burning","alerts":[{"labels":{"alertname":"x"}}]}`, code: 400, want: `"field":"status"`},
		{name: "labels of the wrong type", channel: "ops-ding", secret: relaySecret, body: `{"alerts":[{"labels":["x"]}]}`, code: 400, want: `"field":"alerts.labels"`},
		{name: "too large", channel: "ops-ding", secret: relaySecret, body: `{"alerts":[` + strings.Repeat(" ", relay.MaxBodyBytes) + `]}`, code: 413, want: "larger than"},
		{name: "robot refuses", channel: "ops-ding", secret: relaySecret, body: payload, before: func() { hs.ding.answer = `{"errcode":310000,"errmsg":"sign not match"}` }, code: 502, want: "robot answered 310000"},
		{name: "robot fails", channel: "ops-wecom", secret: relaySecret, body: payload, before: func() { hs.wecom.status = 502 }, code: 503, want: "HTTP 502"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			w := hs.post(t, tc.channel, tc.secret, tc.body, contract.Options{Header: tc.header, InvalidRequest: true})
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d with %q", w.Code, w.Body, tc.code, tc.want)
			}
			if strings.Contains(w.Body.String(), "tok") && strings.Contains(w.Body.String(), "access_token") {
				t.Error("the answer shows the robot's address")
			}
		})
	}
	for outcome, want := range map[string]float64{relay.OutcomeInvalid: 4, relay.OutcomeRefused: 1, relay.OutcomeDelivered: 0} {
		if v := testutil.ToFloat64(counter(t, hs.reg, "ops-ding", outcome)); v != want {
			t.Errorf("ops-ding %s = %v, want %v", outcome, v, want)
		}
	}
	if v := testutil.ToFloat64(counter(t, hs.reg, "ops-wecom", relay.OutcomeFailed)); v != 1 {
		t.Errorf("ops-wecom failed = %v", v)
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)]*)\)`)

// FuzzRelayPayload feeds arbitrary bodies to the parser and renders what
// it accepts: no panic, a title, and every markdown link an http(s)
// address.
func FuzzRelayPayload(f *testing.F) {
	f.Add([]byte(payload))
	f.Add([]byte(`{"alerts":[{"labels":{"alertname":"x"},"annotations":{"runbook_url":"javascript:x","console_url":"//evil"}}]}`))
	f.Add([]byte(`{"status":"resolved","alerts":[{"status":"resolved","labels":{"a":"b"},"endsAt":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"alerts":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := relay.Parse(body)
		if err != nil {
			return
		}
		for _, lang := range []string{"en", "zh", ""} {
			m := relay.Render(n, lang, "https://sw.example.com", "")
			if m.Title == "" || m.Kind != "alert" {
				t.Fatalf("message %+v", m)
			}
			for _, l := range mdLink.FindAllStringSubmatch(m.Markdown, -1) {
				if !strings.HasPrefix(l[1], "https://") && !strings.HasPrefix(l[1], "http://") {
					t.Fatalf("link %q in %q", l[1], m.Markdown)
				}
			}
			if len(m.Markdown) > 64<<10 {
				t.Fatalf("markdown of %d bytes", len(m.Markdown))
			}
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(n); err != nil {
			t.Fatal(err)
		}
	})
}
