package collector_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

func TestQuarantineAPI(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	rs := make([]synclog.Report, 2)
	for i := range rs {
		id := fmt.Sprintf("qa-%d", i)
		rs[i] = synclog.Report{EventID: id, RunID: "run-" + id, Source: "haier", SyncType: "products", Status: synclog.Status("processing")}
	}
	if err := e.Quarantine.Add(rs, permanentError{"qa-0"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, method, path, secret string
		want                       int
	}{
		{"list without a token", "GET", "/api/v1/quarantine", "", 401},
		{"list with a query token", "GET", "/api/v1/quarantine", apptest.SecretQuery, 403},
		{"replay with an ingest token", "POST", "/api/v1/quarantine/replay", apptest.SecretIngestAll, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.secret != "" {
				h = apptest.Bearer(tt.secret)
			}
			if w := e.Do(tt.method, tt.path, nil, h); w.Code != tt.want {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.want)
			}
		})
	}
	w := e.Do("GET", "/api/v1/quarantine", nil, apptest.Bearer(apptest.SecretAdmin))
	list := testutil.Decode[collector.QuarantineList](t, w)
	if w.Code != 200 || list.Reports != 2 || len(list.Items) != 2 || list.Items[0].Report.EventID != "qa-0" || list.Items[0].Error != "clickhouse refused report qa-0" {
		t.Fatalf("list: %d %+v", w.Code, list)
	}
	w = e.Do("POST", "/api/v1/quarantine/replay", nil, apptest.Bearer(apptest.SecretAdmin))
	if rep := testutil.Decode[collector.QuarantineReplay](t, w); w.Code != 200 || rep.Replayed != 2 {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	if n, _ := e.Spool.Pending(); n != 2 {
		t.Errorf("spool holds %d reports after the replay, want 2", n)
	}
	if n := e.Quarantine.Status().Reports; n != 0 {
		t.Errorf("quarantine holds %d reports after the replay", n)
	}
	if !strings.Contains(e.Do("GET", "/metrics", nil, nil).Body.String(), "syncwatch_quarantine_reports 0") {
		t.Error("/metrics lacks syncwatch_quarantine_reports 0 after the replay")
	}
}

// permanentError is an error ClickHouse would answer again to a retry.
type permanentError struct{ eventID string }

func (e permanentError) Error() string   { return "clickhouse refused report " + e.eventID }
func (e permanentError) Permanent() bool { return true }
