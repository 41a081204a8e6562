package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// hook is what the webhook channels share: the address (which holds
// their credential and so never appears in an error), the signing secret,
// and the HTTP client.
type hook struct {
	name, kind string
	url        string
	secret     string
	client     *http.Client
	now        func() time.Time
}

func (h *hook) Name() string { return h.name }
func (h *hook) Type() string { return h.kind }

// Limits of the receivers, in bytes of the body text: WeCom refuses
// markdown beyond 4096 bytes, DingTalk beyond about 20000, a Feishu card
// beyond 30 KB, and a Slack section block beyond 3000 characters.
const (
	weComMaxBytes    = 4096
	dingTalkMaxBytes = 20000
	feishuMaxBytes   = 28000
	slackBlockChars  = 3000
)

// post sends body as JSON to u and returns the answer's body. A transport
// error, a 5xx or a 429 is transient; another non-2xx is permanent. The
// error never holds the address, which carries a credential.
func (h *hook) post(ctx context.Context, u string, body any, header http.Header) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("channel %s: encode: %w", h.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("channel %s: build request: invalid address", h.name)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "syncwatch")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the address
		}
		return nil, fmt.Errorf("channel %s: post: %w", h.name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("channel %s: read answer: %w", h.name, err)
	}
	if resp.StatusCode/100 == 2 {
		return answer, nil
	}
	err = fmt.Errorf("channel %s: HTTP %d: %s", h.name, resp.StatusCode, clip(string(answer), 200))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return nil, err
	}
	return nil, &PermanentError{Channel: h.name, Err: err}
}

// robotAnswer is the answer of the DingTalk and WeCom robots
// (errcode/errmsg) and of Feishu's (code/msg, or StatusCode in older
// versions).
type robotAnswer struct {
	ErrCode    *int   `json:"errcode"`
	ErrMsg     string `json:"errmsg"`
	Code       *int   `json:"code"`
	Msg        string `json:"msg"`
	StatusCode *int   `json:"StatusCode"`
}

// checkRobot reads a robot's answer: code 0 is delivered; the codes in
// transient are rate limits worth retrying; any other code is a refusal
// (a bad signature, a bad address, a malformed message).
func (h *hook) checkRobot(answer []byte, transient ...int) error {
	var a robotAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return fmt.Errorf("channel %s: unreadable answer %q: %w", h.name, clip(string(answer), 200), err)
	}
	code, msg := 0, a.ErrMsg
	switch {
	case a.ErrCode != nil:
		code = *a.ErrCode
	case a.Code != nil:
		code, msg = *a.Code, a.Msg
	case a.StatusCode != nil:
		code = *a.StatusCode
	}
	if code == 0 {
		return nil
	}
	err := fmt.Errorf("channel %s: robot answered %d %s", h.name, code, clip(msg, 200))
	for _, t := range transient {
		if code == t {
			return err
		}
	}
	return &PermanentError{Channel: h.name, Err: err}
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// slack posts to a Slack incoming webhook: the title as a header block
// and the body as mrkdwn sections, with the plain text as the fallback
// notifications show.
type slack struct{ hook }

// Send posts m.
func (s *slack) Send(ctx context.Context, m Message) error {
	blocks := []map[string]any{{
		"type": "header",
		"text": map[string]any{"type": "plain_text", "text": clip(m.Title, 150), "emoji": true},
	}}
	for _, part := range splitRunes(m.Slack, slackBlockChars) {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": part}})
	}
	_, err := s.post(ctx, s.url, map[string]any{"text": m.Title, "blocks": blocks}, nil)
	return err
}

