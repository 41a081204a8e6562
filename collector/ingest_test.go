package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// TestIngestRequestErrors covers every answer that refuses a whole request.
func TestIngestRequestErrors(t *testing.T) {
	const limit = 64 << 10
	valid := testutil.Report("e1")
	padded := valid + strings.Repeat(" ", limit-len(valid))
	bomb := testutil.Gzipped(t, "["+strings.Repeat(" ", 10<<20)+"]")
	if len(bomb) > limit {
		t.Fatalf("the gzip bomb is %d bytes compressed, more than the limit", len(bomb))
	}
	// Incompressible data a little under the limit grows a little over it
	// when gzipped: the raw body is over the limit, the decompressed one
	// is not.
	noise := make([]byte, limit-16)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(noise)
	grown := testutil.Gzipped(t, string(noise))
	if len(grown) <= limit {
		t.Fatalf("gzipped noise is %d bytes, want more than %d", len(grown), limit)
	}
	tooLargeMsg := testutil.ErrorBody("body is larger than 65536 bytes: split it into smaller requests")
	tooMany := testutil.ErrorBody("more than 3 reports in one request: split it into smaller requests")
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		// chunked sends the body without a declared length.
		chunked  bool
		wantCode int
		wantBody string
		// wantSpooled are the event ids that must reach the spool.
		wantSpooled []string
	}{
		{name: "unknown content type", contentType: "text/plain", body: []byte(valid), wantCode: 415,
			wantBody: testutil.ErrorBody(`content type "text/plain" is not supported: use application/json (one report or an array) or application/x-ndjson`)},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: []byte("a=b"), wantCode: 415,
			wantBody: testutil.ErrorBody(`content type "application/x-www-form-urlencoded" is not supported: use application/json (one report or an array) or application/x-ndjson`)},
		{name: "unparsable content type", contentType: "/json", body: []byte(valid), wantCode: 415,
			wantBody: testutil.ErrorBody(`content type "/json" cannot be parsed: use application/json or application/x-ndjson`)},
		{name: "unknown encoding", contentType: "application/json", encoding: "br", body: []byte(valid), wantCode: 415,
			wantBody: testutil.ErrorBody(`content encoding "br" is not supported: use gzip or none`)},
		{name: "deflate encoding", contentType: "application/json", encoding: "deflate", body: []byte(valid), wantCode: 415,
			wantBody: testutil.ErrorBody(`content encoding "deflate" is not supported: use gzip or none`)},
		{name: "not gzip", contentType: "application/json", encoding: "gzip", body: []byte(valid), wantCode: 400,
			wantBody: testutil.ErrorBody("body is not valid gzip: gzip: invalid header")},
		{name: "empty body", contentType: "application/json", body: nil, wantCode: 400,
			wantBody: testutil.ErrorBody("body is empty: send one report, an array of reports, or NDJSON")},
		{name: "blank body", contentType: "application/json", body: []byte(" \n\t "), wantCode: 400,
			wantBody: testutil.ErrorBody("body is empty: send one report, an array of reports, or NDJSON")},
		{name: "empty array", contentType: "application/json", body: []byte("[]"), wantCode: 400,
			wantBody: testutil.ErrorBody("body holds no report")},
		{name: "blank ndjson", contentType: "application/x-ndjson", body: []byte("\n\n  \n"), wantCode: 400,
			wantBody: testutil.ErrorBody("body holds no report")},
		{name: "broken array", contentType: "application/json", body: []byte("[" + valid + ","), wantCode: 400,
			wantBody: testutil.ErrorBody("body is not a valid JSON array: unexpected end of JSON input")},
		{name: "declared length over limit", contentType: "application/json", body: []byte(padded + " "), wantCode: 413, wantBody: tooLargeMsg},
		{name: "chunked over limit", contentType: "application/json", body: []byte(padded + " "), chunked: true, wantCode: 413, wantBody: tooLargeMsg},
		{name: "ndjson chunked over limit", contentType: "application/x-ndjson", body: []byte(strings.Repeat(valid+"\n", limit/len(valid)+1)), chunked: true, wantCode: 413, wantBody: tooLargeMsg},
		{name: "gzip bomb", contentType: "application/json", encoding: "gzip", body: bomb, wantCode: 413, wantBody: tooLargeMsg},
		{name: "gzip bomb chunked", contentType: "application/json", encoding: "gzip", body: bomb, chunked: true, wantCode: 413, wantBody: tooLargeMsg},
		{name: "gzip body over the limit", contentType: "application/json", encoding: "gzip", body: grown, wantCode: 413, wantBody: tooLargeMsg},
		{name: "gzip body over the limit chunked", contentType: "application/json", encoding: "gzip", body: grown, chunked: true, wantCode: 413, wantBody: tooLargeMsg},
		{name: "gzip with trailing garbage", contentType: "application/json", encoding: "gzip", body: append(testutil.Gzipped(t, valid), "garbage after the stream"...), wantCode: 400,
			wantBody: testutil.ErrorBody("cannot read body: gzip: invalid header")},
		{name: "too many items in an array", contentType: "application/json",
			body: []byte("[" + testutil.Report("a") + "," + testutil.Report("b") + "," + testutil.Report("c") + "," + testutil.Report("d") + "]"), wantCode: 413, wantBody: tooMany},
		{name: "too many items in ndjson", contentType: "application/x-ndjson",
			body: []byte(testutil.Report("a") + "\n" + testutil.Report("b") + "\n" + testutil.Report("c") + "\n" + testutil.Report("d") + "\n"), wantCode: 413, wantBody: tooMany},
		// The limits themselves are allowed.
		{name: "body exactly at the limit", contentType: "application/json", body: []byte(padded), chunked: true, wantCode: 202,
			wantBody: `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`, wantSpooled: []string{"e1"}},
		{name: "items exactly at the limit", contentType: "application/json",
			body: []byte("[" + testutil.Report("a") + "," + testutil.Report("b") + "," + testutil.Report("c") + "]"), wantCode: 202,
			wantBody:    `{"accepted":3,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-a","event_id":"a"},{"index":1,"run_id":"run-b","event_id":"b"},{"index":2,"run_id":"run-c","event_id":"c"}]}`,
			wantSpooled: []string{"a", "b", "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := apptest.New(t, apptest.Options{Ingest: collector.Config{MaxBodyBytes: limit, MaxItems: 3}})
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length
			}
			req := httptest.NewRequest(http.MethodPost, "/api/v1/runs", body)
			if tc.chunked {
				req.ContentLength = -1
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			w := httptest.NewRecorder()
			e.Handler().ServeHTTP(w, req)
			testutil.ExactJSON(t, w, tc.wantCode, tc.wantBody)
			if got := e.Spooled(t); !slices.Equal(got, tc.wantSpooled) {
				t.Fatalf("spool holds %v, want %v", got, tc.wantSpooled)
			}
		})
	}
}

