// Package relay delivers Alertmanager's notifications to the chat robots
// most Chinese teams are on: POST /api/v1/alerts/relay/{channel} takes the
// body of Alertmanager's webhook receiver and sends it, as one markdown
// message in the alerts' language, to a configured DingTalk, WeCom or
// Feishu channel, with each alert's runbook, Grafana and console links.
//
// The payload is read into a small struct of its own rather than
// github.com/prometheus/alertmanager/template.Data: that package would
// bring Alertmanager's module and its dependencies into the binary for
// ten fields, and the webhook's JSON (version 4) is a stable contract.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/notify"
	"github.com/syncwatch/syncwatch/web"
)

// Route is the relay's path.
const Route = "/api/v1/alerts/relay/:channel"

// Limits of a relayed notification.
const (
	MaxBodyBytes = 1 << 20
	MaxAlerts    = 1000
	// maxShown bounds the alerts one message lists; the rest are counted.
	maxShown    = 20
	sendTimeout = 15 * time.Second
)

// Outcomes of relayed notifications, as syncwatch_alert_relay_total
// labels them.
const (
	OutcomeDelivered = "delivered"
	OutcomeRefused   = "refused"
	OutcomeFailed    = "failed"
	OutcomeInvalid   = "invalid"
)

// Channel is a configured robot the relay may send to.
type Channel struct {
	notify.Channel
	// Language is the language of notifications whose alerts carry no
	// lang label: en or zh.
	Language string
}

// Config configures the relay.
type Config struct {
	// Channels are the relay's channels by name; only DingTalk, WeCom
	// and Feishu robots are taken.
	Channels map[string]Channel
	// ConsoleURL and GrafanaURL prefix the alerts' relative console_url
	// and dashboard_url annotations.
	ConsoleURL, GrafanaURL string
}

// Guard admits the callers of a role; *auth.Middleware is one.
type Guard interface {
	Require(r auth.Role) gin.HandlerFunc
}

// Relay is the relay's handler.
type Relay struct {
	cfg   Config
	log   logrus.FieldLogger
	total *prometheus.CounterVec
}

// IsRelayType reports whether a channel of type kind can take relayed
// alerts.
func IsRelayType(kind string) bool {
	return kind == config.ChannelDingTalk || kind == config.ChannelWeCom || kind == config.ChannelFeishu
}

// New returns the relay and registers its metric.
func New(cfg Config, log logrus.FieldLogger, reg prometheus.Registerer) (*Relay, error) {
	if log == nil || reg == nil {
		return nil, errors.New("relay: a logger and a registerer are required")
	}
	for name, c := range cfg.Channels {
		if !IsRelayType(c.Type()) {
			delete(cfg.Channels, name)
		}
	}
	r := &Relay{cfg: cfg, log: log.WithField("component", "relay")}
	r.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncwatch_alert_relay_total",
		Help: "Alertmanager notifications posted to the relay, by channel and outcome: delivered, refused (the robot refused it for good), failed (worth a retry; Alertmanager retries), invalid (a body that is not Alertmanager's).",
	}, []string{"channel", "outcome"})
	for name := range cfg.Channels {
		for _, o := range []string{OutcomeDelivered, OutcomeRefused, OutcomeFailed, OutcomeInvalid} {
			r.total.WithLabelValues(name, o)
		}
	}
	if err := reg.Register(r.total); err != nil {
		return nil, fmt.Errorf("relay: register metrics: %w", err)
	}
	return r, nil
}

// Register adds the relay's route to e, for admin and relay tokens.
func (r *Relay) Register(e *gin.Engine, g Guard) {
	e.POST(Route, g.Require(auth.RoleRelay), r.handle)
}

// Answer is the body of a delivered notification.
type Answer struct {
	Channel string `json:"channel"`
	Alerts  int    `json:"alerts"`
}

