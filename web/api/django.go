package api

import (
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// djangoRecords translates the parameters that clients of the original
// Django module's /api/monitor/records/ send (Django REST framework's
// paging, ordering and search) before the run list parses the query:
// search is q, page_size is limit, ordering by newest start is the only
// order there is and is accepted as such; page and offset have no
// equivalent and are refused with the parameter that replaces them.
func djangoRecords(c *gin.Context) {
	raw := c.Request.URL.RawQuery
	if !strings.ContainsAny(raw, "=") {
		return
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return // the run list's parser names the fault
	}
	changed := false
	for _, name := range []string{"page", "offset"} {
		if _, ok := v[name]; ok {
			RespondParamError(c, BadParam(name, "%s is not supported: runs are paged with cursor; pass the next_cursor of the previous page (null on the last page) as cursor", name))
			c.Abort()
			return
		}
	}
	for _, r := range []struct{ old, now string }{{"search", "q"}, {"page_size", "limit"}} {
		vals, ok := v[r.old]
		if !ok {
			continue
		}
		if _, both := v[r.now]; both {
			RespondParamError(c, BadParam(r.old, "%s is %s: give one of them", r.old, r.now))
			c.Abort()
			return
		}
		v[r.now] = vals
		v.Del(r.old)
		changed = true
	}
	if vals, ok := v["ordering"]; ok {
		for _, o := range vals {
			switch strings.TrimSpace(o) {
			case "-created_at", "-started_at":
			default:
				RespondParamError(c, BadParam("ordering", "ordering %q is not supported: runs are listed newest first (-started_at, -created_at), the only order there is", Clip(o)))
				c.Abort()
				return
			}
		}
		v.Del("ordering")
		changed = true
	}
	if changed {
		c.Request.URL.RawQuery = v.Encode()
	}
}
