package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/client"
)

// sendServer is a fake syncwatch for `syncwatch send`: it records the
// reports and their Authorization headers, and answers as told.
type sendServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []client.Report
	auth   []string
	answer func(r client.Report) (int, string)
}

func newSendServer(t *testing.T, answer func(r client.Report) (int, string)) *sendServer {
	t.Helper()
	s := &sendServer{answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var r client.Report
		if err := json.NewDecoder(req.Body).Decode(&r); err != nil {
			t.Errorf("fake server: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, r)
		s.auth = append(s.auth, req.Header.Get("Authorization"))
		s.mu.Unlock()
		code, body := http.StatusAccepted, ""
		if s.answer != nil {
			code, body = s.answer(r)
		}
		if body == "" {
			resp, _ := json.Marshal(client.Response{Accepted: 1, Items: []client.Item{{RunID: r.RunID, EventID: r.EventID}}})
			body = string(resp)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sendServer) reports() []client.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]client.Report(nil), s.got...)
}

func TestSend(t *testing.T) {
	duplicate := func(r client.Report) (int, string) {
		b, _ := json.Marshal(client.Response{Duplicates: 1, Items: []client.Item{{RunID: r.RunID, EventID: r.EventID, Duplicate: true}}})
		return http.StatusAccepted, string(b)
	}
	rejected := func(client.Report) (int, string) {
		return http.StatusBadRequest, `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"sync_type","error":"unknown value \"widgets\"; allowed are products, prices"}],"items":[]}`
	}
	unauthorized := func(client.Report) (int, string) {
		return http.StatusUnauthorized, `{"error":"a valid bearer token is required (Authorization: Bearer <token>)"}`
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		stdin      string
		answer     func(client.Report) (int, string)
		wantCode   int
		wantStdout string
		wantStderr string
		check      func(t *testing.T, r client.Report, auth string)
	}{
		{
			name:     "final report with everything",
			args:     []string{"--type", "products", "--source", "haier", "--status", "partial", "--total", "120", "--success", "100", "--failed", "20", "--message", "20 rows failed", "--run-id", "run-1", "--event-id", "ev-1", "--started-at", "2026-01-02T03:04:05Z", "--completed-at", "2026-01-02T03:09:05.5Z", "--attr", "host=w1", "--attr", "trigger=cron"},
			wantCode: 0, wantStdout: "run-1\n",
			check: func(t *testing.T, r client.Report, auth string) {
				want := client.Report{RunID: "run-1", EventID: "ev-1", Source: "haier", SyncType: "products", Status: "partial",
					Message: "20 rows failed", TotalCount: 120, SuccessCount: 100, FailedCount: 20,
					StartedAt:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
					CompletedAt: time.Date(2026, 1, 2, 3, 9, 5, 500e6, time.UTC),
					Attributes:  map[string]string{"host": "w1", "trigger": "cron"}}
				if !equalReports(r, want) {
					t.Errorf("sent %+v\nwant %+v", r, want)
				}
				if auth != "" {
					t.Errorf("Authorization %q without a token", auth)
				}
			},
		},
		{
			name:     "start report prints a new run id",
			args:     []string{"--type", "stock", "--status", "processing"},
			env:      map[string]string{"SYNCWATCH_TOKEN": "ingest-token-0123456789"},
			wantCode: 0,
			check: func(t *testing.T, r client.Report, auth string) {
				if r.Status != "processing" || r.RunID == "" || r.EventID == "" || !r.CompletedAt.IsZero() {
					t.Errorf("sent %+v", r)
				}
				if auth != "Bearer ingest-token-0123456789" {
					t.Errorf("Authorization %q, want the token from SYNCWATCH_TOKEN", auth)
				}
			},
		},
		{
			name:     "total defaults to success plus failed",
			args:     []string{"--type", "stock", "--status", "success", "--success", "7", "--failed", "0"},
			wantCode: 0,
			check: func(t *testing.T, r client.Report, _ string) {
				if r.TotalCount != 7 {
					t.Errorf("total %d, want 7", r.TotalCount)
				}
			},
		},
		{
			name:     "message from stdin, redacted",
			args:     []string{"--type", "order", "--status", "failed", "--message", "-"},
			stdin:    "lots of output\nlogin failed: password=hunter2\n",
			wantCode: 0,
			check: func(t *testing.T, r client.Report, _ string) {
				if !strings.Contains(r.Message, "login failed: password=[REDACTED]") || strings.Contains(r.Message, "hunter2") {
					t.Errorf("message %q", r.Message)
				}
			},
		},
		{
			name:     "chinese secrets redacted",
			args:     []string{"--type", "order", "--status", "failed", "--message", "-", "--attr", "数据库密码=hunter2"},
			stdin:    "同步失败 密钥＝AbC123xyz，请检查\n",
			wantCode: 0,
			check: func(t *testing.T, r client.Report, _ string) {
				if !strings.Contains(r.Message, "同步失败 密钥＝[REDACTED]，请检查") || r.Attributes["数据库密码"] != "[REDACTED]" {
					t.Errorf("message %q attributes %v", r.Message, r.Attributes)
				}
			},
		},
		{
			name:     "duplicate is fine",
			args:     []string{"--type", "order", "--status", "success", "--run-id", "r9", "--event-id", "e9"},
			answer:   duplicate,
			wantCode: 0, wantStdout: "r9\n", wantStderr: "already stored",
		},
		{
			name:     "rejected",
			args:     []string{"--type", "widgets", "--status", "success"},
			answer:   rejected,
			wantCode: 1, wantStderr: `sync_type: unknown value "widgets"`,
		},
		{
			name:     "unauthorized",
			args:     []string{"--type", "order", "--status", "success", "--token", "wrong-token-0123456789"},
			answer:   unauthorized,
			wantCode: 1, wantStderr: "a valid bearer token is required",
		},
		{name: "no type", args: []string{"--status", "success"}, wantCode: 2, wantStderr: "--type is required"},
		{name: "no status", args: []string{"--type", "order"}, wantCode: 2, wantStderr: "--status is required"},
		{name: "bad status", args: []string{"--type", "order", "--status", "done"}, wantCode: 2, wantStderr: `unknown status "done"`},
		{name: "bad count", args: []string{"--type", "order", "--status", "success", "--total", "-1"}, wantCode: 2, wantStderr: "non-negative integer"},
		{name: "bad time", args: []string{"--type", "order", "--status", "success", "--started-at", "yesterday"}, wantCode: 2, wantStderr: "RFC 3339"},
		{name: "bad attribute", args: []string{"--type", "order", "--status", "success", "--attr", "novalue"}, wantCode: 2, wantStderr: "key=value"},
		{name: "stray argument", args: []string{"--type", "order", "--status", "success", "extra"}, wantCode: 2, wantStderr: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSendServer(t, tt.answer)
			env := map[string]string{"SYNCWATCH_SERVER": srv.srv.URL}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			code := runIO(append([]string{"send"}, tt.args...), func(k string) string { return env[k] }, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout %s\nstderr %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantStderr)
			}
			if strings.Contains(stderr.String(), "token-0123456789") {
				t.Errorf("stderr shows the token: %q", stderr.String())
			}
			got := srv.reports()
			if tt.wantCode == 2 {
				if len(got) != 0 {
					t.Errorf("a usage error sent %d reports", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d reports sent, want 1", len(got))
			}
			if tt.wantCode == 0 && stdout.String() != got[0].RunID+"\n" {
				t.Errorf("stdout %q, want the run id %q", stdout.String(), got[0].RunID)
			}
			if tt.check != nil {
				tt.check(t, got[0], srv.auth[0])
			}
		})
	}
}

func equalReports(a, b client.Report) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestSendWithTheServerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"send", "--server", url, "--type", "order", "--status", "success", "--report-timeout", "1s"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "connection refused") || stdout.Len() != 0 {
		t.Errorf("exit code %d, stdout %q, stderr %q; want 1 and the network error", code, stdout.String(), stderr.String())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("send took %s with --report-timeout 1s", d)
	}
}
