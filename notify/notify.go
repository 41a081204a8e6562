// Package notify delivers notifications to people: SMTP e-mail (HTML and
// plain text), Slack incoming webhooks, a generic JSON webhook, and the
// custom robots of DingTalk, WeCom (企业微信) and Feishu/Lark, signing the
// requests of the robots that require it. Digests and the Alertmanager
// relay render a Message in every form once; each channel sends the form
// its receiver reads.
//
// A receiver that refuses a message for good (a 4xx answer, a robot's
// error code for a bad signature or a bad request) gives a Permanent
// error, which callers do not retry; timeouts, 5xx answers and rate
// limits give a transient one.
package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/syncwatch/syncwatch/config"
)

// Severity colours a message where a channel can.
type Severity string

// The severities of messages.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
	SeverityResolved Severity = "resolved"
)

// Message is one notification, rendered in every form a channel sends.
type Message struct {
	// Title is the subject of an e-mail and the heading of a card.
	Title    string
	Severity Severity
	// Markdown is the body for DingTalk, WeCom and Feishu, in the
	// Markdown subset they share: headings, **bold**, [links](url),
	// lists and > quotes.
	Markdown string
	// Slack is the body in Slack's mrkdwn.
	Slack string
	// Text is the plain-text body, the e-mail's alternative part.
	Text string
	// HTML is the e-mail's HTML body, a complete document.
	HTML string
	// Kind and Data are the generic webhook's "kind" ("digest",
	// "alert") and "data": the structured content the message renders.
	Kind string
	Data any
}

// Channel sends messages to one configured receiver.
type Channel interface {
	// Name is the channel's configured name.
	Name() string
	// Type is its kind: email, slack, webhook, dingtalk, wecom or feishu.
	Type() string
	// Send delivers m, or returns why not; IsPermanent tells a refusal
	// that repeating would not change.
	Send(ctx context.Context, m Message) error
}

// PermanentError is a refusal that a retry would meet again.
type PermanentError struct {
	Channel string
	Err     error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("channel %s refused the message: %v", e.Channel, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports that retrying will not help.
func (e *PermanentError) Permanent() bool { return true }

// IsPermanent reports whether err is a refusal that retrying will not
// change.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Options are what channels share besides their configuration.
type Options struct {
	// Client sends the webhooks' requests; a client with a 15 s timeout
	// when nil.
	Client *http.Client
	// Now is the clock of the robots' signatures; time.Now when nil.
	Now func() time.Time
	// TLS, when set, is the e-mail's TLS configuration (a test's own
	// certificate authority).
	TLS *tls.Config
}

// New returns the channel c configures.
func New(c config.Channel, o Options) (Channel, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := hook{name: c.Name, kind: c.Type, url: c.Endpoint.Reveal(), secret: c.Secret.Reveal(), client: o.Client, now: o.Now}
	switch c.Type {
	case config.ChannelEmail:
		return newEmail(c, o), nil
	case config.ChannelSlack:
		return &slack{h}, nil
	case config.ChannelWebhook:
		return &webhook{h}, nil
	case config.ChannelDingTalk:
		return &dingTalk{h}, nil
	case config.ChannelWeCom:
		return &weCom{h}, nil
	case config.ChannelFeishu:
		return &feishu{h}, nil
	}
	return nil, fmt.Errorf("channel %s: unknown type %q", c.Name, c.Type)
}

// NewAll returns the channels of n by name.
func NewAll(n []config.Channel, o Options) (map[string]Channel, error) {
	out := make(map[string]Channel, len(n))
	for _, c := range n {
		ch, err := New(c, o)
		if err != nil {
			return nil, err
		}
		out[c.Name] = ch
	}
	return out, nil
}
