package ui

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
)

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

func (cn *Console) handleCSS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", cn.css)
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

// read runs one read of the store within the request's time bound. When
// it fails, read renders the failure (see queryFailed) and returns false.
func read[T any](cn *Console, c *gin.Context, what string, f func(ctx context.Context) (T, error)) (T, bool) {
	ctx, cancel := api.QueryContext(c)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		cn.queryFailed(c, what, err)
		return v, false
	}
	return v, true
}
