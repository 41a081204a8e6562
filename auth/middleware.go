package auth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/web"
)

// Reasons the middleware refuses a request, as the ingest rejection
// metric labels them.
const (
	ReasonUnauthorized = "unauthorized"
	ReasonRateLimited  = "rate_limited"
)

// keyToken is the gin context key of the authenticated token.
const keyToken = "syncwatch.token"

// Middleware admits requests by token and role.
type Middleware struct {
	auth *Auth
	// rejected sees the reason of every refusal; never nil.
	rejected func(reason string)
}

// NewMiddleware returns the middleware over a. rejected, when not nil, is
// told the reason of every request refused for a missing token or the
// rate limit.
func NewMiddleware(a *Auth, rejected func(reason string)) *Middleware {
	if rejected == nil {
		rejected = func(string) {}
	}
	return &Middleware{auth: a, rejected: rejected}
}

// Auth returns the authenticator the middleware checks tokens with.
func (m *Middleware) Auth() *Auth { return m.auth }

// Enabled reports whether tokens are configured.
func (m *Middleware) Enabled() bool { return m.auth.Enabled() }

// Require admits requests with a token of role r, when tokens are
// configured, and applies the token's rate limit.
func (m *Middleware) Require(r Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !m.auth.Enabled() {
			c.Next()
			return
		}
		t := m.auth.Authenticate(c.GetHeader("Authorization"))
		if t == nil {
			m.rejected(ReasonUnauthorized)
			c.Header("WWW-Authenticate", `Bearer realm="syncwatch"`)
			web.Fail(c, http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer <token>)")
			return
		}
		if !t.Has(r) {
			web.Fail(c, http.StatusForbidden, "this token lacks the "+string(r)+" role")
			return
		}
		if !m.admit(c, t) {
			return
		}
		SetToken(c, t)
		c.Next()
	}
}

// admit takes a request from t's rate budget, or refuses it with 429.
func (m *Middleware) admit(c *gin.Context, t *Token) bool {
	ok, wait := m.auth.Allow(t)
	if ok {
		return true
	}
	m.rejected(ReasonRateLimited)
	secs := int(wait/time.Second) + 1
	c.Header("Retry-After", strconv.Itoa(secs))
	web.Fail(c, http.StatusTooManyRequests, "rate limit of this token exceeded: retry after "+strconv.Itoa(secs)+"s")
	return false
}

// SetToken records that the request was authenticated with t.
func SetToken(c *gin.Context, t *Token) {
	c.Set(keyToken, t)
	web.SetPrincipal(c, t.Name)
}

// TokenOf returns the token the request was authenticated with, or nil
// when tokens are not configured.
func TokenOf(c *gin.Context) *Token {
	if v, ok := c.Get(keyToken); ok {
		return v.(*Token)
	}
	return nil
}
