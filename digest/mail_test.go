package digest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	swtestutil "github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/notify"
)

// smtpSink is a real SMTP server (github.com/emersion/go-smtp) on
// loopback that keeps the messages it takes. (notify's tests cover
// STARTTLS and authentication; this one carries digests.)
type smtpSink struct {
	mu   sync.Mutex
	msgs [][]byte
}

type sinkSession struct{ s *smtpSink }

func (ss sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.msgs = append(ss.s.msgs, b)
	return nil
}
func (sinkSession) Reset()        {}
func (sinkSession) Logout() error { return nil }

// TestDigestByMail sends a scheduled digest through a real SMTP server
// and reads the message back: its subject is the digest's title, its
// parts the digest's plain text and HTML.
func TestDigestByMail(t *testing.T) {
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return sinkSession{sink}, nil }))
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	st := newStore(t)
	insertRuns(t, st, dataset())
	ch, err := notify.New(config.Channel{Name: "mail", Type: "email", SMTPHost: "127.0.0.1", SMTPPort: ln.Addr().(*net.TCPAddr).Port,
		TLS: "none", From: "syncwatch@example.com", To: []string{"ops@example.com"}}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := *testDigest("zh", "haier")
	d.Channels, d.CatchUpAfter = []string{"mail"}, time.Minute
	log, _ := swtestutil.NewLogger()
	svc, err := digest.NewService(digest.ServiceConfig{Digests: []config.Digest{d}, Instance: "mailer"}, digest.ServiceDeps{
		Log: log, Registerer: prometheus.NewRegistry(), Builder: testBuilder(st), Ledger: st,
		Channels: map[string]notify.Channel{"mail": ch}, Now: func() time.Time { return firing.Add(time.Minute) },
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Tick(context.Background())
	sink.mu.Lock()
	msgs := sink.msgs
	sink.mu.Unlock()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	want, err := testBuilder(st).Build(context.Background(), digest.RequestFor(&d, digest.PeriodBefore("day", firing, shanghai)))
	if err != nil {
		t.Fatal(err)
	}
	due := firing
	want.DueAt = &due
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != want.Title() {
		t.Errorf("subject %q (%v), want %q", subject, err, want.Title())
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	html, err := want.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if parts["text/plain"] != want.Text() {
		t.Errorf("text part:\n%s\nwant\n%s", parts["text/plain"], want.Text())
	}
	if parts["text/html"] != html {
		t.Errorf("html part differs from the digest's HTML")
	}
}
