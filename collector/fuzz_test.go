package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
)

// FuzzDecodeBody feeds arbitrary bodies, content types and encodings to the
// request decoder, the item decoder, Normalize and Validate, and to the
// whole ingest handler: nothing panics, a bad request is always a 4xx
// naming what is wrong, and a report that passes validation survives the
// spool's encoding unchanged and still valid.
func FuzzDecodeBody(f *testing.F) {
	one := testutil.Report("seed-1")
	for _, seed := range []struct {
		body        string
		contentType string
		encoding    string
	}{
		{one, "application/json", ""},
		{"[" + one + "," + testutil.Report("seed-2", "status", `"pending"`, "completed_at", "<delete>") + "]", "application/json", ""},
		{one + "\n" + testutil.Report("seed-3") + "\n", "application/x-ndjson", ""},
		{string(testutil.Gzipped(f, "["+one+"]")), "application/json", "gzip"},
		{`{"sync_type":"stock","status":"processing"}`, "", ""},
		{`{"sync_type":"stock","status":"failed","message":"token=abc123 at /api?x=1","attributes":{"host":"a"}}`, "application/json; charset=utf-8", "identity"},
		{`[1, "x", null, {}, []]`, "application/json", ""},
		{`{"total_count":18446744073709551615,"success_count":18446744073709551615,"failed_count":1,"sync_type":"order","status":"partial"}`, "application/json", ""},
		{`{"started_at":"2026-01-02T15:04:05.999999999+14:00","completed_at":"2026-01-02T15:04:05-12:00","sync_type":"order","status":"success"}`, "application/json", ""},
		{"{\"message\":\"\xff\xfe\",\"sync_type\":\"manual\",\"status\":\"success\",\"attributes\":{\"\xff\":\"\xfe\"}}", "application/json", ""},
		{`{"event_id":"` + string(bytes.Repeat([]byte("e"), 200)) + `"}`, "application/ndjson", ""},
		{"", "application/json", ""},
		{"[", "application/json", "gzip"},
		{"x", "text/plain", "br"},
		{"x", "/", ""},
	} {
		f.Add([]byte(seed.body), seed.contentType, seed.encoding)
	}

	const maxBytes, maxItems = 64 << 10, 50
	types := synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	// The handler under test, with a spool drained into a storage that
	// forgets what it gets.
	handler := newIngestHandler(f, Config{MaxBodyBytes: maxBytes, MaxItems: maxItems, DedupWindow: 1 << 16})

	f.Fuzz(func(t *testing.T, body []byte, contentType, encoding string) {
		now := time.Now().UTC()
		items, err := decodeBody(contentType, encoding, bytes.NewReader(body), maxBytes, maxItems)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("decodeBody returned %T %v, want a *requestError", err, err)
			}
			if re.status < 400 || re.status >= 500 || re.msg == "" || re.reason == "" {
				t.Fatalf("decodeBody refused with %d %q (%s)", re.status, re.msg, re.reason)
			}
		}
		if len(items) > maxItems {
			t.Fatalf("%d items over the limit of %d", len(items), maxItems)
		}
		for _, raw := range items {
			r, verr := decodeItem(raw)
			if verr != nil {
				if verr.Rule == "" {
					t.Fatalf("item %q rejected without a rule", raw)
				}
				continue
			}
			r.Normalize(now)
			if err := r.Validate(types, now); err != nil {
				var ve *synclog.ValidationError
				if !errors.As(err, &ve) || ve.Field == "" || ve.Rule == "" {
					t.Fatalf("Validate returned %v: want a ValidationError naming a field", err)
				}
				continue
			}
			// What the spool writes and reads back is the same valid report.
			enc, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("encode a valid report: %v", err)
			}
			var back synclog.Report
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("decode a valid report: %v", err)
			}
			if err := back.Validate(types, now); err != nil {
				t.Fatalf("a valid report is invalid after the spool's encoding: %v\n%s", err, enc)
			}
			if back.EventID != r.EventID || back.Message != r.Message || back.Fingerprint != r.Fingerprint ||
				!back.StartedAt.Equal(r.StartedAt) || len(back.Attributes) != len(r.Attributes) {
				t.Fatalf("the spool's encoding changed the report:\n%+v\n%+v", r, back)
			}
		}

		req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/runs", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("bad input got %d: %s", w.Code, w.Body)
		}
		switch w.Code {
		case 202, 400, 403:
			var resp IngestResponse
			if json.Unmarshal(w.Body.Bytes(), &resp) == nil && (resp.Items != nil || resp.Rejected != nil) {
				if w.Code == 202 && resp.Accepted+resp.Duplicates == 0 {
					t.Fatalf("202 with nothing accepted: %s", w.Body)
				}
				if w.Code != 202 && resp.Accepted+resp.Duplicates != 0 {
					t.Fatalf("%d with reports accepted: %s", w.Code, w.Body)
				}
				if len(resp.Items)+len(resp.Rejected) != len(items) {
					t.Fatalf("%d items answered for %d sent: %s", len(resp.Items)+len(resp.Rejected), len(items), w.Body)
				}
				return
			}
			fallthrough
		default:
			var er web.ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil || er.Error == "" {
				t.Fatalf("%d without an error message: %q", w.Code, w.Body)
			}
		}
	})
}

// FuzzFastDecode checks the fast item decoder against encoding/json, whose
// behaviour is the contract: whatever fastDecode accepts, encoding/json
// accepts too and decodes to the same report.
func FuzzFastDecode(f *testing.F) {
	for _, seed := range []string{
		testutil.Report("fast-1"),
		`{"run_id":"r","RUN_ID":"x","Source":"s","source":"t","attributes":{"a":"1","a":"2"}}`,
		`{"total_count":1e3}`, `{"total_count":-1}`, `{"total_count":1.0}`, `{"total_count":"1"}`,
		`{"started_at":null,"completed_at":"x","attributes":null,"message":null}`,
		`{"message":"\u00e9\ud83d\ude00\ud800 \\ \/ \b"}`, "{\"message\":\"\xff\"}",
		`{"attributes":{"k":1}}`, `{"attributes":[]}`, `{"run_id":"a"} trailing`, `{"run_id":"a",}`,
		`{"unknown":{"deep":[1,2,{"x":null}]},"status":"success"}`, `{"total_count":18446744073709551616}`,
		` {"run_id" : "a" } `, `{"run_id":"a\u0000b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := fastDecode(raw)
		if !ok {
			return
		}
		var std wireReport
		if err := json.Unmarshal(raw, &std); err != nil {
			t.Fatalf("fastDecode accepted %q, which encoding/json refuses: %v", raw, err)
		}
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(std)
		if !bytes.Equal(a, b) {
			t.Fatalf("input %q\nfast %s\nstd  %s", raw, a, b)
		}
	})
}

func BenchmarkDecodeItem(b *testing.B) {
	raw := []byte(`{"run_id":"0194c5a2-7a6b-7c3d-8e9f-0123456789ab","event_id":"0194c5a2-7a6b-7c3d-8e9f-0123456789ac","source":"haier","sync_type":"product_sync","status":"success","message":"synced 120 products from the supplier catalogue","total_count":120,"success_count":118,"failed_count":2,"started_at":"2026-11-27T01:02:03.456Z","completed_at":"2026-11-27T01:02:09.456Z","attributes":{"host":"worker-3","exit_code":"0","version":"1.4.2"}}`)
	b.Run("decodeItem", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeItem(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var w wireReport
			if err := json.Unmarshal(raw, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
