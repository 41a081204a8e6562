package ui

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
)

// The web console: read-only, server-rendered HTML pages under /ui/ over
// the query API's store, in English and Chinese, for an operator who has no
// Grafana at hand. It is the original module's read-only admin for sync
// runs, plus an overview of every sync type.
//
// Pages use no JavaScript and load nothing from elsewhere; a strict Content
// Security Policy says so to the browser. The only POST routes are login,
// logout and the language switch; none of them touches runs.

//go:embed templates/*.html static/console.css
var consoleFiles embed.FS

// Defaults of the console.
const (
	// DefaultConsoleSessionTTL is how long a console login lasts.
	DefaultConsoleSessionTTL = 12 * time.Hour
	// DefaultConsoleMaxSessions bounds the console sessions kept in memory.
	DefaultConsoleMaxSessions = 10000
	// DefaultConsoleLookback bounds the runs read for runs in progress and
	// consecutive failures on the overview.
	DefaultConsoleLookback = 7 * 24 * time.Hour
	// consolePageSize is the default page size of the run list.
	consolePageSize = 50
	// consoleRecentFailures is how many failures the overview lists.
	consoleRecentFailures = 10
)

// Names of the console's cookies, both limited to the path /ui, and the
// console's path.
const (
	SessionCookie = "syncwatch_session"
	LangCookie    = "syncwatch_lang"
	consolePath   = "/ui"
)

// consoleCSP is the Content Security Policy of every console response: no
// script at all, styles from the console's own stylesheet only, images
// inline (the favicon) or from the console.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Config configures the web console.
type Config struct {
	// SyncTypes are the configured sync types: the overview lists each,
	// a silent one too, and the filters offer them.
	SyncTypes synclog.SyncTypes
	// ExpectedIntervals say how often each sync type should succeed; the
	// overview colours a type's last success against its interval. A type
	// without one, or with 0, is not expected to run on a schedule.
	ExpectedIntervals map[string]time.Duration
	// SessionTTL is how long a login lasts (default 12 hours).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept in memory (default 10,000);
	// beyond it the login that expires first is dropped.
	MaxSessions int
	// Lookback bounds the runs read for runs in progress and consecutive
	// failures (default 7 days).
	Lookback time.Duration
}

func (c *Config) defaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultConsoleSessionTTL
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultConsoleMaxSessions
	}
	if c.Lookback <= 0 {
		c.Lookback = DefaultConsoleLookback
	}
}

// Deps are the parts the console is built from.
type Deps struct {
	Querier api.Querier
	// States, when set, gives the overview each sync type's latest
	// activity; without it the overview shows the last successes and the
	// runs in progress of the last 24 hours only.
	States runs.TypeStater
	// Auth checks the tokens signing in; Rejected counts the refusals.
	Auth     *auth.Auth
	Rejected func(reason string)
	// Log receives what the console logs outside a request.
	Log logrus.FieldLogger
	// Now, when set, replaces the clock (tests).
	Now func() time.Time
}

// Console serves the web console.
type Console struct {
	types     synclog.SyncTypes
	q         api.Querier
	overviews *runs.Overviews
	knows     bool
	auth      *auth.Auth
	rejected  func(reason string)
	cfg       Config
	now       func() time.Time
	// key signs the forms' CSRF tokens; random per process.
	key []byte
	// pages are the parsed templates by page and language.
	pages map[string]map[synclog.Language]*template.Template
	css   []byte

	mu       sync.Mutex
	sessions map[[32]byte]*consoleSession
}

// consoleSession is one login: the token it was made with, by reference
// (the secret itself is never kept), and when it expires.
type consoleSession struct {
	id      string
	token   *auth.Token
	expires time.Time
}

// Keys of values the console puts in a gin context.
const (
	keySession = "syncwatch.console.session"
	keyLang    = "syncwatch.console.lang"
)

