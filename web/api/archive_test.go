package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/internal/testutil/fakequery"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"
)

// fakeArchive holds one archived month of runs and records what it was
// asked. The archive's SQL runs on the embedded engine in package
// archive's tests; this one checks the HTTP side.
type fakeArchive struct {
	month time.Time
	runs  []runs.Run
	mu    sync.Mutex
	asked []runs.ListOptions
}

func (f *fakeArchive) ListRuns(_ context.Context, month time.Time, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, opt)
	if !month.Equal(f.month) {
		return nil, nil, runs.ErrNotFound
	}
	return f.runs, nil, nil
}

func TestArchivedRuns(t *testing.T) {
	start := time.Date(2026, 6, 3, 4, 5, 6, 0, time.UTC)
	end := start.Add(time.Minute)
	arch := &fakeArchive{month: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), runs: []runs.Run{{
		RunID: "old-1", EventID: "old-1-f", Source: "erp", SyncType: "stock", Status: synclog.StatusFailed,
		Message: "timeout", StartedAt: start, CompletedAt: &end, ReceivedAt: end,
	}}}
	fq := &fakequery.Querier{}
	env := apptest.New(t, apptest.Options{Query: fq, Archive: arch})

	w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?archive=2026-06&source=erp&status=failed&limit=5", contract.Options{})
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	page := testutil.Decode[api.RunsPage](t, w)
	if len(page.Runs) != 1 || page.Runs[0].RunID != "old-1" {
		t.Errorf("page %+v", page)
	}
	if n := fq.Calls.Load(); n != 0 {
		t.Errorf("the tables were queried %d times for an archived month", n)
	}
	if len(arch.asked) != 1 || arch.asked[0].Limit != 5 || arch.asked[0].Filter.Sources[0] != "erp" || arch.asked[0].Filter.Statuses[0] != synclog.StatusFailed {
		t.Errorf("the archive was asked %+v", arch.asked)
	}

	w = contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?archive=2026-05", contract.Options{})
	e := testutil.Decode[web.ErrorResponse](t, w)
	if w.Code != http.StatusNotFound || e.Field != "archive" || !strings.Contains(e.Error, "2026-05") {
		t.Errorf("a month without an archive: %d %+v", w.Code, e)
	}

	// Without archive the tables answer, as before.
	if w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/runs?limit=5", contract.Options{}); w.Code != 200 || fq.Calls.Load() == 0 {
		t.Errorf("the run list without archive: %d, %d queries", w.Code, fq.Calls.Load())
	}
}
