package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"
	gojson "github.com/goccy/go-json"

	"github.com/syncwatch/syncwatch/synclog"
)

// Rejection says why one item of an ingest request was not accepted.
type Rejection struct {
	Index int    `json:"index"`
	Field string `json:"field"`
	Error string `json:"error"`
}

// ItemResult tells a client the ids of an item it sent, including the ones
// the server made.
type ItemResult struct {
	Index     int    `json:"index"`
	RunID     string `json:"run_id"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// IngestResponse is the answer to POST /api/v1/runs.
type IngestResponse struct {
	Accepted   int          `json:"accepted"`
	Duplicates int          `json:"duplicates"`
	Rejected   []Rejection  `json:"rejected"`
	Items      []ItemResult `json:"items"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	// Field names the parameter or field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

// requestError is a whole-request failure with its HTTP status.
type requestError struct {
	status int
	reason string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// decodeBody reads a request body as one JSON report, a JSON array of
// reports, or NDJSON, and returns the raw items.
func decodeBody(contentType, contentEncoding string, body io.Reader, maxBytes int64, maxItems int) ([]json.RawMessage, error) {
	mediaType := "application/json"
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, &requestError{http.StatusUnsupportedMediaType, ReasonUnsupported, fmt.Sprintf("content type %q cannot be parsed: use application/json or application/x-ndjson", contentType)}
		}
		mediaType = mt
	}
	ndjson := false
	switch mediaType {
	case "application/json":
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines":
		ndjson = true
	default:
		return nil, &requestError{http.StatusUnsupportedMediaType, ReasonUnsupported, fmt.Sprintf("content type %q is not supported: use application/json (one report or an array) or application/x-ndjson", mediaType)}
	}
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, &requestError{http.StatusBadRequest, ReasonMalformed, "body is not valid gzip: " + err.Error()}
		}
		defer zr.Close()
		body = zr
	default:
		return nil, &requestError{http.StatusUnsupportedMediaType, ReasonUnsupported, fmt.Sprintf("content encoding %q is not supported: use gzip or none", contentEncoding)}
	}
	data, err := io.ReadAll(io.LimitReader(body, maxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(maxBytes)
		}
		return nil, &requestError{http.StatusBadRequest, ReasonMalformed, "cannot read body: " + err.Error()}
	}
	if int64(len(data)) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	var items []json.RawMessage
	if ndjson {
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if line = bytes.TrimSpace(line); len(line) > 0 {
				items = append(items, json.RawMessage(line))
				if len(items) > maxItems {
					return nil, tooManyItems(maxItems)
				}
			}
		}
	} else {
		trimmed := bytes.TrimSpace(data)
		switch {
		case len(trimmed) == 0:
			return nil, &requestError{http.StatusBadRequest, ReasonMalformed, "body is empty: send one report, an array of reports, or NDJSON"}
		case trimmed[0] == '[':
			if err := json.Unmarshal(trimmed, &items); err != nil {
				return nil, &requestError{http.StatusBadRequest, ReasonMalformed, "body is not a valid JSON array: " + err.Error()}
			}
			if len(items) > maxItems {
				return nil, tooManyItems(maxItems)
			}
		default:
			items = []json.RawMessage{trimmed}
		}
	}
	if len(items) == 0 {
		return nil, &requestError{http.StatusBadRequest, ReasonMalformed, "body holds no report"}
	}
	return items, nil
}