func (r *Relay) handle(c *gin.Context) {
	name := c.Param("channel")
	ch, ok := r.cfg.Channels[name]
	if !ok {
		web.Fail(c, http.StatusNotFound, fmt.Sprintf("no relay channel is called %q: relay channels are the configured dingtalk, wecom and feishu channels", clip(name, 100)))
		return
	}
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		web.Fail(c, http.StatusUnsupportedMediaType, "the body must be Alertmanager's webhook JSON (Content-Type: application/json)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			web.Fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
			return
		}
		web.Fail(c, http.StatusBadRequest, "reading the body failed: "+err.Error())
		return
	}
	n, err := Parse(body)
	if err != nil {
		r.total.WithLabelValues(name, OutcomeInvalid).Inc()
		var fe *FieldError
		if errors.As(err, &fe) {
			c.AbortWithStatusJSON(http.StatusBadRequest, web.ErrorResponse{Error: fe.Error(), Field: fe.Field})
			return
		}
		web.Fail(c, http.StatusBadRequest, err.Error())
		return
	}
	msg := Render(n, ch.Language, r.cfg.ConsoleURL, r.cfg.GrafanaURL)
	ctx, cancel := context.WithTimeout(c.Request.Context(), sendTimeout)
	defer cancel()
	log := web.Log(c).WithFields(logrus.Fields{"channel": name, "alerts": len(n.Alerts), "status": n.Status})
	if err := ch.Send(ctx, msg); err != nil {
		if notify.IsPermanent(err) {
			r.total.WithLabelValues(name, OutcomeRefused).Inc()
			log.WithError(err).Error("relayed alerts refused by the channel")
			web.Fail(c, http.StatusBadGateway, err.Error())
			return
		}
		r.total.WithLabelValues(name, OutcomeFailed).Inc()
		log.WithError(err).Warn("relaying alerts failed; Alertmanager retries")
		web.Fail(c, http.StatusServiceUnavailable, err.Error())
		return
	}
	r.total.WithLabelValues(name, OutcomeDelivered).Inc()
	log.Info("alerts relayed")
	c.JSON(http.StatusOK, Answer{Channel: name, Alerts: len(n.Alerts)})
}

// Notification is the body of Alertmanager's webhook receiver.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// FieldError is a notification that breaks a rule, naming the field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Parse reads and checks a notification.
func Parse(body []byte) (*Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &FieldError{Field: te.Field, Msg: "want " + te.Type.String() + ", got a JSON " + te.Value}
		}
		return nil, fmt.Errorf("the body is not Alertmanager's webhook JSON: %w", err)
	}
	if len(n.Alerts) == 0 {
		return nil, &FieldError{Field: "alerts", Msg: "at least one alert is required"}
	}
	if len(n.Alerts) > MaxAlerts {
		return nil, &FieldError{Field: "alerts", Msg: fmt.Sprintf("%d alerts: at most %d", len(n.Alerts), MaxAlerts)}
	}
	if n.Status != "" && n.Status != "firing" && n.Status != "resolved" {
		return nil, &FieldError{Field: "status", Msg: fmt.Sprintf("%q: want firing or resolved", clip(n.Status, 40))}
	}
	for i, a := range n.Alerts {
		if a.Status != "" && a.Status != "firing" && a.Status != "resolved" {
			return nil, &FieldError{Field: fmt.Sprintf("alerts[%d].status", i), Msg: fmt.Sprintf("%q: want firing or resolved", clip(a.Status, 40))}
		}
		if len(a.Labels) == 0 {
			return nil, &FieldError{Field: fmt.Sprintf("alerts[%d].labels", i), Msg: "an alert has at least its alertname"}
		}
	}
	if n.Status == "" {
		n.Status = "firing"
	}
	return &n, nil
}

// words are the strings of one language.
type words struct {
	firing, resolved                       string
	severity, since, ended, more, escalate string
	runbook, grafana, console              string
}

var languages = map[string]words{
	config.LangEnglish: {
		firing: "FIRING", resolved: "RESOLVED", severity: "severity", since: "since", ended: "ended",
		more: "%d more alerts not shown", escalate: "escalated: unresolved warning",
		runbook: "Runbook", grafana: "Grafana", console: "Console",
	},
	config.LangChinese: {
		firing: "告警", resolved: "已恢复", severity: "级别", since: "开始于", ended: "结束于",
		more: "另有 %d 条告警未列出", escalate: "已升级：告警长时间未解决",
		runbook: "处理手册", grafana: "Grafana", console: "控制台",
	},
}

// languageOf is the notification's language: the lang label its alerts
// share, else fallback.
func languageOf(n *Notification, fallback string) string {
	if l := normLang(n.CommonLabels["lang"]); l != "" {
		return l
	}
	if len(n.Alerts) > 0 {
		if l := normLang(n.Alerts[0].Labels["lang"]); l != "" {
			return l
		}
	}
	if l := normLang(fallback); l != "" {
		return l
	}
	return config.LangEnglish
}

func normLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "zh"):
		return config.LangChinese
	case strings.HasPrefix(s, "en"):
		return config.LangEnglish
	}
	return ""
}

// mdEscaper makes text from alerts inert in the robots' markdown, whose
// renderers do not all honour backslash escapes: no bracket can open a
// link, no angle bracket a tag, no asterisk or backquote a style, no line
// a heading or a quote.
var mdEscaper = strings.NewReplacer("[", "［", "]", "］", "<", "‹", ">", "›", "*", "∗", "`", "'", "#", "＃", "\n", " ", "\r", " ")

