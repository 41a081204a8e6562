package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// sampleQuerier answers one failed products run and its error group.
func sampleQuerier() *fakequery.Querier {
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	ms := int64(60000)
	r := runs.Run{RunID: "r1", EventID: "e1", Source: "haier", SyncType: "products", Status: synclog.StatusFailed,
		Message: "timeout", Fingerprint: 0xc0ffee12345678, StartedAt: start, CompletedAt: &end, DurationMS: &ms, ReceivedAt: end,
		Attributes: map[string]string{}}
	return &fakequery.Querier{
		Runs:   []runs.Run{r},
		Detail: &runs.RunDetail{Run: r, Reports: []runs.Report{{EventID: "e1", Status: synclog.StatusFailed, StartedAt: start, CompletedAt: &end, ReceivedAt: end}}},
		Groups: []runs.ErrorGroup{{Fingerprint: 0xc0ffee12345678, Count: 1, FirstSeen: start, LastSeen: start,
			SyncTypes: []string{"products"}, Sources: []string{"haier"}, Sample: "timeout"}},
	}
}

// TestFingerprintNotationInAnswers checks that every answer that shows a
// fingerprint writes it as 16 lowercase hexadecimal digits.
func TestFingerprintNotationInAnswers(t *testing.T) {
	env := apptest.New(t, apptest.Options{Query: sampleQuerier()})
	for _, c := range []struct{ name, target, want string }{
		{"run list", "/api/v1/runs", `"fingerprint":"00c0ffee12345678"`},
		{"run detail", "/api/v1/runs/r1", `"fingerprint":"00c0ffee12345678"`},
		{"error report", "/api/v1/reports/errors", `"fingerprint":"00c0ffee12345678"`},
		{"monitor records", "/api/monitor/records/", `"fingerprint":"00c0ffee12345678"`},
		{"run list as csv", "/api/v1/runs?format=csv", `,00c0ffee12345678,`},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodGet, c.target, contract.Options{})
			body := w.Body.String()
			if w.Code != 200 || !strings.Contains(strings.ReplaceAll(body, " ", ""), c.want) {
				t.Errorf("%d %s; want %s", w.Code, body, c.want)
			}
			if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && !json.Valid(w.Body.Bytes()) {
				t.Errorf("invalid JSON: %s", body)
			}
		})
	}
}

// TestDisplayNamesInAnswers checks that runs, their reports, statistics
// and the dashboard carry the display names of statuses and sync types,
// in the language of lang or Accept-Language.
func TestDisplayNamesInAnswers(t *testing.T) {
	fq := sampleQuerier()
	fq.StatsRows = []runs.Stats{{SyncType: "products", Status: "failed", Runs: 1, Failed: 1}}
	fq.DailyRows = []runs.DailyRow{{SyncType: "products"}}
	fq.TrendPoints = []runs.TrendPoint{{SyncType: "products", Day: "2026-06-01", Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}}
	env := apptest.New(t, apptest.Options{Query: fq})
	zh := http.Header{"Accept-Language": {"zh-CN,zh;q=0.9,en;q=0.8"}}
	for _, c := range []struct {
		name, target string
		header       http.Header
		want         []string
	}{
		{"run list in English", "/api/v1/runs", nil, []string{`"status_display":"Failed"`, `"sync_type_display":"Product sync"`}},
		{"run list by Accept-Language", "/api/v1/runs", zh, []string{`"status_display":"失败"`, `"sync_type_display":"商品同步"`}},
		{"run list by lang", "/api/v1/runs?lang=zh", nil, []string{`"status_display":"失败"`, `"sync_type_display":"商品同步"`}},
		{"lang before Accept-Language", "/api/v1/runs?lang=en", zh, []string{`"status_display":"Failed"`}},
		{"run detail and its reports", "/api/v1/runs/r1?lang=zh", nil, []string{`"sync_type_display":"商品同步"`, `"reports":[{"event_id":"e1"`, `"status_display":"失败"}]`}},
		{"monitor records", "/api/monitor/records/?lang=zh-CN", nil, []string{`"status_display":"失败"`}},
		{"statistics", "/api/v1/stats?group_by=sync_type,status&lang=zh", nil, []string{`"sync_type_display":"商品同步"`, `"status_display":"失败"`}},
		{"monitor statistics", "/api/monitor/statistics/?group_by=sync_type", zh, []string{`"sync_type_display":"商品同步"`}},
		{"daily report", "/api/v1/reports/daily?lang=zh", nil, []string{`"sync_type_display":"商品同步"`}},
		{"daily report in English", "/api/v1/reports/daily", nil, []string{`"sync_type_display":"Product sync"`}},
		{"error report", "/api/v1/reports/errors", zh, []string{`"sync_types_display":["商品同步"]`}},
		{"trend report", "/api/v1/reports/trends?lang=zh", nil, []string{`"sync_type_display":"商品同步"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := contract.Call(t, env.Handler(), http.MethodGet, c.target, contract.Options{Header: c.header})
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			for _, want := range c.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("answer lacks %s: %s", want, w.Body)
				}
			}
		})
	}
	t.Run("unknown lang", func(t *testing.T) {
		w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?lang=fr", contract.Options{InvalidRequest: true})
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"field":"lang"`) {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}
