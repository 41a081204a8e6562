package collector

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/synclog"
)

// appendSpoolEntry appends the JSON of spoolEntry{At: at, Reports: reports}
// to b: what encoding/json makes of it, written without reflection. Every
// accepted report is encoded once on its way to the disk; encoding/json
// took about a tenth of the server's CPU under NDJSON load. The log is
// read back with encoding/json, and a fuzz test checks that both decode to
// the same entry.
func appendSpoolEntry(b []byte, at time.Time, reports []synclog.Report) []byte {
	b = append(b, `{"at":`...)
	b = appendJSONTime(b, at)
	b = append(b, `,"reports":[`...)
	for i := range reports {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSpoolReport(b, &reports[i])
	}
	return append(b, ']', '}')
}

// appendSpoolReport appends r as encoding/json does, honouring the
// omitempty, omitzero and string options of synclog.Report's tags.
func appendSpoolReport(b []byte, r *synclog.Report) []byte {
	b = append(b, `{"run_id":`...)
	b = appendJSONString(b, r.RunID)
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, r.EventID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, r.Source)
	b = append(b, `,"sync_type":`...)
	b = appendJSONString(b, r.SyncType)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	if r.Message != "" {
		b = append(b, `,"message":`...)
		b = appendJSONString(b, r.Message)
	}
	b = append(b, `,"total_count":`...)
	b = strconv.AppendUint(b, r.TotalCount, 10)
	b = append(b, `,"success_count":`...)
	b = strconv.AppendUint(b, r.SuccessCount, 10)
	b = append(b, `,"failed_count":`...)
	b = strconv.AppendUint(b, r.FailedCount, 10)
	b = append(b, `,"started_at":`...)
	b = appendJSONTime(b, r.StartedAt)
	if r.CompletedAt != nil {
		b = append(b, `,"completed_at":`...)
		b = appendJSONTime(b, *r.CompletedAt)
	}
	if len(r.Attributes) > 0 {
		b = append(b, `,"attributes":{`...)
		var small [8]string
		keys := small[:0]
		for k := range r.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, r.Attributes[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"received_at":`...)
	b = appendJSONTime(b, r.ReceivedAt)
	if r.Fingerprint != 0 {
		b = append(b, `,"fingerprint":"`...)
		b = strconv.AppendUint(b, r.Fingerprint, 10)
		b = append(b, '"')
	}
	if !r.RunStartedAt.IsZero() {
		b = append(b, `,"run_started_at":`...)
		b = appendJSONTime(b, r.RunStartedAt)
	}
	return append(b, '}')
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted). Years outside 0–9999, which MarshalJSON refuses,
// never reach the spool: validation bounds every timestamp.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string as encoding/json writes it:
// <, > and & and the line and paragraph separators escaped, invalid UTF-8
// as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
