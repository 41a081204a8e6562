package ui

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web/api"
)

// consoleZH translates the console's UI strings, keyed by their English
// text, into Chinese. The display names of sync types and statuses come
// from synclog. A test checks that every string the templates and the
// handlers use is here.
var consoleZH = map[string]string{
	// Navigation and layout.
	"Overview":                          "概览",
	"Runs":                              "运行记录",
	"Errors":                            "错误",
	"Daily report":                      "日报",
	"Sign in":                           "登录",
	"Sign out":                          "退出",
	"Read-only console. Times are UTC.": "只读控制台。时间均为 UTC。",
	"Generated":                         "生成于",
	"Back to the overview":              "返回概览",
	"Parameter":                         "参数",
	"Request id":                        "请求 ID",
	"Run":                               "运行",
	"Token":                             "令牌",
	"Bad Request":                       "请求错误",
	"Unauthorized":                      "未授权",
	"Forbidden":                         "禁止访问",
	"Not Found":                         "未找到",
	"Too Many Requests":                 "请求过多",
	"Internal Server Error":             "服务器内部错误",
	"Service Unavailable":               "服务不可用",
	"A valid token is required.":        "需要有效的令牌。",
	"This token lacks the query role.":  "该令牌没有查询权限。",
	"Signing in failed.":                "登录失败。",
	"Unknown language.":                 "未知语言。",
	"This token is not valid for the console: it needs the query role.":                                                   "该令牌不能用于控制台：需要查询权限。",
	"Too many requests with this token: try again in a few seconds.":                                                      "该令牌的请求过多：请几秒后重试。",
	"The form was not sent from a page of this console.":                                                                  "表单不是从本控制台的页面提交的。",
	"The form has expired: reload the page and try again.":                                                                "表单已过期：请刷新页面后重试。",
	"The query took too long: narrow the filter or the time range.":                                                       "查询耗时过长：请缩小筛选条件或时间范围。",
	"The query failed; the server log has the details.":                                                                   "查询失败；详情见服务器日志。",
	"No such run is stored; it may be older than the retention.":                                                          "没有这条运行记录；它可能已超过保留期限。",
	"Enter a token with the query role. The console keeps you signed in with a cookie; the token never appears in a URL.": "请输入具有查询权限的令牌。控制台通过 Cookie 保持登录；令牌不会出现在任何 URL 中。",

	// Overview.
	"The last 24 hours":     "最近 24 小时",
	"Success ratio":         "成功率",
	"Failed":                "失败",
	"Partial success":       "部分成功",
	"In progress":           "进行中",
	"Runs per hour":         "每小时运行数",
	"now":                   "现在",
	"all runs":              "全部运行",
	"failed":                "失败",
	"partial":               "部分成功",
	"runs":                  "次运行",
	"highest hour":          "单小时最多",
	"Sync types":            "同步类型",
	"Sync type":             "同步类型",
	"Last success":          "最近成功",
	"Expected interval":     "预期间隔",
	"Runs (24 h)":           "运行数（24 小时）",
	"Number of runs":        "运行次数",
	"Consecutive failures":  "连续失败",
	"none in the retention": "保留期内没有",
	"oldest started":        "最早开始于",
	"Recent failures":       "最近的失败",
	"On time":               "正常",
	"Late":                  "延迟",
	"Very late":             "严重延迟",
	"Never succeeded":       "从未成功",
	"No schedule":           "无计划",
	"All failed and partial runs of the last 24 hours": "最近 24 小时的全部失败和部分成功的运行",
	"No failed or partial run in the last 24 hours.":   "最近 24 小时没有失败或部分成功的运行。",

	// Runs.
	"All":                                    "全部",
	"Status":                                 "状态",
	"Source":                                 "来源",
	"Sources":                                "来源",
	"From":                                   "开始日期",
	"Until":                                  "结束日期",
	"Message contains":                       "消息包含",
	"Filter":                                 "筛选",
	"Reset":                                  "重置",
	"Failed or partial":                      "失败或部分成功",
	"Showing the runs of one error group.":   "正在显示同一错误分组的运行。",
	"Started (UTC)":                          "开始时间（UTC）",
	"Total":                                  "总数",
	"Success":                                "成功",
	"Duration":                               "耗时",
	"Message":                                "消息",
	"Newest":                                 "最新",
	"Older":                                  "更早",
	"This page as CSV":                       "将本页导出为 CSV",
	"No runs match the filter.":              "没有符合筛选条件的运行。",
	"Records":                                "记录数",
	"Completed (UTC)":                        "完成时间（UTC）",
	"Last report received (UTC)":             "最后报告接收时间（UTC）",
	"Event id":                               "事件 ID",
	"Error group":                            "错误分组",
	"Runs with the same error":               "相同错误的运行",
	"Attributes":                             "属性",
	"No message.":                            "没有消息。",
	"Timeline":                               "时间线",
	"Received (UTC)":                         "接收时间（UTC）",
	"More runs of this sync type and source": "该同步类型和来源的更多运行",

	// Errors.
	"Failed and partial runs grouped by their message": "按消息分组的失败和部分成功的运行",
	"Previous period":  "上一周期",
	"First seen (UTC)": "首次出现（UTC）",
	"Last seen (UTC)":  "最近出现（UTC）",
	"Latest message":   "最新消息",
	"rising":           "上升",
	"Show runs":        "查看运行",
	"No failed or partial runs in this period.": "该时间段内没有失败或部分成功的运行。",

	// Daily report.
	"Date":                           "日期",
	"Time zone":                      "时区",
	"Show":                           "显示",
	"Previous day":                   "前一天",
	"Next day":                       "后一天",
	"Download CSV":                   "下载 CSV",
	"This day":                       "当天",
	"Against the day before":         "与前一天相比",
	"Average day of the week before": "前一周的日均",
	"Average duration":               "平均耗时",
	"P95 duration":                   "P95 耗时",
	"No runs in this day or the seven days before it.": "当天及之前七天没有运行。",
	// Diagnosis.
	"Diagnosis": "诊断",
	"Diagnose":  "诊断",
	"Each source and sync type is judged against its own history: durations and record counts by robust statistics, seasonal by hour and weekday when the history is; failures against the baseline failure rate; starts against the usual interval.": "每个来源和同步类型都与其自身历史比较：耗时和记录数使用稳健统计（历史呈现周期性时按小时和星期分段）；失败与基线失败率比较；启动时间与通常间隔比较。",
	"Anomalies of the last 7 days":   "最近 7 天的异常",
	"not enough history":             "历史数据不足",
	"Kind":                           "类型",
	"Began (UTC)":                    "开始于（UTC）",
	"Detected (UTC)":                 "发现于（UTC）",
	"Value":                          "实际值",
	"Expected":                       "预期值",
	"p-value":                        "p 值",
	"Details":                        "详情",
	"ongoing":                        "持续中",
	"No anomaly in the last 7 days.": "最近 7 天没有异常。",
	"Likely causes, last 24 hours":   "可能的原因（最近 24 小时）",
	"Forecasts":                      "预测",
	"Series":                         "指标",
	"Today":                          "今天",
	"Per day":                        "每日变化",
	"reached around":                 "预计达到于",
	"not within 30 days":             "30 天内不会达到",
	"The same as JSON":               "以 JSON 查看",
	"new":                            "新",
	"No failed or anomalously slow runs to explain.": "没有需要解释的失败或异常缓慢的运行。",
	"Why":                         "原因",
	"Diagnosis of this sync type": "该同步类型的诊断",
	"Diagnostics are not available here: they need the ClickHouse store.": "此处无法诊断：需要 ClickHouse 存储。",
	"Regression":       "性能退化",
	"Slow run":         "运行缓慢",
	"Too fast":         "过快完成",
	"Too few records":  "记录过少",
	"Failure burst":    "集中失败",
	"Too often":        "过于频繁",
	"Overlapping runs": "运行重叠",
	"Scope":            "影响范围",
	"Attribute":        "属性",
	"Error":            "错误",
	"Onset":            "开始时间",
	"p95 duration (s)": "p95 耗时（秒）",
	"Failure ratio":    "失败率",
	"Records per day":  "每日记录数",
	"Maximum runtime":  "最长运行时间",
	"Interval":         "间隔",
}