// New builds the console (/ui/...) over the store d.Querier reads. When
// tokens are configured, a page asks for a token with the query role, once
// per session.
func New(cfg Config, d Deps) (*Console, error) {
	if d.Querier == nil || d.Auth == nil {
		return nil, errors.New("ui: a querier and an authenticator are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rejected == nil {
		d.Rejected = func(string) {}
	}
	cfg.defaults()
	cn := &Console{
		types: cfg.SyncTypes, q: d.Querier, overviews: runs.NewOverviews(d.Querier, d.States), knows: d.States != nil,
		auth: d.Auth, rejected: d.Rejected, cfg: cfg, now: d.Now,
		key:      make([]byte, 32),
		sessions: map[[32]byte]*consoleSession{},
	}
	if _, err := rand.Read(cn.key); err != nil {
		return nil, fmt.Errorf("ui: csrf key: %w", err)
	}
	if err := cn.parseTemplates(); err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	css, err := fs.ReadFile(consoleFiles, "static/console.css")
	if err != nil {
		return nil, fmt.Errorf("ui: stylesheet: %w", err)
	}
	cn.css = css
	return cn, nil
}

// Register adds the console's routes to e; it may be called once per
// engine.
func (cn *Console) Register(e *gin.Engine) error {
	for _, r := range e.Routes() {
		if r.Path == consolePath+"/" {
			return errors.New("ui: the console is registered already")
		}
	}
	e.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, consolePath+"/") })
	ui := e.Group(consolePath, cn.securityHeaders, cn.language)
	ui.GET("", func(c *gin.Context) { c.Redirect(http.StatusFound, consolePath+"/") })
	ui.GET("/static/console.css", cn.handleCSS)
	ui.GET("/login", cn.handleLoginForm)
	ui.POST("/login", cn.checkForm, cn.handleLogin)
	ui.POST("/logout", cn.checkForm, cn.handleLogout)
	ui.POST("/lang", cn.checkForm, cn.handleLang)
	pages := ui.Group("", cn.authenticate)
	pages.GET("/", cn.handleOverview)
	pages.GET("/runs", cn.handleRuns)
	pages.GET("/runs.csv", cn.handleRunsCSV)
	pages.GET("/runs/:run_id", cn.handleRun)
	pages.GET("/errors", cn.handleErrors)
	pages.GET("/reports/daily", cn.handleDaily)
	pages.GET("/reports/daily.csv", cn.handleDailyCSV)
	return nil
}

// parseTemplates parses each page with the layout, once per language, so
// that the translation functions are bound to the language.
func (cn *Console) parseTemplates() error {
	names, err := fs.Glob(consoleFiles, "templates/*.html")
	if err != nil {
		return err
	}
	cn.pages = map[string]map[synclog.Language]*template.Template{}
	for _, file := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		cn.pages[name] = map[synclog.Language]*template.Template{}
		for _, lang := range []synclog.Language{synclog.English, synclog.Chinese} {
			t, err := template.New(name).Funcs(consoleFuncs(lang)).ParseFS(consoleFiles, "templates/layout.html", file)
			if err != nil {
				return err
			}
			cn.pages[name][lang] = t
		}
	}
	return nil
}

// securityHeaders sets the console's security headers on every response.
func (cn *Console) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// language chooses the language of the response: the lang parameter, else
// the language cookie, else the Accept-Language header.
func (cn *Console) language(c *gin.Context) {
	lang := synclog.English
	if l, ok := parseLang(c.Query("lang")); ok {
		lang = l
	} else if ck, err := c.Cookie(LangCookie); err == nil {
		if l, ok := parseLang(ck); ok {
			lang = l
		} else {
			lang = acceptLanguage(c.GetHeader("Accept-Language"))
		}
	} else {
		lang = acceptLanguage(c.GetHeader("Accept-Language"))
	}
	c.Set(keyLang, lang)
	c.Next()
}

func langOf(c *gin.Context) synclog.Language {
	if v, ok := c.Get(keyLang); ok {
		return v.(synclog.Language)
	}
	return synclog.English
}

func (cn *Console) handleCSS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", cn.css)
}

// sessionID returns the session of the request's cookie, when it is valid.
func (cn *Console) session(c *gin.Context) *consoleSession {
	id, err := c.Cookie(SessionCookie)
	if err != nil || id == "" || len(id) > 128 {
		return nil
	}
	h := sha256.Sum256([]byte(id))
	cn.mu.Lock()
	defer cn.mu.Unlock()
	s, ok := cn.sessions[h]
	if !ok {
		return nil
	}
	if !cn.now().Before(s.expires) {
		delete(cn.sessions, h)
		return nil
	}
	return s
}

// newSession makes a session for t and returns it.
func (cn *Console) newSession(t *auth.Token) (*consoleSession, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	now := cn.now()
	s := &consoleSession{id: base64.RawURLEncoding.EncodeToString(b), token: t, expires: now.Add(cn.cfg.SessionTTL)}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.sessions) >= cn.cfg.MaxSessions {
		var first [32]byte
		var firstExp time.Time
		for k, v := range cn.sessions {
			if !now.Before(v.expires) {
				delete(cn.sessions, k)
				continue
			}
			if firstExp.IsZero() || v.expires.Before(firstExp) {
				first, firstExp = k, v.expires
			}
		}
		if len(cn.sessions) >= cn.cfg.MaxSessions {
			delete(cn.sessions, first)
		}
	}
	cn.sessions[sha256.Sum256([]byte(s.id))] = s
	return s, nil
}

func (cn *Console) dropSession(s *consoleSession) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	delete(cn.sessions, sha256.Sum256([]byte(s.id)))
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

// here is the path and query of the request without the lang parameter:
// where a login or a language switch returns to.
func (cn *Console) here(c *gin.Context) string {
	u := *c.Request.URL
	u.RawQuery = stripLang(u.RawQuery)
	return u.RequestURI()
}

