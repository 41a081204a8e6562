package alerts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// commentedRelay matches the commented lines of the relay's route and
// receiver in alertmanager.yml.
var commentedRelay = regexp.MustCompile(`(?m)^(\s*)# ((?:- receiver: chat-robot|  matchers: \['severity=~"warning\|critical"'\]|  continue: true|- name: chat-robot|  webhook_configs:|    - url: http://syncwatch:8080/api/v1/alerts/relay/|      send_resolved: true|      max_alerts: 20|      http_config:|        authorization:|          type: Bearer|          credentials_file: /etc/alertmanager/secrets/syncwatch_relay_token).*)$`)

// TestRelayReceiverUncommented uncomments the relay's route and receiver
// as the comment says, and checks that amtool takes the configuration and
// routes warnings and pages to the robot as well as to Slack and the
// pager.
func TestRelayReceiverUncommented(t *testing.T) {
	body, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	uncommented := commentedRelay.ReplaceAll(body, []byte("$1$2"))
	if n := len(commentedRelay.FindAll(body, -1)); n != 12 {
		t.Fatalf("found %d commented lines of the relay, want 12 (3 of the route, 9 of the receiver)", n)
	}
	dir := t.TempDir()
	abs, err := filepath.Abs("templates")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "templates")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, uncommented, 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(uncommented), "\n  - name: chat-robot\n    webhook_configs:\n      - url: http://syncwatch:8080/api/v1/alerts/relay/ops-dingtalk\n") {
		t.Fatalf("the receiver did not uncomment cleanly:\n%s", uncommented)
	}
	if out, err := run(t, time.Minute, "amtool", "check-config", cfg); err != nil {
		t.Fatalf("amtool check-config (relay uncommented): %v\n%s", err, out)
	}
	for _, tc := range []struct {
		receivers string
		labels    []string
	}{
		{"chat-robot,chat", []string{"alertname=SyncFailureRateHigh", "severity=warning", "sync_type=prices", "source=haier"}},
		{"chat-robot,pager", []string{"alertname=SyncWarningEscalated", "severity=critical", "sync_type=prices", "source=haier"}},
		{"chat", []string{"alertname=SomethingElse"}},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=" + cfg, "--verify.receivers=" + tc.receivers}, tc.labels...)
		if out, err := run(t, time.Minute, "amtool", args...); err != nil {
			t.Errorf("%v: %v\n%s", tc.labels, err, out)
		}
	}
}
