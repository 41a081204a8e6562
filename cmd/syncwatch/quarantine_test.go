package main

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The quarantine of a real serve, filled as the batcher fills it, is
// listed and replayed with the command, and the replayed report ends up in
// ClickHouse.
func TestQuarantineCommand(t *testing.T) {
	dir := metricsTestDir(t)
	q, err := collector.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	done := now.Add(time.Minute)
	rep := synclog.Report{RunID: "quarantined-run", EventID: "quarantined-event", Source: "haier", SyncType: "stock",
		Status: synclog.StatusSuccess, StartedAt: now, CompletedAt: &done, ReceivedAt: now, RunStartedAt: now}
	if err := q.Add([]synclog.Report{rep}, errors.New("clickhouse: Constraint `c` is violated (VIOLATED_CONSTRAINT)")); err != nil {
		t.Fatal(err)
	}
	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	startCommand(t, runServe, []string{"--listen", addr, "--data-dir", dir, "--libchdb", libchdb(t), "--log-level", "warn", "--batch-max-age", "50ms"}, base+"/healthz")

	quarantine := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runIO(append([]string{"quarantine"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"no action", []string{"--server", base}, 2, nil},
		{"unknown action", []string{"drop", "--server", base}, 2, nil},
		{"list", []string{"list", "--server", base}, 0, []string{"quarantined-event", "quarantined-run", "VIOLATED_CONSTRAINT", "1 reports"}},
		{"list as JSON", []string{"list", "--json", "--server", base}, 0, []string{`"reports":1`, `"event_id":"quarantined-event"`}},
		{"replay", []string{"replay", "--server", base}, 0, []string{"replayed 1 reports"}},
		{"list after the replay", []string{"list", "--server", base}, 0, []string{"the quarantine is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := quarantine(tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/runs/quarantined-run")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replayed report is not in ClickHouse after 30s (last: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
