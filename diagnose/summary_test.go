package diagnose

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// english matches a word of Latin letters: Chinese summaries keep single
// letters (p, z, the T and Z of an RFC 3339 instant) and the names they
// quote, nothing else.
var english = regexp.MustCompile(`[A-Za-z]{2,}`)

// TestSummaries builds every kind of anomaly, hint and note through the
// detectors and checks its words in both languages: the English ones are
// those the API has always answered with, the Chinese ones are Chinese.
func TestSummaries(t *testing.T) {
	s, err := New(nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	status := func(src, st string) *TypeStatus { return &TypeStatus{Source: src, SyncType: st} }
	run := func(kind Kind, seconds, expected float64) ScoredRun {
		return ScoredRun{Source: "s", SyncType: "stock", RunID: "r1", Index: 3, Total: 20, Started: t0, Seconds: seconds, Expected: expected,
			Z: -4.2, Records: 300, ExpectedRecords: 12000, RecordsZ: -9, Kind: kind}
	}
	burst := FailureSeries{Source: "s", SyncType: "stock", BaselineRuns: 1000, Failed: 9, Flags: strings.Repeat("0", 9) + "111" + strings.Repeat("0", 38),
		Failures: []FailedRun{{10, "f1", t0}, {11, "f2", t0.Add(time.Hour)}, {12, "f3", t0.Add(2 * time.Hour)}}}
	window := FailureSeries{Source: "s", SyncType: "stock", BaselineRuns: 1000, Failed: 9, Flags: "1010100000",
		Failures: []FailedRun{{1, "f1", t0}, {3, "f2", t0.Add(time.Hour)}, {5, "f3", t0.Add(2 * time.Hour)}}}
	gaps := func(g Gap) TypeGaps {
		return TypeGaps{Source: "s", SyncType: "stock", Interval: 3600, LastStart: g.Started, Gaps: []Gap{g}}
	}
	attrs := []AttributeCount{{Key: "version", Value: "2.4.1", Bad: 9, Good: 0, Seen: 0}, {Key: "host", Value: "web-2", Bad: 9, Good: 10, Seen: 40}}
	one := func(as []Anomaly) Anomaly {
		if len(as) != 1 {
			t.Fatalf("%d anomalies, want 1: %+v", len(as), as)
		}
		return as[0]
	}
	type said struct {
		kind    string
		summary string
		m       Message
	}
	anomaly := func(a Anomaly) said { return said{string(a.Kind), a.Summary, a.Message} }
	hint := func(h Hint) said { return said{h.Kind, h.Summary, h.Message} }
	fewDays := s.forecast(typeKey{"s", "stock"}, []DailyPoint{{Day: t0}}, t0.AddDate(0, 0, 1))
	flat := overrun("max_runtime", 3600, fitLine([]float64{-2, -1, 0}, []float64{10, 10, 10}), t0)
	seen := map[string]bool{}

	for _, c := range []struct {
		name   string
		got    func() said
		en, zh string
	}{
		{"slow run", func() said { return anomaly(s.regressions(slowRuns(20, 5, 9))[0]) },
			"took 20s, expected about 10s (z 5.0)", "耗时 20秒，预期约 10秒（z 值 5.0）"},
		{"regression", func() said { return anomaly(one(s.regressions(slowRuns(20, 5, 6, 7)))) },
			"3 slow runs of 3 since 2026-03-02T05:00:00Z: 20s on average, expected about 10s",
			"自 2026-03-02T05:00:00Z 起的 3 次运行中有 3 次耗时异常：平均耗时 20秒，预期约 10秒"},
		{"too fast", func() said {
			return anomaly(one(s.durationAnomalies([]ScoredRun{run(KindTooFast, 1.5, 5430)}, status)))
		},
			"finished in 1.5s, expected about 1h30m30s", "仅耗时 1.5秒 即完成，预期约 1小时30分30秒"},
		{"too small", func() said { return anomaly(one(s.durationAnomalies([]ScoredRun{run(KindTooSmall, 60, 62)}, status))) },
			"succeeded with 300 records, usually about 12000", "运行成功但只处理了 300 条记录，通常约 12000 条"},
		{"failure burst", func() said { return anomaly(one(s.failureAnomalies(burst))) },
			"3 failures in 3 runs against a baseline rate of 1.00% (p = 9.9e-07)",
			"连续 3 次运行中失败 3 次，基线失败率 1.00%（p = 9.9e-07）"},
		{"failure rate of the window", func() said { return anomaly(one(s.failureAnomalies(window))) },
			"3 failures in the window's 10 runs against a baseline rate of 1.00% (p = 0.00011)",
			"时间窗口内 10 次运行中失败 3 次，基线失败率 1.00%（p = 0.00011）"},
		{"late", func() said {
			return anomaly(one(s.cadenceAnomalies(gaps(Gap{RunID: "r1", Started: t0, Previous: t0.Add(-150 * time.Minute), Seconds: 9000, Kind: KindLate}), t0, t0)))
		}, "no start for 2h30m0s, expected every 1h0m0s", "已 2小时30分 未启动，预期运行间隔 1小时"},
		{"late and still silent", func() said {
			return anomaly(one(s.cadenceAnomalies(TypeGaps{Source: "s", SyncType: "stock", Interval: 300, LastStart: t0}, t0.Add(time.Hour), t0.Add(2*time.Hour))))
		}, "no start for 1h0m0s, expected every 5m0s", "已 1小时 未启动，预期运行间隔 5分钟"},
		{"too often", func() said {
			return anomaly(one(s.cadenceAnomalies(gaps(Gap{RunID: "r1", Started: t0, Previous: t0.Add(-42 * time.Second), Seconds: 42, Kind: KindTooOften}), t0, t0)))
		}, "started 42s after the previous run, expected every 1h0m0s", "距上次运行仅 42秒 即再次启动，预期运行间隔 1小时"},
		{"overlap", func() said {
			return anomaly(one(s.cadenceAnomalies(gaps(Gap{RunID: "r1", Started: t0, Previous: t0.Add(-time.Hour), Seconds: 3600, Kind: KindOverlap}), t0, t0)))
		}, "started before the previous run ended", "上一次运行尚未结束就已启动"},
		{"supplier-wide", func() said {
			h, _ := s.scopeHint(CauseRequest{Source: "haier", SyncType: "stock"}, map[typeKey]bool{{"haier", "prices"}: true, {"haier", "products"}: true})
			return hint(h)
		}, "supplier-wide: 2 other types of the source failed in the same window (haier/prices, haier/products)",
			"供应商级故障：同一来源的另外 2 个同步类型在同一时段也出现失败（haier/prices、haier/products）"},
		{"type-wide", func() said {
			h, _ := s.scopeHint(CauseRequest{Source: "haier", SyncType: "stock"}, map[typeKey]bool{{"midea", "stock"}: true})
			return hint(h)
		}, "type-wide: the same type of 1 other sources failed in the same window (midea/stock)",
			"同类型故障：另外 1 个来源的同一同步类型在同一时段也出现失败（midea/stock）"},
		{"new attribute value", func() said { return hint(s.attributeHints(attrs, Totals{Bad: 10, Good: 90})[0]) },
			"new value version=2.4.1 on 9 of 10 bad runs and 0 of 90 good ones (lift 81.9, p = 5.3e-12)",
			"新出现的取值 version=2.4.1 出现在 9/10 次异常运行和 0/90 次正常运行中（提升度 81.9，p = 5.3e-12）"},
		{"attribute value", func() said { return hint(s.attributeHints(attrs, Totals{Bad: 10, Good: 90})[1]) },
			"host=web-2 on 9 of 10 bad runs and 10 of 90 good ones (lift 7.4, p = 4.4e-07)",
			"host=web-2 出现在 9/10 次异常运行和 10/90 次正常运行中（提升度 7.4，p = 4.4e-07）"},
		{"new error", func() said {
			return hint(s.fingerprintHints([]FingerprintCount{{Fingerprint: 1, Message: "HTTP 503 from supplier", Count: 4, FirstSeen: t0}}, t0)[0])
		}, "new error on 4 failed runs: HTTP 503 from supplier", "新出现的错误，涉及 4 次失败运行：HTTP 503 from supplier"},
		{"error back", func() said {
			return hint(s.fingerprintHints([]FingerprintCount{{Fingerprint: 1, Message: "timeout", Count: 2, FirstSeen: t0.AddDate(0, -1, 0)}}, t0)[0])
		}, "regressed error on 2 failed runs: timeout", "再次出现的错误，涉及 2 次失败运行：timeout"},
		{"onset", func() said { return hint(onsetHint(t0.Add(90 * time.Minute))) },
			"began at 2026-03-02T01:30:00Z", "开始于 2026-03-02T01:30:00Z"},
		{"not enough runs", func() said { return said{"note", "not enough history (5 of 8 runs)", msg(msgFewRuns, uint64(5), 8)} },
			"not enough history (5 of 8 runs)", "历史数据不足（5/8 次运行）"},
		{"not enough days", func() said { return said{"note", fewDays.Note, fewDays.NoteMessage} },
			"not enough history (1 of 7 days)", "历史数据不足（1/7 天）"},
		{"no overrun", func() said { return said{"note", flat.Note, flat.NoteMessage} },
			"not within 30 days", "30 天内不会达到"},
		{"nothing to explain", func() said {
			return said{"note", "no failed or anomalously slow runs in the window", msg(msgNothingToSay)}
		},
			"no failed or anomalously slow runs in the window", "时间窗口内没有失败或耗时异常的运行"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.got()
			seen[got.kind], seen[got.m.ID] = true, true
			if got.summary != c.en || got.m.Text(synclog.English) != c.en {
				t.Errorf("English: summary %q, message %q, want %q", got.summary, got.m.Text(synclog.English), c.en)
			}
			zh := got.m.Text(synclog.Chinese)
			if zh != c.zh {
				t.Errorf("Chinese: %q, want %q", zh, c.zh)
			}
			rest := zh
			for _, a := range got.m.Args {
				switch v := a.(type) {
				case string:
					rest = strings.ReplaceAll(rest, v, "")
				case names:
					for _, n := range v {
						rest = strings.ReplaceAll(rest, n, "")
					}
				}
			}
			if w := english.FindString(rest); w != "" {
				t.Errorf("Chinese %q keeps the English %q", zh, w)
			}
			if strings.Contains(zh, "%!") {
				t.Errorf("Chinese %q is badly formatted", zh)
			}
		})
	}
	for _, k := range Kinds {
		if !seen[string(k)] {
			t.Errorf("no case of the anomaly kind %s", k)
		}
	}
	for _, k := range []string{HintScope, HintAttribute, HintFingerprint, HintOnset} {
		if !seen[k] {
			t.Errorf("no case of the hint kind %s", k)
		}
	}
	for id := range catalogue {
		if !seen[id] {
			t.Errorf("no case of the sentence %s", id)
		}
	}
}

