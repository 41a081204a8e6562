package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/syncwatch/syncwatch/config"
)

// email sends multipart/alternative mail (plain text and HTML) over SMTP,
// through github.com/wneessen/go-mail: STARTTLS required by default,
// implicit TLS or none when configured, and authentication with the
// password file's credential when a username is set.
type email struct {
	name     string
	cfg      config.Channel
	tls      *tls.Config
	password string
}

func newEmail(c config.Channel, o Options) *email {
	return &email{name: c.Name, cfg: c, tls: o.TLS, password: c.Password.Reveal()}
}

func (e *email) Name() string { return e.name }
func (e *email) Type() string { return config.ChannelEmail }

// Send delivers m to every recipient.
func (e *email) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return &PermanentError{Channel: e.name, Err: fmt.Errorf("from: %w", err)}
	}
	if err := msg.To(e.cfg.To...); err != nil {
		return &PermanentError{Channel: e.name, Err: fmt.Errorf("to: %w", err)}
	}
	msg.Subject(m.Title)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	opts := []mail.Option{mail.WithPort(e.cfg.SMTPPort), mail.WithTimeout(30 * time.Second)}
	switch e.cfg.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	tc := e.tls
	if tc == nil {
		tc = &tls.Config{ServerName: e.cfg.SMTPHost, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, mail.WithTLSConfig(tc))
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(e.cfg.Username), mail.WithPassword(e.password))
	}
	client, err := mail.NewClient(e.cfg.SMTPHost, opts...)
	if err != nil {
		return &PermanentError{Channel: e.name, Err: fmt.Errorf("smtp client: %w", err)}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		err = fmt.Errorf("channel %s: smtp %s:%d: %w", e.name, e.cfg.SMTPHost, e.cfg.SMTPPort, err)
		// A 5xx reply (unknown mailbox, refused credentials) is final;
		// a 4xx or a connection problem is worth another try.
		if msg.HasSendError() && !msg.SendErrorIsTemp() {
			return &PermanentError{Channel: e.name, Err: err}
		}
		return err
	}
	return nil
}
