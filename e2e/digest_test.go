package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/notify"
	"github.com/syncwatch/syncwatch/relay"
	"github.com/syncwatch/syncwatch/synclog"
)

// TestDigestEndpoint serves GET /api/v1/reports/digest over the real
// store: a configured digest by name in JSON and Markdown, an ad hoc one,
// and bad parameters answered 400 with the parameter named; every call
// checked against openapi.yaml.
func TestDigestEndpoint(t *testing.T) {
	st := apptest.NewRealStore(t)
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	yesterday := digest.PeriodBefore("day", time.Now(), loc)
	var reps []synclog.Report
	for i := range 6 {
		start := yesterday.Start.Add(time.Duration(i) * 2 * time.Hour).UTC()
		end := start.Add(time.Duration(i+1) * time.Second)
		r := synclog.Report{
			RunID: fmt.Sprintf("dg-%d", i), EventID: fmt.Sprintf("dg-ev-%d", i), Source: "haier", SyncType: "prices",
			Status: synclog.StatusSuccess, TotalCount: 10, SuccessCount: 10, StartedAt: start, CompletedAt: &end, ReceivedAt: end, RunStartedAt: start,
		}
		if i == 5 {
			r.Status, r.Message, r.SuccessCount, r.FailedCount = synclog.StatusFailed, "upstream 502 from supplier", 0, 10
			r.Fingerprint = synclog.Fingerprint(r.Message)
		}
		reps = append(reps, r)
	}
	if err := st.InsertReports(context.Background(), reps); err != nil {
		t.Fatal(err)
	}
	d := config.Digest{Name: "ops-daily", Period: "day", Language: "zh", Location: loc, Sources: []string{"haier"}}
	env := apptest.New(t, apptest.Options{Query: st, Digests: []config.Digest{d}})
	h := env.Handler()

	w := contract.Call(t, h, http.MethodGet, "/api/v1/reports/digest?name=ops-daily", contract.Options{})
	if w.Code != http.StatusOK {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	var c digest.Content
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if c.Digest != "ops-daily" || c.Language != "zh" || c.Period.Label != yesterday.Label || c.Totals.Runs != 6 || c.Totals.Failed != 1 || len(c.ErrorGroups) != 1 || !c.ErrorGroups[0].New {
		t.Fatalf("content %+v", c)
	}
	w = contract.Call(t, h, http.MethodGet, "/api/v1/reports/digest?name=ops-daily&lang=en", contract.Options{Header: http.Header{"Accept": {"text/markdown"}}})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/markdown") {
		t.Fatalf("markdown: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if body := w.Body.String(); !strings.HasPrefix(body, "### syncwatch daily digest "+yesterday.Label) || !strings.Contains(body, "upstream 502 from supplier") {
		t.Errorf("markdown:\n%s", body)
	}
	w = contract.Call(t, h, http.MethodGet, "/api/v1/reports/digest?period=week&tz=Asia/Shanghai&sync_type=prices&date="+yesterday.Start.Format(time.DateOnly), contract.Options{})
	if w.Code != http.StatusOK {
		t.Fatalf("ad hoc: %d %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.Period.Kind != "week" || c.Totals.Runs != 6 || c.Language != "en" {
		t.Fatalf("ad hoc week: %v %+v", err, c.Period)
	}

	for _, tc := range []struct{ query, field, want string }{
		{"name=nightly", "name", `no digest is called "nightly": configured are ops-daily`},
		{"name=ops-daily&period=week", "period", `digest "ops-daily" fixes period`},
		{"name=ops-daily&source=x", "source", `digest "ops-daily" fixes source`},
		{"period=year", "period", `unknown period "year": allowed are day, week, month`},
		{"date=2026-13-01", "date", `date "2026-13-01" is not a valid date`},
		{"date=2001-01-01", "date", "older than the retention"},
		{"tz=Mars/Base", "tz", `unknown time zone "Mars/Base"`},
		{"sync_type=teleport", "sync_type", `unknown sync_type "teleport"`},
		{"format=pdf", "format", `unknown format "pdf": allowed are json, markdown`},
		{"lang=fr", "lang", `unknown lang "fr"`},
		{"limit=3", "limit", `unknown parameter "limit"`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			w := contract.Call(t, h, http.MethodGet, "/api/v1/reports/digest?"+tc.query, contract.Options{InvalidRequest: true})
			var e struct{ Error, Field string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != 400 || e.Field != tc.field || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%d %s, want 400 naming %s: %s", w.Code, w.Body, tc.field, tc.want)
			}
		})
	}
}

// TestRelayThroughTheService posts an Alertmanager notification to the
// assembled service, as serve builds it, with an admin token: a real
// DingTalk stand-in gets the markdown with the links joined to the
// configured addresses.
func TestRelayThroughTheService(t *testing.T) {
	var got []byte
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer robot.Close()
	ch, err := notify.New(config.Channel{Name: "ops-ding", Type: "dingtalk", Endpoint: config.Secret(robot.URL + "/robot/send?access_token=x")}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := apptest.New(t, apptest.Options{Tokens: apptest.Tokens(), Relay: relay.Config{
		Channels:   map[string]relay.Channel{"ops-ding": {Channel: ch, Language: "zh"}},
		ConsoleURL: "https://sw.example.com", GrafanaURL: "https://grafana.example.com",
	}})
	body := `{"status":"firing","commonLabels":{"alertname":"SyncSilent","severity":"critical","sync_type":"stock","source":"haier"},` +
		`"alerts":[{"status":"firing","labels":{"alertname":"SyncSilent","severity":"critical","sync_type":"stock","source":"haier"},` +
		`"annotations":{"summary":"stock sync (haier): no success for 3h","dashboard_url":"/d/syncwatch-drilldown?var-sync_type=stock","console_url":"/ui/runs?sync_type=stock"},` +
		`"startsAt":"2026-03-28T08:00:00Z"}]}`
	w := contract.Call(t, env.Handler(), http.MethodPost, "/api/v1/alerts/relay/ops-ding", contract.Options{Header: http.Header{
		"Authorization": {"Bearer " + apptest.SecretAdmin}, "Content-Type": {"application/json"}}, Body: []byte(body)})
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	for _, want := range []string{`[告警:1] SyncSilent (haier stock)`, `[Grafana](https://grafana.example.com/d/syncwatch-drilldown?var-sync_type=stock)`, `[控制台](https://sw.example.com/ui/runs?sync_type=stock)`} {
		if !strings.Contains(string(got), strings.ReplaceAll(want, "&", `\u0026`)) {
			t.Errorf("the robot's body lacks %s:\n%s", want, got)
		}
	}
	w = contract.Call(t, env.Handler(), http.MethodPost, "/api/v1/alerts/relay/ops-ding", contract.Options{Header: http.Header{
		"Authorization": {"Bearer " + apptest.SecretQuery}, "Content-Type": {"application/json"}}, Body: []byte(body)})
	if w.Code != http.StatusForbidden {
		t.Errorf("a query token: %d", w.Code)
	}
}
