package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// answer is one scripted reply of the fake server.
type answer struct {
	code       int
	retryAfter string
	body       string
}

// fakeServer records the reports it is sent and replies from a script; once
// the script runs out it accepts everything.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script []answer
	reqs   []recorded
}

// recorded is one request as the fake server saw it.
type recorded struct {
	header  http.Header
	reports []Report
}

func newFakeServer(t *testing.T, script ...answer) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var reports []Report
	if trimmed := strings.TrimSpace(string(body)); strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(body, &reports); err != nil {
			f.t.Errorf("fake server: bad array: %v", err)
		}
	} else {
		var one Report
		if err := json.Unmarshal(body, &one); err != nil {
			f.t.Errorf("fake server: bad report: %v", err)
		}
		reports = []Report{one}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{header: r.Header.Clone(), reports: reports})
	var a *answer
	if len(f.script) > 0 {
		a = &f.script[0]
		f.script = f.script[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if a != nil {
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.code)
		io.WriteString(w, a.body)
		return
	}
	resp := Response{Accepted: len(reports), Rejected: []Rejection{}}
	for i, rep := range reports {
		resp.Items = append(resp.Items, Item{Index: i, RunID: rep.RunID, EventID: rep.EventID})
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// sleeps records the waits of a client instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newTestClient returns a client of f that records its waits.
func newTestClient(t *testing.T, f *fakeServer, opts ...Option) (*Client, *sleeps) {
	t.Helper()
	c, err := New(f.srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := &sleeps{}
	c.sleep = s.sleep
	return c, s
}

func sampleReport() Report {
	return Report{Source: "haier", SyncType: "products", Status: StatusSuccess, TotalCount: 3, SuccessCount: 3,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), CompletedAt: time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC)}
}

func TestSendRetries(t *testing.T) {
	const rejected = `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"status","error":"unknown value \"done\""}],"items":[]}`
	tests := []struct {
		name     string
		script   []answer
		retries  int
		wantReqs int
		// wantSleeps are the waits between attempts; a negative entry
		// means "a backoff between -d/2 and -d".
		wantSleeps []time.Duration
		check      func(t *testing.T, err error)
	}{
		{
			name:       "503 honours Retry-After",
			script:     []answer{{503, "2", `{"error":"the spool is full"}`}},
			retries:    5,
			wantReqs:   2,
			wantSleeps: []time.Duration{2 * time.Second},
		},
		{
			name:       "429 honours Retry-After",
			script:     []answer{{429, "1", `{"error":"rate limit"}`}, {429, "0", `{"error":"rate limit"}`}},
			retries:    5,
			wantReqs:   3,
			wantSleeps: []time.Duration{time.Second, 0},
		},
		{
			name:       "500 without Retry-After backs off",
			script:     []answer{{500, "", `oops`}, {502, "", `bad gateway`}},
			retries:    5,
			wantReqs:   3,
			wantSleeps: []time.Duration{-DefaultMinBackoff, -2 * DefaultMinBackoff},
		},
		{
			name:     "400 is not retried",
			script:   []answer{{400, "", rejected}},
			retries:  5,
			wantReqs: 1,
			check: func(t *testing.T, err error) {
				var rej *RejectedError
				if !errors.As(err, &rej) {
					t.Fatalf("error %v (%T), want a *RejectedError", err, err)
				}
				if rej.StatusCode != 400 || rej.Field != "status" || !strings.Contains(rej.Reason, "unknown value") || len(rej.Rejections) != 1 {
					t.Errorf("rejection = %+v", rej)
				}
				if !strings.Contains(err.Error(), "status: unknown value") {
					t.Errorf("error text %q does not name the field and rule", err)
				}
			},
		},
		{
			name:     "401 is not retried",
			script:   []answer{{401, "", `{"error":"a valid bearer token is required (Authorization: Bearer <token>)"}`}},
			retries:  5,
			wantReqs: 1,
			check: func(t *testing.T, err error) {
				var rej *RejectedError
				if !errors.As(err, &rej) || rej.StatusCode != 401 || !strings.Contains(rej.Reason, "bearer token is required") {
					t.Fatalf("error %v, want a 401 rejection with the server's reason", err)
				}
			},
		},
		{
			name:     "413 is not retried",
			script:   []answer{{413, "", `{"error":"body is larger than 10 bytes"}`}},
			retries:  5,
			wantReqs: 1,
			check: func(t *testing.T, err error) {
				var rej *RejectedError
				if !errors.As(err, &rej) || rej.StatusCode != 413 {
					t.Fatalf("error %v, want a 413 rejection", err)
				}
			},
		},
		{
			name:     "501 is not retried",
			script:   []answer{{501, "", "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1></body></html>"}},
			retries:  5,
			wantReqs: 1,
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 501 || err.Error() != "syncwatch answered HTTP 501: Not Implemented" {
					t.Fatalf("error %v, want a 501 without the HTML page", err)
				}
			},
		},
		{
			name:       "503 outlasting the retries",
			script:     []answer{{503, "0", `{"error":"full"}`}, {503, "0", `{"error":"full"}`}, {503, "0", `{"error":"full"}`}},
			retries:    2,
			wantReqs:   3,
			wantSleeps: []time.Duration{0, 0},
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 503 || se.Message != "full" {
					t.Fatalf("error %v, want a *StatusError 503", err)
				}
				if !strings.Contains(err.Error(), "giving up after 3 attempts") {
					t.Errorf("error %q does not say how often it tried", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, tt.script...)
			c, s := newTestClient(t, f, WithRetries(tt.retries))
			resp, err := c.Send(context.Background(), sampleReport())
			if tt.check != nil {
				tt.check(t, err)
			} else if err != nil {
				t.Fatalf("send: %v", err)
			} else if resp.Accepted != 1 {
				t.Errorf("accepted = %d, want 1", resp.Accepted)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantReqs {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantReqs)
			}
			for i, r := range reqs {
				if r.reports[0].EventID != reqs[0].reports[0].EventID || r.reports[0].EventID == "" {
					t.Errorf("request %d has event_id %q, want the first attempt's %q", i, r.reports[0].EventID, reqs[0].reports[0].EventID)
				}
			}
			got := s.all()
			if len(got) != len(tt.wantSleeps) {
				t.Fatalf("waits %v, want %v", got, tt.wantSleeps)
			}
			for i, want := range tt.wantSleeps {
				if want < 0 {
					if got[i] < -want/2 || got[i] > -want {
						t.Errorf("wait %d = %s, want between %s and %s", i, got[i], -want/2, -want)
					}
				} else if got[i] != want {
					t.Errorf("wait %d = %s, want %s", i, got[i], want)
				}
			}
		})
	}
}

