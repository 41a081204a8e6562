package api

import (
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// keyLang is the context key of the answer's language.
const keyLang = "syncwatch.api.lang"

// ParseLang reads a language code: en or zh, with or without a region.
func ParseLang(s string) (synclog.Language, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	primary, _, _ := strings.Cut(s, "-")
	primary, _, _ = strings.Cut(primary, "_")
	switch primary {
	case "en":
		return synclog.English, true
	case "zh":
		return synclog.Chinese, true
	}
	return "", false
}

// AcceptLanguage picks English or Chinese from an Accept-Language header:
// the one of the two with the highest weight, the earlier on a tie;
// English when the header names neither or cannot be read.
func AcceptLanguage(header string) synclog.Language {
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return synclog.English
	}
	for _, t := range tags {
		if l, ok := ParseLang(t.String()); ok {
			return l
		}
	}
	return synclog.English
}

// common handles the parameters every query and monitor URL takes: lang
// (the language of display names, else Accept-Language) and, where the
// endpoint has no other format, format=json, which Django REST framework
// clients append. Both are taken out of the query before the endpoint
// parses it.
func common(takesFormat bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		lang := AcceptLanguage(c.GetHeader("Accept-Language"))
		raw := c.Request.URL.RawQuery
		if strings.Contains(raw, "lang") || (!takesFormat && strings.Contains(raw, "format")) {
			v, err := url.ParseQuery(raw)
			if err != nil {
				// The endpoint's parser refuses it, naming the fault.
				c.Set(keyLang, lang)
				return
			}
			if _, ok := v["lang"]; ok {
				s, perr := Single(v, "lang")
				if perr != nil {
					RespondParamError(c, perr)
					c.Abort()
					return
				}
				l, ok := ParseLang(s)
				if !ok {
					RespondParamError(c, BadParam("lang", "unknown lang %q: allowed are en, zh", Clip(s)))
					c.Abort()
					return
				}
				lang = l
				v.Del("lang")
			}
			if f := v["format"]; !takesFormat && len(f) == 1 && strings.EqualFold(strings.TrimSpace(f[0]), FormatJSON) {
				v.Del("format")
			}
			c.Request.URL.RawQuery = v.Encode()
		}
		c.Set(keyLang, lang)
	}
}

// langOf is the language of the answer.
func langOf(c *gin.Context) synclog.Language {
	if v, ok := c.Get(keyLang); ok {
		return v.(synclog.Language)
	}
	return synclog.English
}

// RunView is a run as the API answers it: with the display names of its
// status and sync type in the language asked for.
type RunView struct {
	runs.Run
	StatusDisplay   string `json:"status_display"`
	SyncTypeDisplay string `json:"sync_type_display"`
}

// ReportView is a report of a run's timeline, with its status's display
// name.
type ReportView struct {
	runs.Report
	StatusDisplay string `json:"status_display"`
}

// StatsView is a row of statistics with the display names of its sync
// type and status when it is grouped by them.
type StatsView struct {
	runs.Stats
	SyncTypeDisplay string `json:"sync_type_display,omitempty"`
	StatusDisplay   string `json:"status_display,omitempty"`
}

// runViews renders runs in lang, with non-nil attribute maps.
func runViews(list []runs.Run, lang synclog.Language) []RunView {
	out := make([]RunView, len(list))
	for i, r := range withAttributes(list) {
		out[i] = runView(r, lang)
	}
	return out
}

func runView(r runs.Run, lang synclog.Language) RunView {
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	return RunView{Run: r, StatusDisplay: r.Status.DisplayName(lang), SyncTypeDisplay: synclog.SyncTypeDisplayName(r.SyncType, lang)}
}

// statsViews renders statistics rows in lang.
func statsViews(rows []runs.Stats, lang synclog.Language) []StatsView {
	out := make([]StatsView, len(rows))
	for i, r := range rows {
		out[i] = StatsView{Stats: r}
		if r.SyncType != "" {
			out[i].SyncTypeDisplay = synclog.SyncTypeDisplayName(r.SyncType, lang)
		}
		if r.Status != "" {
			out[i].StatusDisplay = synclog.Status(r.Status).DisplayName(lang)
		}
	}
	return out
}

// DailyRowView is a sync type of the daily report with its display name.
type DailyRowView struct {
	runs.DailyRow
	SyncTypeDisplay string `json:"sync_type_display"`
}

// ErrorGroupView is an error group with the display names of its sync
// types, in the order of SyncTypes.
type ErrorGroupView struct {
	runs.ErrorGroup
	SyncTypesDisplay []string `json:"sync_types_display"`
}

// TrendPointView is a day of the trend report with the display name of
// its sync type.
type TrendPointView struct {
	runs.TrendPoint
	SyncTypeDisplay string `json:"sync_type_display"`
}

// dailyViews renders the rows of the daily report in lang.
func dailyViews(rows []runs.DailyRow, lang synclog.Language) []DailyRowView {
	out := make([]DailyRowView, len(rows))
	for i, r := range rows {
		out[i] = DailyRowView{DailyRow: r, SyncTypeDisplay: synclog.SyncTypeDisplayName(r.SyncType, lang)}
	}
	return out
}

// errorGroupViews renders error groups in lang, with non-nil lists.
func errorGroupViews(groups []runs.ErrorGroup, lang synclog.Language) []ErrorGroupView {
	out := make([]ErrorGroupView, len(groups))
	for i, g := range groups {
		g.SyncTypes = orEmpty(g.SyncTypes)
		g.Sources = orEmpty(g.Sources)
		names := make([]string, len(g.SyncTypes))
		for j, st := range g.SyncTypes {
			names[j] = synclog.SyncTypeDisplayName(st, lang)
		}
		out[i] = ErrorGroupView{ErrorGroup: g, SyncTypesDisplay: names}
	}
	return out
}