// tr translates a UI string; a string without a translation (such as an
// error message of the API, which names a parameter) stays English.
func tr(lang synclog.Language, s string) string {
	if lang == synclog.Chinese {
		if z, ok := consoleZH[s]; ok {
			return z
		}
	}
	return s
}

// parseLang reads a language code: en or zh, with or without a region,
// as the API does.
func parseLang(s string) (synclog.Language, bool) { return api.ParseLang(s) }

// acceptLanguage picks English or Chinese from an Accept-Language header,
// as the API does.
func acceptLanguage(header string) synclog.Language { return api.AcceptLanguage(header) }

// consoleFuncs are the template functions, bound to a language.
func consoleFuncs(lang synclog.Language) template.FuncMap {
	return template.FuncMap{
		"t": func(s string) string { return tr(lang, s) },
		"typeName": func(v any) string {
			return synclog.SyncTypeDisplayName(fmt.Sprint(v), lang)
		},
		"typeNames": func(types []string) string {
			names := make([]string, len(types))
			for i, t := range types {
				names[i] = synclog.SyncTypeDisplayName(t, lang)
			}
			sep := ", "
			if lang == synclog.Chinese {
				sep = "、"
			}
			return strings.Join(names, sep)
		},
		"statusName": func(v any) string { return synclog.Status(fmt.Sprint(v)).DisplayName(lang) },
		"stateLabel": func(state string) string { return tr(lang, stateLabels[state]) },
		"age":        func(d time.Duration) string { return formatAge(d, lang) },
		"when":       formatWhen,
		"whenPtr": func(t *time.Time) string {
			if t == nil {
				return "–"
			}
			return formatWhen(*t)
		},
		"hour":     func(t time.Time) string { return t.UTC().Format("15:04") },
		"dur":      formatMS,
		"secs":     formatSeconds,
		"interval": formatInterval,
		"pct": func(p *float64) string {
			if p == nil {
				return "–"
			}
			return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
		},
		"pp": func(p *float64) string {
			if p == nil {
				return "–"
			}
			return signedFloat(*p*100) + " pp"
		},
		"signed": signedFloat,
		"num": func(v float64) string {
			return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
		},
		"f1":     func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"clip":   clipText,
		"runURL": func(id string) string { return consolePath + "/runs/" + url.PathEscape(id) },
		"attrs":  sortedAttributes,
		"join":   func(s []string) string { return strings.Join(s, ", ") },
		"kind":   func(k any) string { return tr(lang, kindLabels[fmt.Sprint(k)]) },
		"fptr": func(p *float64) string {
			if p == nil {
				return "–"
			}
			return strconv.FormatFloat(*p, 'g', 4, 64)
		},
		"uptr": func(p *uint64) string {
			if p == nil {
				return "–"
			}
			return strconv.FormatUint(*p, 10)
		},
		"g4": func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
		"date": func(t *time.Time) string {
			if t == nil {
				return "–"
			}
			return t.UTC().Format(time.DateOnly)
		},
	}
}