// TestIngestOverTheWire sends oversized bodies through a real HTTP server,
// declared and chunked, so that the limit holds on the connection too.
func TestIngestOverTheWire(t *testing.T) {
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{MaxBodyBytes: 4096}})
	ts := httptest.NewServer(e.Handler())
	defer ts.Close()
	big := strings.Repeat(" ", 1<<20) + testutil.Report("e1")
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var body io.Reader = strings.NewReader(big)
			if chunked {
				body = io.MultiReader(body)
			}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/runs", body)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 413 || strings.TrimSpace(string(got)) != testutil.ErrorBody("body is larger than 4096 bytes: split it into smaller requests") {
				t.Fatalf("%d %s", resp.StatusCode, got)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/runs", strings.NewReader(testutil.Report("ok")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("a small body after large ones got %d", resp.StatusCode)
	}
}

// TestIngestFormats sends the same reports in every accepted shape.
func TestIngestFormats(t *testing.T) {
	one, two := testutil.Report("e1"), testutil.Report("e2")
	both := `{"accepted":2,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"},{"index":1,"run_id":"run-e2","event_id":"e2"}]}`
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		wantBody    string
		wantSpooled []string
	}{
		{name: "one report", contentType: "application/json", body: []byte(one),
			wantBody: `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`, wantSpooled: []string{"e1"}},
		{name: "no content type means JSON", body: []byte(one),
			wantBody: `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`, wantSpooled: []string{"e1"}},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: []byte("[" + one + "," + two + "]"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "array", contentType: "application/json", body: []byte(" [\n" + one + ",\n" + two + "\n] "), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "ndjson", contentType: "application/x-ndjson", body: []byte(one + "\n" + two + "\n"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "ndjson crlf, blank lines, no final newline", contentType: "application/x-ndjson", body: []byte("\r\n" + one + "\r\n\r\n" + two), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "application/ndjson", contentType: "application/ndjson", body: []byte(one + "\n" + two), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "jsonl", contentType: "application/jsonl", body: []byte(one + "\n" + two), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "gzip array", contentType: "application/json", encoding: "gzip", body: testutil.Gzipped(t, "["+one+","+two+"]"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "gzip ndjson", contentType: "application/x-ndjson", encoding: "gzip", body: testutil.Gzipped(t, one+"\n"+two+"\n"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "x-gzip", contentType: "application/json", encoding: "x-gzip", body: testutil.Gzipped(t, "["+one+","+two+"]"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
		{name: "identity", contentType: "application/json", encoding: "identity", body: []byte("[" + one + "," + two + "]"), wantBody: both, wantSpooled: []string{"e1", "e2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := apptest.New(t, apptest.Options{})
			h := http.Header{}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				h.Set("Content-Encoding", tc.encoding)
			}
			w := e.Do(http.MethodPost, "/api/v1/runs", bytes.NewReader(tc.body), h)
			testutil.ExactJSON(t, w, 202, tc.wantBody)
			if got := e.Spooled(t); !slices.Equal(got, tc.wantSpooled) {
				t.Fatalf("spool holds %v, want %v", got, tc.wantSpooled)
			}
		})
	}
}

// TestIngestStoresNormalisedReports checks what reaches the spool.
func TestIngestStoresNormalisedReports(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	before := time.Now().UTC()
	w := e.Post(`{"source":" Haier ","sync_type":"PRICES","status":"Failed","message":"login failed password=hunter2",
		"total_count":5,"failed_count":5,"started_at":"2026-01-02T16:04:05+01:00","attributes":{"host":"w1"}}`)
	if w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	resp := testutil.Decode[collector.IngestResponse](t, w)
	if len(resp.Items) != 1 {
		t.Fatalf("items %+v", resp.Items)
	}
	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	it := resp.Items[0]
	if !uuid7.MatchString(it.RunID) || !uuid7.MatchString(it.EventID) || it.RunID == it.EventID {
		t.Fatalf("server-made ids %q %q are not two UUIDv7", it.RunID, it.EventID)
	}
	b, _ := e.Spool.Read(10)
	r := b.Reports[0]
	if r.RunID != it.RunID || r.EventID != it.EventID {
		t.Fatalf("spooled ids %s/%s differ from the answer %s/%s", r.RunID, r.EventID, it.RunID, it.EventID)
	}
	if r.Source != "haier" || r.SyncType != "prices" || r.Status != "failed" {
		t.Fatalf("not normalised: %+v", r)
	}
	if strings.Contains(r.Message, "hunter2") {
		t.Fatalf("secret not redacted before spooling: %q", r.Message)
	}
	if !r.StartedAt.Equal(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)) || r.StartedAt.Location() != time.UTC {
		t.Fatalf("started_at %v", r.StartedAt)
	}
	if r.CompletedAt == nil || r.CompletedAt.Before(before) {
		t.Fatalf("a terminal report without completed_at gets the receive time, got %v", r.CompletedAt)
	}
	if r.ReceivedAt.Before(before) || !r.RunStartedAt.Equal(r.StartedAt) {
		t.Fatalf("received_at %v, run_started_at %v", r.ReceivedAt, r.RunStartedAt)
	}
	// A later report of the run keeps the run's first start.
	w = e.Post(testutil.Report("e2", "run_id", `"`+it.RunID+`"`, "started_at", `"2026-01-02T15:04:05.001Z"`))
	if w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	b, _ = e.Spool.Read(10)
	if got := b.Reports[1].RunStartedAt; !got.Equal(r.StartedAt) {
		t.Fatalf("second report's run_started_at %v, want the run's first start %v", got, r.StartedAt)
	}
}

// TestIngestItemRejections sends one bad item at a time: the answer is 400
// and names the item's index, the field and the rule.
func TestIngestItemRejections(t *testing.T) {
	types := "products, prices, stock, order, logistics, manual"
	statuses := "pending, processing, success, failed, partial"
	tests := []struct {
		name  string
		item  string
		field string
		rule  string
	}{
		{"not an object", `42`, "", "must be a JSON object"},
		{"array item", `["a"]`, "", "must be a JSON object"},
		{"null", `null`, "", "must be a JSON object"},
		{"missing sync_type", testutil.Report("e", "sync_type", "<delete>"), "sync_type", "is required; allowed are " + types},
		{"unknown sync_type", testutil.Report("e", "sync_type", `"invoices"`), "sync_type", `unknown value "invoices"; allowed are ` + types},
		{"missing status", testutil.Report("e", "status", "<delete>"), "status", "is required; allowed are " + statuses},
		{"unknown status", testutil.Report("e", "status", `"done"`), "status", `unknown value "done"; allowed are ` + statuses},
		{"negative count", testutil.Report("e", "total_count", "-1"), "total_count", "must be a non-negative integer"},
		{"fractional count", testutil.Report("e", "failed_count", "1.5"), "failed_count", "must be a non-negative integer"},
		{"count as string", testutil.Report("e", "success_count", `"3"`), "success_count", "must be a non-negative integer"},
		{"success over total", testutil.Report("e", "success_count", "11", "failed_count", "0"), "success_count", "must not exceed total_count (11 > 10)"},
		{"failed over total", testutil.Report("e", "failed_count", "11", "success_count", "0"), "failed_count", "must not exceed total_count (11 > 10)"},
		{"sum over total", testutil.Report("e", "success_count", "6", "failed_count", "5"), "total_count", "must be at least success_count + failed_count (10 < 11)"},
		{"total over the maximum", testutil.Report("e", "total_count", "10000000000000"), "total_count", "must be at most 1000000000000, got 10000000000000"},
		{"success over the maximum", testutil.Report("e", "success_count", "1000000000001"), "success_count", "must be at most 1000000000000, got 1000000000001"},
		{"started_at not RFC 3339", testutil.Report("e", "started_at", `"yesterday"`), "started_at", `must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, got "yesterday"`},
		{"started_at as number", testutil.Report("e", "started_at", "1700000000"), "started_at", "must be an RFC 3339 timestamp string"},
		{"completed_at not RFC 3339", testutil.Report("e", "completed_at", `"2026-01-02 15:05:05"`), "completed_at", `must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, got "2026-01-02 15:05:05"`},
		{"completed before started", testutil.Report("e", "completed_at", `"2026-01-02T15:00:00Z"`), "completed_at", "must not be before started_at"},
		{"completed while pending", testutil.Report("e", "status", `"pending"`), "completed_at", "must be empty while status is pending"},
		{"started in the future", testutil.Report("e", "started_at", `"2100-01-01T00:00:00Z"`, "completed_at", "<delete>", "status", `"processing"`), "started_at", "must not be more than 1h0m0s in the future"},
		{"started before 2000", testutil.Report("e", "started_at", `"1999-12-31T23:59:59Z"`), "started_at", "must not be before 2000-01-01T00:00:00Z"},
		{"event_id with a space", testutil.Report("e", "event_id", `"a b"`), "event_id", "must contain only letters, digits, '-', '_', '.' and ':'"},
		{"event_id as number", testutil.Report("e", "event_id", `7`), "event_id", "must be a string"},
		{"run_id too long", testutil.Report("e", "run_id", `"`+strings.Repeat("r", 129)+`"`), "run_id", "must be at most 128 characters, got 129"},
		{"bad source", testutil.Report("e", "source", `"acme corp"`), "source", "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"},
		{"message too long", testutil.Report("e", "message", `"`+strings.Repeat("x", synclog.MaxMessageBytes+1)+`"`), "message", fmt.Sprintf("must be at most %d bytes, got %d", synclog.MaxMessageBytes, synclog.MaxMessageBytes+1)},
		{"attribute not a string", testutil.Report("e", "attributes", `{"http_status":500}`), "attributes", "must be an object of string values"},
		{"attributes not an object", testutil.Report("e", "attributes", `"x"`), "attributes", "must be an object of string values"},
		{"attribute value too long", testutil.Report("e", "attributes", `{"k":"`+strings.Repeat("v", 1025)+`"}`), "attributes.k", "value must be at most 1024 bytes, got 1025"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := apptest.New(t, apptest.Options{})
			// As a single report, and as the second item of an array with a
			// valid neighbour.
			want := collector.IngestResponse{Rejected: []collector.Rejection{{Index: 0, Field: tc.field, Error: tc.rule}}, Items: []collector.ItemResult{}}
			wb, _ := json.Marshal(want)
			testutil.ExactJSON(t, e.Post(tc.item), 400, string(wb))

			w := e.Post("[" + testutil.Report("ok") + "," + tc.item + "]")
			want = collector.IngestResponse{Accepted: 1, Rejected: []collector.Rejection{{Index: 1, Field: tc.field, Error: tc.rule}},
				Items: []collector.ItemResult{{Index: 0, RunID: "run-ok", EventID: "ok"}}}
			wb, _ = json.Marshal(want)
			testutil.ExactJSON(t, w, 202, string(wb))
			if got := e.Spooled(t); !slices.Equal(got, []string{"ok"}) {
				t.Fatalf("spool holds %v, want the valid neighbour only", got)
			}
		})
	}
}

// TestIngestMalformedItems checks items that are not JSON at all, which
// only NDJSON can carry.
func TestIngestMalformedItems(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	w := e.Do(http.MethodPost, "/api/v1/runs", strings.NewReader(testutil.Report("a")+"\n{\"event_id\":\n"+testutil.Report("b")+"\nnot json\n"),
		http.Header{"Content-Type": {"application/x-ndjson"}})
	testutil.ExactJSON(t, w, 202, `{"accepted":2,"duplicates":0,"rejected":[
		{"index":1,"field":"","error":"invalid JSON at offset 12: unexpected end of JSON input"},
		{"index":3,"field":"","error":"must be a JSON object"}],
		"items":[{"index":0,"run_id":"run-a","event_id":"a"},{"index":2,"run_id":"run-b","event_id":"b"}]}`)
}

// TestIngestMixedBatch checks that a batch is taken item by item: valid
// items are kept whatever their neighbours are, duplicates within the
// batch are answered as such, and every rejection names index and field.
func TestIngestMixedBatch(t *testing.T) {
	e := apptest.New(t, apptest.Options{RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: 10 * time.Millisecond}})
	body := "[" + strings.Join([]string{
		testutil.Report("v0"),
		testutil.Report("bad1", "status", `"nope"`),
		testutil.Report("v2"),
		testutil.Report("v0"), // the same event again
		`17`,
		testutil.Report("v5", "total_count", `"many"`),
		testutil.Report("v6"),
	}, ",") + "]"
	w := e.Post(body)
	testutil.ExactJSON(t, w, 202, `{"accepted":3,"duplicates":1,"rejected":[
		{"index":1,"field":"status","error":"unknown value \"nope\"; allowed are pending, processing, success, failed, partial"},
		{"index":4,"field":"","error":"must be a JSON object"},
		{"index":5,"field":"total_count","error":"must be a non-negative integer"}],
		"items":[{"index":0,"run_id":"run-v0","event_id":"v0"},{"index":2,"run_id":"run-v2","event_id":"v2"},
		{"index":3,"run_id":"run-v0","event_id":"v0","duplicate":true},{"index":6,"run_id":"run-v6","event_id":"v6"}]}`)
	testutil.WaitFor(t, 5*time.Second, "the batch to reach storage", func() bool { return len(e.Fake.Stored()) == 3 })
	time.Sleep(50 * time.Millisecond)
	if got := apptest.EventIDs(e.Fake.Stored()); !slices.Equal(got, []string{"v0", "v2", "v6"}) {
		t.Fatalf("stored %v", got)
	}
}

