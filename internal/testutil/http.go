package testutil

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// NewLogger returns a JSON logger at debug level writing into a buffer
// the test reads.
func NewLogger() (*logrus.Logger, *Buffer) {
	buf := &Buffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.DebugLevel)
	return l, buf
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Report returns a valid report as JSON with the given event id, run
// "run-"+id and recent timestamps. extra holds field names and JSON values
// that replace the defaults; the value "<delete>" removes the field.
func Report(eventID string, extra ...string) string {
	// Recent timestamps, so that the runs table's retention keeps the run.
	started := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	m := map[string]any{
		"event_id": eventID, "run_id": "run-" + eventID, "source": "haier", "sync_type": "products",
		"status": "success", "total_count": 10, "success_count": 9, "failed_count": 1,
		"started_at": started.Format(time.RFC3339), "completed_at": started.Add(time.Minute).Format(time.RFC3339),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "<delete>" {
			delete(m, extra[i])
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(extra[i+1]), &v); err != nil {
			v = extra[i+1]
		}
		m[extra[i]] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Decode decodes a response body into a T and fails on garbage.
func Decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %q: %v", w.Code, w.Body.String(), err)
	}
	return v
}

// Gzipped returns s compressed with gzip.
func Gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ExactJSON fails unless the body is, as JSON, the same as want.
func ExactJSON(t testing.TB, w *httptest.ResponseRecorder, wantCode int, want string) {
	t.Helper()
	if w.Code != wantCode {
		t.Fatalf("status %d, want %d; body %s", w.Code, wantCode, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var got, exp any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not JSON: %q", w.Body.String())
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	g, _ := json.Marshal(got)
	x, _ := json.Marshal(exp)
	if !bytes.Equal(g, x) {
		t.Fatalf("body\n got  %s\n want %s", g, x)
	}
}

// ErrorBody is the JSON of an error answer saying msg.
func ErrorBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

// Lines returns the JSON log lines written so far, decoded.
func (b *Buffer) Lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