// stripLang removes the lang parameter from a raw query, which the page
// parsers would otherwise refuse as unknown. A malformed query is kept as
// it is, for the parser to refuse.
func stripLang(raw string) string {
	if !strings.Contains(raw, "lang") {
		return raw
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	v.Del("lang")
	return v.Encode()
}

// safeNext returns next when it is a path of the console, else the
// overview: a login never sends the browser elsewhere.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, consolePath+"/") && next != consolePath {
		return consolePath + "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, "\\\r\n\t") ||
		strings.HasPrefix(next, "//") {
		return consolePath + "/"
	}
	return u.RequestURI()
}

// csrfToken returns the token the console's forms carry: an HMAC of the
// session id, or of "anonymous" before a login, under the process's key.
func (cn *Console) csrfToken(s *consoleSession) string {
	m := hmac.New(sha256.New, cn.key)
	m.Write([]byte("csrf\x00"))
	if s != nil {
		m.Write([]byte(s.id))
	} else {
		m.Write([]byte("anonymous"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin reports whether a form was posted from a page of this host:
// its Origin header, or else its Referer, names the request's host.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// checkForm admits a form post only from a page of the console: from the
// same origin, with the CSRF token of the session (or of no session).
// Besides, the session cookie is SameSite=Strict.
func (cn *Console) checkForm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)
	if !sameOrigin(c.Request) {
		cn.fail(c, http.StatusForbidden, "The form was not sent from a page of this console.")
		c.Abort()
		return
	}
	s := cn.session(c)
	got := c.PostForm("csrf")
	if !hmac.Equal([]byte(got), []byte(cn.csrfToken(s))) {
		cn.fail(c, http.StatusForbidden, "The form has expired: reload the page and try again.")
		c.Abort()
		return
	}
	if s != nil {
		c.Set(keySession, s)
	}
	c.Next()
}

func sessionOf(c *gin.Context) *consoleSession {
	if v, ok := c.Get(keySession); ok {
		return v.(*consoleSession)
	}
	return nil
}

// setCookie sets a cookie of the console: path /ui, HttpOnly,
// SameSite=Strict, and Secure when the request came over TLS.
func setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: consolePath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode,
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
	s, err := cn.newSession(t)
	if err != nil {
		web.Log(c).WithError(err).Error("console session")
		cn.fail(c, http.StatusInternalServerError, "Signing in failed.")
		return
	}
	web.Log(c).WithField("token", t.Name).Info("console sign-in")
	setCookie(c, SessionCookie, s.id, int(cn.cfg.SessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, next)
}

func (cn *Console) handleLogout(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		cn.dropSession(s)
	}
	setCookie(c, SessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, consolePath+"/login")
}

func (cn *Console) handleLang(c *gin.Context) {
	lang, ok := parseLang(c.PostForm("lang"))
	if !ok {
		cn.fail(c, http.StatusBadRequest, "Unknown language.")
		return
	}
	setCookie(c, LangCookie, string(lang), 365*24*3600)
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next")))
}

// pageData is what the layout renders around a page's content.
type pageData struct {
	Lang synclog.Language
	// Other is the language the switch offers.
	Other     synclog.Language
	Title     string
	Nav       string
	Here      string
	CSRF      string
	SignedIn  bool
	Auth      bool
	Generated time.Time
	Content   any
}

// render writes a page with the layout. title is a UI string (translated
// by the template), nav the menu entry to highlight.
func (cn *Console) render(c *gin.Context, code int, page, title, nav string, content any) {
	lang := langOf(c)
	other := synclog.Chinese
	if lang == synclog.Chinese {
		other = synclog.English
	}
	s := sessionOf(c)
	if s == nil {
		s = cn.session(c)
	}
	d := pageData{
		Lang: lang, Other: other, Title: title, Nav: nav, Here: cn.here(c), CSRF: cn.csrfToken(s),
		SignedIn: s != nil, Auth: cn.auth.Enabled(), Generated: cn.now().UTC(), Content: content,
	}
	var buf bytes.Buffer
	if err := cn.pages[page][lang].ExecuteTemplate(&buf, "layout", d); err != nil {
		web.Log(c).WithError(err).WithField("page", page).Error("console template failed")
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error"))
		return
	}
	c.Data(code, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage is the content of an error page.
type errorPage struct {
	Code      int
	Message   string
	RequestID string
	Field     string
}

// fail renders an error page; message is a UI string.
func (cn *Console) fail(c *gin.Context, code int, message string) {
	cn.render(c, code, "error", http.StatusText(code), "", errorPage{
		Code: code, Message: message, RequestID: c.Writer.Header().Get("X-Request-ID"),
	})
}

// queryFailed renders the failure of a store query, whose details only
// the log keeps.
func (cn *Console) queryFailed(c *gin.Context, what string, err error) {
	web.Log(c).WithError(err).WithField("query", what).Error("console query failed")
	if errors.Is(err, context.DeadlineExceeded) {
		cn.fail(c, http.StatusServiceUnavailable, "The query took too long: narrow the filter or the time range.")
		return
	}
	cn.fail(c, http.StatusInternalServerError, "The query failed; the server log has the details.")
}

// env is what the API's parameter parsers need.
func (cn *Console) env() api.Env {
	return api.NewEnv(cn.types, cn.now().UTC(), cn.q.Retention())
}