func TestIngestDuplicates(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	testutil.ExactJSON(t, e.Post(testutil.Report("e1")), 202, `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`)
	// A retry of the same report, and a batch that repeats it.
	testutil.ExactJSON(t, e.Post(testutil.Report("e1")), 202, `{"accepted":0,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1","duplicate":true}]}`)
	testutil.ExactJSON(t, e.Post("["+testutil.Report("e2")+","+testutil.Report("e1")+","+testutil.Report("e2")+"]"), 202,
		`{"accepted":1,"duplicates":2,"rejected":[],"items":[{"index":0,"run_id":"run-e2","event_id":"e2"},
		{"index":1,"run_id":"run-e1","event_id":"e1","duplicate":true},{"index":2,"run_id":"run-e2","event_id":"e2","duplicate":true}]}`)
	// Ids are compared after trimming, as they are stored.
	testutil.ExactJSON(t, e.Post(testutil.Report("e3", "event_id", `"  e1 "`)), 202, `{"accepted":0,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-e3","event_id":"e1","duplicate":true}]}`)
	if got := e.Spooled(t); !slices.Equal(got, []string{"e1", "e2"}) {
		t.Fatalf("spool holds %v", got)
	}

	// After a restart the server learns the stored ids from ClickHouse.
	e2 := apptest.New(t, apptest.Options{})
	e2.Service.Ingest.RememberEvents([]synclog.EventRef{{Source: "haier", EventID: "e1", RunID: "run-e1"}, {Source: "haier", EventID: "old", RunID: "run-old"}})
	testutil.ExactJSON(t, e2.Post("["+testutil.Report("old")+","+testutil.Report("new")+"]"), 202,
		`{"accepted":1,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-old","event_id":"old","duplicate":true},{"index":1,"run_id":"run-new","event_id":"new"}]}`)
}

