// Package ui is the web console: read-only, server-rendered HTML pages
// under /ui/ over the query API's store, in English and Chinese, for an
// operator who has no Grafana at hand. It is the original module's
// read-only admin for sync runs, plus an overview of every sync type.
//
// Pages use no JavaScript and load nothing from elsewhere; a strict Content
// Security Policy says so to the browser. The only POST routes are login,
// logout and the language switch; none of them touches runs.
package ui

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web/api"
)

//go:embed templates/*.html static/console.css
var consoleFiles embed.FS

// Defaults of the console.
const (
	// DefaultConsoleSessionTTL is how long a console login lasts.
	DefaultConsoleSessionTTL = 12 * time.Hour
	// DefaultConsoleLookback bounds the runs read for runs in progress and
	// consecutive failures on the overview.
	DefaultConsoleLookback = 7 * 24 * time.Hour
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
	// SessionKeys are the secrets that sign the session cookies and the
	// CSRF tokens: the first signs, every one verifies, so that a new
	// secret is put first and the old one removed a session TTL later.
	// Replicas that share them accept each other's sessions. Without
	// any, a random secret of this process signs: sessions hold on this
	// process only, until it restarts. LoadSessionKeys reads them.
	SessionKeys [][]byte
	// Lookback bounds the runs read for runs in progress and consecutive
	// failures (default 7 days).
	Lookback time.Duration
	// SecureCookies marks the console's cookies Secure even on requests
	// that came without TLS: for TLS that ends at a proxy in front.
	SecureCookies bool
}

func (c *Config) defaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultConsoleSessionTTL
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
	// Now, when set, replaces the clock (tests).
	Now func() time.Time
	// Diagnoser, when set, serves the Diagnosis page and the "why" panel
	// of a failed or anomalous run.
	Diagnoser api.Diagnoser
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
	diag      api.Diagnoser
	// keys sign the session cookies and the forms' CSRF tokens.
	keys *sessionKeys
	// pages are the parsed templates by page and language.
	pages map[string]map[synclog.Language]*template.Template
	css   []byte

	mu sync.Mutex
	// signedOut are the sessions signed out here, until they expire.
	signedOut map[string]time.Time
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
		auth: d.Auth, rejected: d.Rejected, cfg: cfg, now: d.Now, diag: d.Diagnoser,
		signedOut: map[string]time.Time{},
	}
	keys, err := newSessionKeys(cfg.SessionKeys, cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	cn.keys = keys
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
	pages.GET("/diagnosis", cn.handleDiagnosis)
	pages.GET("/reports/daily", cn.handleDaily)
	pages.GET("/reports/daily.csv", cn.handleDailyCSV)
	return nil
}

// env is what the API's parameter parsers need.
func (cn *Console) env() api.Env {
	return api.NewEnv(cn.types, cn.now().UTC(), cn.q.Retention())
}