// TestCatalogue checks that every sentence has both languages with the
// same values, and that In rewords answers and keeps them otherwise.
func TestCatalogue(t *testing.T) {
	verbs := regexp.MustCompile(`%(\[\d+\])?[-+# 0]*(\d+)?(\.\d+)?(\[\d+\])?[a-zA-Z]`)
	for id, s := range catalogue {
		if s[0] == "" || s[1] == "" {
			t.Errorf("%s lacks a language: %q", id, s)
		}
		if en, zh := len(verbs.FindAllString(s[0], -1)), len(verbs.FindAllString(s[1], -1)); en != zh {
			t.Errorf("%s: %d values in English, %d in Chinese", id, en, zh)
		}
	}
	if (Message{}).Text(synclog.Chinese) != "" {
		t.Error("an empty message has words")
	}

	m := msg(msgOverlap)
	rep := AnomalyReport{Anomalies: []Anomaly{{Kind: KindOverlap, Summary: m.english(), Message: m}, {Kind: KindLate, Summary: "kept"}},
		Types: []TypeStatus{{NoteMessage: msg(msgFewRuns, uint64(1), 8), Note: "not enough history (1 of 8 runs)"}}}
	before, _ := json.Marshal(rep)
	en, _ := json.Marshal(rep.In(synclog.English))
	if string(en) != string(before) {
		t.Errorf("in English:\n%s\nwant\n%s", en, before)
	}
	zh := rep.In(synclog.Chinese)
	if zh.Anomalies[0].Summary != "上一次运行尚未结束就已启动" || zh.Anomalies[1].Summary != "kept" || zh.Types[0].Note != "历史数据不足（1/8 次运行）" {
		t.Errorf("in Chinese: %+v", zh)
	}
	if rep.Anomalies[0].Summary != m.english() {
		t.Error("In changed the report it was given")
	}
	rc := RootCause{Hints: []Hint{onsetHint(t0)}, NoteMessage: msg(msgNothingToSay), Note: "x"}
	d := (&Diagnosis{Anomalies: []Anomaly{}, RootCause: &rc}).In(synclog.Chinese)
	if d.Anomalies == nil || d.RootCause.Hints[0].Summary != "开始于 2026-03-02T00:00:00Z" || d.RootCause.Note != "时间窗口内没有失败或耗时异常的运行" {
		t.Errorf("diagnosis in Chinese: %+v", d)
	}
	if (*Diagnosis)(nil).In(synclog.Chinese) != nil {
		t.Error("no diagnosis became one")
	}
	fs := ForecastsIn([]Forecast{{NoteMessage: msg(msgFewDays, 2, 7), Overruns: []Overrun{{NoteMessage: msg(msgNotWithin, 30)}}}}, synclog.Chinese)
	if fs[0].Note != "历史数据不足（2/7 天）" || fs[0].Overruns[0].Note != "30 天内不会达到" {
		t.Errorf("forecasts in Chinese: %+v", fs)
	}
}

// TestDurationText checks durations in Chinese units.
func TestDurationText(t *testing.T) {
	for _, c := range []struct {
		d  time.Duration
		zh string
	}{
		{0, "0毫秒"},
		{850 * time.Millisecond, "850毫秒"},
		{1500 * time.Microsecond, "1.5毫秒"},
		{12300 * time.Millisecond, "12.3秒"},
		{time.Minute, "1分钟"},
		{90 * time.Second, "1分30秒"},
		{time.Hour, "1小时"},
		{time.Hour + 30*time.Minute, "1小时30分"},
		{26*time.Hour + 5*time.Second, "26小时5秒"},
		{-2 * time.Second, "-2秒"},
	} {
		if got := DurationText(c.d, synclog.Chinese); got != c.zh {
			t.Errorf("%s: %q, want %q", c.d, got, c.zh)
		}
		if got := DurationText(c.d, synclog.English); got != c.d.String() {
			t.Errorf("%s in English: %q", c.d, got)
		}
	}
}
