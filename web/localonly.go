package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// localOnly guards a service without tokens, which anyone who reaches it
// may use: it answers only requests addressed to a loopback name, so that
// a web page cannot read it through a DNS name rebound to 127.0.0.1, and
// it refuses writes that a browser sends on behalf of another site.
func localOnly(c *gin.Context) {
	if !loopbackHost(c.Request.Host) {
		Fail(c, http.StatusForbidden, "this syncwatch has no tokens and answers only loopback host names "+
			"(localhost, 127.0.0.1, [::1], with any port); configure tokens to serve it under other names")
		return
	}
	if !safeMethod(c.Request.Method) && crossSite(c.Request) {
		Fail(c, http.StatusForbidden, "a write from another web site is refused: this syncwatch has no tokens, "+
			"so it takes writes only from clients that are not browsers, or from its own pages")
		return
	}
	c.Next()
}

// loopbackHost reports whether a Host header names the local machine:
// localhost or a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// safeMethod reports whether method only reads.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// crossSite reports whether a browser sent r on behalf of a page of
// another origin: by Sec-Fetch-Site, which every current browser sends,
// or by an Origin that is not the request's own. Clients that are not
// browsers send neither and are not cross-site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true // "null" and the like: an opaque origin
	}
	return !strings.EqualFold(u.Host, r.Host)
}
