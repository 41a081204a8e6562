package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/syncwatch/syncwatch/config"
)

// mailbox is a real SMTP server (github.com/emersion/go-smtp) on
// loopback that requires STARTTLS and PLAIN authentication and keeps the
// messages it takes.
type mailbox struct {
	srv  *smtp.Server
	addr *net.TCPAddr
	pool *x509.CertPool
	mu   sync.Mutex
	msgs []delivered
	// refuse, when set, answers every RCPT with it.
	refuse *smtp.SMTPError
}

type delivered struct {
	user, from string
	to         []string
	data       []byte
	tls        bool
}

type session struct {
	mb   *mailbox
	conn *smtp.Conn
	cur  delivered
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "syncwatch" || password != "smtp-password" {
			return errors.New("bad credentials")
		}
		s.cur.user = username
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.mb.refuse != nil {
		return s.mb.refuse
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.cur)
	s.mb.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.cur = delivered{user: s.cur.user} }
func (s *session) Logout() error { return nil }

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	cert, pool := selfSigned(t)
	mb := &mailbox{pool: pool}
	mb.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{mb: mb, conn: c}, nil
	}))
	mb.srv.Domain = "localhost"
	mb.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	mb.srv.ReadTimeout = 10 * time.Second
	mb.srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().(*net.TCPAddr)
	go mb.srv.Serve(ln)
	t.Cleanup(func() { mb.srv.Close() })
	return mb
}

func (mb *mailbox) messages() []delivered {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]delivered(nil), mb.msgs...)
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syncwatch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func (mb *mailbox) channel(t *testing.T, password string) Channel {
	t.Helper()
	ch, err := New(config.Channel{
		Name: "mail", Type: config.ChannelEmail, SMTPHost: "127.0.0.1", SMTPPort: mb.addr.Port, TLS: "starttls",
		Username: "syncwatch", Password: config.Secret(password),
		From: "syncwatch@example.com", To: []string{"ops@example.com", "lead@example.com"},
	}, Options{TLS: &tls.Config{RootCAs: mb.pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestEmail sends a message to a real SMTP server over STARTTLS with
// authentication, and reads it back: both recipients, the subject, and a
// multipart/alternative body with the plain text and the HTML.
func TestEmail(t *testing.T) {
	mb := newMailbox(t)
	m := testMessage()
	m.Title = "syncwatch 日报 2026-03-28"
	m.Text = "products: 10 runs, 同步成功"
	m.HTML = "<!doctype html><html><body><h1>syncwatch</h1><p>同步成功</p></body></html>"
	if err := mb.channel(t, "smtp-password").Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := mb.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	d := msgs[0]
	if !d.tls || d.user != "syncwatch" || d.from != "syncwatch@example.com" || strings.Join(d.to, ",") != "ops@example.com,lead@example.com" {
		t.Fatalf("envelope %+v", d)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(d.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subject != m.Title {
		t.Errorf("subject %q (%v)", subject, err)
	}
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", parsed.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(parsed.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p) // quoted-printable is decoded by NextPart
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	if parts["text/plain"] != m.Text {
		t.Errorf("text part %q", parts["text/plain"])
	}
	if parts["text/html"] != m.HTML {
		t.Errorf("html part %q", parts["text/html"])
	}
}

// TestEmailRefusals checks that refused credentials and a 5xx recipient
// are permanent, a 4xx transient, and that no error holds the password.
func TestEmailRefusals(t *testing.T) {
	mb := newMailbox(t)
	err := mb.channel(t, "wrong-password").Send(context.Background(), testMessage())
	if err == nil || strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("bad credentials: %v", err)
	}
	mb.refuse = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	err = mb.channel(t, "smtp-password").Send(context.Background(), testMessage())
	if err == nil || !IsPermanent(err) {
		t.Fatalf("550: got %v, want a permanent error", err)
	}
	mb.refuse = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	err = mb.channel(t, "smtp-password").Send(context.Background(), testMessage())
	if err == nil || IsPermanent(err) {
		t.Fatalf("451: got %v, want a transient error", err)
	}
	if len(mb.messages()) != 0 {
		t.Fatal("a refused message was delivered")
	}
	// Nothing listens: transient.
	ch, _ := New(config.Channel{Name: "mail", Type: "email", SMTPHost: "127.0.0.1", SMTPPort: freePort(t), TLS: "starttls", From: "a@example.com", To: []string{"b@example.com"}}, Options{})
	if err := ch.Send(context.Background(), testMessage()); err == nil || IsPermanent(err) {
		t.Fatalf("no server: %v", err)
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}
