package collector_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/web"
)

// TestIngestShedsLoadBeyondMaxInFlight holds MaxInFlight requests inside
// the handler and checks that one more is refused at once with 503 and
// Retry-After, is counted as overloaded, and stores nothing; once room
// frees, ingest works again.
func TestIngestShedsLoadBeyondMaxInFlight(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{MaxInFlight: 2, QueueWait: 20 * time.Millisecond,
		// Every request comes from the same test client: the global limit
		// is under test, not a client's share, which is set beyond it.
		MaxInFlightPerClient: 100}})
	e.Anchors.OnResolve(func(string) {
		entered <- struct{}{}
		<-release
	})

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.Post(testutil.Report("held-" + string(rune('a'+i)))).Code
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("held requests did not reach the handler")
		}
	}

	shed := make(chan *httptest.ResponseRecorder, 1)
	go func() { shed <- e.Post(testutil.Report("shed-1")) }()
	var w *httptest.ResponseRecorder
	select {
	case w = <-shed:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a request beyond the limit waited instead of being refused")
	}
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("request beyond the limit: status %d, want 503; body %s", w.Code, w.Body)
	}
	if w.Header().Get("Retry-After") == "" || w.Header().Get("Retry-After") == "0" {
		t.Errorf("Retry-After = %q, want a positive number of seconds", w.Header().Get("Retry-After"))
	}
	body := testutil.Decode[web.ErrorResponse](t, w)
	if body.Error != "syncwatch is at its limit of concurrent ingest requests: retry later; nothing of this request was stored" {
		t.Errorf("error body %q", body.Error)
	}
	if m := e.MetricsText(t); !strings.Contains(m, `syncwatch_ingest_rejections_total{reason="`+collector.ReasonOverloaded+`"} 1`+"\n") {
		t.Errorf("overloaded rejections are not 1:\n%s", m)
	}

	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("held request %d: status %d, want 202", i, c)
		}
	}
	if w := e.Post(testutil.Report("after-1")); w.Code != http.StatusAccepted {
		t.Fatalf("after the load passed: status %d, want 202; body %s", w.Code, w.Body)
	}
	if st := e.Spool.Stats(); st.Reports != 3 {
		t.Errorf("spool holds %d reports, want 3 (the refused one must not be stored)", st.Reports)
	}
}

// A client's share counts the requests being served, not those waiting for
// room: with a share as large as the limit, a request beyond it waits for a
// slot (QueueWait) as it did before shares existed. Before, it was counted
// while it waited and refused at once, which cut a single client's
// throughput under load by a third (make bench-ingest, overload).
func TestIngestWaitingRequestsDoNotTakeTheClientsShare(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{MaxInFlight: 2, MaxInFlightPerClient: 2, QueueWait: 5 * time.Second}})
	var once sync.Once
	e.Anchors.OnResolve(func(runID string) {
		if strings.HasPrefix(runID, "run-held-") {
			entered <- struct{}{}
			<-release
		}
	})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Post(testutil.Report("held-" + string(rune('a'+i))))
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("held requests did not reach the handler")
		}
	}
	waiting := make(chan *httptest.ResponseRecorder, 1)
	go func() { waiting <- e.Post(testutil.Report("waits")) }()
	time.Sleep(100 * time.Millisecond)
	once.Do(func() { close(release) })
	select {
	case w := <-waiting:
		if w.Code != http.StatusAccepted {
			t.Fatalf("the request that waited for room: %d %s, want 202", w.Code, w.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request never got room")
	}
	wg.Wait()
}
