package diaginsights

import (
	"regexp"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/diagnose"
)

// TestSummaries checks the digest's lines of an anomaly and an overrun in
// English (as they always were) and in Chinese, with every kind named.
func TestSummaries(t *testing.T) {
	day := func(d int) *time.Time { t := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC); return &t }
	o := diagnose.Overrun{Limit: "max_runtime", LimitSeconds: 1800, At: day(12), Earliest: day(9), Latest: day(20)}
	for _, c := range []struct {
		zh   bool
		want string
	}{
		{false, "p95 duration expected to reach its max_runtime (30m0s) around 2026-03-12 (2026-03-09 to 2026-03-20)"},
		{true, "p95 耗时预计在 2026-03-12 前后达到最长运行时间（30分钟），区间 2026-03-09 至 2026-03-20"},
	} {
		if got := overrunSummary(o, c.zh); got != c.want {
			t.Errorf("zh %v: %q, want %q", c.zh, got, c.want)
		}
	}
	if got := overrunSummary(diagnose.Overrun{Limit: "interval", LimitSeconds: 3600, At: day(12)}, true); got != "p95 耗时预计在 2026-03-12 前后达到运行间隔（1小时），区间 ? 至 ?" {
		t.Errorf("interval: %q", got)
	}
	a := diagnose.Anomaly{Kind: diagnose.KindOverlap, Summary: "started before the previous run ended", Message: diagnose.Message{ID: "overlap"}}
	if got := anomalySummary(a, false); got != "overlap: started before the previous run ended" {
		t.Errorf("English: %q", got)
	}
	if got := anomalySummary(a, true); got != "运行重叠：上一次运行尚未结束就已启动" {
		t.Errorf("Chinese: %q", got)
	}
	latin := regexp.MustCompile(`[A-Za-z]{2,}`)
	for _, k := range diagnose.Kinds {
		if n := kindsZH[k]; n == "" || latin.MatchString(n) {
			t.Errorf("kind %s has no Chinese name: %q", k, n)
		}
	}
}
