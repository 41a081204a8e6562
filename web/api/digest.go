package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
)

// DigestBuilder builds the content of a digest; *digest.Builder is one.
type DigestBuilder interface {
	Build(ctx context.Context, req digest.Request) (*digest.Content, error)
}

var digestParams = []string{"name", "period", "date", "tz", "source", "sync_type", "format"}

// keyLangGiven marks a request whose query names its language.
const keyLangGiven = "syncwatch.api.lang_given"

// DigestRequest is a parsed request for GET /api/v1/reports/digest.
type DigestRequest struct {
	Request digest.Request
	Format  string
}

// ParseDigestRequest reads the parameters of a digest. With name, the
// configured digest fixes the period, the zone, the scope and the
// language (unless lang is given); without it they come from the
// parameters: period (day by default), tz, source, sync_type. date picks
// a day inside the period; by default the last complete period.
func ParseDigestRequest(raw, accept string, env Env, digests []config.Digest, lang string, langGiven bool) (DigestRequest, *ParamError) {
	var r DigestRequest
	v, perr := QueryValues(raw, digestParams...)
	if perr != nil {
		return r, perr
	}
	name, perr := Single(v, "name")
	if perr != nil {
		return r, perr
	}
	req := &r.Request
	if name != "" {
		var d *config.Digest
		for i := range digests {
			if digests[i].Name == name {
				d = &digests[i]
			}
		}
		if d == nil {
			return r, BadParam("name", "no digest is called %q: configured are %s", Clip(name), digestNames(digests))
		}
		for _, p := range []string{"period", "tz", "source", "sync_type"} {
			if _, ok := v[p]; ok {
				return r, BadParam(p, "digest %q fixes %s: leave it out, or leave out name", Clip(name), p)
			}
		}
		*req = digest.RequestFor(d, digest.Period{Kind: d.Period})
		if langGiven {
			req.Language = lang
		}
	} else {
		kind, perr := Single(v, "period")
		if perr != nil {
			return r, perr
		}
		kind = strings.TrimSpace(kind)
		if kind == "" {
			kind = config.PeriodDay
		}
		if kind != config.PeriodDay && kind != config.PeriodWeek && kind != config.PeriodMonth {
			return r, BadParam("period", "unknown period %q: allowed are day, week, month", Clip(kind))
		}
		if req.Location, perr = parseTZ(v); perr != nil {
			return r, perr
		}
		f, perr := parseFilter(v, env, filterOptions{defaultSpan: time.Hour, anyRange: true})
		if perr != nil {
			return r, perr
		}
		req.Name, req.Language = "ad hoc", lang
		req.Scope = digest.Scope{Sources: orEmpty(f.Sources), SyncTypes: orEmpty(f.SyncTypes)}
		req.Period.Kind = kind
	}
	ds, perr := Single(v, "date")
	if perr != nil {
		return r, perr
	}
	if ds = strings.TrimSpace(ds); ds != "" {
		d, err := time.ParseInLocation(time.DateOnly, ds, req.Location)
		if err != nil {
			return r, BadParam("date", "date %q is not a valid date (YYYY-MM-DD)", Clip(ds))
		}
		if d.Before(minParamTime) || !d.Before(maxParamTime) {
			return r, BadParam("date", "date must lie between 1970-01-01 and 2199-12-31")
		}
		req.Period = digest.PeriodContaining(req.Period.Kind, d.Add(12*time.Hour), req.Location)
	} else {
		req.Period = digest.PeriodBefore(req.Period.Kind, env.now, req.Location)
	}
	if env.now.Sub(req.Period.End) > env.retention+24*time.Hour {
		return r, BadParam("date", "the period %s is older than the retention of %s", req.Period.Label, formatDays(env.retention))
	}
	r.Format, perr = parseFormat(v, accept, FormatJSON, FormatMarkdown)
	return r, perr
}

func digestNames(ds []config.Digest) string {
	if len(ds) == 0 {
		return "none"
	}
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

// handleDigest serves GET /api/v1/reports/digest.
func (a *API) handleDigest(c *gin.Context) {
	given, _ := c.Get(keyLangGiven)
	req, perr := ParseDigestRequest(c.Request.URL.RawQuery, c.GetHeader("Accept"), a.env(), a.digests, string(langOf(c)), given == true)
	if !paramsOK(c, perr) {
		return
	}
	content, ok := fetch(c, "the digest", func(ctx context.Context) (*digest.Content, error) {
		return a.digester.Build(ctx, req.Request)
	})
	if !ok {
		return
	}
	if req.Format == FormatMarkdown {
		c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte("### "+content.Title()+"\n\n"+content.Markdown()))
		return
	}
	c.JSON(http.StatusOK, content)
}

// markLang records whether the query names its language, before common
// takes lang out of it.
func markLang(c *gin.Context) {
	if strings.Contains(c.Request.URL.RawQuery, "lang") {
		if v, ok := c.Request.URL.Query()["lang"]; ok && len(v) > 0 {
			c.Set(keyLangGiven, true)
		}
	}
}
