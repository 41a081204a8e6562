package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/web"
)

// consoleSession is one login: the token it was made with, by reference
// (the secret itself is never kept), and when it expires.
type consoleSession struct {
	id      string
	token   *auth.Token
	expires time.Time
}

// sessionClaims are what a session cookie says, signed: sessions are
// stateless, so that a login holds on every replica that shares the
// session keys.
type sessionClaims struct {
	// ID is random: it binds the forms' CSRF tokens to the session.
	ID string `json:"i"`
	// Token names the token signed in with.
	Token string `json:"t"`
	// Binding is a MAC of the token's secret hash: a token given another
	// secret ends the sessions signed in with the old one.
	Binding string `json:"b"`
	// Expires is when the session ends, in Unix seconds.
	Expires int64 `json:"e"`
}

// sessionKeys are the keys the console signs with, derived from the
// configured secrets (Config.SessionKeys): the first signs, all verify.
type sessionKeys struct {
	codecs []securecookie.Codec
	// csrf sign the forms' CSRF tokens, and binding the sessions' token
	// bindings, in the same order.
	csrf, binding [][]byte
}

// newSessionKeys derives the keys of secrets, or of one random secret
// when there are none: sessions then hold on this process only.
func newSessionKeys(secrets [][]byte, ttl time.Duration) (*sessionKeys, error) {
	if len(secrets) == 0 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ui: session key: %w", err)
		}
		secrets = [][]byte{b}
	}
	k := &sessionKeys{}
	for _, secret := range secrets {
		sc := securecookie.New(derive(secret, "syncwatch console session"), nil)
		sc.SetSerializer(securecookie.JSONEncoder{})
		sc.MaxAge(int(ttl / time.Second))
		k.codecs = append(k.codecs, sc)
		k.csrf = append(k.csrf, derive(secret, "syncwatch console csrf"))
		k.binding = append(k.binding, derive(secret, "syncwatch console token binding"))
	}
	return k, nil
}