// flakyTransport fails the first n round trips with a network error.
type flakyTransport struct {
	mu    sync.Mutex
	n     int
	calls int
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.n
	f.mu.Unlock()
	if fail {
		return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	f := newFakeServer(t)
	tr := &flakyTransport{n: 2}
	c, s := newTestClient(t, f, WithHTTPClient(&http.Client{Transport: tr}))
	if _, err := c.Send(context.Background(), sampleReport()); err != nil {
		t.Fatalf("send: %v", err)
	}
	if tr.calls != 3 || len(f.requests()) != 1 || len(s.all()) != 2 {
		t.Errorf("round trips %d, requests served %d, waits %v; want 3, 1, two waits", tr.calls, len(f.requests()), s.all())
	}
}

func TestSendGivesUpOnNetworkErrorsWithWrappedError(t *testing.T) {
	f := newFakeServer(t)
	c, _ := newTestClient(t, f, WithRetries(1), WithHTTPClient(&http.Client{Transport: &flakyTransport{n: 100}}))
	_, err := c.Send(context.Background(), sampleReport())
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "giving up after 2 attempts") {
		t.Fatalf("error %v, want it to say it gave up and why", err)
	}
}

func TestSendStopsAtTheDeadline(t *testing.T) {
	f := newFakeServer(t, answer{503, "60", `{"error":"full"}`})
	c, s := newTestClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Send(ctx, sampleReport())
	var se *StatusError
	if !errors.As(err, &se) || se.RetryAfter != time.Minute {
		t.Fatalf("error %v, want the 503 with its Retry-After", err)
	}
	if !strings.Contains(err.Error(), "would pass the deadline") || len(s.all()) != 0 {
		t.Errorf("error %q, waits %v: want no wait past the deadline", err, s.all())
	}
}

func TestSendStopsWhenTheContextEnds(t *testing.T) {
	f := newFakeServer(t, answer{503, "1", `{"error":"full"}`})
	c, err := New(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	_, err = c.Send(ctx, sampleReport())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled in the chain", err)
	}
}

