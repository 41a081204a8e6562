package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAmtoolCheckConfig validates the shipped Alertmanager configuration and
// its templates as they are (template paths are relative to the file; the
// secret files are read only when a notification is sent).
func TestAmtoolCheckConfig(t *testing.T) {
	out, err := run(t, time.Minute, "amtool", "check-config", "alertmanager.yml")
	if err != nil {
		t.Fatalf("amtool check-config alertmanager.yml: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1 templates") {
		t.Errorf("amtool found no template file:\n%s", out)
	}
	// The copy the end-to-end tests run must be valid too.
	derived := deriveAlertmanagerConfig(t, t.TempDir(), amOptions{ReceiverURL: "http://127.0.0.1:9"})
	if out, err := run(t, time.Minute, "amtool", "check-config", derived); err != nil {
		t.Fatalf("amtool check-config (derived copy): %v\n%s", err, out)
	}
}

// TestAlertmanagerRouting shows where each kind of alert lands.
func TestAlertmanagerRouting(t *testing.T) {
	for _, tc := range []struct {
		receiver string
		labels   []string
	}{
		{"pager", []string{"alertname=SyncConsecutiveFailures", "severity=critical", "sync_type=stock", "source=haier"}},
		{"chat", []string{"alertname=SyncConsecutiveFailures", "severity=warning", "sync_type=stock", "source=haier"}},
		{"pager", []string{"alertname=SyncFailureRateHigh", "severity=critical", "sync_type=prices", "source=haier"}},
		{"chat", []string{"alertname=SyncFailureRateHigh", "severity=warning", "sync_type=prices", "source=haier"}},
		{"pager", []string{"alertname=SyncSilent", "severity=critical", "sync_type=stock", "source=haier"}},
		{"chat", []string{"alertname=SyncSilent", "severity=warning", "sync_type=logistics", "reason=never_succeeded"}},
		{"chat", []string{"alertname=SyncRunStuck", "severity=warning", "sync_type=products", "source=haier"}},
		{"chat", []string{"alertname=SyncDurationRegression", "severity=warning", "sync_type=products", "source=haier"}},
		{"chat", []string{"alertname=SyncRecordFailuresHigh", "severity=warning", "sync_type=products", "source=haier"}},
		// Diagnostics go to chat, never to the pager.
		{"chat", []string{"alertname=SyncAnomaly", "severity=warning", "sync_type=stock", "source=haier", "kind=regression"}},
		{"chat", []string{"alertname=SyncForecastOverrun", "severity=warning", "sync_type=products", "source=haier", "limit=max_runtime"}},
		// An unresolved warning escalated by the rules pages.
		{"pager", []string{"alertname=SyncWarningEscalated", "severity=critical", "escalated=true", "escalated_from=SyncSilent", "sync_type=stock", "source=haier"}},
		{"pager", []string{"alertname=SyncwatchDown", "severity=critical", "job=syncwatch", "instance=a:8080"}},
		{"pager", []string{"alertname=SyncwatchClickHouseDown", "severity=critical", "instance=a:8080"}},
		{"pager", []string{"alertname=SyncwatchSpoolFull", "severity=critical", "instance=a:8080"}},
		{"pager", []string{"alertname=SyncwatchSpoolStalled", "severity=critical", "instance=a:8080"}},
		{"pager", []string{"alertname=SyncwatchExporterScrapeFailing", "severity=critical", "instance=a:8080"}},
		{"chat", []string{"alertname=SyncwatchSpoolFilling", "severity=warning", "instance=a:8080"}},
		{"chat", []string{"alertname=SyncwatchIngestRejectionsRising", "severity=warning", "reason=malformed"}},
		// Anything without a known severity still reaches someone.
		{"chat", []string{"alertname=SomethingElse"}},
		{"chat", []string{"alertname=SomethingElse", "severity=info"}},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml", "--verify.receivers=" + tc.receiver}, tc.labels...)
		out, err := run(t, time.Minute, "amtool", args...)
		if err != nil {
			t.Errorf("%v: want receiver %s: %v\n%s", tc.labels, tc.receiver, err, out)
		}
	}
}

// TestAlertmanagerTemplates renders the notification templates with a sample
// alert and checks that a phone-sized message says what, where, the figure,
// and links to Grafana, the runbook and the console.
func TestAlertmanagerTemplates(t *testing.T) {
	data := map[string]any{
		"receiver": "pager",
		"status":   "firing",
		"alerts": []any{map[string]any{
			"status": "firing",
			"labels": map[string]string{"alertname": "SyncConsecutiveFailures", "severity": "critical", "source": "haier", "sync_type": "stock"},
			"annotations": map[string]string{
				"summary":       "stock sync (haier) failed 6 times in a row",
				"description":   "The last 6 finished runs of sync_type stock from source haier all failed (critical from 5).",
				"runbook_url":   runbookBase + "syncconsecutivefailures",
				"dashboard_url": "/d/syncwatch-drilldown?var-sync_type=stock&var-source=haier",
				"console_url":   "/ui/runs?sync_type=stock&source=haier&status=failed",
			},
			"startsAt": "2024-01-01T00:00:00Z",
			"endsAt":   "0001-01-01T00:00:00Z",
		}},
		"groupLabels":  map[string]string{"alertname": "SyncConsecutiveFailures", "source": "haier", "sync_type": "stock"},
		"commonLabels": map[string]string{"alertname": "SyncConsecutiveFailures", "severity": "critical", "source": "haier", "sync_type": "stock"},
		"externalURL":  "http://alertmanager:9093",
	}
	render := func(t *testing.T, data map[string]any, text string) string {
		t.Helper()
		f := t.TempDir() + "/data.json"
		b, _ := json.Marshal(data)
		if err := writeFile(f, b); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, time.Minute, "amtool", "template", "render", "--template.glob=templates/*.tmpl", "--template.data="+f, "--template.text="+text)
		if err != nil {
			t.Fatalf("amtool template render %s: %v\n%s", text, err, out)
		}
		return out
	}

	title := render(t, data, `{{ template "syncwatch.title" . }}`)
	if want := "CRITICAL: stock sync (haier) failed 6 times in a row"; title != want {
		t.Errorf("title = %q, want %q", title, want)
	}
	text := render(t, data, `{{ template "syncwatch.text" . }}`)
	for _, want := range []string{
		"SyncConsecutiveFailures | sync_type stock | source haier\n",
		"all failed (critical from 5)",
		"Grafana: http://localhost:3000/d/syncwatch-drilldown?var-sync_type=stock&var-source=haier\n",
		"Runbook: " + runbookBase + "syncconsecutivefailures\n",
		"Runs: http://localhost:8080/ui/runs?sync_type=stock&source=haier&status=failed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if got := render(t, data, `{{ template "syncwatch.pagerduty.severity" . }}|{{ template "syncwatch.slack.color" . }}`); got != "critical|danger" {
		t.Errorf("severity|color = %q", got)
	}

	// Resolved.
	data["status"] = "resolved"
	data["alerts"].([]any)[0].(map[string]any)["status"] = "resolved"
	if got, want := render(t, data, `{{ template "syncwatch.title" . }}`), "RESOLVED: stock sync (haier) failed 6 times in a row"; got != want {
		t.Errorf("resolved title = %q, want %q", got, want)
	}
	if got := render(t, data, `{{ template "syncwatch.slack.color" . }}`); got != "good" {
		t.Errorf("resolved color = %q", got)
	}
}

