package collector_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// slowBody opens a connection to addr and sends an ingest request whose
// body never arrives in full: the headers, then a few bytes of a body
// that declares far more. It returns the connection, still open.
func slowBody(t *testing.T, addr, secret string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"event_id\":", collector.Route, secret)
	return conn
}

// TestSlowBodiesOfOneTokenLeaveRoomForOthers plays a hostile ingest client
// on a real loopback server: one token opens as many connections as there
// are in-flight slots and sends their bodies very slowly. Another token's
// report must still be accepted, and the slow requests must be answered
// once the body timeout passes, freeing their slots.
func TestSlowBodiesOfOneTokenLeaveRoomForOthers(t *testing.T) {
	const slots = 4
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens(), Ingest: collector.Config{
		MaxInFlight: slots, QueueWait: 20 * time.Millisecond, BodyTimeout: 500 * time.Millisecond,
	}})
	ts := httptest.NewServer(e.Handler())
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")

	conns := make([]net.Conn, 2*slots)
	for i := range conns {
		conns[i] = slowBody(t, addr, apptest.SecretIngestAll)
	}
	time.Sleep(100 * time.Millisecond) // the slow requests take what they can

	post := func(secret, eventID string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+collector.Route, strings.NewReader(testutil.Report(eventID)))
		for k, v := range apptest.Bearer(secret) {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i, secret := range []string{apptest.SecretHashed, apptest.SecretIngestHaier} {
		if code, _ := post(secret, fmt.Sprintf("other-%d", i)); code != http.StatusAccepted {
			t.Errorf("another token's report while one token sends slowly: %d, want 202", code)
		}
	}

	// Every slow request is answered within the body timeout (plus
	// slack), not held for the server's timeouts.
	var wg sync.WaitGroup
	codes := make([]int, len(conns))
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				codes[i] = -1
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("slow requests were answered after %s", d)
	}
	for i, code := range codes {
		if code != http.StatusRequestTimeout && code != http.StatusServiceUnavailable {
			t.Errorf("slow request %d: %d, want 408 (body too slow) or 503 (over its share)", i, code)
		}
	}
	// The slots are free again, for the slow token too.
	if code, _ := post(apptest.SecretIngestAll, "after"); code != http.StatusAccepted {
		t.Errorf("after the slow requests: %d, want 202", code)
	}
	if got := len(e.Spooled(t)); got != 3 {
		t.Errorf("%d reports spooled, want 3", got)
	}
}

// TestBodyTimeoutBoundsOnlyTheBody checks that the body deadline ends with
// the body, on a real loopback server: a request whose body came at once
// keeps its context while it is stored, even when that takes longer than
// the body timeout (net/http reads on in the background, and a deadline
// passing then would cancel the context).
func TestBodyTimeoutBoundsOnlyTheBody(t *testing.T) {
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{BodyTimeout: 100 * time.Millisecond}})
	e.Anchors.OnResolve(func(string) { time.Sleep(500 * time.Millisecond) })
	var cancelled atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.Handler().ServeHTTP(w, r)
		cancelled.Store(r.Context().Err() != nil)
	}))
	t.Cleanup(ts.Close)
	resp, err := http.Post(ts.URL+collector.Route, "application/json", strings.NewReader(testutil.Report("slow-store")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d, want 202", resp.StatusCode)
	}
	if cancelled.Load() {
		t.Error("the request's context was cancelled while its report was stored")
	}
}