// Event ids are scoped by source: a token of one source that sends an id
// first does not make another source's report with that id a duplicate.
// Before, the second report was answered as a duplicate and never stored.
func TestIngestEventIDsAreScopedBySource(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	testutil.ExactJSON(t, e.Post(testutil.Report("shared", "source", `"attacker"`, "run_id", `"run-a"`)), 202,
		`{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-a","event_id":"shared"}]}`)
	testutil.ExactJSON(t, e.Post(testutil.Report("shared", "source", `"haier"`, "run_id", `"run-h"`)), 202,
		`{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-h","event_id":"shared"}]}`)
	// A retry within one source is still a duplicate.
	testutil.ExactJSON(t, e.Post(testutil.Report("shared", "source", `"haier"`, "run_id", `"run-h"`)), 202,
		`{"accepted":0,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-h","event_id":"shared","duplicate":true}]}`)
	if got := e.Spooled(t); !slices.Equal(got, []string{"shared", "shared"}) {
		t.Fatalf("spool holds %v, want the report of each source", got)
	}
}

// A token limited to its sources cannot report on another source's run:
// reusing a haier run's id from source midea is refused with 409, and the
// haier run keeps its own end. Before, the report took the run over, with
// its status and message.
func TestIngestRefusesAnotherSourcesRun(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	post := func(secret, body string) *httptest.ResponseRecorder {
		return e.Do("POST", collector.Route, strings.NewReader(body), apptest.Bearer(secret))
	}
	if w := post(apptest.SecretIngestAll, testutil.Report("victim-start", "source", `"haier"`, "run_id", `"shared-run"`, "status", `"processing"`, "completed_at", "<delete>")); w.Code != 202 {
		t.Fatalf("victim's start: %d %s", w.Code, w.Body)
	}
	takeover := testutil.Report("attack", "source", `"midea"`, "run_id", `"shared-run"`, "message", `"attacker was here"`)
	w := post(apptest.SecretIngestHaier, takeover)
	testutil.ExactJSON(t, w, 409, `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"run_id","error":"run \"shared-run\" belongs to another source; use a run id of your own"}],"items":[]}`)
	// The refused report's event id is not held: the same report for a
	// run of its own is accepted.
	if w := post(apptest.SecretIngestHaier, testutil.Report("attack", "source", `"midea"`, "run_id", `"own-run"`)); w.Code != 202 {
		t.Fatalf("the same event for its own run: %d %s", w.Code, w.Body)
	}
	if w := post(apptest.SecretIngestAll, testutil.Report("victim-end", "source", `"haier"`, "run_id", `"shared-run"`)); w.Code != 202 {
		t.Fatalf("victim's end: %d %s", w.Code, w.Body)
	}
	if got := e.Spooled(t); !slices.Equal(got, []string{"victim-start", "attack", "victim-end"}) {
		t.Errorf("spool holds %v", got)
	}
	if !strings.Contains(e.Do("GET", "/metrics", nil, nil).Body.String(), `syncwatch_ingest_rejections_total{reason="run_conflict"} 1`) {
		t.Error("the refusal is not counted as run_conflict")
	}
}

