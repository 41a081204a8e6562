package alerts

// Helpers for end-to-end tests of the alerting path: a real Prometheus that
// scrapes a target and evaluates shortened copies of the shipped rules, a
// real Alertmanager running a copy of alerts/alertmanager.yml whose receivers
// point at an in-test HTTP receiver, and that receiver.
//
// The shipped files are never edited: the helpers read them, rewrite what a
// test needs (the `for:` durations, thresholds, Alertmanager's timings,
// receiver URLs and secret files) and write the copies to a temporary
// directory. See alerts/README.md ("End-to-end tests").

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// ---------------------------------------------------------------- rules

// ruleOptions says how to shorten the shipped rules for a test.
type ruleOptions struct {
	// ForScale divides every `for:` duration (60 turns 10m into 10s);
	// 0 means 60. The result is at least MinFor.
	ForScale int64
	// MinFor is the shortest `for:` after scaling; 0 means one second.
	MinFor time.Duration
	// Thresholds replaces the expression of recording rules by name, e.g.
	// {"syncwatch:threshold:min_runs_1h": "vector(1)"}.
	Thresholds map[string]string
}

// shortenRules returns a copy of a rule file with every `for:` scaled down,
// every group's own `interval` removed (so the global evaluation_interval
// applies) and the given recording rules replaced.
func shortenRules(src []byte, o ruleOptions) ([]byte, error) {
	if o.ForScale == 0 {
		o.ForScale = 60
	}
	if o.MinFor == 0 {
		o.MinFor = time.Second
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	groups, _ := doc["groups"].([]any)
	for _, g := range groups {
		gm, ok := g.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("group is %T, not a mapping", g)
		}
		delete(gm, "interval")
		rules, _ := gm["rules"].([]any)
		for _, r := range rules {
			rm, ok := r.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("rule is %T, not a mapping", r)
			}
			if f, ok := rm["for"].(string); ok {
				d, err := parsePromDuration(f)
				if err != nil {
					return nil, fmt.Errorf("rule %v: for %q: %w", rm["alert"], f, err)
				}
				d /= time.Duration(o.ForScale)
				if d < o.MinFor {
					d = o.MinFor
				}
				rm["for"] = promDuration(d)
			}
			if name, ok := rm["record"].(string); ok {
				if expr, ok := o.Thresholds[name]; ok {
					rm["expr"] = expr
				}
				// The guard's windows ("down for 2 minutes") belong with
				// the for: durations they protect, and shrink with them.
				if expr, ok := rm["expr"].(string); ok && name == "syncwatch:intake_degraded" {
					scaled, err := scaleRanges(expr, o.ForScale, o.MinFor)
					if err != nil {
						return nil, fmt.Errorf("rule %s: %w", name, err)
					}
					rm["expr"] = scaled
				}
			}
		}
	}
	// A threshold missing from this file may be in another file of the set;
	// writeShortRules checks the set.
	return yaml.Marshal(doc)
}

// rangeSelector matches the range of a range vector selector, as in [2m].
var rangeSelector = regexp.MustCompile(`\[([0-9]+[smhdwy])\]`)

// scaleRanges divides every range in a PromQL expression by scale, to no
// less than min.
func scaleRanges(expr string, scale int64, min time.Duration) (string, error) {
	var err error
	out := rangeSelector.ReplaceAllStringFunc(expr, func(m string) string {
		d, perr := parsePromDuration(m[1 : len(m)-1])
		if perr != nil {
			err = perr
			return m
		}
		d /= time.Duration(scale)
		if d < min {
			d = min
		}
		return "[" + promDuration(d) + "]"
	})
	return out, err
}

// writeShortRules writes shortened copies of the shipped rule files into dir
// and returns their paths.
func writeShortRules(t testing.TB, dir string, o ruleOptions) []string {
	t.Helper()
	var paths []string
	seen := map[string]bool{}
	for _, f := range shippedRuleFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := shortenRules(src, o)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(out, &rf); err != nil {
			t.Fatal(err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				seen[r.Record] = true
			}
		}
		p := filepath.Join(dir, "short-"+filepath.Base(f))
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for name := range o.Thresholds {
		if !seen[name] {
			t.Fatalf("threshold %s is not a recording rule of the shipped rules", name)
		}
	}
	return paths
}

// parsePromDuration parses Prometheus durations such as 1h30m, 10m, 90s, 7d.
func parsePromDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q: %w", s, err)
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		u, ok := units[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("bad unit in duration %q", s)
		}
		total += time.Duration(n) * u
		rest = rest[j:]
	}
	return total, nil
}