func tooLarge(max int64) error {
	return &requestError{http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body is larger than %d bytes: split it into smaller requests", max)}
}

func tooManyItems(max int) error {
	return &requestError{http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("more than %d reports in one request: split it into smaller requests", max)}
}

// wireReport is a report as clients send it. Timestamps are decoded by hand
// so that a bad one is reported with its field name.
type wireReport struct {
	RunID        string            `json:"run_id"`
	EventID      string            `json:"event_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    *string           `json:"started_at"`
	CompletedAt  *string           `json:"completed_at"`
	Attributes   map[string]string `json:"attributes"`
}

// fastDecode decodes an item with github.com/goccy/go-json, about twice
// as fast as encoding/json on a report, syntax check included: decoding
// took a sixth of the server's CPU under NDJSON load. It declines (ok
// false) what it fails on or decodes to a string that is not valid UTF-8,
// and decodeItem then uses encoding/json, whose results and error messages
// are the contract. FuzzFastDecode checks that whatever fastDecode
// accepts, encoding/json decodes to the same report.
func fastDecode(raw []byte) (w wireReport, ok bool) {
	// go-json skips some malformed values encoding/json refuses, so the
	// syntax is checked by encoding/json's scanner (a third of its cost);
	// and it wraps a number too large for a uint64 instead of refusing it:
	// 20 digits in a row may be one.
	if !json.Valid(raw) || longDigitRun(raw, 20) {
		return wireReport{}, false
	}
	if err := gojson.Unmarshal(raw, &w); err != nil || !w.validUTF8() {
		return wireReport{}, false
	}
	return w, true
}

// longDigitRun reports whether raw holds n or more ASCII digits in a row.
func longDigitRun(raw []byte, n int) bool {
	run := 0
	for _, c := range raw {
		if '0' <= c && c <= '9' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// validUTF8 reports whether every string of w is valid UTF-8.
func (w *wireReport) validUTF8() bool {
	for _, s := range [...]string{w.RunID, w.EventID, w.Source, w.SyncType, w.Status, w.Message} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for _, p := range [...]*string{w.StartedAt, w.CompletedAt} {
		if p != nil && !utf8.ValidString(*p) {
			return false
		}
	}
	for k, v := range w.Attributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// decodeItem decodes one item into a report, or says which field is bad.
func decodeItem(raw json.RawMessage) (synclog.Report, *synclog.ValidationError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return synclog.Report{}, &synclog.ValidationError{Field: "", Rule: "must be a JSON object"}
	}
	w, ok := fastDecode(raw)
	if !ok {
		if err := json.Unmarshal(raw, &w); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return synclog.Report{}, &synclog.ValidationError{Field: te.Field, Rule: "must be " + describeType(te.Field)}
			}
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return synclog.Report{}, &synclog.ValidationError{Field: "", Rule: fmt.Sprintf("invalid JSON at offset %d: %v", se.Offset, err)}
			}
			return synclog.Report{}, &synclog.ValidationError{Field: "", Rule: "invalid JSON: " + err.Error()}
		}
	}
	r := synclog.Report{
		RunID: w.RunID, EventID: w.EventID, Source: w.Source, SyncType: w.SyncType,
		Status: synclog.Status(w.Status), Message: w.Message,
		TotalCount: w.TotalCount, SuccessCount: w.SuccessCount, FailedCount: w.FailedCount,
		Attributes: w.Attributes,
	}
	if w.StartedAt != nil && *w.StartedAt != "" {
		t, err := parseTime(*w.StartedAt)
		if err != nil {
			return synclog.Report{}, &synclog.ValidationError{Field: "started_at", Rule: err.Error()}
		}
		r.StartedAt = t
	}
	if w.CompletedAt != nil && *w.CompletedAt != "" {
		t, err := parseTime(*w.CompletedAt)
		if err != nil {
			return synclog.Report{}, &synclog.ValidationError{Field: "completed_at", Rule: err.Error()}
		}
		r.CompletedAt = &t
	}
	return r, nil
}

func describeType(field string) string {
	switch {
	case strings.HasSuffix(field, "_count"):
		return "a non-negative integer"
	case strings.HasPrefix(field, "attributes"):
		return "an object of string values"
	case field == "started_at" || field == "completed_at":
		return "an RFC 3339 timestamp string"
	}
	return "a string"
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, got %q", truncate(s, 64))
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// eventSet remembers recent event ids to answer retries as duplicates. It
// holds at most about max ids in two generations: when the current one is
// full it becomes the previous one and the oldest generation is dropped.
//
// An id taken by a request that has not spooled its report yet is pending
// on that request's claim: a retry arriving meanwhile waits for the claim
// before it is answered, so that a duplicate's 2xx, like any 2xx, means
// the report is on disk.
type eventSet struct {
	mu  sync.Mutex
	max int
	// cur and prev map an event's key (eventKey) to the run id the server
	// gave its report when the report named none, else to "".
	cur, prev map[string]string
	pending   map[string]*claim
}

// eventKey is the key of an event id in the set: event ids are scoped by
// source, so that a token of one source cannot claim an id first and make
// another source's real report a duplicate that is never stored.
func eventKey(source, eventID string) string { return source + "\x00" + eventID }

// claim is one request's hold on the event ids it is spooling.
type claim struct {
	ids     []string
	done    chan struct{}
	ok      bool // set before done closes
	settled bool // guarded by the eventSet's mutex
}

func newEventSet(max int) *eventSet {
	if max < 2 {
		max = 2
	}
	return &eventSet{max: max, cur: map[string]string{}, prev: map[string]string{}, pending: map[string]*claim{}}
}

func newClaim() *claim { return &claim{done: make(chan struct{})} }

// add records the event key, held by claim c until settle when c is not
// nil, with runID, the run id to answer a retry with ("" when the report
// named its own). It reports whether key was new; for a key seen before it
// also returns the run id remembered for it and the claim still spooling
// it, if any.
func (s *eventSet) add(key, runID string, c *claim) (isNew bool, storedRunID string, pending *claim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pending[key]; ok {
		rid, ok := s.cur[key]
		if !ok {
			rid = s.prev[key]
		}
		return false, rid, p
	}
	if rid, ok := s.cur[key]; ok {
		return false, rid, nil
	}
	if rid, ok := s.prev[key]; ok {
		return false, rid, nil
	}
	if len(s.cur) >= s.max/2 {
		s.prev, s.cur = s.cur, make(map[string]string, s.max/2)
	}
	// The key may share memory with the whole item it was decoded from
	// (go-json does that); a window of a million ids must not keep a
	// million reports alive.
	key = strings.Clone(key)
	s.cur[key] = strings.Clone(runID)
	if c != nil {
		s.pending[key] = c
		c.ids = append(c.ids, key)
	}
	return true, "", nil
}

// unclaim removes key, just added under claim c, from the set and from c:
// its report was refused after all.
func (s *eventSet) unclaim(key string, c *claim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[key] != c {
		return
	}
	delete(s.pending, key)
	delete(s.cur, key)
	delete(s.prev, key)
	if i := slices.Index(c.ids, key); i >= 0 {
		c.ids = slices.Delete(c.ids, i, i+1)
	}
}

// forget removes keys from the set, so that their reports may be sent
// again (after a clear deleted them).
func (s *eventSet) forget(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.pending[k]; ok {
			continue
		}
		delete(s.cur, k)
		delete(s.prev, k)
	}
}

// settle ends claim c: its ids stay remembered when its reports were
// spooled (ok) and are forgotten otherwise, and requests waiting on it go
// on. Settling a claim again does nothing.
func (s *eventSet) settle(c *claim, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.settled {
		return
	}
	c.settled = true
	for _, id := range c.ids {
		delete(s.pending, id)
		if !ok {
			delete(s.cur, id)
			delete(s.prev, id)
		}
	}
	c.ok = ok
	close(c.done)
}

// wait blocks until c is settled or ctx ends, and reports whether c's
// reports were spooled.
func (c *claim) wait(ctx context.Context) bool {
	select {
	case <-c.done:
		return c.ok
	case <-ctx.Done():
		return false
	}
}

// handleIngest serves POST /api/v1/runs.
func (s *Service) handleIngest(c *gin.Context) {
	tok := auth.TokenOf(c)
	items, err := decodeBody(c.GetHeader("Content-Type"), c.GetHeader("Content-Encoding"), c.Request.Body, s.cfg.MaxBodyBytes, s.cfg.MaxItems)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			s.metrics.Rejected(re.reason)
			c.JSON(re.status, web.ErrorResponse{Error: re.msg})
			return
		}
		c.JSON(http.StatusBadRequest, web.ErrorResponse{Error: err.Error()})
		return
	}
	now := time.Now().UTC()
	resp := IngestResponse{Rejected: []Rejection{}, Items: []ItemResult{}}
	accepted := make([]synclog.Report, 0, len(items))
	forbidden, conflicts := 0, 0
	// The claim holds this request's new event ids until its reports are
	// on disk; settling again after that does nothing, so the deferred call
	// only frees them when the handler ends early.
	cl := newClaim()
	defer s.events.settle(cl, false)
	var waits []*claim
	reject := func(i int, field, msg, reason string) {
		resp.Rejected = append(resp.Rejected, Rejection{Index: i, Field: field, Error: msg})
		s.metrics.Rejected(reason)
	}
	for i, raw := range items {
		r, verr := decodeItem(raw)
		if verr != nil {
			reject(i, verr.Field, verr.Rule, ReasonInvalid)
			continue
		}
		runIDGenerated := strings.TrimSpace(r.RunID) == ""
		r.Normalize(now)
		if err := r.Validate(s.cfg.SyncTypes, now); err != nil {
			var ve *synclog.ValidationError
			if errors.As(err, &ve) {
				reject(i, ve.Field, ve.Rule, ReasonInvalid)
			} else {
				reject(i, "", err.Error(), ReasonInvalid)
			}
			continue
		}
		if s.cfg.Retention > 0 && r.StartedAt.Before(now.Add(-s.cfg.Retention)) {
			reject(i, "started_at", fmt.Sprintf("must be within the retention of %s (not before %s): older runs are deleted as soon as they are stored",
				formatRetention(s.cfg.Retention), now.Add(-s.cfg.Retention).Format(time.RFC3339)), ReasonInvalid)
			continue
		}
		if tok != nil && !tok.AllowsSource(r.Source) {
			forbidden++
			reject(i, "source", fmt.Sprintf("this token may not report for source %q", r.Source), ReasonForbiddenSource)
			continue
		}
		generated := ""
		if runIDGenerated {
			generated = r.RunID
		}
		if isNew, storedRunID, pending := s.events.add(eventKey(r.Source, r.EventID), generated, cl); !isNew {
			if pending != nil && pending != cl {
				waits = append(waits, pending)
			}
			// A retry of a report that named no run gets the run id the
			// original was stored with, not the one just made for it.
			runID := r.RunID
			if storedRunID != "" {
				runID = storedRunID
			}
			resp.Duplicates++
			resp.Items = append(resp.Items, ItemResult{Index: i, RunID: runID, EventID: r.EventID, Duplicate: true})
			continue
		}
		anchor, owner := s.anchors.Resolve(r.RunID, r.Source, r.StartedAt)
		if owner != r.Source {
			// The run belongs to another source: no token may report on
			// it, and its id is not this report's to hold.
			s.events.unclaim(eventKey(r.Source, r.EventID), cl)
			conflicts++
			reject(i, "run_id", fmt.Sprintf("run %q belongs to another source; use a run id of your own", r.RunID), ReasonRunConflict)
			continue
		}
		r.RunStartedAt = anchor
		accepted = append(accepted, r)
		resp.Items = append(resp.Items, ItemResult{Index: i, RunID: r.RunID, EventID: r.EventID})
	}
	s.metrics.reports.WithLabelValues("rejected").Add(float64(len(resp.Rejected)))
	s.metrics.reports.WithLabelValues("duplicate").Add(float64(resp.Duplicates))
	if len(accepted) > 0 {
		err := s.spool.Append(c.Request.Context(), accepted)
		s.events.settle(cl, err == nil)
		if errors.Is(err, ErrEntryTooLarge) {
			// Retrying the same request can never succeed: say so.
			s.metrics.rejections.WithLabelValues(ReasonTooLarge).Inc()
			c.JSON(http.StatusRequestEntityTooLarge, ErrorResponse{Error: "the accepted reports of this request are larger than the whole spool (" + err.Error() + "): send fewer reports per request; nothing of this request was stored"})
			return
		}
		if err != nil {
			// Either way the client should come back: the spool empties as
			// ClickHouse catches up, and a restarting service is back soon.
			c.Header("Retry-After", s.retryAfter())
			if errors.Is(err, ErrSpoolFull) {
				s.metrics.Rejected(ReasonSpoolFull)
				c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: "the spool is full while ClickHouse catches up: retry later; nothing of this request was stored"})
				return
			}
			web.Log(c).WithError(err).Error("cannot write to the spool")
			c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: "cannot write to the spool: retry later; nothing of this request was stored"})
			return
		}
		resp.Accepted = len(accepted)
		s.metrics.reports.WithLabelValues("accepted").Add(float64(len(accepted)))
		if s.cfg.OnAccepted != nil {
			s.cfg.OnAccepted(accepted)
		}
	}
	// A duplicate of a report another request is still spooling is
	// answered once that report is on disk.
	for _, p := range waits {
		if !p.wait(c.Request.Context()) {
			c.Header("Retry-After", s.retryAfter())
			c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: "a report of this request repeats one that another request was storing, and storing it failed: retry later (retrying is safe: stored reports are answered as duplicates)"})
			return
		}
	}
	switch {
	case resp.Accepted+resp.Duplicates > 0:
		writeIngestResponse(c, http.StatusAccepted, &resp)
	case forbidden > 0:
		writeIngestResponse(c, http.StatusForbidden, &resp)
	case conflicts > 0:
		writeIngestResponse(c, http.StatusConflict, &resp)
	default:
		writeIngestResponse(c, http.StatusBadRequest, &resp)
	}
}

// writeIngestResponse answers with resp, encoded by encodeIngestResponse.
func writeIngestResponse(c *gin.Context, status int, resp *IngestResponse) {
	body, err := encodeIngestResponse(resp)
	if err != nil {
		web.Log(c).WithError(err).Error("cannot encode the ingest answer")
		c.JSON(http.StatusInternalServerError, web.ErrorResponse{Error: "cannot encode the answer"})
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// encodeIngestResponse encodes resp with goccy/go-json, which writes what
// encoding/json writes (a fuzz test compares them) as fast as the
// hand-written encoder it replaced (169 against 164 ns a one-item answer,
// 0.01 % of a report's CPU in the ingest path).
func encodeIngestResponse(resp *IngestResponse) ([]byte, error) {
	return gojson.Marshal(resp)
}

// formatRetention renders a retention in days when it is whole days, as it
// is configured ("90d"), else as a duration.
func formatRetention(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