// After a restart the runs in progress come back from ClickHouse with
// their sources, so a takeover is refused then too.
func TestIngestSeedRemembersRunsAndEvents(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	runsIn, events, err := e.Service.Ingest.Seed(context.Background(), history{
		runs:   []synclog.RunAnchor{{RunID: "long-run", Source: "haier", StartedAt: start}},
		events: []synclog.EventRef{{Source: "haier", EventID: "old-event", RunID: "old-run"}},
	})
	if err != nil || runsIn != 1 || events != 1 {
		t.Fatalf("seed: %d runs, %d events, %v", runsIn, events, err)
	}
	if w := e.Post(testutil.Report("takeover", "source", `"midea"`, "run_id", `"long-run"`)); w.Code != 409 {
		t.Errorf("takeover of a run in progress after a restart: %d %s", w.Code, w.Body)
	}
	if w := e.Post(testutil.Report("old-event", "run_id", "<delete>")); !strings.Contains(w.Body.String(), `"run_id":"old-run","event_id":"old-event","duplicate":true`) {
		t.Errorf("retry of a stored report: %s", w.Body)
	}
	// The run's end joins it: same start as its first report gave.
	if w := e.Post(testutil.Report("end", "run_id", `"long-run"`, "started_at", "<delete>")); w.Code != 202 {
		t.Fatalf("end of the run: %d %s", w.Code, w.Body)
	}
	b, err := e.Spool.Read(100)
	if err != nil || len(b.Reports) != 1 || !b.Reports[0].RunStartedAt.Equal(start) {
		t.Fatalf("spooled %+v (%v); want the end anchored at %v", b.Reports, err, start)
	}
}

