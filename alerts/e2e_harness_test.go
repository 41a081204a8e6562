package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestE2EHarness proves the end-to-end harness without syncwatch: a fake
// target exposes a few syncwatch_* gauges, a real Prometheus evaluates the
// shortened shipped rules, and a real Alertmanager running the derived copy of
// alerts/alertmanager.yml notifies the in-test receiver. Six consecutive
// failures of stock/haier must page (PagerDuty event with the right labels
// and links), the warning of the same alert must be muted by the critical,
// and the page must resolve once the failures drop to 0.
func TestE2EHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	target := newFakeTarget(t)
	now := float64(time.Now().Unix())
	target.Set(`syncwatch_build_info{version="test",goversion="go"}`, 1)
	target.Set(`syncwatch_clickhouse_up`, 1)
	target.Set(`syncwatch_exporter_scrape_success{scraper="type_states"}`, 1)
	target.Set(`syncwatch_exporter_scrape_success{scraper="window_stats"}`, 1)
	target.Set(`syncwatch_spool_bytes`, 0)
	target.Set(`syncwatch_spool_max_bytes`, 1<<30)
	target.Set(`syncwatch_spool_oldest_age_seconds`, 0)
	target.Set(`syncwatch_expected_interval_seconds{sync_type="stock"}`, 900)
	target.Set(`syncwatch_last_success_timestamp_seconds{source="haier",sync_type="stock"}`, now-60)
	target.Set(`syncwatch_consecutive_failures{source="haier",sync_type="stock"}`, 0)
	target.Set(`syncwatch_consecutive_failures{source="haier",sync_type="prices"}`, 0)

	rec := newWebhookRecorder(t)
	dir := t.TempDir()
	am := startAlertmanager(t, deriveAlertmanagerConfig(t, dir, amOptions{ReceiverURL: rec.URL}))
	prom := startPrometheus(t, promOptions{
		Target:       target.Host(),
		RuleFiles:    writeShortRules(t, dir, ruleOptions{}), // for: 1m -> 1s, 2m -> 2s, 10m -> 10s
		Alertmanager: am,
	})
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nreceived:\n%s\nPrometheus alerts: %s", fmt.Sprintf(format, args...), rec.Dump(), promAlerts(prom))
	}

	// The stack is up and every rule group has run: the stock sync now fails
	// for the sixth time in a row.
	target.Set(`syncwatch_consecutive_failures{source="haier",sync_type="stock"}`, 6)

	isConsecutive := func(action string) func(notification) bool {
		return func(n notification) bool {
			if n.Path != "/pager" {
				return false
			}
			e := n.PagerDuty(t)
			return e.EventAction == action && e.Payload.CustomDetails["alertname"] == "SyncConsecutiveFailures"
		}
	}
	n, err := rec.WaitFor(ctx, isConsecutive("trigger"))
	if err != nil {
		fail("no PagerDuty trigger for SyncConsecutiveFailures: %v", err)
	}
	page := n.PagerDuty(t)
	if page.RoutingKey != "test-routing-key" {
		t.Errorf("routing_key = %q, want the content of routing_key_file", page.RoutingKey)
	}
	for k, want := range map[string]string{"alertname": "SyncConsecutiveFailures", "sync_type": "stock", "source": "haier", "severity": "critical"} {
		if got := page.Payload.CustomDetails[k]; got != want {
			t.Errorf("custom_details[%s] = %q, want %q", k, got, want)
		}
	}
	if want := "CRITICAL: stock sync (haier) failed 6 times in a row"; page.Payload.Summary != want {
		t.Errorf("summary = %q, want %q", page.Payload.Summary, want)
	}
	if page.Payload.Severity != "critical" {
		t.Errorf("severity = %q", page.Payload.Severity)
	}
	links := map[string]string{}
	for _, l := range page.Links {
		links[l.Text] = l.Href
	}
	if want := "http://localhost:3000/d/syncwatch-drilldown?var-sync_type=stock&var-source=haier"; links["Grafana"] != want {
		t.Errorf("Grafana link = %q, want %q", links["Grafana"], want)
	}
	if want := runbookBase + "syncconsecutivefailures"; links["Runbook"] != want {
		t.Errorf("Runbook link = %q, want %q", links["Runbook"], want)
	}
	if !strings.Contains(page.Payload.CustomDetails["summary"], "The last 6 finished runs of sync_type stock from source haier all failed") {
		t.Errorf("custom_details.summary lacks the description: %q", page.Payload.CustomDetails["summary"])
	}

	// While the critical fires, its warning (same alertname, sync_type and
	// source) is inhibited: nothing reaches chat. Give the warning's group a
	// flush or two first.
	time.Sleep(2 * time.Second)
	for _, n := range rec.All() {
		if n.Path == "/chat" {
			t.Errorf("chat got a notification while the critical fired (inhibit rule): %s", n.Body)
		}
	}

	// Recovery: the next run succeeded.
	target.Set(`syncwatch_consecutive_failures{source="haier",sync_type="stock"}`, 0)
	n, err = rec.WaitFor(ctx, isConsecutive("resolve"))
	if err != nil {
		fail("no PagerDuty resolve for SyncConsecutiveFailures: %v", err)
	}
	if got := n.PagerDuty(t).DedupKey; got != page.DedupKey {
		t.Errorf("resolve dedup_key = %q, trigger had %q", got, page.DedupKey)
	}

	// No other alert fired on the fake target. (When both severities resolve,
	// Prometheus sends the two resolutions one after the other; a warning
	// group flush that falls between them may still post the warning to chat
	// once, a known Alertmanager race, so chat messages about
	// SyncConsecutiveFailures after the recovery are not errors.)
	for _, n := range rec.All() {
		switch n.Path {
		case "/pager":
			if n.PagerDuty(t).Payload.CustomDetails["alertname"] == "SyncConsecutiveFailures" {
				continue
			}
		case "/chat":
			if m := n.Slack(t); len(m.Attachments) > 0 && strings.Contains(m.Attachments[0].Title, "stock sync (haier) failed 6 times in a row") {
				continue
			}
		}
		t.Errorf("unexpected notification to %s: %s", n.Path, n.Body)
	}
}
