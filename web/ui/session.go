package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

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
	s, err := cn.newSession(t)
	if err != nil {
		web.Log(c).WithError(err).Error("console session")
		cn.fail(c, http.StatusInternalServerError, "Signing in failed.")
		return
	}
	web.Log(c).WithField("token", t.Name).Info("console sign-in")
	cn.setCookie(c, SessionCookie, s.id, int(cn.cfg.SessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, next)
}

func (cn *Console) handleLogout(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		cn.dropSession(s)
	}
	cn.setCookie(c, SessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, consolePath+"/login")
}