// history is a collector.History of fixed answers.
type history struct {
	runs   []synclog.RunAnchor
	events []synclog.EventRef
}

func (h history) RunsInProgress(context.Context) ([]synclog.RunAnchor, error) { return h.runs, nil }
func (h history) RecentEvents(context.Context, time.Time, int) ([]synclog.EventRef, error) {
	return h.events, nil
}

// A retry of a report that named no run is answered with the run id the
// server gave the original, which is the one stored; before, it got a new
// run id that belonged to nothing.
func TestIngestDuplicateWithoutRunIDGetsTheStoredRunID(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	first := testutil.Decode[collector.IngestResponse](t, e.Post(testutil.Report("no-run", "run_id", "<delete>")))
	retry := testutil.Decode[collector.IngestResponse](t, e.Post(testutil.Report("no-run", "run_id", "<delete>")))
	if len(first.Items) != 1 || len(retry.Items) != 1 || !retry.Items[0].Duplicate {
		t.Fatalf("first %+v, retry %+v", first, retry)
	}
	if got, want := retry.Items[0].RunID, first.Items[0].RunID; got != want || want == "" {
		t.Errorf("retry answered with run %q, the original was stored with %q", got, want)
	}
	// After a restart, the run id comes from ClickHouse or the spool.
	e2 := apptest.New(t, apptest.Options{})
	e2.Service.Ingest.RememberEvents([]synclog.EventRef{{Source: "haier", EventID: "no-run", RunID: first.Items[0].RunID}})
	if r := testutil.Decode[collector.IngestResponse](t, e2.Post(testutil.Report("no-run", "run_id", "<delete>"))); r.Items[0].RunID != first.Items[0].RunID {
		t.Errorf("after a restart the retry got run %q, want %q", r.Items[0].RunID, first.Items[0].RunID)
	}
	// A cleared report may be sent again.
	e.Service.Ingest.ForgetEvents([]synclog.EventRef{{Source: "haier", EventID: "no-run"}})
	if r := testutil.Decode[collector.IngestResponse](t, e.Post(testutil.Report("no-run", "run_id", "<delete>"))); r.Accepted != 1 {
		t.Errorf("a forgotten report was not accepted again: %+v", r)
	}
}

// slowFirst makes the handler stall on the report of run "run-"+id between
// taking its event id and spooling it, and returns a channel that receives
// when it stalls and a function that lets it go on.
func slowFirst(e *apptest.Env, id string) (stalled <-chan struct{}, release func()) {
	ch := make(chan struct{}, 1)
	gate := make(chan struct{})
	var once sync.Once
	e.Anchors.OnResolve(func(runID string) {
		if runID == "run-"+id {
			once.Do(func() { ch <- struct{}{}; <-gate })
		}
	})
	return ch, func() { close(gate) }
}

// TestIngestDuplicateWaitsForTheOriginal sends a retry while the original
// report is still on its way to disk: the retry's 2xx must not come before
// the report is in the spool.
func TestIngestDuplicateWaitsForTheOriginal(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	stalled, release := slowFirst(e, "x")
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- e.Post(testutil.Report("x")) }()
	<-stalled
	retry := make(chan *httptest.ResponseRecorder, 1)
	go func() { retry <- e.Post(testutil.Report("x")) }()
	select {
	case w := <-retry:
		if w.Code == 202 && len(e.Spooled(t)) == 0 {
			t.Fatalf("the retry was acknowledged (%s) while the original was not on disk", w.Body)
		}
	case <-time.After(200 * time.Millisecond):
	}
	release()
	testutil.ExactJSON(t, <-first, 202, `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-x","event_id":"x"}]}`)
	testutil.ExactJSON(t, <-retry, 202, `{"accepted":0,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-x","event_id":"x","duplicate":true}]}`)
	if got := e.Spooled(t); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("spool holds %v", got)
	}
}

// TestIngestDuplicateOfAFailedOriginal sends a retry while the original
// report fails to be spooled: the retry must not be acknowledged as a
// duplicate of a report that was never stored.
func TestIngestDuplicateOfAFailedOriginal(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	stalled, release := slowFirst(e, "x")
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- e.Post(testutil.Report("x")) }()
	<-stalled
	retry := make(chan *httptest.ResponseRecorder, 1)
	go func() { retry <- e.Post("[" + testutil.Report("x") + "," + testutil.Report("y") + "]") }()
	time.Sleep(100 * time.Millisecond)
	// The spool goes away (the service shuts down) before the original is
	// written.
	if err := e.Spool.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	if w := <-first; w.Code != 503 {
		t.Fatalf("original: %d %s", w.Code, w.Body)
	}
	w := <-retry
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("retry of a report that was never stored: %d %s", w.Code, w.Body)
	}
}

