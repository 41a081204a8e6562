package digest

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/notify"
)

// words are the strings of one language.
type words struct {
	Title                                         map[string]string // by period kind
	Late                                          string
	Types, Errors, Missed, Insights               string
	NoRuns                                        string
	Runs, Success, Failed, Partial, Records, P95  string
	VsPrevious, VsSevenDay, SevenDayAvg           string
	NewGroup, Rising, Occurrences, Previous, Seen string
	MissedLine                                    string
	Console, Grafana, ErrorsLink                  string
	ScopeAll, Scope                               string
	InsightKind                                   map[string]string
	Seconds                                       string
	Sep                                           string
	SyncType                                      string
}

var languages = map[string]words{
	config.LangEnglish: {
		Title: map[string]string{config.PeriodDay: "syncwatch daily digest", config.PeriodWeek: "syncwatch weekly digest", config.PeriodMonth: "syncwatch monthly digest"},
		Late:  "late: due %s",
		Types: "Runs by sync type", Errors: "New or rising errors", Missed: "Missed runs", Insights: "Anomalies and forecasts",
		NoRuns: "No runs in this period.",
		Runs:   "runs", Success: "success", Failed: "failed", Partial: "partial", Records: "records", P95: "p95",
		VsPrevious: "vs previous", VsSevenDay: "vs 7 days", SevenDayAvg: "7-day average %s runs/day",
		NewGroup: "new", Rising: "rising", Occurrences: "%d×", Previous: "previously %d", Seen: "in %s",
		MissedLine: "%s: %d of %d expected runs (one every %s), %d missed",
		Console:    "Console", Grafana: "Grafana", ErrorsLink: "Errors",
		ScopeAll: "all sources and sync types", Scope: "Scope",
		InsightKind: map[string]string{"anomaly": "anomaly", "forecast": "forecast"},
		Seconds:     "s", Sep: ", ", SyncType: "sync type",
	},
	config.LangChinese: {
		Title: map[string]string{config.PeriodDay: "syncwatch 同步日报", config.PeriodWeek: "syncwatch 同步周报", config.PeriodMonth: "syncwatch 同步月报"},
		Late:  "补发：原定 %s",
		Types: "各同步类型运行情况", Errors: "新增或上升的错误", Missed: "缺失的运行", Insights: "异常与预测",
		NoRuns: "本期没有运行。",
		Runs:   "运行", Success: "成功率", Failed: "失败", Partial: "部分成功", Records: "记录", P95: "p95 耗时",
		VsPrevious: "较上期", VsSevenDay: "较 7 日", SevenDayAvg: "7 日平均每天 %s 次",
		NewGroup: "新增", Rising: "上升", Occurrences: "%d 次", Previous: "上期 %d 次", Seen: "涉及 %s",
		MissedLine: "%s：应运行 %[3]d 次（每 %[4]s 一次），实际 %[2]d 次，缺失 %[5]d 次",
		Console:    "控制台", Grafana: "Grafana", ErrorsLink: "错误",
		ScopeAll: "全部来源与同步类型", Scope: "范围",
		InsightKind: map[string]string{"anomaly": "异常", "forecast": "预测"},
		Seconds:     " 秒", Sep: "，", SyncType: "同步类型",
	},
}

func wordsOf(lang string) words {
	if w, ok := languages[lang]; ok {
		return w
	}
	return languages[config.LangEnglish]
}

// Title is the subject of the digest: its kind, the period, and the
// digest's name, marked when late.
func (c *Content) Title() string {
	w := wordsOf(c.Language)
	t := fmt.Sprintf("%s %s · %s", w.Title[c.Period.Kind], c.Period.Label, c.Digest)
	if c.Late && c.DueAt != nil {
		t += " (" + fmt.Sprintf(w.Late, c.DueAt.In(c.Period.Start.Location()).Format("2006-01-02 15:04 MST")) + ")"
	}
	return t
}

// flavor is one markup: Markdown for the robots, Slack's mrkdwn, or
// plain text.
type flavor struct {
	bold   func(string) string
	link   func(text, u string) string
	escape func(string) string
	item   string
	head   func(string) string
}