func TestSendFillsIDsAndRedacts(t *testing.T) {
	f := newFakeServer(t)
	c, _ := newTestClient(t, f, WithToken("s3cr3t-token"), WithUserAgent("test-agent"))
	r := sampleReport()
	r.Message = "login failed: password=hunter2 for user shop"
	r.Attributes = map[string]string{"api_key": "abc123", "host": "worker-1"}
	in := []Report{r}
	resp, err := c.Send(context.Background(), in...)
	if err != nil {
		t.Fatal(err)
	}
	if in[0].EventID != "" || in[0].Message != r.Message {
		t.Error("Send changed the caller's report")
	}
	got := f.requests()[0]
	sent := got.reports[0]
	for name, id := range map[string]string{"event_id": sent.EventID, "run_id": sent.RunID} {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Errorf("%s %q is not a UUIDv7", name, id)
		}
	}
	if resp.Items[0].EventID != sent.EventID || resp.Items[0].RunID != sent.RunID {
		t.Errorf("items %+v do not give the ids sent", resp.Items)
	}
	if strings.Contains(sent.Message, "hunter2") || sent.Attributes["api_key"] == "abc123" || sent.Attributes["host"] != "worker-1" {
		t.Errorf("sent message %q attributes %v, want secrets redacted", sent.Message, sent.Attributes)
	}
	if h := got.header.Get("Authorization"); h != "Bearer s3cr3t-token" {
		t.Errorf("Authorization = %q", h)
	}
	if h := got.header.Get("User-Agent"); h != "test-agent" {
		t.Errorf("User-Agent = %q", h)
	}
}

// TestSendRedactsEveryForm checks that the client redacts, before sending,
// the forms of secrets that synclog knows, the Chinese key words included,
// in messages and attribute keys alike.
func TestSendRedactsEveryForm(t *testing.T) {
	tests := []struct {
		name    string
		message string
		attrs   map[string]string
		secret  string
	}{
		{"chinese password", "登录失败 密码：hunter2", nil, "hunter2"},
		{"chinese key", "密钥=AbC123xyz", nil, "AbC123xyz"},
		{"chinese passphrase", "口令 : s3cret，请检查", nil, "s3cret"},
		{"chinese attribute key", "ok", map[string]string{"数据库密码": "hunter2"}, "hunter2"},
		{"chinese in attribute value", "ok", map[string]string{"note": "验证码：654321"}, "654321"},
		{"github token", "clone failed: ghp_4eC39HqLyjWDarjtT1zdp7dc0123456789AB", nil, "4eC39HqLyjWDarjtT1zdp7dc0123456789AB"},
		{"oracle jdbc", "jdbc:oracle:thin:scott/tiger@db:1521:ORCL", nil, "tiger"},
		{"password is", "the password is hunter2", nil, "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			c, _ := newTestClient(t, f)
			r := sampleReport()
			r.Message, r.Attributes = tt.message, tt.attrs
			if _, err := c.Send(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			sent := f.requests()[0].reports[0]
			if strings.Contains(sent.Message, tt.secret) {
				t.Errorf("sent message %q, want %q redacted", sent.Message, tt.secret)
			}
			for k, v := range sent.Attributes {
				if strings.Contains(v, tt.secret) {
					t.Errorf("sent attribute %s=%q, want %q redacted", k, v, tt.secret)
				}
			}
		})
	}
}

func TestSendKeepsTheTokenOutOfErrors(t *testing.T) {
	f := newFakeServer(t, answer{401, "", `{"error":"a valid bearer token is required"}`})
	c, _ := newTestClient(t, f, WithToken("s3cr3t-token"))
	_, err := c.Send(context.Background(), sampleReport())
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v: want an error without the token", err)
	}
}

func TestSendPartlyRejectedBatch(t *testing.T) {
	f := newFakeServer(t, answer{202, "", `{"accepted":1,"duplicates":1,"rejected":[{"index":2,"field":"sync_type","error":"unknown value \"x\""}],
"items":[{"index":0,"run_id":"a","event_id":"e0"},{"index":1,"run_id":"b","event_id":"e1","duplicate":true}]}`})
	c, _ := newTestClient(t, f)
	resp, err := c.Send(context.Background(), sampleReport(), sampleReport(), sampleReport())
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.StatusCode != 202 || rej.Field != "sync_type" || len(rej.Rejections) != 1 || rej.Rejections[0].Index != 2 {
		t.Fatalf("error %v (%+v), want the rejection of index 2", err, rej)
	}
	if resp == nil || resp.Accepted != 1 || resp.Duplicates != 1 || len(resp.Items) != 2 || !resp.Items[1].Duplicate {
		t.Errorf("response %+v, want the accepted and duplicate items", resp)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (a partial rejection is not retried)", n)
	}
}

func TestSendSplitsLargeBatches(t *testing.T) {
	f := newFakeServer(t)
	c, _ := newTestClient(t, f)
	reports := make([]Report, 2*MaxBatch+5)
	for i := range reports {
		reports[i] = sampleReport()
		reports[i].EventID = fmt.Sprintf("ev-%d", i)
	}
	resp, err := c.Send(context.Background(), reports...)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 3 || len(reqs[0].reports) != MaxBatch || len(reqs[2].reports) != 5 {
		t.Fatalf("%d requests, want 3 of at most %d", len(reqs), MaxBatch)
	}
	if resp.Accepted != len(reports) || len(resp.Items) != len(reports) {
		t.Fatalf("accepted %d, items %d, want %d", resp.Accepted, len(resp.Items), len(reports))
	}
	for i, it := range resp.Items {
		if it.Index != i || it.EventID != fmt.Sprintf("ev-%d", i) {
			t.Fatalf("item %d = %+v, want index %d with its own event id", i, it, i)
		}
	}
}

