package collector

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestIngestShedsLoadBeyondMaxInFlight holds MaxInFlight requests inside
// the handler and checks that one more is refused at once with 503 and
// Retry-After, is counted as overloaded, and stores nothing; once room
// frees, ingest works again.
func TestIngestShedsLoadBeyondMaxInFlight(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	fake := &fakeStorage{onRunStart: func(string) {
		entered <- struct{}{}
		<-release
	}}
	e := newEnv(t, envOptions{storage: fake, cfg: Config{MaxInFlight: 2, QueueWait: 20 * time.Millisecond}})

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.post(report("held-" + string(rune('a'+i)))).Code
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
	go func() { shed <- e.post(report("shed-1")) }()
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
	body := decode[ErrorResponse](t, w)
	if body.Error != "syncwatch is at its limit of concurrent ingest requests: retry later; nothing of this request was stored" {
		t.Errorf("error body %q", body.Error)
	}
	if got := testutil.ToFloat64(e.srv.metrics.rejections.WithLabelValues(ReasonOverloaded)); got != 1 {
		t.Errorf("overloaded rejections = %v, want 1", got)
	}

	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("held request %d: status %d, want 202", i, c)
		}
	}
	if w := e.post(report("after-1")); w.Code != http.StatusAccepted {
		t.Fatalf("after the load passed: status %d, want 202; body %s", w.Code, w.Body)
	}
	if st := e.spool.Stats(); st.Reports != 3 {
		t.Errorf("spool holds %d reports, want 3 (the refused one must not be stored)", st.Reports)
	}
}
