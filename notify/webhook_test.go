package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/config"
)

// received is one request a test receiver took.
type received struct {
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// receiver is a real HTTP server that records requests and answers each
// with status and body.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
	answer string
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	t.Helper()
	r := &receiver{status: status, answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), Body: b})
		status, answer := r.status, r.answer
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

var fixedNow = time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC)

func testMessage() Message {
	return Message{
		Title: "syncwatch daily digest", Severity: SeverityWarning,
		Markdown: "**products**: 10 runs\n[console](https://sw.example.com/ui/)",
		Slack:    "*products*: 10 runs\n<https://sw.example.com/ui/|console>",
		Text:     "products: 10 runs", HTML: "<p>products</p>",
		Kind: "digest", Data: map[string]any{"runs": 10},
	}
}

func channel(t *testing.T, kind, u, secret string) Channel {
	t.Helper()
	ch, err := New(config.Channel{Name: "c-" + kind, Type: kind, Endpoint: config.Secret(u), Secret: config.Secret(secret)}, Options{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestWebhookPayloads sends one message through every webhook channel to
// a real receiver and checks the exact body, the path, and the signature.
func TestWebhookPayloads(t *testing.T) {
	tests := []struct {
		kind, secret, answer string
		path                 string
		wantBody             string
		wantQuery            url.Values
		wantHeader           map[string]string
	}{
		{
			kind: "slack", answer: "ok", path: "/services/T0/B0/x",
			wantBody: `{"blocks":[{"text":{"emoji":true,"text":"syncwatch daily digest","type":"plain_text"},"type":"header"},{"text":{"text":"*products*: 10 runs\n\u003chttps://sw.example.com/ui/|console\u003e","type":"mrkdwn"},"type":"section"}],"text":"syncwatch daily digest"}`,
		},
		{
			kind: "webhook", answer: "{}", path: "/hook",
			wantBody: `{"kind":"digest","title":"syncwatch daily digest","severity":"warning","text":"products: 10 runs","markdown":"**products**: 10 runs\n[console](https://sw.example.com/ui/)","data":{"runs":10}}`,
		},
		{
			kind: "webhook", secret: "hook-secret", answer: "{}", path: "/hook",
			wantBody:   `{"kind":"digest","title":"syncwatch daily digest","severity":"warning","text":"products: 10 runs","markdown":"**products**: 10 runs\n[console](https://sw.example.com/ui/)","data":{"runs":10}}`,
			wantHeader: map[string]string{"X-Syncwatch-Timestamp": "1774771200"},
		},
		{
			kind: "dingtalk", answer: `{"errcode":0,"errmsg":"ok"}`, path: "/robot/send",
			wantBody:  `{"markdown":{"text":"## syncwatch daily digest\n\n**products**: 10 runs\n[console](https://sw.example.com/ui/)","title":"syncwatch daily digest"},"msgtype":"markdown"}`,
			wantQuery: url.Values{"access_token": {"tok"}},
		},
		{
			kind: "dingtalk", secret: "SEC000", answer: `{"errcode":0,"errmsg":"ok"}`, path: "/robot/send",
			wantBody: `{"markdown":{"text":"## syncwatch daily digest\n\n**products**: 10 runs\n[console](https://sw.example.com/ui/)","title":"syncwatch daily digest"},"msgtype":"markdown"}`,
			// The signature DingTalk's documented algorithm gives for
			// this timestamp and secret, computed apart from the code.
			wantQuery: url.Values{"access_token": {"tok"}, "timestamp": {"1774771200000"}, "sign": {"eOxk1KjEcQq6RQby/5iY+X+VEACqxFnQbYNQCyCMIn4="}},
		},
		{
			kind: "wecom", answer: `{"errcode":0,"errmsg":"ok"}`, path: "/cgi-bin/webhook/send",
			wantBody:  `{"markdown":{"content":"## syncwatch daily digest\n**products**: 10 runs\n[console](https://sw.example.com/ui/)"},"msgtype":"markdown"}`,
			wantQuery: url.Values{"key": {"tok"}},
		},
		{
			kind: "feishu", answer: `{"code":0,"msg":"success"}`, path: "/open-apis/bot/v2/hook/tok",
			wantBody: `{"card":{"config":{"wide_screen_mode":true},"elements":[{"content":"**products**: 10 runs\n[console](https://sw.example.com/ui/)","tag":"markdown"}],"header":{"template":"orange","title":{"content":"syncwatch daily digest","tag":"plain_text"}}},"msg_type":"interactive"}`,
		},
		{
			kind: "feishu", secret: "feishu-secret", answer: `{"code":0,"msg":"success"}`, path: "/open-apis/bot/v2/hook/tok",
			wantBody: `{"card":{"config":{"wide_screen_mode":true},"elements":[{"content":"**products**: 10 runs\n[console](https://sw.example.com/ui/)","tag":"markdown"}],"header":{"template":"orange","title":{"content":"syncwatch daily digest","tag":"plain_text"}}},"msg_type":"interactive","sign":"q3GEE7ysSpmkbUzrH6e0NiT/Ndnoxp+MHl4nr9vDt8o=","timestamp":"1774771200"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.kind+map[bool]string{true: "-signed"}[tc.secret != ""], func(t *testing.T) {
			r := newReceiver(t, http.StatusOK, tc.answer)
			u := r.URL + tc.path
			if tc.kind == "dingtalk" {
				u += "?access_token=tok"
			}
			if tc.kind == "wecom" {
				u += "?key=tok"
			}
			if err := channel(t, tc.kind, u, tc.secret).Send(context.Background(), testMessage()); err != nil {
				t.Fatal(err)
			}
			got := r.requests()
			if len(got) != 1 {
				t.Fatalf("%d requests", len(got))
			}
			g := got[0]
			if g.Path != tc.path {
				t.Errorf("path %s, want %s", g.Path, tc.path)
			}
			if string(g.Body) != tc.wantBody {
				t.Errorf("body\n got %s\nwant %s", g.Body, tc.wantBody)
			}
			if tc.wantQuery != nil && g.Query.Encode() != tc.wantQuery.Encode() {
				t.Errorf("query %v, want %v", g.Query, tc.wantQuery)
			}
			if ct := g.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			for k, v := range tc.wantHeader {
				if g.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, g.Header.Get(k), v)
				}
			}
			if tc.kind == "webhook" && tc.secret != "" {
				want := "sha256=" + WebhookSignature(tc.secret, "1774771200", g.Body)
				if g.Header.Get("X-Syncwatch-Signature") != want {
					t.Errorf("signature %q, want %q", g.Header.Get("X-Syncwatch-Signature"), want)
				}
			}
			if !json.Valid(g.Body) {
				t.Error("body is not JSON")
			}
		})
	}
}

// TestSignatures checks the robots' signatures against values computed
// by their documented algorithms apart from this code (openssl dgst
// -sha256 -hmac … | base64).
func TestSignatures(t *testing.T) {
	if got := DingTalkSign("SEC000", 1774771200000); got != "eOxk1KjEcQq6RQby/5iY+X+VEACqxFnQbYNQCyCMIn4=" {
		t.Errorf("dingtalk sign %s", got)
	}
	if got := FeishuSign("feishu-secret", 1774771200); got != "q3GEE7ysSpmkbUzrH6e0NiT/Ndnoxp+MHl4nr9vDt8o=" {
		t.Errorf("feishu sign %s", got)
	}
}

// TestRefusals checks which answers are permanent (not retried) and which
// transient, and that no error shows the address's credential.
func TestRefusals(t *testing.T) {
	tests := []struct {
		kind, answer string
		status       int
		permanent    bool
		want         string
	}{
		{"slack", "invalid_token", 403, true, "HTTP 403: invalid_token"},
		{"slack", "", 500, false, "HTTP 500"},
		{"slack", "", 429, false, "HTTP 429"},
		{"webhook", "bad", 400, true, "HTTP 400: bad"},
		{"dingtalk", `{"errcode":310000,"errmsg":"sign not match"}`, 200, true, "robot answered 310000 sign not match"},
		{"dingtalk", `{"errcode":130101,"errmsg":"send too fast"}`, 200, false, "robot answered 130101"},
		{"wecom", `{"errcode":93000,"errmsg":"invalid webhook url"}`, 200, true, "robot answered 93000"},
		{"wecom", `{"errcode":45009,"errmsg":"api freq out of limit"}`, 200, false, "robot answered 45009"},
		{"feishu", `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, 200, true, "robot answered 19021"},
		{"feishu", `{"code":9499,"msg":"too many request"}`, 200, false, "robot answered 9499"},
		{"feishu", `not json`, 200, false, "unreadable answer"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"-"+tc.want, func(t *testing.T) {
			r := newReceiver(t, tc.status, tc.answer)
			err := channel(t, tc.kind, r.URL+"/TOPSECRET", "").Send(context.Background(), testMessage())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v", IsPermanent(err), tc.permanent)
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("the error shows the address: %v", err)
			}
		})
	}
	// A receiver that is not there: transient, without the address.
	r := newReceiver(t, 200, "")
	u := r.URL + "/TOPSECRET"
	r.Close()
	err := channel(t, "slack", u, "").Send(context.Background(), testMessage())
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("got %v", err)
	}
}

// TestLimits checks that long bodies are cut to what each receiver takes.
func TestLimits(t *testing.T) {
	long := strings.Repeat("同步失败 sync failed\n", 2000)
	m := testMessage()
	m.Markdown, m.Slack = long, long
	r := newReceiver(t, 200, `{"errcode":0}`)
	if err := channel(t, "wecom", r.URL, "").Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Markdown struct{ Content string } `json:"markdown"`
	}
	if err := json.Unmarshal(r.requests()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if n := len(body.Markdown.Content); n > weComMaxBytes || n < weComMaxBytes-8 {
		t.Errorf("wecom content of %d bytes", n)
	}
	s := newReceiver(t, 200, "ok")
	if err := channel(t, "slack", s.URL, "").Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var sb struct {
		Blocks []struct {
			Text struct{ Text string } `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(s.requests()[0].Body, &sb); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range sb.Blocks[1:] {
		if n := len([]rune(b.Text.Text)); n > slackBlockChars {
			t.Errorf("a slack block of %d characters", n)
		}
		total += len(b.Text.Text)
	}
	if total != len(long) {
		t.Errorf("slack blocks hold %d bytes of %d", total, len(long))
	}
}