func TestRunLifecycle(t *testing.T) {
	tests := []struct {
		name       string
		res        Result
		wantStatus Status
		wantTotal  uint64
	}{
		{"explicit success", Result{Status: StatusSuccess, Total: 10, Success: 10}, StatusSuccess, 10},
		{"derived partial", Result{Total: 10, Success: 7, Failed: 3, Message: "3 rows failed"}, StatusPartial, 10},
		{"derived failed", Result{Failed: 4}, StatusFailed, 4},
		{"derived success", Result{}, StatusSuccess, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			c, _ := newTestClient(t, f)
			ctx := context.Background()
			h, err := c.StartRun(ctx, Run{SyncType: "prices", Source: "haier", Attributes: map[string]string{"host": "w1"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Finish(ctx, tt.res); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			start, end := reqs[0].reports[0], reqs[1].reports[0]
			if start.Status != StatusProcessing || end.Status != tt.wantStatus {
				t.Errorf("statuses %s, %s; want processing, %s", start.Status, end.Status, tt.wantStatus)
			}
			if start.RunID != h.RunID() || end.RunID != h.RunID() || start.EventID == end.EventID {
				t.Errorf("run ids %s/%s (handle %s), event ids %s/%s", start.RunID, end.RunID, h.RunID(), start.EventID, end.EventID)
			}
			if !start.StartedAt.Equal(end.StartedAt) || !start.StartedAt.Equal(h.StartedAt()) || start.StartedAt.Nanosecond()%int(time.Millisecond) != 0 {
				t.Errorf("started_at %s / %s, want the same millisecond in both", start.StartedAt, end.StartedAt)
			}
			if !start.CompletedAt.IsZero() || end.CompletedAt.Before(end.StartedAt) {
				t.Errorf("completed_at %s / %s", start.CompletedAt, end.CompletedAt)
			}
			if end.TotalCount != tt.wantTotal || end.Attributes["host"] != "w1" || end.Message != tt.res.Message {
				t.Errorf("end report %+v", end)
			}
		})
	}
}

func TestFinishAgainKeepsTheEventID(t *testing.T) {
	f := newFakeServer(t, answer{503, "0", `{"error":"full"}`})
	c, _ := newTestClient(t, f, WithRetries(0))
	h := c.NewRun(Run{SyncType: "stock"})
	ctx := context.Background()
	if err := h.Finish(ctx, Result{Status: StatusSuccess}); err == nil {
		t.Fatal("first Finish succeeded against a 503 without retries")
	}
	if err := h.Finish(ctx, Result{Status: StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].reports[0].EventID != reqs[1].reports[0].EventID {
		t.Fatalf("Finish sent %d requests with event ids that differ", len(reqs))
	}
}

func TestFinishRejectsAnInProgressStatus(t *testing.T) {
	c, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NewRun(Run{SyncType: "stock"}).Finish(context.Background(), Result{Status: StatusProcessing}); err == nil {
		t.Fatal("Finish accepted status processing")
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		url     string
		want    string
		wantErr bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"https://sync.example.com/watch/", "https://sync.example.com/watch", false},
		{"  http://h:1/?x=1#f ", "http://h:1", false},
		{"127.0.0.1:8080", "", true},
		{"ftp://h", "", true},
		{"http://", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := New(tt.url)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%q) error %v, want error %v", tt.url, err, tt.wantErr)
			}
			if err == nil && c.BaseURL() != tt.want {
				t.Errorf("BaseURL = %q, want %q", c.BaseURL(), tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"0", 0},
		{"7", 7 * time.Second},
		{"-3", -1},
		{"soon", -1},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	c, err := New("http://h:1", WithBackoff(100*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			if d := c.backoff(attempt); d < ceiling/2 || d > ceiling {
				t.Fatalf("backoff(%d) = %s, want between %s and %s", attempt, d, ceiling/2, ceiling)
			}
		}
	}
}

func TestReady(t *testing.T) {
	var notReady atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if notReady.Load() {
			w.WriteHeader(503)
			io.WriteString(w, `{"error":"clickhouse unreachable"}`)
			return
		}
		io.WriteString(w, `{"status":"ready"}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(context.Background()); err != nil {
		t.Errorf("ready: %v", err)
	}
	notReady.Store(true)
	err = c.Ready(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || !strings.Contains(err.Error(), "clickhouse unreachable") {
		t.Errorf("not ready: %v", err)
	}
}
