package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// csrfToken returns the token the console's forms carry: an HMAC of the
// session id, or of "anonymous" before a login, under the first session
// key.
func (cn *Console) csrfToken(s *consoleSession) string {
	return csrfTokenWith(cn.keys.csrf[0], s)
}

// csrfValid reports whether got is the CSRF token of session s under one
// of the session keys: a form rendered before a key rotation still posts.
func (cn *Console) csrfValid(got string, s *consoleSession) bool {
	for _, k := range cn.keys.csrf {
		if hmac.Equal([]byte(got), []byte(csrfTokenWith(k, s))) {
			return true
		}
	}
	return false
}

// csrfTokenWith returns the CSRF token of session s under key.
func csrfTokenWith(key []byte, s *consoleSession) string {
	m := hmac.New(sha256.New, key)
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
	if !cn.csrfValid(c.PostForm("csrf"), s) {
		cn.fail(c, http.StatusForbidden, "The form has expired: reload the page and try again.")
		c.Abort()
		return
	}
	if s != nil {
		c.Set(keySession, s)
	}
	c.Next()
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
