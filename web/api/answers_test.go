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
