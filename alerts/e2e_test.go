package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// TestE2EAlerting is the end-to-end test of the alerting path, every part
// real and on loopback: two `syncwatch serve` replicas (the binary built from
// ../cmd/syncwatch, embedded engine, a data directory each) fed through the
// ingest API, a Prometheus that scrapes them every second as job
// `syncwatch` and evaluates the shipped rules with every `for:` divided by 60,
// an Alertmanager running the shipped routing with its receivers pointed at
// the test, and the test's webhook receiver. An alert that never fires in a
// test will not fire at 3 a.m. either.
//
// Replica A is the one the jobs report to; replica B stands for a second
// replica that keeps exporting when A dies (with the embedded engine each
// replica has its own database, so B's figures are fed to B directly).
//
//   - failure rate: a burst of failed products/haier runs pages
//     SyncFailureRateHigh (critical) once the minimum number of finished runs
//     is reached, not before; successful runs resolve the page;
//   - silence: the stock/haier job (expected every 10s) stops reporting;
//     SyncSilent reaches chat as a warning after 1.5 intervals and the pager
//     as critical after 3, each after its `for`; the job's next success
//     resolves the page;
//   - syncwatch down: replica A is killed with SIGKILL while B exports a
//     sync type that goes silent and a run that hangs past its maximum
//     runtime; only SyncwatchDown pages. Prometheus holds SyncSilent and
//     SyncRunStuck back (they are neither pending nor firing) although their
//     conditions without the `syncwatch:intake_degraded` guard hold for
//     longer than their `for`, and no notification but SyncwatchDown's
//     arrives.
//
// The shipped thresholds are used as they are (at least 3 finished runs,
// 20%/50% failure ratios, grace factors 1.5 and 3).
func TestE2EAlerting(t *testing.T) {
	began := time.Now()
	bin := testutil.BuildSyncwatch(t, t.TempDir())
	built := time.Since(began)

	// Both replicas run the same configuration: short expected intervals for
	// stock and order and a short maximum runtime for logistics, so that the
	// silence and stuck alerts need seconds, not hours; the ClickHouse-backed
	// metrics are cached for 1s and the batcher inserts within 100ms, so a
	// report shows in /metrics within a scrape or two.
	flags := []string{
		"--log-level", "warn",
		"--exporter-cache-ttl", "1s",
		"--batch-max-age", "100ms",
		"--expected-intervals", "stock=10s,order=5s",
		"--max-runtimes", "logistics=5s",
	}
	s := &e2eStack{}
	s.a = startSyncwatch(t, bin, flags...)
	s.b = startSyncwatch(t, bin, flags...)
	// Healthy jobs report a success every second from the start, so that
	// their sync types are never silent (nor "never succeeded") until a
	// scenario stops them.
	s.stockJob = newSyncJob(t, s.a, "haier", "stock", time.Second)
	s.orderJob = newSyncJob(t, s.b, "acme", "order", time.Second)
	s.stockJob.Start()
	s.orderJob.Start()

	s.rec = newWebhookRecorder(t)
	dir := t.TempDir()
	s.am = startAlertmanager(t, deriveAlertmanagerConfig(t, dir, amOptions{ReceiverURL: s.rec.URL}))
	ruleFiles := writeShortRules(t, dir, ruleOptions{}) // for: 10m -> 10s, 5m -> 5s, 2m -> 2s
	s.rules = readRuleFiles(t, ruleFiles)
	s.prom = startPrometheus(t, promOptions{
		Targets:      []string{s.a.Addr, s.b.Addr},
		RuleFiles:    ruleFiles,
		Alertmanager: s.am,
	})
	s.up = time.Now()
	t.Logf("stack up after %s (go build %s)", time.Since(began).Round(100*time.Millisecond), built.Round(100*time.Millisecond))

	// The first two scenarios concern different sync types and run side by
	// side.
	t.Run("sync alerts", func(t *testing.T) {
		t.Run("failure rate pages and resolves", func(t *testing.T) {
			t.Parallel()
			timed(t, s.testFailureRate)
		})
		t.Run("silent sync type warns, pages and resolves", func(t *testing.T) {
			t.Parallel()
			timed(t, s.testSilence)
		})
	})
	t.Logf("since the stack was up: %s", s.guardHistory())
	if t.Failed() {
		return
	}
	t.Run("syncwatch killed pages only SyncwatchDown", func(t *testing.T) {
		timed(t, s.testSyncwatchDown)
	})
	t.Logf("total %s", time.Since(began).Round(100*time.Millisecond))
}