// splitRunes cuts s into pieces of at most n runes, at line ends where it
// can.
func splitRunes(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		cut, runes := 0, 0
		for i := range s {
			if runes == n {
				cut = i
				break
			}
			runes++
		}
		if nl := strings.LastIndexByte(s[:cut], '\n'); nl > 0 {
			cut = nl + 1
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// webhook posts the message as JSON to any receiver. With a secret, the
// request carries X-Syncwatch-Timestamp (Unix seconds) and
// X-Syncwatch-Signature: "sha256=" and the hex HMAC-SHA256, keyed with
// the secret, of the timestamp, a dot, and the body.
type webhook struct{ hook }

// WebhookPayload is the body the generic webhook posts.
type WebhookPayload struct {
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	Text     string   `json:"text"`
	Markdown string   `json:"markdown"`
	Data     any      `json:"data"`
}

// Send posts m.
func (w *webhook) Send(ctx context.Context, m Message) error {
	p := WebhookPayload{Kind: m.Kind, Title: m.Title, Severity: m.Severity, Text: m.Text, Markdown: m.Markdown, Data: m.Data}
	if w.secret == "" {
		_, err := w.post(ctx, w.url, p, nil)
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("channel %s: encode: %w", w.name, err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	_, err = w.post(ctx, w.url, json.RawMessage(body), http.Header{
		"X-Syncwatch-Timestamp": {ts},
		"X-Syncwatch-Signature": {"sha256=" + WebhookSignature(w.secret, ts, body)},
	})
	return err
}

// WebhookSignature is the hex HMAC-SHA256, keyed with secret, of
// timestamp, ".", and body: what a receiver of the generic webhook
// recomputes to check X-Syncwatch-Signature.
func WebhookSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// dingTalk posts a markdown message to a DingTalk custom robot. A robot
// with signing on (加签) takes timestamp (Unix milliseconds) and sign in
// the query: the base64 HMAC-SHA256, keyed with the secret, of the
// timestamp, a newline and the secret.
type dingTalk struct{ hook }

// DingTalkSign is the sign parameter of a DingTalk robot's request, before
// URL encoding.
func DingTalkSign(secret string, timestampMillis int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send posts m.
func (d *dingTalk) Send(ctx context.Context, m Message) error {
	u := d.url
	if d.secret != "" {
		ts := d.now().UnixMilli()
		parsed, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("channel %s: invalid address", d.name)
		}
		q := parsed.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", DingTalkSign(d.secret, ts))
		parsed.RawQuery = q.Encode()
		u = parsed.String()
	}
	answer, err := d.post(ctx, u, map[string]any{
		"msgtype":  "markdown",
		"markdown": map[string]any{"title": clip(m.Title, 100), "text": clip("## "+m.Title+"\n\n"+m.Markdown, dingTalkMaxBytes)},
	}, nil)
	if err != nil {
		return err
	}
	// 130101: sending too fast (20 messages a minute per robot).
	return d.checkRobot(answer, 130101)
}

// weCom posts a markdown message to a WeCom group robot; its key is in the
// address and it has no signing.
type weCom struct{ hook }

// Send posts m.
func (w *weCom) Send(ctx context.Context, m Message) error {
	answer, err := w.post(ctx, w.url, map[string]any{
		"msgtype":  "markdown",
		"markdown": map[string]any{"content": clip("## "+m.Title+"\n"+m.Markdown, weComMaxBytes)},
	}, nil)
	if err != nil {
		return err
	}
	// 45009: the API's frequency limit.
	return w.checkRobot(answer, 45009)
}

// feishu posts an interactive card with a markdown element to a
// Feishu/Lark custom robot. A robot with signature verification takes
// timestamp (Unix seconds, a string) and sign in the body: the base64
// HMAC-SHA256, keyed with the timestamp, a newline and the secret, of
// nothing.
type feishu struct{ hook }

// FeishuSign is the sign field of a Feishu robot's request.
func FeishuSign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// feishuTemplate is the card header's colour for each severity.
var feishuTemplate = map[Severity]string{
	SeverityInfo: "blue", SeverityWarning: "orange", SeverityCritical: "red", SeverityResolved: "green",
}

// Send posts m.
func (f *feishu) Send(ctx context.Context, m Message) error {
	tmpl := feishuTemplate[m.Severity]
	if tmpl == "" {
		tmpl = "blue"
	}
	body := map[string]any{
		"msg_type": "interactive",
		"card": map[string]any{
			"config": map[string]any{"wide_screen_mode": true},
			"header": map[string]any{
				"title":    map[string]any{"tag": "plain_text", "content": clip(m.Title, 200)},
				"template": tmpl,
			},
			"elements": []any{map[string]any{"tag": "markdown", "content": clip(m.Markdown, feishuMaxBytes)}},
		},
	}
	if f.secret != "" {
		ts := f.now().Unix()
		body["timestamp"] = strconv.FormatInt(ts, 10)
		body["sign"] = FeishuSign(f.secret, ts)
	}
	answer, err := f.post(ctx, f.url, body, nil)
	if err != nil {
		return err
	}
	// 9499 and 11232: too many requests.
	return f.checkRobot(answer, 9499, 11232)
}
