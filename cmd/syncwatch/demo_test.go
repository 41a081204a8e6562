package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// demoSink is a fake syncwatch that keeps every report it is sent.
type demoSink struct {
	mu      sync.Mutex
	reports []client.Report
	events  map[string]int
}

func (c *demoSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	var batch []client.Report
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	if strings.HasPrefix(strings.TrimSpace(body.String()), "[") {
		json.Unmarshal(body.Bytes(), &batch)
	} else {
		var one client.Report
		json.Unmarshal(body.Bytes(), &one)
		batch = []client.Report{one}
	}
	c.mu.Lock()
	resp := client.Response{}
	for i, rep := range batch {
		c.events[rep.EventID]++
		c.reports = append(c.reports, rep)
		resp.Items = append(resp.Items, client.Item{Index: i, RunID: rep.RunID, EventID: rep.EventID})
	}
	resp.Accepted = len(batch)
	c.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
}

func TestDemoAgainstAFakeServer(t *testing.T) {
	col := &demoSink{events: map[string]int{}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	var stdout, stderr testutil.Buffer
	// 3600x: three simulated hours in three seconds; haier/logistics goes
	// silent after 45 simulated minutes, 0.75 s.
	code := run([]string{"demo", "--server", srv.URL, "--speed", "3600", "--duration", "3s", "--seed", "7", "--slowdown-after", "30m"},
		func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, stderr.String())
	}
	for _, want := range []string{"reporting simulated runs", "goes silent", "supplier incident begins", "done:"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, stderr.String())
		}
	}

	col.mu.Lock()
	reports := append([]client.Report(nil), col.reports...)
	for id, n := range col.events {
		if n != 1 {
			t.Errorf("event %s sent %d times", id, n)
		}
	}
	col.mu.Unlock()

	seen := map[string]bool{}
	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	var lastLogistics, lastOther time.Time
	type span struct{ start, end time.Time }
	var prices []span
	for _, r := range reports {
		seen["status "+string(r.Status)] = true
		seen["type "+r.SyncType] = true
		seen["source "+r.Source] = true
		// Every report is valid as the server will judge it.
		rep := synclog.Report{RunID: r.RunID, EventID: r.EventID, Source: r.Source, SyncType: r.SyncType, Status: r.Status,
			Message: r.Message, TotalCount: r.TotalCount, SuccessCount: r.SuccessCount, FailedCount: r.FailedCount,
			StartedAt: r.StartedAt, Attributes: r.Attributes}
		if !r.CompletedAt.IsZero() {
			c := r.CompletedAt
			rep.CompletedAt = &c
		}
		now := time.Now()
		rep.Normalize(now)
		if err := rep.Validate(types, now); err != nil {
			t.Fatalf("invalid report %+v: %v", r, err)
		}
		if synclog.Redact(r.Message) != r.Message {
			t.Errorf("a secret left the demo unredacted: %q", r.Message)
		}
		if r.Source == "haier" && r.SyncType == "logistics" {
			if r.StartedAt.After(lastLogistics) {
				lastLogistics = r.StartedAt
			}
		} else if r.StartedAt.After(lastOther) {
			lastOther = r.StartedAt
		}
		if r.Source == "haier" && r.SyncType == "prices" && r.Status == client.StatusSuccess {
			prices = append(prices, span{r.StartedAt, r.CompletedAt})
		}
	}
	var want []string
	for _, s := range synclog.Statuses {
		want = append(want, "status "+string(s))
	}
	for _, ty := range synclog.DefaultSyncTypes {
		want = append(want, "type "+ty)
	}
	want = append(want, "source haier", "source jd")
	for _, w := range want {
		if !seen[w] {
			t.Errorf("the demo sent no report with %s (%d reports)", w, len(reports))
		}
	}

	// The silent type stops while the others go on: its last run starts
	// at 0.75 s at the latest, the others' more than a second later.
	if lastLogistics.IsZero() || lastOther.Sub(lastLogistics) < 1500*time.Millisecond {
		t.Errorf("haier/logistics last started at %s, the others at %s: want it silent for the last part of the run", lastLogistics, lastOther)
	}
	// The slow type slows: compare its first and last runs.
	if len(prices) < 6 {
		t.Fatalf("only %d successful haier/prices runs", len(prices))
	}
	early, late := prices[:3], prices[len(prices)-3:]
	var de, dl time.Duration
	for i := range 3 {
		de += early[i].end.Sub(early[i].start)
		dl += late[i].end.Sub(late[i].start)
	}
	if dl < 2*de {
		t.Errorf("haier/prices: the first runs took %s in all, the last %s: want them to grow", de, dl)
	}
}

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero speed", []string{"--speed", "0"}, "--speed must be greater than 0"},
		{"bad speed", []string{"--speed", "fast"}, "want a number"},
		{"argument", []string{"now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"demo"}, tt.args...), func(string) string { return "" }, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit code %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

func TestDemoGivesUpWhenTheServerNeverComes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--server", srv.URL, "--wait-ready", "300ms"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "not ready after 300ms") {
		t.Errorf("exit code %d, stderr %q", code, stderr.String())
	}
}