func timed(t *testing.T, f func(*testing.T)) {
	start := time.Now()
	defer func() { t.Logf("took %s", time.Since(start).Round(100*time.Millisecond)) }()
	f(t)
}

// e2eStack is what the scenarios share.
type e2eStack struct {
	a, b               *syncwatchServer
	stockJob, orderJob *syncJob
	rec                *webhookRecorder
	prom, am           string
	rules              []rule    // as Prometheus loaded them (shortened)
	up                 time.Time // when the stack was ready
}

// diag is the state of the alerting path, for failure messages.
func (s *e2eStack) diag() string {
	return fmt.Sprintf("\n---- receiver log ----\n%s---- Prometheus /api/v1/alerts ----\n%s\n---- Alertmanager /api/v2/alerts ----\n%s\n---- since the stack was up ----\n%s",
		s.rec.Dump(), promAlerts(s.prom), amAlerts(s.am), s.guardHistory())
}

// guardHistory says how often, since the stack was up, a scrape failed,
// the exporter served values that were not fresh, and
// syncwatch:intake_degraded held the silence and stuck alerts back (which
// restarts their for): the usual reason for a late silence alert.
func (s *e2eStack) guardHistory() string {
	r := fmt.Sprintf("[%ds]", int(time.Since(s.up).Seconds())+1)
	var b strings.Builder
	for _, q := range []struct{ what, expr string }{
		{"failed scrapes", `count_over_time(up{job="syncwatch"}` + r + `) - sum_over_time(up{job="syncwatch"}` + r + `)`},
		{"scrapes with syncwatch_exporter_scrape_success 0", `sum by (instance) (count_over_time(syncwatch_exporter_scrape_success` + r + `) - sum_over_time(syncwatch_exporter_scrape_success` + r + `))`},
		{"evaluations with syncwatch:intake_degraded", `count_over_time(syncwatch:intake_degraded` + r + `)`},
	} {
		v, err := promQuery(s.prom, q.expr)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", q.what, err)
			continue
		}
		fmt.Fprintf(&b, "%s:", q.what)
		if len(v) == 0 {
			b.WriteString(" 0")
		}
		for _, x := range v {
			if inst := x.Metric["instance"]; inst != "" {
				fmt.Fprintf(&b, " %s=%g", inst, x.Value)
			} else {
				fmt.Fprintf(&b, " %g", x.Value)
			}
		}
		b.WriteString("; ")
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// ---------------------------------------------------------------- scenario 1

// testFailureRate: 2 failed runs are too few to page (the minimum is 3
// finished runs), the third pages SyncFailureRateHigh as critical, and 17
// successful runs (3 of 20 failed, below the warning's 20%) resolve it.
func (s *e2eStack) testFailureRate(t *testing.T) {
	const source, syncType = "haier", "products"
	sel := fmt.Sprintf(`{source=%q,sync_type=%q}`, source, syncType)
	base := time.Now().UTC()
	run := func(status string, ago time.Duration) runReport {
		start := base.Add(-ago)
		return finishedRun(source, syncType, status, start, start.Add(5*time.Second))
	}

	// Below the minimum-runs guard: 100% failed, but only 2 runs.
	if err := s.a.Post(run("failed", 50*time.Second), run("failed", 40*time.Second)); err != nil {
		t.Fatal(err)
	}
	s.waitQuery(t, 30*time.Second, `source_sync_type:syncwatch_window_runs_finished:1h`+sel+` == 2`)
	s.waitQuery(t, 10*time.Second, `source_sync_type:syncwatch_window_run_failure:ratio_1h`+sel+` == 1`)
	s.waitGroupEvaluated(t, "syncwatch-sync", time.Now().Add(time.Second))
	if a := s.findAlerts(t, "SyncFailureRateHigh", syncType); len(a) > 0 {
		t.Fatalf("SyncFailureRateHigh is %s with 2 finished runs, below the minimum of 3: %+v%s", a[0].State, a, s.diag())
	}

	// The third failed run passes the guard: 3 of 3 failed.
	if err := s.a.Post(run("failed", 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	n := s.waitNotification(t, 60*time.Second, "a PagerDuty trigger of SyncFailureRateHigh for products/haier",
		pagerMatch("trigger", "SyncFailureRateHigh", syncType))
	page := n.PagerDuty(t)
	checkPage(t, page, map[string]string{"alertname": "SyncFailureRateHigh", "sync_type": syncType, "source": source, "severity": "critical"})
	if want := "CRITICAL: products sync (haier): 100% of runs failed in the last hour"; page.Payload.Summary != want {
		t.Errorf("summary = %q, want %q", page.Payload.Summary, want)
	}
	if want := "3 of 3 runs of sync_type products from source haier that finished in the last hour failed (100%; critical above 50%)."; !strings.Contains(page.Payload.CustomDetails["summary"], want) {
		t.Errorf("custom_details.summary lacks %q:\n%s", want, page.Payload.CustomDetails["summary"])
	}
	checkLinks(t, page, "syncfailureratehigh", "/d/syncwatch-drilldown?var-sync_type=products&var-source=haier")
	if want := "http://localhost:8080/ui/runs?sync_type=products&source=haier&status=failed"; page.Payload.CustomDetails["console"] != want {
		t.Errorf("custom_details.console = %q, want %q", page.Payload.CustomDetails["console"], want)
	}
	if forDur := s.ruleFor(t, "SyncFailureRateHigh", "critical"); n.At.Sub(posted) < forDur {
		t.Errorf("paged %s after the third failure, before the alert's for (%s)", n.At.Sub(posted), forDur)
	}

	// Recovery: 17 successful runs, started after the failures and
	// finished by now.
	base = time.Now().UTC()
	var ok []runReport
	for i := range 17 {
		ok = append(ok, run("success", 10*time.Second-time.Duration(i)*100*time.Millisecond))
	}
	if err := s.a.Post(ok...); err != nil {
		t.Fatal(err)
	}
	n = s.waitNotification(t, 30*time.Second, "the PagerDuty resolve of SyncFailureRateHigh for products/haier",
		pagerMatch("resolve", "SyncFailureRateHigh", syncType))
	if got := n.PagerDuty(t); got.DedupKey != page.DedupKey || got.RoutingKey != "test-routing-key" {
		t.Errorf("resolve has dedup_key %q routing_key %q; the trigger had dedup_key %q", got.DedupKey, got.RoutingKey, page.DedupKey)
	}
}

// ---------------------------------------------------------------- scenario 2

// testSilence: the stock/haier job (expected every 10s) stops reporting.
// SyncSilent warns in chat once the last success is 1.5 intervals old (plus
// the alert's for), then pages as critical after 3 intervals; the job's
// next success resolves the page.
//
// The interval keeps the warning's notification (1.5 intervals + for +
// group_wait) well ahead of the critical (3 intervals + for): were they
// close, the critical would mute the warning before chat got it, which is
// right, but would leave nothing to test.
func (s *e2eStack) testSilence(t *testing.T) {
	last := s.stockJob.Stop()
	if last.IsZero() {
		t.Fatal("the stock job never got a report accepted")
	}
	interval := s.scalar(t, `max(syncwatch_expected_interval_seconds{sync_type="stock"})`)
	if interval != 10 {
		t.Fatalf("syncwatch_expected_interval_seconds{sync_type=\"stock\"} = %g, want 10 (--expected-intervals)", interval)
	}
	warnFactor := s.scalar(t, `syncwatch:threshold:silent_grace_factor_warning`)
	critFactor := s.scalar(t, `syncwatch:threshold:silent_grace_factor_critical`)
	earliest := func(factor float64, forDur time.Duration) time.Time {
		// Prometheus evaluates on whole-second ticks: allow it to sample
		// the condition up to half a second early.
		return last.Add(time.Duration(factor*interval*float64(time.Second)) + forDur - 500*time.Millisecond)
	}

	// Warning: Slack, through the chat receiver.
	n := s.waitNotification(t, 60*time.Second, "a Slack warning of SyncSilent for stock/haier", func(n notification) bool {
		if n.Path != "/chat" {
			return false
		}
		var m slackMessage
		return json.Unmarshal(n.Body, &m) == nil && len(m.Attachments) > 0 &&
			strings.HasPrefix(m.Attachments[0].Title, "WARNING: stock sync (haier): no success for ")
	})
	msg := n.Slack(t).Attachments[0]
	if first, _, _ := strings.Cut(msg.Text, "\n"); first != "SyncSilent | sync_type stock | source haier" {
		t.Errorf("Slack text starts %q, want the alert's name and labels %q", first, "SyncSilent | sync_type stock | source haier")
	}
	if want := "it is expected every 10s (warning after 1.5 intervals)"; !strings.Contains(msg.Text, want) {
		t.Errorf("Slack text lacks %q:\n%s", want, msg.Text)
	}
	if msg.Color != "warning" {
		t.Errorf("Slack colour = %q, want warning", msg.Color)
	}
	if want := "http://localhost:3000/d/syncwatch-drilldown?var-sync_type=stock&var-source=haier"; msg.TitleLink != want {
		t.Errorf("Slack title link = %q, want %q", msg.TitleLink, want)
	}
	if e := earliest(warnFactor, s.ruleFor(t, "SyncSilent", "warning")); n.At.Before(e) {
		t.Errorf("warning arrived %s after the last success, before %g intervals plus its for (%s)", n.At.Sub(last), warnFactor, e.Sub(last))
	}

	// Critical: PagerDuty, through the pager receiver.
	n = s.waitNotification(t, 60*time.Second, "a PagerDuty trigger of SyncSilent for stock/haier",
		pagerMatch("trigger", "SyncSilent", "stock"))
	page := n.PagerDuty(t)
	checkPage(t, page, map[string]string{"alertname": "SyncSilent", "sync_type": "stock", "source": "haier", "severity": "critical"})
	if !strings.HasPrefix(page.Payload.Summary, "CRITICAL: stock sync (haier): no success for ") {
		t.Errorf("summary = %q", page.Payload.Summary)
	}
	if want := "it is expected every 10s (critical after 3 intervals)"; !strings.Contains(page.Payload.CustomDetails["summary"], want) {
		t.Errorf("custom_details.summary lacks %q:\n%s", want, page.Payload.CustomDetails["summary"])
	}
	checkLinks(t, page, "syncsilent", "/d/syncwatch-drilldown?var-sync_type=stock&var-source=haier")
	if e := earliest(critFactor, s.ruleFor(t, "SyncSilent", "critical")); n.At.Before(e) {
		t.Errorf("page arrived %s after the last success, before %g intervals plus its for (%s)", n.At.Sub(last), critFactor, e.Sub(last))
	}

	// The job reports again.
	s.stockJob.Start()
	n = s.waitNotification(t, 30*time.Second, "the PagerDuty resolve of SyncSilent for stock/haier",
		pagerMatch("resolve", "SyncSilent", "stock"))
	if got := n.PagerDuty(t); got.DedupKey != page.DedupKey {
		t.Errorf("resolve has dedup_key %q; the trigger had %q", got.DedupKey, page.DedupKey)
	}
}

// ---------------------------------------------------------------- scenario 3

// testSyncwatchDown kills replica A with SIGKILL. Replica B keeps exporting
// an order/acme job whose reports stop (they went through A) and a
// logistics/acme run that started just before and hangs past its maximum
// runtime (5s). Only SyncwatchDown may fire and notify.
func (s *e2eStack) testSyncwatchDown(t *testing.T) {
	s.waitQuiet(t, 45*time.Second)
	if v, err := promQuery(s.prom, `syncwatch:intake_degraded`); err != nil || len(v) != 0 {
		t.Fatalf("syncwatch:intake_degraded before the kill: %v %v%s", v, err, s.diag())
	}

	// A run on B that will hang.
	if err := s.b.Post(runReport{Source: "acme", SyncType: "logistics", Status: "processing", StartedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	s.waitQuery(t, 15*time.Second, fmt.Sprintf(`syncwatch_runs_in_progress{instance=%q,source="acme",sync_type="logistics"} == 1`, s.b.Addr))

	cut := len(s.rec.All())
	s.stockJob.Stop()
	s.orderJob.Stop()
	killed := time.Now()
	s.a.Kill9(t)

	n := s.waitNotification(t, 30*time.Second, "a PagerDuty trigger of SyncwatchDown", func(n notification) bool {
		return n.At.After(killed) && pagerMatch("trigger", "SyncwatchDown", "")(n)
	})
	page := n.PagerDuty(t)
	checkPage(t, page, map[string]string{"alertname": "SyncwatchDown", "sync_type": "", "source": "", "severity": "critical"})
	if want := "CRITICAL: syncwatch " + s.a.Addr + " is down"; page.Payload.Summary != want {
		t.Errorf("summary = %q, want %q", page.Payload.Summary, want)
	}
	checkLinks(t, page, "syncwatchdown", "/d/syncwatch-overview")
	t.Logf("SyncwatchDown paged %s after the kill", n.At.Sub(killed).Round(100*time.Millisecond))

	// Watch Prometheus until the silence and stuck conditions, without
	// their guard, have held on B's figures for longer than the alerts' for
	// plus Alertmanager's group_wait: unguarded, both would have fired and
	// notified by then.
	silentRule := s.rule(t, "SyncSilent", "warning", "")
	stuckRule := s.rule(t, "SyncRunStuck", "warning", "")
	controls := []struct {
		name, expr string
		want       map[string]string
		hold       time.Duration // the alert's for
		firstSeen  time.Time     // when the condition was first seen to hold
	}{
		{name: "SyncSilent (warning)", expr: unguarded(t, silentRule), want: map[string]string{"source": "acme", "sync_type": "order"}, hold: s.ruleFor(t, "SyncSilent", "warning")},
		{name: "SyncRunStuck", expr: unguarded(t, stuckRule), want: map[string]string{"source": "acme", "sync_type": "logistics"}, hold: s.ruleFor(t, "SyncRunStuck", "warning")},
	}
	const margin = 4 * time.Second // group_wait 3s and a second to deliver
	deadline := time.Now().Add(60 * time.Second)
	for {
		alerts, err := promActiveAlerts(s.prom)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			switch name := a.Labels["alertname"]; name {
			case "SyncSilent", "SyncRunStuck":
				t.Fatalf("%s is %s for %s/%s while syncwatch %s is down: the intake_degraded guard failed (a storm of silence alerts)%s",
					name, a.State, a.Labels["sync_type"], a.Labels["source"], s.a.Addr, s.diag())
			case "SyncwatchDown":
				// For A; or pending for B when a scrape of B times out
				// on a busy machine.
			default:
				t.Fatalf("%s %v is %s after the kill; only SyncwatchDown may be%s", name, a.Labels, a.State, s.diag())
			}
		}
		if v, err := promQuery(s.prom, `syncwatch:intake_degraded`); err != nil || len(v) != 1 || v[0].Value != 1 {
			t.Fatalf("syncwatch:intake_degraded = %v (%v) while %s is down, want 1%s", v, err, s.a.Addr, s.diag())
		}
		done := true
		for i := range controls {
			c := &controls[i]
			v, err := promQuery(s.prom, c.expr)
			if err != nil {
				t.Fatalf("%s without its guard: %v", c.name, err)
			}
			switch {
			case !hasSeries(v, c.want):
				// Not yet, or interrupted (a failed scrape of B): the
				// alert's for would start again too.
				c.firstSeen = time.Time{}
			case c.firstSeen.IsZero():
				c.firstSeen = time.Now()
			}
			if c.firstSeen.IsZero() || time.Since(c.firstSeen) < c.hold+margin {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, c := range controls {
				fmt.Fprintf(&b, "\n%s on %v held since %v: %s", c.name, c.want, c.firstSeen, c.expr)
			}
			t.Fatalf("the conditions without the guard did not hold long enough within 60s, so the test proves nothing:%s%s", b.String(), s.diag())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("watched %s after the kill; unguarded SyncSilent held %s, SyncRunStuck %s",
		time.Since(killed).Round(100*time.Millisecond), time.Since(controls[0].firstSeen).Round(100*time.Millisecond), time.Since(controls[1].firstSeen).Round(100*time.Millisecond))

	// Only SyncwatchDown reached a receiver since the kill.
	for _, n := range s.rec.All()[cut:] {
		if n.Path == "/pager" && n.PagerDuty(t).Payload.CustomDetails["alertname"] == "SyncwatchDown" {
			continue
		}
		t.Errorf("notification to %s after the kill; only SyncwatchDown was expected: %s", n.Path, n.Body)
	}
	alerts, err := promActiveAlerts(s.prom)
	if err != nil {
		t.Fatal(err)
	}
	downA := false
	for _, a := range alerts {
		if a.Labels["alertname"] != "SyncwatchDown" {
			t.Errorf("Prometheus alert %v is %s after the kill; only SyncwatchDown may be", a.Labels, a.State)
		}
		if a.Labels["instance"] == s.a.Addr && a.State == "firing" && a.Labels["severity"] == "critical" {
			downA = true
		}
	}
	if !downA {
		t.Errorf("Prometheus alerts after the kill: %+v, want SyncwatchDown{instance=%q,severity=\"critical\"} firing", alerts, s.a.Addr)
	}
	if t.Failed() {
		t.Log(s.diag())
	}
}

// ---------------------------------------------------------------- helpers

// waitNotification waits for a notification that matches, failing the test
// with the state of the alerting path after timeout.
func (s *e2eStack) waitNotification(t *testing.T, timeout time.Duration, what string, match func(notification) bool) notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n, err := s.rec.WaitFor(ctx, match)
	if err != nil {
		t.Fatalf("no %s within %s%s", what, timeout, s.diag())
	}
	return n
}

// pagerMatch matches a PagerDuty event of an alert (and sync type, when not
// empty) with the given event_action (trigger or resolve; Alertmanager sends
// the details with both).
func pagerMatch(action, alertname, syncType string) func(notification) bool {
	return func(n notification) bool {
		if n.Path != "/pager" {
			return false
		}
		var e pagerDutyEvent
		if json.Unmarshal(n.Body, &e) != nil || e.EventAction != action {
			return false
		}
		d := e.Payload.CustomDetails
		return d["alertname"] == alertname && (syncType == "" || d["sync_type"] == syncType)
	}
}

// checkPage checks a PagerDuty trigger: its routing key (from the secret
// file), severity, and the alert's labels in custom_details.
func checkPage(t *testing.T, e pagerDutyEvent, labels map[string]string) {
	t.Helper()
	if e.RoutingKey != "test-routing-key" {
		t.Errorf("routing_key = %q, want the content of routing_key_file", e.RoutingKey)
	}
	if e.Payload.Severity != labels["severity"] {
		t.Errorf("payload.severity = %q, want %q", e.Payload.Severity, labels["severity"])
	}
	for k, want := range labels {
		if got := e.Payload.CustomDetails[k]; got != want {
			t.Errorf("custom_details[%s] = %q, want %q", k, got, want)
		}
	}
}

// checkLinks checks a page's Grafana and runbook links.
func checkLinks(t *testing.T, e pagerDutyEvent, runbookAnchor, dashboardPath string) {
	t.Helper()
	links := map[string]string{}
	for _, l := range e.Links {
		links[l.Text] = l.Href
	}
	if want := "http://localhost:3000" + dashboardPath; links["Grafana"] != want {
		t.Errorf("Grafana link = %q, want %q", links["Grafana"], want)
	}
	if want := runbookBase + runbookAnchor; links["Runbook"] != want {
		t.Errorf("Runbook link = %q, want %q", links["Runbook"], want)
	}
}

// waitQuery waits until an instant query returns a non-empty vector.
func (s *e2eStack) waitQuery(t *testing.T, timeout time.Duration, query string) []promSample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := promQuery(s.prom, query)
		if err == nil && len(v) > 0 {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still empty after %s (%v)%s", query, timeout, err, s.diag())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scalar returns the single value of a query.
func (s *e2eStack) scalar(t *testing.T, query string) float64 {
	t.Helper()
	v := s.waitQuery(t, 10*time.Second, query)
	if len(v) != 1 {
		t.Fatalf("%s: %d series, want 1: %v", query, len(v), v)
	}
	return v[0].Value
}

// waitGroupEvaluated waits until the rule group's last evaluation started
// after the given time.
func (s *e2eStack) waitGroupEvaluated(t *testing.T, group string, after time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			Data struct {
				Groups []struct {
					Name           string    `json:"name"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := promAPI(s.prom, "/api/v1/rules", &r); err == nil {
			for _, g := range r.Data.Groups {
				if g.Name == group && g.LastEvaluation.After(after) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule group %s not evaluated after %s", group, after.Format(time.RFC3339Nano))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findAlerts returns Prometheus' pending and firing alerts of that name and
// sync type.
func (s *e2eStack) findAlerts(t *testing.T, alertname, syncType string) []promAlert {
	t.Helper()
	alerts, err := promActiveAlerts(s.prom)
	if err != nil {
		t.Fatal(err)
	}
	var out []promAlert
	for _, a := range alerts {
		if a.Labels["alertname"] == alertname && a.Labels["sync_type"] == syncType {
			out = append(out, a)
		}
	}
	return out
}

// waitQuiet waits until nothing is pending or firing in Prometheus, nothing
// unresolved is in Alertmanager, and no notification came for 2 seconds.
func (s *e2eStack) waitQuiet(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		alerts, err := promActiveAlerts(s.prom)
		quiet := err == nil && len(alerts) == 0 && s.amUnresolved(t) == 0
		if all := s.rec.All(); quiet && len(all) > 0 && time.Since(all[len(all)-1].At) < 2*time.Second {
			quiet = false
		}
		if quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts still active %s after the scenarios%s", timeout, s.diag())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// amUnresolved counts the alerts Alertmanager holds that have not ended.
func (s *e2eStack) amUnresolved(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(s.am + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		EndsAt time.Time `json:"endsAt"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range alerts {
		if a.EndsAt.IsZero() || a.EndsAt.After(time.Now()) {
			n++
		}
	}
	return n
}

// rule returns the alerting rule with that name, severity and reason label.
func (s *e2eStack) rule(t *testing.T, alertname, severity, reason string) rule {
	t.Helper()
	var found []rule
	for _, r := range s.rules {
		if r.Alert == alertname && r.Labels["severity"] == severity && r.Labels["reason"] == reason {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d alerting rules %s{severity=%q,reason=%q}, want 1", len(found), alertname, severity, reason)
	}
	return found[0]
}

// ruleFor is the `for` of an alerting rule as Prometheus loaded it.
func (s *e2eStack) ruleFor(t *testing.T, alertname, severity string) time.Duration {
	t.Helper()
	r := s.rule(t, alertname, severity, "")
	d, err := parsePromDuration(r.For)
	if err != nil {
		t.Fatalf("%s: for %q: %v", alertname, r.For, err)
	}
	return d
}

// intakeGuard is how the silence and stuck alerts are held back while
// syncwatch cannot take in or read back reports.
const intakeGuard = "unless on () syncwatch:intake_degraded"

// unguarded returns the rule's expression without its intake guard.
func unguarded(t *testing.T, r rule) string {
	t.Helper()
	if strings.Count(r.Expr, intakeGuard) != 1 {
		t.Fatalf("%s no longer ends with %q; adapt the test:\n%s", r.Alert, intakeGuard, r.Expr)
	}
	return strings.Replace(r.Expr, intakeGuard, "", 1)
}

// hasSeries reports whether a vector has a series with the given labels.
func hasSeries(v []promSample, labels map[string]string) bool {
	for _, s := range v {
		match := true
		for k, want := range labels {
			if s.Metric[k] != want {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// readRuleFiles returns every rule of the given rule files.
func readRuleFiles(t testing.TB, paths []string) []rule {
	t.Helper()
	var all []rule
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, g := range rf.Groups {
			all = append(all, g.Rules...)
		}
	}
	return all
}
