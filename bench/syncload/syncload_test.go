package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The minimal client reads every response shape a Go server sends:
// Content-Length, chunked (bodies over its buffer), no body, and a server
// that closes the connection.
func TestConnResponses(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(r.Body)
		switch r.URL.Path {
		case "/small":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"accepted":1}`))
		case "/big":
			w.WriteHeader(http.StatusAccepted)
			for i := 0; i < len(big); i += 10_000 {
				_, _ = w.Write([]byte(big[i : i+10_000]))
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		case "/echo":
			_, _ = w.Write(body.Bytes())
		}
	}))
	defer srv.Close()
	c := newConn(strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	defer c.close()
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/small", 202, `{"accepted":1}`},
		{"/big", 202, big},
		{"/empty", 204, ""},
		{"/small", 202, `{"accepted":1}`},
		{"/close", 200, "bye"},
		{"/echo", 200, "ping"},
		{"/small", 202, `{"accepted":1}`},
	} {
		status, body, err := c.do("POST", tc.path, "application/json", []byte("ping"))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if status != tc.status || string(body) != tc.body {
			t.Fatalf("%s: got %d %.40q, want %d %.40q", tc.path, status, body, tc.status, tc.body)
		}
	}
}

func TestAcceptedCount(t *testing.T) {
	for body, want := range map[string]int64{
		`{"accepted":1000,"duplicates":0}`: 1000,
		`{"accepted":0}`:                   0,
		`{"error":"spool is full"}`:        -1,
		``:                                 -1,
	} {
		if got := acceptedCount([]byte(body)); got != want {
			t.Errorf("acceptedCount(%q) = %d, want %d", body, got, want)
		}
	}
}

// The generated reports are JSON objects with unique event ids, in runs
// of a processing report and a terminal one sharing run_id and started_at.
func TestReports(t *testing.T) {
	g := newReportGen("t", 3)
	lines := bytes.Split(bytes.TrimSuffix(g.ndjson(1000), []byte("\n")), []byte("\n"))
	if len(lines) != 1000 {
		t.Fatalf("%d lines", len(lines))
	}
	ids := strings.Split(strings.TrimSuffix(string(g.ids), "\n"), "\n")
	seen := map[string]bool{}
	type report struct {
		RunID       string            `json:"run_id"`
		EventID     string            `json:"event_id"`
		Status      string            `json:"status"`
		SyncType    string            `json:"sync_type"`
		Source      string            `json:"source"`
		StartedAt   string            `json:"started_at"`
		CompletedAt *string           `json:"completed_at"`
		Total       uint64            `json:"total_count"`
		Success     uint64            `json:"success_count"`
		Failed      uint64            `json:"failed_count"`
		Attributes  map[string]string `json:"attributes"`
		Message     string            `json:"message"`
	}
	var prev report
	for i, line := range lines {
		var r report
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		if r.EventID != ids[i] || seen[r.EventID] {
			t.Fatalf("line %d: event id %q (ids file %q, seen %v)", i, r.EventID, ids[i], seen[r.EventID])
		}
		seen[r.EventID] = true
		if r.Success+r.Failed > r.Total {
			t.Fatalf("line %d: counts %+v", i, r)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.StartedAt); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if i%2 == 0 {
			if r.Status != "processing" || r.CompletedAt != nil {
				t.Fatalf("line %d: want a processing report, got %s", i, line)
			}
		} else {
			if r.Status == "processing" || r.CompletedAt == nil || r.RunID != prev.RunID || r.StartedAt != prev.StartedAt {
				t.Fatalf("line %d: want the terminal report of %s, got %s", i, prev.RunID, line)
			}
		}
		prev = r
	}
	one := g.single()
	if !json.Valid(one) || bytes.Contains(one, []byte("\n")) {
		t.Fatalf("single report %s", one)
	}
}

func TestPercentiles(t *testing.T) {
	ns := make([]int64, 1000)
	for i := range ns {
		ns[len(ns)-1-i] = int64(i+1) * 1e6
	}
	p := percentiles(ns)
	if p.N != 1000 || p.P50 != 500 || p.P99 != 990 || p.P999 != 999 || p.Max != 1000 {
		t.Fatalf("%+v", p)
	}
}