// mdEscaper makes names and messages inert in the robots' markdown, whose
// renderers do not all honour backslash escapes: no bracket can open a
// link, no angle bracket a tag, no asterisk or backquote a style.
var mdEscaper = strings.NewReplacer("[", "［", "]", "］", "<", "‹", ">", "›", "*", "∗", "`", "'", "#", "＃", "\n", " ")
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ")

var (
	markdownFlavor = flavor{
		bold: func(s string) string { return "**" + s + "**" },
		link: func(t, u string) string {
			if u == "" {
				return ""
			}
			return "[" + t + "](" + u + ")"
		},
		escape: mdEscaper.Replace, item: "- ",
		head: func(s string) string { return "#### " + s },
	}
	slackFlavor = flavor{
		bold: func(s string) string { return "*" + s + "*" },
		link: func(t, u string) string {
			if u == "" {
				return ""
			}
			return "<" + u + "|" + t + ">"
		},
		escape: slackEscaper.Replace, item: "• ",
		head: func(s string) string { return "*" + s + "*" },
	}
	textFlavor = flavor{
		bold: func(s string) string { return s },
		link: func(t, u string) string {
			if u == "" {
				return ""
			}
			return t + ": " + u
		},
		escape: strings.NewReplacer("\n", " ").Replace, item: "- ",
		head: func(s string) string { return s },
	}
)

// Markdown renders c for the robots (DingTalk, WeCom, Feishu) and for
// GET /api/v1/reports/digest?format=markdown.
func (c *Content) Markdown() string { return c.render(markdownFlavor) }

// Slack renders c in Slack's mrkdwn.
func (c *Content) Slack() string { return c.render(slackFlavor) }

// Text renders c as plain text, the e-mail's alternative part.
func (c *Content) Text() string { return c.Title() + "\n\n" + c.render(textFlavor) }

func (c *Content) render(f flavor) string {
	w := wordsOf(c.Language)
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	loc := c.Period.Start.Location()
	line(fmt.Sprintf("%s – %s (%s)", c.Period.Start.Format("2006-01-02 15:04"), c.Period.End.In(loc).Format("2006-01-02 15:04"), f.escape(c.TZ)))
	line(w.Scope + ": " + f.escape(c.scopeText(w)))
	if c.Late && c.DueAt != nil {
		line(f.bold(fmt.Sprintf(w.Late, c.DueAt.In(loc).Format("2006-01-02 15:04"))))
	}
	line("")
	line(f.head(w.Types))
	if c.Totals.Runs == 0 {
		line(w.NoRuns)
	}
	for _, r := range c.SyncTypes {
		if r.Period.Runs == 0 && r.Previous.Runs == 0 && r.SevenDay.Runs == 0 {
			continue
		}
		parts := []string{
			fmt.Sprintf("%s %d", w.Runs, r.Period.Runs),
			w.Success + " " + pct(r.Period.SuccessRatio),
			fmt.Sprintf("%s %d", w.Failed, r.Period.Failed),
			fmt.Sprintf("%s %d", w.Partial, r.Period.Partial),
			fmt.Sprintf("%s %d", w.Records, r.Period.Records),
			w.P95 + " " + dur(r.Period.DurationP95, w) + " (" + w.VsPrevious + " " + signedPct(r.P95Change) + w.Sep + w.VsSevenDay + " " + signedPct(r.P95VsSevenDay) + ")",
			fmt.Sprintf(w.SevenDayAvg, strconv.FormatFloat(math.Round(r.SevenDayRunsPerDay*10)/10, 'f', -1, 64)),
		}
		s := f.item + f.bold(f.escape(named(r.SyncTypeDisplay, r.SyncType))) + ": " + strings.Join(parts, " · ")
		s += links(f, f.link(w.Console, r.ConsoleURL), f.link(w.Grafana, r.GrafanaURL))
		line(s)
	}
	if len(c.ErrorGroups) > 0 {
		line("")
		line(f.head(w.Errors))
		for _, g := range c.ErrorGroups {
			tag := w.NewGroup
			if g.Regressed {
				tag = w.Rising + ", " + fmt.Sprintf(w.Previous, g.Previous)
			}
			s := f.item + f.bold(fmt.Sprintf(w.Occurrences, g.Count)) + " [" + tag + "] " + f.escape(clipRunes(g.Sample, 160)) +
				" (" + fmt.Sprintf(w.Seen, f.escape(strings.Join(g.SyncTypesDisplay, ", "))) + ")"
			s += links(f, f.link(w.Console, g.ConsoleURL))
			line(s)
		}
	}
	if len(c.Missed) > 0 {
		line("")
		line(f.head(w.Missed))
		for _, m := range c.Missed {
			line(f.item + fmt.Sprintf(w.MissedLine, f.escape(named(m.SyncTypeDisplay, m.SyncType)), m.Runs, m.Expected, shortDur(m.Interval), m.Missed))
		}
	}
	if len(c.Insights) > 0 {
		line("")
		line(f.head(w.Insights))
		for _, in := range c.Insights {
			kind := w.InsightKind[in.Kind]
			if kind == "" {
				kind = in.Kind
			}
			line(f.item + "[" + kind + "] " + f.escape(in.Summary) + links(f, f.link(w.Console, in.Link)))
		}
	}
	if l := links(f, f.link(w.Console, c.Links.Console), f.link(w.ErrorsLink, c.Links.Errors), f.link(w.Grafana, c.Links.Grafana)); l != "" {
		line("")
		line(strings.TrimSpace(l))
	}
	return b.String()
}