// TestIngestRemembersSpooledEvents restarts the collector while a report
// waits in the spool: its retry is a duplicate, not a second copy.
func TestIngestRemembersSpooledEvents(t *testing.T) {
	dir := t.TempDir()
	first := apptest.New(t, apptest.Options{SpoolDir: dir})
	testutil.ExactJSON(t, first.Post(testutil.Report("e1")), 202, `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`)
	if err := first.Spool.Close(); err != nil {
		t.Fatal(err)
	}
	second := apptest.New(t, apptest.Options{SpoolDir: dir})
	testutil.ExactJSON(t, second.Post(testutil.Report("e1")), 202, `{"accepted":0,"duplicates":1,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1","duplicate":true}]}`)
	if got := second.Spooled(t); !slices.Equal(got, []string{"e1"}) {
		t.Fatalf("spool holds %v", got)
	}
	if r := second.Spool.Replayed(); r != nil {
		t.Fatalf("replayed reports handed out twice: %v", r)
	}
}

// TestIngestRunStartSurvivesRestart restarts the collector while the first
// report of a run waits in the spool: a later report of the run must carry
// the run's start from that first report, or ClickHouse would keep the run
// twice.
func TestIngestRunStartSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	first := apptest.New(t, apptest.Options{SpoolDir: dir})
	if w := first.Post(testutil.Report("p1", "run_id", `"r1"`, "status", `"processing"`, "started_at", `"`+start.Format(time.RFC3339Nano)+`"`, "completed_at", "<delete>")); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if err := first.Spool.Close(); err != nil {
		t.Fatal(err)
	}
	// A new process: a new storage that knows no runs yet.
	second := apptest.New(t, apptest.Options{SpoolDir: dir})
	if w := second.Post(testutil.Report("p2", "run_id", `"r1"`, "started_at", "<delete>")); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	b, err := second.Spool.Read(10)
	if err != nil || len(b.Reports) != 2 {
		t.Fatalf("spool: %v %v", b.Reports, err)
	}
	for _, r := range b.Reports {
		if !r.RunStartedAt.Equal(start) {
			t.Fatalf("report %s carries run start %v, want the run's first start %v", r.EventID, r.RunStartedAt, start)
		}
	}
}