// derive returns a key for purpose from secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// bind returns the binding of a session to the token whose secret hashes
// to h, under binding key key.
func bind(key []byte, h [32]byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(h[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// bound reports whether binding binds to the token whose secret hashes to
// h under one of the keys.
func (cn *Console) bound(binding string, h [32]byte) bool {
	for _, k := range cn.keys.binding {
		if hmac.Equal([]byte(binding), []byte(bind(k, h))) {
			return true
		}
	}
	return false
}

// session returns the session of the request's cookie, when it is valid:
// signed with one of the keys, not expired, not signed out here, and its
// token still configured with the same secret.
func (cn *Console) session(c *gin.Context) *consoleSession {
	v, err := c.Cookie(SessionCookie)
	if err != nil || v == "" || len(v) > 1024 {
		return nil
	}
	var cl sessionClaims
	if err := securecookie.DecodeMulti(SessionCookie, v, &cl, cn.keys.codecs...); err != nil {
		return nil
	}
	expires := time.Unix(cl.Expires, 0)
	if !cn.now().Before(expires) || cn.revoked(cl.ID) {
		return nil
	}
	t, h, ok := cn.auth.Named(cl.Token)
	if !ok || !cn.bound(cl.Binding, h) {
		return nil
	}
	return &consoleSession{id: cl.ID, token: t, expires: expires}
}

// newSession makes a session for t and returns it with its cookie value.
func (cn *Console) newSession(t *auth.Token) (*consoleSession, string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	_, h, ok := cn.auth.Named(t.Name)
	if !ok {
		return nil, "", fmt.Errorf("token %q is not configured", t.Name)
	}
	s := &consoleSession{id: base64.RawURLEncoding.EncodeToString(b), token: t, expires: cn.now().Add(cn.cfg.SessionTTL).Truncate(time.Second)}
	v, err := securecookie.EncodeMulti(SessionCookie, sessionClaims{ID: s.id, Token: t.Name, Binding: bind(cn.keys.binding[0], h), Expires: s.expires.Unix()}, cn.keys.codecs...)
	if err != nil {
		return nil, "", err
	}
	return s, v, nil
}

// maxRevoked bounds the signed-out sessions remembered until they expire;
// beyond it the one that expires first is forgotten.
const maxRevoked = 10000

// dropSession signs session s out: this process refuses its cookie until
// it expires. Other replicas, which share no state, accept a copy of the
// cookie until then (ARCHITECTURE.md, "Where state lives").
func (cn *Console) dropSession(s *consoleSession) {
	now := cn.now()
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.signedOut) >= maxRevoked {
		first := ""
		var firstExp time.Time
		for id, exp := range cn.signedOut {
			if !now.Before(exp) {
				delete(cn.signedOut, id)
				continue
			}
			if first == "" || exp.Before(firstExp) {
				first, firstExp = id, exp
			}
		}
		if len(cn.signedOut) >= maxRevoked {
			delete(cn.signedOut, first)
		}
	}
	cn.signedOut[s.id] = s.expires
}

// revoked reports whether session id was signed out here.
func (cn *Console) revoked(id string) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	_, ok := cn.signedOut[id]
	return ok
}

// authenticate admits a request to a page: any request when no tokens are
// configured; else one with a session cookie or an Authorization header
// carrying a token with the query role. A browser without either is sent
// to the login form.
func (cn *Console) authenticate(c *gin.Context) {
	if !cn.auth.Enabled() {
		c.Next()
		return
	}
	var t *auth.Token
	if s := cn.session(c); s != nil {
		t = s.token
		c.Set(keySession, s)
	} else if h := c.GetHeader("Authorization"); h != "" {
		if t = cn.auth.Authenticate(h); t == nil {
			cn.rejected(auth.ReasonUnauthorized)
			c.Header("WWW-Authenticate", `Bearer realm="syncwatch"`)
			cn.fail(c, http.StatusUnauthorized, "A valid token is required.")
			c.Abort()
			return
		}
	}
	if t == nil {
		c.Redirect(http.StatusSeeOther, consolePath+"/login?next="+url.QueryEscape(cn.here(c)))
		c.Abort()
		return
	}
	if !t.Has(auth.RoleQuery) {
		cn.fail(c, http.StatusForbidden, "This token lacks the query role.")
		c.Abort()
		return
	}
	if ok, wait := cn.auth.Allow(t); !ok {
		cn.rejected(auth.ReasonRateLimited)
		c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		cn.fail(c, http.StatusTooManyRequests, "Too many requests with this token: try again in a few seconds.")
		c.Abort()
		return
	}
	auth.SetToken(c, t)
	c.Next()
}

func sessionOf(c *gin.Context) *consoleSession {
	if v, ok := c.Get(keySession); ok {
		return v.(*consoleSession)
	}
	return nil
}

// setCookie sets a cookie of the console: path /ui, HttpOnly,
// SameSite=Strict, and Secure when the request came over TLS or
// Config.SecureCookies says TLS ends at a proxy in front.
func (cn *Console) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: consolePath, MaxAge: maxAge,
		HttpOnly: true, Secure: cn.cfg.SecureCookies || c.Request.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// loginPage is the content of the login form.
type loginPage struct {
	Next  string
	Error string
}

func (cn *Console) handleLoginForm(c *gin.Context) {
	if !cn.auth.Enabled() || cn.session(c) != nil {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
		return
	}
	cn.render(c, http.StatusOK, "login", "Sign in", "", loginPage{Next: safeNext(c.Query("next"))})
}

func (cn *Console) handleLogin(c *gin.Context) {
	next := safeNext(c.PostForm("next"))
	if !cn.auth.Enabled() {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	secret := strings.TrimSpace(c.PostForm("token"))
	var t *auth.Token
	if secret != "" && len(secret) <= 1024 {
		t = cn.auth.Authenticate("Bearer " + secret)
	}
	if t == nil || !t.Has(auth.RoleQuery) {
		cn.rejected(auth.ReasonUnauthorized)
		web.Log(c).Info("console sign-in refused")
		cn.render(c, http.StatusUnauthorized, "login", "Sign in", "", loginPage{Next: next, Error: "This token is not valid for the console: it needs the query role."})
		return
	}
	if old := sessionOf(c); old != nil {
		cn.dropSession(old)
	}
	_, cookie, err := cn.newSession(t)
	if err != nil {
		web.Log(c).WithError(err).Error("console session")
		cn.fail(c, http.StatusInternalServerError, "Signing in failed.")
		return
	}
	web.Log(c).WithField("token", t.Name).Info("console sign-in")
	cn.setCookie(c, SessionCookie, cookie, int(cn.cfg.SessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, next)
}

func (cn *Console) handleLogout(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		cn.dropSession(s)
	}
	cn.setCookie(c, SessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, consolePath+"/login")
}

// MinSessionSecretLength is the shortest session secret accepted.
const MinSessionSecretLength = 32

// LoadSessionKeys reads the console's session secrets from a file: one a
// line, the first signing and all verifying (Config.SessionKeys); blank
// lines and lines starting with '#' are skipped. Every secret must be at
// least MinSessionSecretLength bytes, e.g. `openssl rand -base64 48`.
func LoadSessionKeys(path string) ([][]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session secret file: %w", err)
	}
	var keys [][]byte
	for i, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < MinSessionSecretLength {
			return nil, fmt.Errorf("session secret file %s, line %d: a secret of %d bytes; want at least %d", path, i+1, len(line), MinSessionSecretLength)
		}
		keys = append(keys, []byte(line))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("session secret file %s holds no secret", path)
	}
	return keys, nil
}
