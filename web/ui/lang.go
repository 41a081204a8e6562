package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
)

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

func (cn *Console) handleLang(c *gin.Context) {
	lang, ok := parseLang(c.PostForm("lang"))
	if !ok {
		cn.fail(c, http.StatusBadRequest, "Unknown language.")
		return
	}
	cn.setCookie(c, LangCookie, string(lang), 365*24*3600)
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next")))
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