// named is a sync type's display name with its code, "Price sync
// (prices)", or the code alone when it has no other name.
func named(display, code string) string {
	if display == "" || display == code {
		return code
	}
	return display + " (" + code + ")"
}

func (c *Content) scopeText(w words) string {
	if len(c.Scope.Sources) == 0 && len(c.Scope.SyncTypes) == 0 {
		return w.ScopeAll
	}
	var parts []string
	if len(c.Scope.Sources) > 0 {
		parts = append(parts, "source="+strings.Join(c.Scope.Sources, ","))
	}
	if len(c.Scope.SyncTypes) > 0 {
		parts = append(parts, "sync_type="+strings.Join(c.Scope.SyncTypes, ","))
	}
	return strings.Join(parts, " ")
}

func links(f flavor, ls ...string) string {
	var out []string
	for _, l := range ls {
		if l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " " + strings.Join(out, " · ")
}

func pct(r *float64) string {
	if r == nil {
		return "–"
	}
	return strconv.FormatFloat(math.Round(*r*1000)/10, 'f', -1, 64) + "%"
}

func signedPct(r *float64) string {
	if r == nil {
		return "–"
	}
	v := math.Round(*r*1000) / 10
	s := strconv.FormatFloat(v, 'f', -1, 64) + "%"
	if v > 0 {
		s = "+" + s
	}
	return s
}

func dur(s *float64, w words) string {
	if s == nil {
		return "–"
	}
	return strconv.FormatFloat(math.Round(*s*10)/10, 'f', -1, 64) + w.Seconds
}

func shortDur(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

//go:embed email.html
var emailHTML string

var emailTemplate = template.Must(template.New("email").Funcs(template.FuncMap{
	"pct": pct, "signedPct": signedPct,
	"dur":   func(s *float64, w words) string { return dur(s, w) },
	"clip":  clipRunes,
	"join":  strings.Join,
	"named": named,
	"short": shortDur,
	"fmt":   fmt.Sprintf,
	"when":  func(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02 15:04") },
}).Parse(emailHTML))

// HTML renders c as the e-mail's HTML document: tables with inline
// styles, which mail clients keep.
func (c *Content) HTML() (string, error) {
	var b bytes.Buffer
	err := emailTemplate.Execute(&b, struct {
		C     *Content
		W     words
		Title string
		Loc   *time.Location
		Scope string
	}{c, wordsOf(c.Language), c.Title(), c.Period.Start.Location(), c.scopeText(wordsOf(c.Language))})
	if err != nil {
		return "", fmt.Errorf("digest %s: render html: %w", c.Digest, err)
	}
	return b.String(), nil
}

// Message renders c in every form the channels send.
func (c *Content) Message() (notify.Message, error) {
	html, err := c.HTML()
	if err != nil {
		return notify.Message{}, err
	}
	sev := notify.SeverityInfo
	if c.Totals.Failed > 0 || len(c.ErrorGroups) > 0 || len(c.Missed) > 0 {
		sev = notify.SeverityWarning
	}
	return notify.Message{
		Title: c.Title(), Severity: sev, Markdown: c.Markdown(), Slack: c.Slack(), Text: c.Text(), HTML: html,
		Kind: "digest", Data: c,
	}, nil
}
