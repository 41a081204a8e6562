package diagnose

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// Message is a summary or a note before it is put into words: the
// sentence it names and the values that fill it in. The service words it
// in English (Summary, Note); Text words it in another language, and In
// returns an answer worded in one.
type Message struct {
	// ID names the sentence in the catalogue.
	ID string
	// Args fill it in, in the order of the English sentence; durations,
	// instants and lists among them are written the language's way.
	Args []any
}

// The sentences of the catalogue.
const (
	msgDuration        = "duration"
	msgRegression      = "regression"
	msgTooFast         = "too_fast"
	msgTooSmall        = "too_small"
	msgFailureBurst    = "failure_burst"
	msgFailureWindow   = "failure_window"
	msgLate            = "late"
	msgTooOften        = "too_often"
	msgOverlap         = "overlap"
	msgScopeSupplier   = "scope_supplier"
	msgScopeType       = "scope_type"
	msgAttribute       = "attribute"
	msgAttributeNew    = "attribute_new"
	msgFingerprintNew  = "fingerprint_new"
	msgFingerprintBack = "fingerprint_regressed"
	msgOnset           = "onset"
	msgFewRuns         = "not_enough_runs"
	msgFewDays         = "not_enough_days"
	msgNotWithin       = "not_within"
	msgNothingToSay    = "nothing_to_explain"
)

// catalogue holds each sentence in English and Chinese. The English ones
// are the words the API has always answered with; the Chinese ones may
// order the values otherwise (explicit argument indexes).
var catalogue = map[string][2]string{
	msgDuration:   {"took %s, expected about %s (z %.1f)", "耗时 %s，预期约 %s（z 值 %.1f）"},
	msgRegression: {"%d slow runs of %d since %s: %s on average, expected about %s", "自 %[3]s 起的 %[2]d 次运行中有 %[1]d 次耗时异常：平均耗时 %[4]s，预期约 %[5]s"},
	msgTooFast:    {"finished in %s, expected about %s", "仅耗时 %s 即完成，预期约 %s"},
	msgTooSmall:   {"succeeded with %d records, usually about %.0f", "运行成功但只处理了 %d 条记录，通常约 %.0f 条"},
	msgFailureBurst: {"%d failures in %d runs against a baseline rate of %.2f%% (p = %.2g)",
		"连续 %[2]d 次运行中失败 %[1]d 次，基线失败率 %.2[3]f%%（p = %.2[4]g）"},
	msgFailureWindow: {"%d failures in the window's %d runs against a baseline rate of %.2f%% (p = %.2g)",
		"时间窗口内 %[2]d 次运行中失败 %[1]d 次，基线失败率 %.2[3]f%%（p = %.2[4]g）"},
	msgLate:     {"no start for %s, expected every %s", "已 %s 未启动，预期运行间隔 %s"},
	msgTooOften: {"started %s after the previous run, expected every %s", "距上次运行仅 %s 即再次启动，预期运行间隔 %s"},
	msgOverlap:  {"started before the previous run ended", "上一次运行尚未结束就已启动"},
	msgScopeSupplier: {"supplier-wide: %d other types of the source failed in the same window (%s)",
		"供应商级故障：同一来源的另外 %d 个同步类型在同一时段也出现失败（%s）"},
	msgScopeType: {"type-wide: the same type of %d other sources failed in the same window (%s)",
		"同类型故障：另外 %d 个来源的同一同步类型在同一时段也出现失败（%s）"},
	msgAttribute: {"%s=%s on %d of %d bad runs and %d of %d good ones (lift %.1f, p = %.2g)",
		"%s=%s 出现在 %d/%d 次异常运行和 %d/%d 次正常运行中（提升度 %.1f，p = %.2g）"},
	msgAttributeNew: {"new value %s=%s on %d of %d bad runs and %d of %d good ones (lift %.1f, p = %.2g)",
		"新出现的取值 %s=%s 出现在 %d/%d 次异常运行和 %d/%d 次正常运行中（提升度 %.1f，p = %.2g）"},
	msgFingerprintNew:  {"new error on %d failed runs: %s", "新出现的错误，涉及 %d 次失败运行：%s"},
	msgFingerprintBack: {"regressed error on %d failed runs: %s", "再次出现的错误，涉及 %d 次失败运行：%s"},
	msgOnset:           {"began at %s", "开始于 %s"},
	msgFewRuns:         {"not enough history (%d of %d runs)", "历史数据不足（%d/%d 次运行）"},
	msgFewDays:         {"not enough history (%d of %d days)", "历史数据不足（%d/%d 天）"},
	msgNotWithin:       {"not within %d days", "%d 天内不会达到"},
	msgNothingToSay:    {"no failed or anomalously slow runs in the window", "时间窗口内没有失败或耗时异常的运行"},
}