// TestAlertmanagerInhibition runs the derived configuration in a real
// Alertmanager and checks the inhibit rules: SyncwatchDown mutes sync alerts,
// a critical mutes its warning for the same sync type and source only.
func TestAlertmanagerInhibition(t *testing.T) {
	rec := newWebhookRecorder(t)
	am := startAlertmanager(t, deriveAlertmanagerConfig(t, t.TempDir(), amOptions{ReceiverURL: rec.URL}))

	post := func(labels ...map[string]string) {
		t.Helper()
		var alerts []map[string]any
		for _, l := range labels {
			alerts = append(alerts, map[string]any{"labels": l, "annotations": map[string]string{"summary": l["alertname"]}})
		}
		b, _ := json.Marshal(alerts)
		resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/v2/alerts: %s %s", resp.Status, body)
		}
	}
	post(
		map[string]string{"alertname": "SyncwatchDown", "severity": "critical", "job": "syncwatch", "instance": "a:8080"},
		map[string]string{"alertname": "SyncSilent", "severity": "critical", "sync_type": "stock", "source": "haier"},
		map[string]string{"alertname": "SyncwatchSpoolFilling", "severity": "warning", "instance": "b:8080"},
		map[string]string{"alertname": "SyncFailureRateHigh", "severity": "critical", "sync_type": "prices", "source": "haier"},
		map[string]string{"alertname": "SyncFailureRateHigh", "severity": "warning", "sync_type": "prices", "source": "haier"},
	)

	type amAlert struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	want := map[string]string{ // alertname/severity/sync_type -> state
		"SyncwatchDown/critical/":            "active",
		"SyncSilent/critical/stock":          "suppressed",
		"SyncwatchSpoolFilling/warning/":     "active",
		"SyncFailureRateHigh/warning/prices": "suppressed",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last string
	for {
		resp, err := http.Get(am + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		var alerts []amAlert
		json.NewDecoder(resp.Body).Decode(&alerts)
		resp.Body.Close()
		ok := true
		var b strings.Builder
		for _, a := range alerts {
			key := a.Labels["alertname"] + "/" + a.Labels["severity"] + "/" + a.Labels["sync_type"]
			fmt.Fprintf(&b, "%s: %s %v\n", key, a.Status.State, a.Status.InhibitedBy)
			if w, has := want[key]; has && w != a.Status.State {
				ok = false
			}
		}
		// The critical SyncFailureRateHigh is muted by SyncwatchDown too.
		last = b.String()
		if ok && len(alerts) == 5 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alert states never matched %v; last:\n%s", want, last)
		case <-time.After(200 * time.Millisecond):
		}
	}

	// Only the uninhibited alerts are delivered: SyncwatchDown to the pager,
	// SyncwatchSpoolFilling to chat.
	_, err := rec.WaitFor(ctx, func(n notification) bool {
		return n.Path == "/pager" && strings.Contains(string(n.Body), "SyncwatchDown")
	})
	if err != nil {
		t.Fatalf("SyncwatchDown never reached the pager; received:\n%s", rec.Dump())
	}
	_, err = rec.WaitFor(ctx, func(n notification) bool {
		return n.Path == "/chat" && strings.Contains(string(n.Body), "SyncwatchSpoolFilling")
	})
	if err != nil {
		t.Fatalf("SyncwatchSpoolFilling never reached chat; received:\n%s", rec.Dump())
	}
	time.Sleep(2 * time.Second) // a group_wait and more, for stray notifications
	for _, n := range rec.All() {
		if strings.Contains(string(n.Body), "SyncSilent") || strings.Contains(string(n.Body), "SyncFailureRateHigh") {
			t.Errorf("an inhibited alert was delivered to %s: %s", n.Path, n.Body)
		}
	}
}