// stateLabels name the states of a last success.
var stateLabels = map[string]string{
	stateOK: "On time", stateLate: "Late", stateVeryLate: "Very late", stateNever: "Never succeeded",
	stateUnscheduled: "No schedule",
}

func formatWhen(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format(time.DateTime)
}

// formatMS renders a duration in milliseconds: 850 ms, 12.3 s, 4m 05s,
// 2h 03m.
func formatMS(ms *int64) string {
	if ms == nil {
		return "–"
	}
	return formatDuration(time.Duration(*ms) * time.Millisecond)
}

func formatSeconds(s *float64) string {
	if s == nil {
		return "–"
	}
	return formatDuration(time.Duration(*s * float64(time.Second)))
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// formatInterval renders an expected interval compactly: 15m, 6h, 2d.
func formatInterval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// formatAge renders how long ago something happened, in two units at
// most: "3h 20m ago", "3小时20分钟前".
func formatAge(d time.Duration, lang synclog.Language) string {
	if d < 0 {
		d = 0
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	type part struct {
		n      int
		en, zh string
	}
	var parts []part
	switch {
	case days > 0:
		parts = []part{{days, "d", "天"}, {hours, "h", "小时"}}
	case hours > 0:
		parts = []part{{hours, "h", "小时"}, {mins, "m", "分钟"}}
	case mins > 0:
		parts = []part{{mins, "m", "分钟"}}
	default:
		if lang == synclog.Chinese {
			return "刚刚"
		}
		return "just now"
	}
	var b strings.Builder
	for i, p := range parts {
		if p.n == 0 && i > 0 {
			continue
		}
		if lang == synclog.Chinese {
			b.WriteString(strconv.Itoa(p.n) + p.zh)
			continue
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(p.n) + p.en)
	}
	if lang == synclog.Chinese {
		return b.String() + "前"
	}
	return b.String() + " ago"
}

func signedFloat(v float64) string {
	s := strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	if v > 0 {
		s = "+" + s
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// clipText shortens s to n characters, with an ellipsis.
func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