// msg returns the message id with args.
func msg(id string, args ...any) Message { return Message{ID: id, Args: args} }

// Text words m in lang (English for any language but Chinese); it is
// empty for a message of no known sentence.
func (m Message) Text(lang synclog.Language) string {
	s, ok := catalogue[m.ID]
	if !ok {
		return ""
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		if w, ok := a.(worded); ok {
			a = w.word(lang)
		}
		args[i] = a
	}
	if lang == synclog.Chinese {
		return fmt.Sprintf(s[1], args...)
	}
	return fmt.Sprintf(s[0], args...)
}

// english words m in English, as Summary and Note are.
func (m Message) english() string { return m.Text(synclog.English) }

// worded is a value written differently in each language.
type worded interface {
	word(lang synclog.Language) string
}

// span is a duration already rounded for reading.
type span time.Duration

func (d span) word(lang synclog.Language) string { return DurationText(time.Duration(d), lang) }

// instant is a point in time, RFC 3339 in UTC in either language.
type instant time.Time

func (t instant) word(synclog.Language) string { return time.Time(t).UTC().Format(time.RFC3339) }

// names is a list of source/type names.
type names []string

func (n names) word(lang synclog.Language) string {
	if lang == synclog.Chinese {
		return strings.Join(n, "、")
	}
	return strings.Join(n, ", ")
}

// DurationText writes d in lang: as Go writes durations in English
// (1m30s), in Chinese units otherwise (1分30秒, 2.5秒, 850毫秒).
func DurationText(d time.Duration, lang synclog.Language) string {
	if lang != synclog.Chinese {
		return d.String()
	}
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	if d < time.Second {
		if d%time.Millisecond == 0 {
			return neg + strconv.FormatInt(d.Milliseconds(), 10) + "毫秒"
		}
		return neg + strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "毫秒"
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute
	var b strings.Builder
	b.WriteString(neg)
	if h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "小时")
	}
	if m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "分")
		if h == 0 && s == 0 {
			b.WriteString("钟")
		}
	}
	if s > 0 {
		b.WriteString(strconv.FormatFloat(s.Seconds(), 'f', -1, 64) + "秒")
	}
	return b.String()
}

// In returns the report with its summaries and notes in lang.
func (r AnomalyReport) In(lang synclog.Language) AnomalyReport {
	r.Anomalies = slices.Clone(r.Anomalies)
	for i := range r.Anomalies {
		r.Anomalies[i].Summary = reword(r.Anomalies[i].Summary, r.Anomalies[i].Message, lang)
	}
	r.Types = slices.Clone(r.Types)
	for i := range r.Types {
		r.Types[i].Note = reword(r.Types[i].Note, r.Types[i].NoteMessage, lang)
	}
	return r
}

// In returns the answer with its hints' summaries and its note in lang.
func (rc RootCause) In(lang synclog.Language) RootCause {
	rc.Note = reword(rc.Note, rc.NoteMessage, lang)
	rc.Hints = slices.Clone(rc.Hints)
	for i := range rc.Hints {
		rc.Hints[i].Summary = reword(rc.Hints[i].Summary, rc.Hints[i].Message, lang)
	}
	return rc
}

// In returns the diagnosis worded in lang; nil for nil.
func (d *Diagnosis) In(lang synclog.Language) *Diagnosis {
	if d == nil {
		return nil
	}
	out := &Diagnosis{Anomalies: AnomalyReport{Anomalies: d.Anomalies}.In(lang).Anomalies}
	if d.RootCause != nil {
		rc := d.RootCause.In(lang)
		out.RootCause = &rc
	}
	return out
}

// ForecastsIn returns the forecasts with their notes in lang.
func ForecastsIn(fs []Forecast, lang synclog.Language) []Forecast {
	out := slices.Clone(fs)
	for i := range out {
		out[i].Note = reword(out[i].Note, out[i].NoteMessage, lang)
		out[i].Overruns = slices.Clone(out[i].Overruns)
		for j := range out[i].Overruns {
			o := &out[i].Overruns[j]
			o.Note = reword(o.Note, o.NoteMessage, lang)
		}
	}
	return out
}

// reword is m in lang, or text when m names no sentence.
func reword(text string, m Message, lang synclog.Language) string {
	if s := m.Text(lang); s != "" {
		return s
	}
	return text
}
