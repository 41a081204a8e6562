package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// The kinds of notification channels.
const (
	ChannelEmail    = "email"
	ChannelSlack    = "slack"
	ChannelWebhook  = "webhook"
	ChannelDingTalk = "dingtalk"
	ChannelWeCom    = "wecom"
	ChannelFeishu   = "feishu"
)

// channelKinds lists the kinds in the order error messages name them.
var channelKinds = []string{ChannelEmail, ChannelSlack, ChannelWebhook, ChannelDingTalk, ChannelWeCom, ChannelFeishu}

// The periods a digest covers.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// The languages of digests and relayed alerts.
const (
	LangEnglish = "en"
	LangChinese = "zh"
)

// Secret is a value read from a file that must never be shown: it prints
// as "[redacted]" in logs, errors and JSON.
type Secret string

// String hides the secret.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalJSON hides the secret from JSON.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Reveal returns the secret itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// Channel is one place notifications go: an SMTP mailbox, a Slack
// incoming webhook, a generic JSON webhook, or a DingTalk, WeCom or
// Feishu/Lark custom robot. Every credential comes from a file, never
// from the YAML file itself.
type Channel struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// URL is the webhook's address for the generic webhook, whose URL
	// may be public; the other webhooks carry their credential in the
	// URL and take it from URLFile only.
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// SecretFile holds the signing secret of a DingTalk or Feishu robot
	// with signing turned on, or the HMAC key of the generic webhook.
	SecretFile string `yaml:"secret_file"`
	// Language is the language of relayed alerts that carry no language
	// label: en or zh (default en).
	Language string `yaml:"language"`

	// E-mail.
	SMTPHost     string   `yaml:"smtp_host"`
	SMTPPort     int      `yaml:"smtp_port"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	// TLS is starttls (the default: STARTTLS required), tls (implicit
	// TLS, port 465) or none (only for a relay on the same host or a
	// test).
	TLS string `yaml:"tls"`

	// Resolved at start-up from the files above.
	Endpoint Secret `yaml:"-"`
	Secret   Secret `yaml:"-"`
	Password Secret `yaml:"-"`
}

// Digest is one scheduled report: a period of runs in a scope, rendered
// in a language and sent to channels on a cron schedule.
type Digest struct {
	Name string `yaml:"name"`
	// Schedule is a five-field cron expression (or @daily, @weekly, …)
	// read in TimeZone, an IANA zone name (default UTC).
	Schedule string `yaml:"schedule"`
	TimeZone string `yaml:"time_zone"`
	// Period is day, week (Monday to Sunday) or month: the last complete
	// one before each firing is reported.
	Period    string   `yaml:"period"`
	Sources   []string `yaml:"sources"`
	SyncTypes []string `yaml:"sync_types"`
	Language  string   `yaml:"language"`
	Channels  []string `yaml:"channels"`
	// SendEmpty sends a digest of a period without any run; by default
	// such a period is skipped.
	SendEmpty bool `yaml:"send_empty"`
	// CatchUp is how far back a period whose digest was never sent
	// (syncwatch was down when it was due) is still sent, late; default
	// one period.
	CatchUp string `yaml:"catch_up"`

	// Resolved at start-up.
	Cron         cron.Schedule  `yaml:"-"`
	Location     *time.Location `yaml:"-"`
	CatchUpAfter time.Duration  `yaml:"-"`
}

// Notify are the settings of digests and of the alert relay: the channels
// and digests of the YAML file, the links notifications carry, and
// whether this process runs the digest scheduler.
type Notify struct {
	Channels []Channel
	Digests  []Digest
	// ConsoleURL and GrafanaURL are the external addresses links in
	// notifications point at; empty leaves the links out.
	ConsoleURL string
	GrafanaURL string
	// Scheduler runs the digest scheduler in this process. Several
	// replicas may run it: each digest is still sent once.
	Scheduler bool
	// RetryFor bounds how long a failing delivery is retried.
	RetryFor time.Duration
}

// cronParser reads the five standard fields and the @descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Register binds the notification settings to s: the YAML keys channels
// and digests, and the flags of the links and the scheduler.
func (o *Notify) Register(s *Set) {
	s.String(&o.ConsoleURL, "console-url", "", "external address of syncwatch's console, e.g. https://syncwatch.example.com, for links in digests and relayed alerts")
	s.String(&o.GrafanaURL, "grafana-url", "", "external address of Grafana, e.g. https://grafana.example.com, for links in digests and relayed alerts")
	s.Bool(&o.Scheduler, "digest-scheduler", true, "send the digests of the config file from this process (replicas may all do it: each digest is sent once)")
	s.Duration(&o.RetryFor, "digest-retry-for", 6*time.Hour, "how long a digest delivery that fails is retried, with backoff")
	s.Node("channels", func(file string, n *yaml.Node) error {
		return decodeList(file, "channels", n, &o.Channels)
	})
	s.Node("digests", func(file string, n *yaml.Node) error {
		return decodeList(file, "digests", n, &o.Digests)
	})
	s.Check(func() error { return baseURL(s, "console-url", o.ConsoleURL) })
	s.Check(func() error { return baseURL(s, "grafana-url", o.GrafanaURL) })
	s.Check(func() error { return positive(s, "digest-retry-for", o.RetryFor) })
	s.Check(func() error { return o.resolve(s.file) })
}

// Channel returns the channel called name, or nil.
func (o *Notify) Channel(name string) *Channel {
	for i := range o.Channels {
		if o.Channels[i].Name == name {
			return &o.Channels[i]
		}
	}
	return nil
}

// Digest returns the digest called name, or nil.
func (o *Notify) Digest(name string) *Digest {
	for i := range o.Digests {
		if o.Digests[i].Name == name {
			return &o.Digests[i]
		}
	}
	return nil
}

func decodeList[T any](file, key string, n *yaml.Node, into *[]T) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("config file %s: %s: want a list", file, key)
	}
	var out []T
	for i, item := range n.Content {
		var v T
		if err := strictDecode(item, &v); err != nil {
			return fmt.Errorf("config file %s: %s[%d]: %w", file, key, i, err)
		}
		out = append(out, v)
	}
	*into = out
	return nil
}

// strictDecode decodes n into v, refusing keys v has no field for.
func strictDecode(n *yaml.Node, v any) error {
	body, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(body)))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func baseURL(s *Set, name, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s.Invalid(name, "%q: want an http or https address such as https://grafana.example.com", v)
	}
	return nil
}

// resolve validates the channels and digests and reads their secrets.
// Each error names the channel or digest and the field.
func (o *Notify) resolve(file string) error {
	var errs []error
	seen := map[string]bool{}
	for i := range o.Channels {
		c := &o.Channels[i]
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("channels[%d]: name is required", i))
			continue
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("channel %q: name: used twice", c.Name))
			continue
		}
		seen[c.Name] = true
		if err := c.resolve(); err != nil {
			errs = append(errs, fmt.Errorf("channel %q: %w", c.Name, err))
		}
	}
	names := map[string]bool{}
	for i := range o.Digests {
		d := &o.Digests[i]
		if d.Name == "" {
			errs = append(errs, fmt.Errorf("digests[%d]: name is required", i))
			continue
		}
		if names[d.Name] {
			errs = append(errs, fmt.Errorf("digest %q: name: used twice", d.Name))
			continue
		}
		names[d.Name] = true
		if err := d.resolve(seen); err != nil {
			errs = append(errs, fmt.Errorf("digest %q: %w", d.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if file != "" {
			return fmt.Errorf("config file %s: %w", file, err)
		}
		return err
	}
	return nil
}

func (c *Channel) resolve() error {
	if !slices.Contains(channelKinds, c.Type) {
		return fmt.Errorf("type %q: want one of %s", c.Type, strings.Join(channelKinds, ", "))
	}
	if err := language(&c.Language); err != nil {
		return err
	}
	if c.Type == ChannelEmail {
		return c.resolveEmail()
	}
	if c.SMTPHost != "" || c.PasswordFile != "" || len(c.To) > 0 || c.From != "" {
		return fmt.Errorf("smtp_host, password_file, from and to: only for type email")
	}
	raw := c.URL
	switch {
	case c.URL != "" && c.URLFile != "":
		return errors.New("url and url_file: give one")
	case c.URL != "" && c.Type != ChannelWebhook:
		return fmt.Errorf("url: a %s address carries its credential; give url_file, a file holding it", c.Type)
	case c.URLFile != "":
		v, err := readSecret("url_file", c.URLFile)
		if err != nil {
			return err
		}
		raw = v
	case c.URL == "":
		return errors.New("url_file is required")
	}
	field := "url"
	if c.URLFile != "" {
		field = "url_file"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The address may hold a credential: it is not repeated.
		return fmt.Errorf("%s: not an http or https address", field)
	}
	c.Endpoint = Secret(raw)
	if c.SecretFile != "" {
		if c.Type == ChannelWeCom || c.Type == ChannelSlack {
			return fmt.Errorf("secret_file: a %s webhook is not signed; its credential is in the address", c.Type)
		}
		v, err := readSecret("secret_file", c.SecretFile)
		if err != nil {
			return err
		}
		c.Secret = Secret(v)
	}
	return nil
}

func (c *Channel) resolveEmail() error {
	if c.URL != "" || c.URLFile != "" || c.SecretFile != "" {
		return errors.New("url, url_file and secret_file: not for type email")
	}
	if c.SMTPHost == "" {
		return errors.New("smtp_host is required")
	}
	if c.TLS == "" {
		c.TLS = "starttls"
	}
	if !slices.Contains([]string{"starttls", "tls", "none"}, c.TLS) {
		return fmt.Errorf("tls %q: want starttls, tls or none", c.TLS)
	}
	if c.SMTPPort == 0 {
		c.SMTPPort = 587
		if c.TLS == "tls" {
			c.SMTPPort = 465
		}
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		return fmt.Errorf("smtp_port %d: want 1 to 65535", c.SMTPPort)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("from %q: %w", c.From, err)
	}
	if len(c.To) == 0 {
		return errors.New("to: at least one address is required")
	}
	for _, a := range c.To {
		if _, err := mail.ParseAddress(a); err != nil {
			return fmt.Errorf("to %q: %w", a, err)
		}
	}
	if (c.Username == "") != (c.PasswordFile == "") {
		return errors.New("username and password_file: give both or neither")
	}
	if c.PasswordFile != "" {
		v, err := readSecret("password_file", c.PasswordFile)
		if err != nil {
			return err
		}
		c.Password = Secret(v)
	}
	return nil
}

// readSecret reads a secret file; the error names the field and the
// file, never the content.
func readSecret(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s %s: the file is empty", field, path)
	}
	return v, nil
}

func language(l *string) error {
	if *l == "" {
		*l = LangEnglish
	}
	if *l != LangEnglish && *l != LangChinese {
		return fmt.Errorf("language %q: want en or zh", *l)
	}
	return nil
}

func (d *Digest) resolve(channels map[string]bool) error {
	var err error
	if d.Schedule == "" {
		return errors.New("schedule is required, e.g. \"0 8 * * *\"")
	}
	if strings.HasPrefix(d.Schedule, "CRON_TZ=") || strings.HasPrefix(d.Schedule, "TZ=") {
		return fmt.Errorf("schedule %q: give the zone in time_zone", d.Schedule)
	}
	if d.Cron, err = cronParser.Parse(d.Schedule); err != nil {
		return fmt.Errorf("schedule %q: %w", d.Schedule, err)
	}
	if d.TimeZone == "" {
		d.TimeZone = "UTC"
	}
	// time.LoadLocation takes "Local" and "" too: only IANA names here,
	// so that every replica reads the schedule alike.
	if d.TimeZone == "Local" {
		return errors.New(`time_zone "Local": want an IANA zone name such as Asia/Shanghai`)
	}
	if d.Location, err = time.LoadLocation(d.TimeZone); err != nil {
		return fmt.Errorf("time_zone %q: want an IANA zone name such as Asia/Shanghai: %w", d.TimeZone, err)
	}
	length := map[string]time.Duration{PeriodDay: 24 * time.Hour, PeriodWeek: 7 * 24 * time.Hour, PeriodMonth: 31 * 24 * time.Hour}
	if d.Period == "" {
		d.Period = PeriodDay
	}
	l, ok := length[d.Period]
	if !ok {
		return fmt.Errorf("period %q: want day, week or month", d.Period)
	}
	d.CatchUpAfter = l
	if d.CatchUp != "" {
		if d.CatchUpAfter, err = ParseDuration(d.CatchUp); err != nil {
			return fmt.Errorf("catch_up: %w", err)
		}
		if d.CatchUpAfter < 0 {
			return fmt.Errorf("catch_up %q: want 0 or more", d.CatchUp)
		}
	}
	if err := language(&d.Language); err != nil {
		return err
	}
	if len(d.Channels) == 0 {
		return errors.New("channels: at least one is required")
	}
	for _, c := range d.Channels {
		if !channels[c] {
			return fmt.Errorf("channels: %q is not a configured channel", c)
		}
	}
	if len(d.SyncTypes) > 0 {
		if _, err := dupFree(d.SyncTypes); err != nil {
			return fmt.Errorf("sync_types: %w", err)
		}
	}
	if _, err := dupFree(d.Sources); err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	return nil
}

func dupFree(list []string) ([]string, error) {
	seen := map[string]bool{}
	for _, v := range list {
		if v == "" {
			return nil, errors.New("an empty name")
		}
		if seen[v] {
			return nil, fmt.Errorf("%q listed twice", v)
		}
		seen[v] = true
	}
	return list, nil
}
