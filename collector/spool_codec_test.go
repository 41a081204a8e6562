package collector

import (
	"bytes"
	"encoding/json"
	gojson "github.com/goccy/go-json"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// The hand-written spool encoding is byte for byte what encoding/json
// makes of the same entry, and decodes to it.
func FuzzSpoolEntryEncoding(f *testing.F) {
	f.Add("sync failed: <timeout> & \"retry\"\n\t\u2028é", "haier", "host", "a\\b", uint64(3), int64(1_767_000_000_123_456_789), true, uint64(42))
	f.Add("", "", "", "", uint64(0), int64(0), false, uint64(0))
	f.Add("\xff\xfe bad utf-8 \x00 \x1f \u2029", "s", "k\x7f", "\xc3", uint64(1<<63), int64(-1), true, uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, message, source, key, value string, count uint64, nanos int64, completed bool, fingerprint uint64) {
		at := time.Unix(0, nanos)
		r := synclog.Report{
			RunID: "run-" + source, EventID: "ev-" + key, Source: source, SyncType: "order_push",
			Status: synclog.Status(value), Message: message,
			TotalCount: count, SuccessCount: count / 2, FailedCount: count / 3,
			StartedAt: at.UTC(), ReceivedAt: at.Add(time.Second), Fingerprint: fingerprint,
		}
		if completed {
			c := at.Add(1500 * time.Millisecond).In(time.FixedZone("CST", 8*3600))
			r.CompletedAt = &c
			r.RunStartedAt = at.Add(-time.Minute)
		}
		if key != "" || value != "" {
			r.Attributes = map[string]string{key: value, "z" + key: message}
		}
		reports := []synclog.Report{r, {RunID: "second", Status: synclog.StatusProcessing, StartedAt: at}}
		got := appendSpoolEntry(nil, at, reports)
		want, err := json.Marshal(spoolEntry{At: at, Reports: reports})
		if err != nil {
			// time.Unix(0, n) stays within the years encoding/json takes.
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
		}
		var e spoolEntry
		if err := json.Unmarshal(got, &e); err != nil {
			t.Fatalf("decode %s: %v", got, err)
		}
		if len(e.Reports) != 2 || e.Reports[0].Source != string([]rune(source)) {
			t.Fatalf("decoded %+v", e)
		}
	})
}

func BenchmarkSpoolEntryEncoding(b *testing.B) {
	reports := make([]synclog.Report, 1000)
	now := time.Now()
	for i := range reports {
		reports[i] = synclog.Report{RunID: "0194c5a2-7a6b-7c3d-8e9f-0123456789ab", EventID: "0194c5a2-7a6b-7c3d-8e9f-0123456789ac",
			Source: "haier", SyncType: "product_sync", Status: synclog.StatusSuccess, Message: "synced 120 products from the supplier catalogue",
			TotalCount: 120, SuccessCount: 118, FailedCount: 2, StartedAt: now, CompletedAt: &now, ReceivedAt: now, RunStartedAt: now,
			Attributes: map[string]string{"host": "worker-3", "exit_code": "0", "version": "1.4.2"}, Fingerprint: 1234567890}
	}
	b.Run("hand-written", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendSpoolEntry(buf[:0], now, reports)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(spoolEntry{At: now, Reports: reports}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goccy-go-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := gojson.Marshal(spoolEntry{At: now, Reports: reports}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The ingest answer is byte for byte what encoding/json makes of it.
func FuzzIngestResponseEncoding(f *testing.F) {
	f.Add(3, 1, "status", "must be one of <pending, processing> & \"more\"\n", "run-1", "ev-1", true, 2, 1)
	f.Add(0, 0, "", "", "", "", false, 0, 0)
	f.Add(-1, 1<<30, "\xff", "\u2028", "\x00", "é", true, 1, 0)
	f.Fuzz(func(t *testing.T, accepted, duplicates int, field, msg, runID, eventID string, dup bool, items, rejected int) {
		resp := IngestResponse{Accepted: accepted, Duplicates: duplicates}
		if items >= 0 {
			resp.Items = []ItemResult{}
			for i := range items % 4 {
				resp.Items = append(resp.Items, ItemResult{Index: i, RunID: runID, EventID: eventID, Duplicate: dup && i%2 == 0})
			}
		}
		if rejected >= 0 {
			resp.Rejected = []Rejection{}
			for i := range rejected % 4 {
				resp.Rejected = append(resp.Rejected, Rejection{Index: i * accepted, Field: field, Error: msg})
			}
		}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeIngestResponse(&resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
		}
	})
}