func TestIngestSpoolFull(t *testing.T) {
	// Room for about three single-report entries.
	probe := apptest.New(t, apptest.Options{})
	probe.Post(testutil.Report("probe-000"))
	entry := probe.Spool.Stats().Bytes
	e := apptest.New(t, apptest.Options{SpoolBytes: 3*entry + entry/2, Ingest: collector.Config{SpoolHighWater: 0.5}})

	var accepted, refused []string
	for i := range 6 {
		id := fmt.Sprintf("fill-%03d", i)
		w := e.Post(testutil.Report(id))
		switch w.Code {
		case 202:
			accepted = append(accepted, id)
		case 503:
			refused = append(refused, id)
			if ra := w.Header().Get("Retry-After"); ra != "5" {
				t.Fatalf("Retry-After %q, want 5", ra)
			}
			testutil.ExactJSON(t, w, 503, testutil.ErrorBody("the spool is full while ClickHouse catches up: retry later; nothing of this request was stored"))
		default:
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if len(accepted) != 3 || len(refused) != 3 {
		t.Fatalf("accepted %v, refused %v: want 3 and 3", accepted, refused)
	}
	// A batch that does not fit is refused whole.
	w := e.Post("[" + testutil.Report("x1") + "," + testutil.Report("x2") + "]")
	if w.Code != 503 {
		t.Fatalf("batch into a full spool: %d", w.Code)
	}
	// Readiness reflects the full spool.
	if w := e.Do(http.MethodGet, "/readyz", nil, nil); w.Code != 503 {
		t.Fatalf("/readyz with a full spool: %d %s", w.Code, w.Body)
	}
	// Draining the spool delivers what was accepted, only that, and the
	// refused reports can then be sent again: they were not remembered.
	go e.Batcher.Run()
	testutil.WaitFor(t, 5*time.Second, "the spool to drain", func() bool { return e.Spool.Stats().Entries == 0 })
	if got := apptest.EventIDs(e.Fake.Stored()); !slices.Equal(got, accepted) {
		t.Fatalf("stored %v, want %v", got, accepted)
	}
	testutil.ExactJSON(t, e.Post(testutil.Report(refused[0])), 202, fmt.Sprintf(`{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-%s","event_id":"%s"}]}`, refused[0], refused[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Batcher.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := apptest.EventIDs(e.Fake.Stored()); !slices.Equal(got, append(accepted, refused[0])) {
		t.Fatalf("stored %v", got)
	}
}

// TestIngestRetryAfterIsAtLeastOneSecond configures a sub-second
// Retry-After: the header counts whole seconds and must not say 0.
func TestIngestRetryAfterIsAtLeastOneSecond(t *testing.T) {
	probe := apptest.New(t, apptest.Options{})
	probe.Post(testutil.Report("probe-1"))
	entry := probe.Spool.Stats().Bytes
	e := apptest.New(t, apptest.Options{SpoolBytes: entry + entry/2, Ingest: collector.Config{RetryAfter: 300 * time.Millisecond}})
	if w := e.Post(testutil.Report("e1")); w.Code != 202 {
		t.Fatalf("first report: %d %s", w.Code, w.Body)
	}
	w := e.Post(testutil.Report("e2"))
	if w.Code != 503 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if ra := w.Header().Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
}

// Reports larger than the whole spool get 413, not a 503 that asks the
// client to retry what can never fit; nothing is stored.
func TestIngestLargerThanTheSpool(t *testing.T) {
	e := apptest.New(t, apptest.Options{SpoolBytes: 10})
	w := e.Post(testutil.Report("e1"))
	if w.Code != 413 || w.Header().Get("Retry-After") != "" || !strings.Contains(w.Body.String(), "larger than the whole spool") {
		t.Fatalf("%d (Retry-After %q) %s; want 413 without Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if st := e.Spool.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("spool holds %+v after a refused request", st)
	}
	if m := e.MetricsText(t); !strings.Contains(m, `syncwatch_ingest_rejections_total{reason="`+collector.ReasonTooLarge+`"} 1`+"\n") {
		t.Errorf("too_large rejections are not 1:\n%s", m)
	}
}

// TestIngestSpoolClosed sends a report while the service shuts down.
func TestIngestSpoolClosed(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	if err := e.Spool.Close(); err != nil {
		t.Fatal(err)
	}
	w := e.Post(testutil.Report("e1"))
	testutil.ExactJSON(t, w, 503, testutil.ErrorBody("cannot write to the spool: retry later; nothing of this request was stored"))
	if ra := w.Header().Get("Retry-After"); ra != "5" {
		t.Fatalf("Retry-After %q, want 5", ra)
	}
}

func TestIngestOnAccepted(t *testing.T) {
	var seen []string
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{OnAccepted: func(rs []synclog.Report) { seen = append(seen, apptest.EventIDs(rs)...) }}})
	e.Post("[" + testutil.Report("a") + "," + testutil.Report("a") + "," + testutil.Report("b", "status", `"x"`) + "," + testutil.Report("c") + "]")
	if !slices.Equal(seen, []string{"a", "c"}) {
		t.Fatalf("OnAccepted saw %v, want [a c]", seen)
	}
}

func TestIngestCustomSyncTypes(t *testing.T) {
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{SyncTypes: synclog.MustSyncTypes([]string{"invoices", "returns"})}})
	testutil.ExactJSON(t, e.Post(testutil.Report("e1", "sync_type", `"invoices"`)), 202, `{"accepted":1,"duplicates":0,"rejected":[],"items":[{"index":0,"run_id":"run-e1","event_id":"e1"}]}`)
	testutil.ExactJSON(t, e.Post(testutil.Report("e2")), 400, `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"sync_type","error":"unknown value \"products\"; allowed are invoices, returns"}],"items":[]}`)
}

func TestNewServerNeedsSyncTypes(t *testing.T) {
	_, err := collector.NewService(collector.Config{}, collector.Deps{})
	if err == nil || err.Error() != "collector: no sync types configured" {
		t.Fatalf("got %v", err)
	}
}

// A spool high-water mark outside (0, 1] is an error, not silently 0.9.
func TestNewServiceRefusesABadHighWater(t *testing.T) {
	for _, hw := range []float64{-0.1, 1.5} {
		_, err := collector.NewService(collector.Config{SyncTypes: synclog.MustSyncTypes(synclog.DefaultSyncTypes), SpoolHighWater: hw}, collector.Deps{})
		if err == nil || !strings.Contains(err.Error(), "high-water") {
			t.Errorf("high-water %v: %v, want an error naming it", hw, err)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	testutil.ExactJSON(t, e.Do(http.MethodGet, "/nope", nil, nil), 404, testutil.ErrorBody("no such route: GET /nope"))
	testutil.ExactJSON(t, e.Do(http.MethodDelete, "/healthz", nil, nil), 405, testutil.ErrorBody("method DELETE is not allowed on /healthz"))
}

// BenchmarkIngestSingleReport serves single-report POSTs through the whole
// handler chain, spool fsync included (no batcher), from parallel clients.
func BenchmarkIngestSingleReport(b *testing.B) {
	e := apptest.New(b, apptest.Options{LogLevel: logrus.InfoLevel, Ingest: collector.Config{DedupWindow: 100_000}})
	h := e.Handler()
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := testutil.Report(fmt.Sprintf("bench-%d", seq.Add(1)))
			req := httptest.NewRequest(http.MethodPost, "/api/v1/runs", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// A run that started before the retention is refused with the field and
// the rule: its rows would be deleted as soon as they were stored.
func TestIngestRefusesRunsOlderThanTheRetention(t *testing.T) {
	e := apptest.New(t, apptest.Options{Ingest: collector.Config{SyncTypes: synclog.MustSyncTypes(synclog.DefaultSyncTypes), Retention: 30 * 24 * time.Hour}})
	old := time.Now().UTC().Add(-31 * 24 * time.Hour).Format(time.RFC3339)
	recent := time.Now().UTC().Add(-29 * 24 * time.Hour).Format(time.RFC3339)
	w := e.Post("[" + testutil.Report("too-old", "started_at", `"`+old+`"`, "completed_at", `"`+old+`"`) + "," +
		testutil.Report("recent", "started_at", `"`+recent+`"`, "completed_at", `"`+recent+`"`) + "]")
	if w.Code != 202 {
		t.Fatalf("status %d, want 202 for the recent report: %s", w.Code, w.Body)
	}
	resp := testutil.Decode[collector.IngestResponse](t, w)
	if resp.Accepted != 1 || len(resp.Rejected) != 1 {
		t.Fatalf("accepted %d, rejected %v; want 1 and the old one", resp.Accepted, resp.Rejected)
	}
	if r := resp.Rejected[0]; r.Index != 0 || r.Field != "started_at" || !strings.Contains(r.Error, "within the retention of 30d") {
		t.Errorf("rejection %+v, want index 0, field started_at and the retention", r)
	}
}