// Render makes the notification's message: a title that counts the
// alerts, then each alert's summary, description, labels and links.
func Render(n *Notification, fallbackLang, consoleURL, grafanaURL string) notify.Message {
	lang := languageOf(n, fallbackLang)
	w := languages[lang]
	name := n.CommonLabels["alertname"]
	if name == "" && len(n.Alerts) > 0 {
		name = n.Alerts[0].Labels["alertname"]
	}
	state := w.firing
	sev := severityOf(n)
	if n.Status == "resolved" {
		state, sev = w.resolved, notify.SeverityResolved
	}
	title := fmt.Sprintf("[%s:%d] %s", state, len(n.Alerts), clip(name, 100))
	var scope []string
	for _, k := range []string{"source", "sync_type"} {
		if v := n.CommonLabels[k]; v != "" {
			scope = append(scope, v)
		}
	}
	if len(scope) > 0 {
		title += " (" + clip(strings.Join(scope, " "), 100) + ")"
	}
	var md, text strings.Builder
	for i, a := range n.Alerts {
		if i == maxShown {
			fmt.Fprintf(&md, "\n"+w.more+"\n", len(n.Alerts)-maxShown)
			fmt.Fprintf(&text, "\n"+w.more+"\n", len(n.Alerts)-maxShown)
			break
		}
		summary := a.Annotations["summary"]
		if summary == "" {
			summary = a.Labels["alertname"]
		}
		status := w.firing
		if a.Status == "resolved" {
			status = w.resolved
		}
		fmt.Fprintf(&md, "**[%s] %s**\n\n", status, mdEscaper.Replace(clip(summary, 300)))
		fmt.Fprintf(&text, "[%s] %s\n", status, clip(summary, 300))
		if d := a.Annotations["description"]; d != "" {
			md.WriteString("> " + mdEscaper.Replace(clip(d, 1000)) + "\n\n")
			text.WriteString(clip(d, 1000) + "\n")
		}
		var facts []string
		if s := a.Labels["severity"]; s != "" {
			facts = append(facts, w.severity+": "+clip(s, 40))
		}
		for _, k := range []string{"source", "sync_type", "instance"} {
			if v := a.Labels[k]; v != "" {
				facts = append(facts, k+": "+clip(v, 100))
			}
		}
		if a.Labels["escalated"] == "true" {
			facts = append(facts, w.escalate)
		}
		if !a.StartsAt.IsZero() {
			facts = append(facts, w.since+" "+a.StartsAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		if a.Status == "resolved" && !a.EndsAt.IsZero() && a.EndsAt.Year() > 1 {
			facts = append(facts, w.ended+" "+a.EndsAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		if len(facts) > 0 {
			md.WriteString(mdEscaper.Replace(strings.Join(facts, " · ")) + "\n\n")
			text.WriteString(strings.Join(facts, " · ") + "\n")
		}
		var links []string
		for _, l := range []struct{ text, u string }{
			{w.runbook, link("", a.Annotations["runbook_url"])},
			{w.grafana, link(grafanaURL, a.Annotations["dashboard_url"])},
			{w.console, link(consoleURL, a.Annotations["console_url"])},
		} {
			if l.u != "" {
				links = append(links, "["+l.text+"]("+l.u+")")
				text.WriteString(l.text + ": " + l.u + "\n")
			}
		}
		if len(links) > 0 {
			md.WriteString(strings.Join(links, " · ") + "\n\n")
		}
		text.WriteString("\n")
	}
	return notify.Message{
		Title: title, Severity: sev, Markdown: strings.TrimRight(md.String(), "\n"), Slack: text.String(), Text: text.String(),
		Kind: "alert", Data: n,
	}
}

// link resolves an annotation's address: absolute http(s) ones as they
// are, relative ones (starting with /) against base when there is one.
// Anything else, which could break out of the markdown link, is dropped.
func link(base, u string) string {
	u = strings.TrimSpace(u)
	if u == "" || strings.ContainsAny(u, " \t\r\n()[]<>\"'`") || len(u) > 2000 {
		return ""
	}
	switch {
	case strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://"):
		return u
	case strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && base != "":
		return strings.TrimRight(base, "/") + u
	}
	return ""
}

func severityOf(n *Notification) notify.Severity {
	s := n.CommonLabels["severity"]
	for _, a := range n.Alerts {
		if a.Labels["severity"] == "critical" {
			s = "critical"
		}
	}
	switch s {
	case "critical":
		return notify.SeverityCritical
	case "warning":
		return notify.SeverityWarning
	}
	return notify.SeverityInfo
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