// promDuration formats d in Prometheus' syntax (whole milliseconds).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// ---------------------------------------------------------------- Alertmanager config

// amOptions says how to derive a test Alertmanager configuration.
type amOptions struct {
	// ReceiverURL is the base URL of the test's webhookRecorder: PagerDuty
	// events go to ReceiverURL/pager, Slack messages to ReceiverURL/chat.
	ReceiverURL string
	// GroupWait and GroupInterval replace every route's timings; 0 means 3s
	// and 1s. Alertmanager sends a new group at once, without group_wait, when
	// the alert started longer than group_wait ago, and Prometheus' StartsAt
	// can lag by a second or more on a busy machine: a group_wait much shorter
	// than 3s then races the inhibit rules (a warning goes out before its
	// critical is known).
	GroupWait, GroupInterval time.Duration
}

// deriveAlertmanagerConfig writes a copy of alerts/alertmanager.yml into dir
// and returns its path. The copy loads the shipped templates by absolute path,
// shortens the route timings, and points the receivers at the test:
//   - pagerduty_configs: url = ReceiverURL/pager, routing_key_file = dir/secrets/pagerduty_routing_key
//   - slack_configs: api_url_file = dir/secrets/slack_webhook_url, a file holding ReceiverURL/chat
//
// so the secret-file mechanism of the shipped config is exercised as is.
func deriveAlertmanagerConfig(t testing.TB, dir string, o amOptions) string {
	t.Helper()
	if o.GroupWait == 0 {
		o.GroupWait = 3 * time.Second
	}
	if o.GroupInterval == 0 {
		o.GroupInterval = time.Second
	}
	src, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Templates: absolute paths to the shipped ones.
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpls, _ := cfg["templates"].([]any)
	for i, p := range tmpls {
		if s, ok := p.(string); ok && !filepath.IsAbs(s) {
			tmpls[i] = filepath.Join(abs, s)
		}
	}

	// Route timings, recursively.
	var fixRoute func(r map[string]any, root bool)
	fixRoute = func(r map[string]any, root bool) {
		if _, ok := r["group_wait"]; ok || root {
			r["group_wait"] = promDuration(o.GroupWait)
		}
		if _, ok := r["group_interval"]; ok || root {
			r["group_interval"] = promDuration(o.GroupInterval)
		}
		children, _ := r["routes"].([]any)
		for _, c := range children {
			if cm, ok := c.(map[string]any); ok {
				fixRoute(cm, false)
			}
		}
	}
	route, ok := cfg["route"].(map[string]any)
	if !ok {
		t.Fatal("alertmanager.yml has no route")
	}
	fixRoute(route, true)

	// Receivers.
	receivers, _ := cfg["receivers"].([]any)
	for _, rv := range receivers {
		rm, _ := rv.(map[string]any)
		for key, list := range rm {
			items, _ := list.([]any)
			for _, it := range items {
				im, _ := it.(map[string]any)
				switch key {
				case "pagerduty_configs":
					im["url"] = o.ReceiverURL + "/pager"
					im["routing_key_file"] = write("pagerduty_routing_key", "test-routing-key")
				case "slack_configs":
					im["api_url_file"] = write("slack_webhook_url", o.ReceiverURL+"/chat")
				case "name":
				default:
					if strings.HasSuffix(key, "_configs") {
						t.Fatalf("receiver %v: %s is not handled by deriveAlertmanagerConfig", rm["name"], key)
					}
				}
			}
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ---------------------------------------------------------------- processes

// process is a started binary whose output is kept for failure reports.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.Buffer
	done chan struct{}
}

// startProcess starts a tool, stops it (SIGTERM, then SIGKILL) when the test
// ends, and logs its output if the test failed.
func startProcess(t testing.TB, name string, args ...string) *process {
	t.Helper()
	return startCommand(t, name, exec.Command(tool(t, name), args...))
}

// startCommand starts cmd (its output is captured) as startProcess does.
func startCommand(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: &testutil.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, tail(p.out.String(), 8000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitReady polls url until it answers 200, the process exits, or timeout.
func waitReady(t testing.TB, p *process, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", p.name, tail(p.out.String(), 8000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s after %s:\n%s", p.name, url, timeout, tail(p.out.String(), 8000))
}

// startAlertmanager runs Alertmanager with the given config on a free
// loopback port, clustering off, and returns its base URL.
func startAlertmanager(t testing.TB, configPath string) string {
	t.Helper()
	addr := testutil.FreeAddr(t)
	p := startProcess(t, "alertmanager",
		"--config.file="+configPath,
		"--storage.path="+t.TempDir(),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	base := "http://" + addr
	waitReady(t, p, base+"/-/ready", 30*time.Second)
	return base
}

// promOptions configures startPrometheus.
type promOptions struct {
	Target       string   // host:port scraped as job "syncwatch"
	Targets      []string // more targets of job "syncwatch" (replicas)
	RuleFiles    []string // usually writeShortRules' result
	Alertmanager string   // base URL of the Alertmanager, or empty
	Interval     time.Duration
}

// startPrometheus runs Prometheus on a free loopback port with a temporary
// config: the targets scraped as job "syncwatch" every Interval (default 1s),
// rules evaluated as often, alerts sent to the Alertmanager. It returns its
// base URL once the rules are loaded and every rule group has been evaluated.
//
// Prometheus' scrape manager applies new targets on a 5-second tick, so right
// after start-up up{job="syncwatch"} is absent for a few seconds, which the
// shortened SyncwatchDown would report. The rules are therefore loaded only
// once every target has been scraped successfully: Prometheus starts with an
// empty rules directory, which is filled and reloaded (SIGHUP) after that.
func startPrometheus(t testing.TB, o promOptions) string {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	targets := o.Targets
	if o.Target != "" {
		targets = append([]string{o.Target}, targets...)
	}
	if len(targets) == 0 {
		t.Fatal("startPrometheus: no target")
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	if err := os.Mkdir(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     promDuration(o.Interval),
			"scrape_timeout":      promDuration(o.Interval),
			"evaluation_interval": promDuration(o.Interval),
		},
		"rule_files": []string{filepath.Join(rulesDir, "*.yml")},
		"scrape_configs": []any{map[string]any{
			"job_name":       "syncwatch",
			"static_configs": []any{map[string]any{"targets": targets}},
		}},
	}
	if o.Alertmanager != "" {
		u, err := url.Parse(o.Alertmanager)
		if err != nil {
			t.Fatal(err)
		}
		cfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []string{u.Host}}},
		}}}
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, time.Minute, "promtool", "check", "config", cfgPath); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	addr := testutil.FreeAddr(t)
	p := startProcess(t, "prometheus",
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--rules.alert.resend-delay="+promDuration(o.Interval),
		"--log.level=debug",
	)
	base := "http://" + addr
	waitReady(t, p, base+"/-/ready", 60*time.Second)
	if len(o.RuleFiles) == 0 {
		return base
	}

	waitUntil(t, p, 30*time.Second, "a successful scrape of "+strings.Join(targets, ", "), func() bool {
		var r struct {
			Data struct {
				Result []any `json:"result"`
			} `json:"data"`
		}
		return promAPI(base, "/api/v1/query?query="+url.QueryEscape(`up{job="syncwatch"} == 1`), &r) == nil && len(r.Data.Result) == len(targets)
	})
	for i, f := range o.RuleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, fmt.Sprintf("%02d-%s", i, filepath.Base(f))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p, 30*time.Second, "every rule group evaluated", func() bool {
		var r struct {
			Data struct {
				Groups []struct {
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		if promAPI(base, "/api/v1/rules", &r) != nil || len(r.Data.Groups) == 0 {
			return false
		}
		for _, g := range r.Data.Groups {
			if g.LastEvaluation.Year() < 2000 {
				return false
			}
		}
		return true
	})
	return base
}

// waitUntil polls cond every 100ms until it holds, failing the test after timeout.
func waitUntil(t testing.TB, p *process, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out after %s waiting for %s:\n%s", p.name, timeout, what, tail(p.out.String(), 8000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promAPI GETs a Prometheus API path and decodes the JSON answer into v.
func promAPI(base, path string, v any) error {
	resp, err := http.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// promAlerts returns Prometheus' active alerts (pending and firing), for
// failure messages.
func promAlerts(base string) string {
	resp, err := http.Get(base + "/api/v1/alerts")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// promSample is one element of an instant query's vector result.
type promSample struct {
	Metric map[string]string
	Value  float64
}

// promQuery runs an instant query and returns its vector result.
func promQuery(base, query string) ([]promSample, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := promAPI(base, "/api/v1/query?query="+url.QueryEscape(query), &r); err != nil {
		return nil, err
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %q, want vector", query, r.Data.ResultType)
	}
	out := make([]promSample, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", query, s.Value[1], err)
		}
		out = append(out, promSample{Metric: s.Metric, Value: v})
	}
	return out, nil
}

// promAlert is one active alert of Prometheus' /api/v1/alerts.
type promAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"` // pending or firing
	ActiveAt time.Time         `json:"activeAt"`
	Value    string            `json:"value"`
}

// promActiveAlerts returns Prometheus' pending and firing alerts.
func promActiveAlerts(base string) ([]promAlert, error) {
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := promAPI(base, "/api/v1/alerts", &r); err != nil {
		return nil, err
	}
	return r.Data.Alerts, nil
}

// amAlerts returns the alerts Alertmanager holds (GET /api/v2/alerts: the
// unresolved ones, with their state and inhibitions), for failure messages.
func amAlerts(base string) string {
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// ---------------------------------------------------------------- fake target

// fakeTarget serves a settable set of samples in the Prometheus text format.
type fakeTarget struct {
	*httptest.Server
	mu      sync.Mutex
	samples map[string]float64 // series (name{labels}) -> value
}

func newFakeTarget(t testing.TB) *fakeTarget {
	f := &fakeTarget{samples: map[string]float64{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		series := make([]string, 0, len(f.samples))
		for s := range f.samples {
			series = append(series, s)
		}
		sort.Strings(series)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for _, s := range series {
			fmt.Fprintf(w, "%s %g\n", s, f.samples[s])
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// Set sets a series, e.g. Set(`syncwatch_consecutive_failures{source="haier",sync_type="stock"}`, 6).
func (f *fakeTarget) Set(series string, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples[series] = v
}

// Host is the target's host:port.
func (f *fakeTarget) Host() string {
	u, _ := url.Parse(f.URL)
	return u.Host
}

// ---------------------------------------------------------------- receiver

// notification is one request Alertmanager sent to the webhookRecorder.
type notification struct {
	Path string // /pager or /chat
	Body []byte
	At   time.Time
}

// pagerDutyEvent is the part of a PagerDuty Events API v2 request the tests read.
type pagerDutyEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"` // trigger or resolve
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string            `json:"summary"`
		Severity      string            `json:"severity"`
		CustomDetails map[string]string `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

// slackMessage is the part of a Slack webhook request the tests read.
type slackMessage struct {
	Attachments []struct {
		Title     string `json:"title"`
		TitleLink string `json:"title_link"`
		Text      string `json:"text"`
		Color     string `json:"color"`
	} `json:"attachments"`
}

func (n notification) PagerDuty(t testing.TB) pagerDutyEvent {
	t.Helper()
	var e pagerDutyEvent
	if err := json.Unmarshal(n.Body, &e); err != nil {
		t.Fatalf("pager notification is not a PagerDuty event: %v\n%s", err, n.Body)
	}
	return e
}

func (n notification) Slack(t testing.TB) slackMessage {
	t.Helper()
	var m slackMessage
	if err := json.Unmarshal(n.Body, &m); err != nil {
		t.Fatalf("chat notification is not a Slack message: %v\n%s", err, n.Body)
	}
	return m
}

// webhookRecorder is the HTTP endpoint the test Alertmanager's receivers
// post to; it records every request.
type webhookRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	got    []notification
	signal chan struct{}
}

func newWebhookRecorder(t testing.TB) *webhookRecorder {
	w := &webhookRecorder{signal: make(chan struct{}, 1)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.got = append(w.got, notification{Path: r.URL.Path, Body: body, At: time.Now()})
		w.mu.Unlock()
		select {
		case w.signal <- struct{}{}:
		default:
		}
		if r.URL.Path == "/pager" {
			rw.WriteHeader(http.StatusAccepted)
			io.WriteString(rw, `{"status":"success","message":"Event processed"}`)
			return
		}
		io.WriteString(rw, "ok")
	}))
	t.Cleanup(w.Close)
	return w
}

// All returns the notifications received so far.
func (w *webhookRecorder) All() []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notification(nil), w.got...)
}

// WaitFor waits until a received notification satisfies match and returns it.
func (w *webhookRecorder) WaitFor(ctx context.Context, match func(notification) bool) (notification, error) {
	seen := 0
	for {
		all := w.All()
		for ; seen < len(all); seen++ {
			if match(all[seen]) {
				return all[seen], nil
			}
		}
		select {
		case <-ctx.Done():
			return notification{}, ctx.Err()
		case <-w.signal:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Dump formats every notification received, for failure messages.
func (w *webhookRecorder) Dump() string {
	var b strings.Builder
	for _, n := range w.All() {
		fmt.Fprintf(&b, "%s %s %s\n", n.At.Format("15:04:05.000"), n.Path, n.Body)
	}
	return b.String()
}
