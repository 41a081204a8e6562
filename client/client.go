// Package client reports sync runs to a syncwatch server.
//
// A job reports each run twice: when it starts, with status processing
// (StartRun), and when it ends, with a terminal status (RunHandle.Finish).
// Both reports carry the same run_id and started_at, so syncwatch shows
// the run's latest state and never counts it twice. Send posts raw
// reports, one or many, for jobs that build their own.
//
// Every report carries an event_id, made here (a UUIDv7) when the caller
// gives none. A request that fails with a network error, a 5xx answer or
// 429 is retried with exponential backoff and jitter, honouring the
// server's Retry-After, and a retry sends the same event_id: syncwatch
// stores a report once however often it arrives. Answers in the 4xx range
// other than 429 are not retried; they come back as a *RejectedError that
// names the field and the rule the report broke.
//
// Messages and attributes are redacted with synclog's rules before they
// leave the process, so passwords and tokens in an error text never cross
// the network (the server redacts them too).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/internal/backoff"
	"github.com/syncwatch/syncwatch/synclog"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a failed request is retried.
	DefaultRetries = 5
	// DefaultMinBackoff is the wait before the first retry when the server
	// names none.
	DefaultMinBackoff = 250 * time.Millisecond
	// DefaultMaxBackoff caps the wait between two attempts.
	DefaultMaxBackoff = 10 * time.Second
	// MaxRetryAfter caps how long a Retry-After answer makes the client
	// wait before the next attempt.
	MaxRetryAfter = 5 * time.Minute
	// MaxBatch is the most reports Send puts in one request; larger calls
	// are split.
	MaxBatch = 1000
)

// RunsPath is the path of the ingest endpoint below the base URL.
const RunsPath = "/api/v1/runs"

// maxResponseBytes bounds the part of an answer the client reads.
const maxResponseBytes = 4 << 20

// Status is the lifecycle state of a run a report gives.
type Status = synclog.Status

// The statuses of a run.
const (
	StatusPending    = synclog.StatusPending
	StatusProcessing = synclog.StatusProcessing
	StatusSuccess    = synclog.StatusSuccess
	StatusFailed     = synclog.StatusFailed
	StatusPartial    = synclog.StatusPartial
)

// Report is one report of a run as the client sends it. Empty fields are
// left out, and the server fills its defaults: source "default", started_at
// and completed_at the time it receives the report.
type Report struct {
	RunID        string            `json:"run_id,omitempty"`
	EventID      string            `json:"event_id,omitempty"`
	Source       string            `json:"source,omitempty"`
	SyncType     string            `json:"sync_type"`
	Status       Status            `json:"status"`
	Message      string            `json:"message,omitempty"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    time.Time         `json:"started_at,omitzero"`
	CompletedAt  time.Time         `json:"completed_at,omitzero"`
	Attributes   map[string]string `json:"attributes,omitempty"`
}

// Response is the server's answer to Send.
type Response struct {
	// Accepted counts the reports stored for the first time.
	Accepted int `json:"accepted"`
	// Duplicates counts the reports whose event_id the server already had.
	Duplicates int `json:"duplicates"`
	// Rejected lists the reports the server refused, by index.
	Rejected []Rejection `json:"rejected"`
	// Items gives the ids of every report accepted or answered as a
	// duplicate, by index.
	Items []Item `json:"items"`
}

// Rejection says why the server refused one report.
type Rejection struct {
	// Index is the position of the report in the call to Send.
	Index int `json:"index"`
	// Field names the field at fault; empty when the report as a whole
	// was (for instance, not a JSON object).
	Field string `json:"field"`
	// Reason is the rule the field broke, as the server words it.
	Reason string `json:"error"`
}

// Item gives the ids of one report the server took.
type Item struct {
	Index     int    `json:"index"`
	RunID     string `json:"run_id"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// RejectedError is returned when the server refuses reports: with a 4xx
// answer other than 429 (which is not retried), or with a 202 answer that
// accepted some reports of a batch and rejected others.
type RejectedError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Field and Reason describe the first rejection, or the error of the
	// whole request (an invalid token, a body too large).
	Field  string
	Reason string
	// Rejections lists every rejected report, by index in the call.
	Rejections []Rejection
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	var b strings.Builder
	switch n := len(e.Rejections); {
	case n > 1:
		fmt.Fprintf(&b, "syncwatch rejected %d reports (HTTP %d); the first, at index %d: ", n, e.StatusCode, e.Rejections[0].Index)
	case n == 1 && e.StatusCode < 300:
		fmt.Fprintf(&b, "syncwatch rejected the report at index %d (HTTP %d): ", e.Rejections[0].Index, e.StatusCode)
	default:
		fmt.Fprintf(&b, "syncwatch rejected the report (HTTP %d): ", e.StatusCode)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.StatusCode)
	}
	b.WriteString(reason)
	return b.String()
}

// StatusError is an answer the client could not use: a 5xx or 429 that
// outlasted the retries, or an unexpected status.
type StatusError struct {
	StatusCode int
	// Message is the server's error text, if it gave one.
	Message string
	// RetryAfter is the wait the server asked for; zero if it named none.
	RetryAfter time.Duration
}

// Error describes the answer.
func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("syncwatch answered HTTP %d: %s", e.StatusCode, msg)
}

// Client sends run reports to one syncwatch server. It is safe for
// concurrent use.
type Client struct {
	base       string
	token      string
	hc         *http.Client
	timeout    time.Duration
	retries    int
	minBackoff time.Duration
	maxBackoff time.Duration
	userAgent  string
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as a bearer token with every request. The token
// is never part of an error or a log line.
func WithToken(token string) Option { return func(c *Client) { c.token = strings.TrimSpace(token) } }

// WithHTTPClient makes the client send its requests with hc instead of a
// client of its own (for proxies, TLS settings or tests).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTimeout bounds each HTTP attempt (DefaultTimeout when not given); a
// duration of zero or less leaves attempts bounded by the context alone.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a failed request is retried after the
// first attempt (DefaultRetries when not given; 0 for no retries).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the first and the longest wait between attempts when
// the server names none (DefaultMinBackoff and DefaultMaxBackoff).
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) {
		if minWait > 0 {
			c.minBackoff = minWait
		}
		if maxWait > 0 {
			c.maxBackoff = maxWait
		}
	}
}

// WithUserAgent sets the User-Agent header of requests.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the syncwatch server at baseURL, such as
// http://127.0.0.1:8080 (a path prefix is kept, for a server behind a
// proxy).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("syncwatch server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("syncwatch server URL %q: want http://host:port or https://host", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:       strings.TrimRight(u.String(), "/"),
		hc:         &http.Client{},
		timeout:    DefaultTimeout,
		retries:    DefaultRetries,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		userAgent:  "syncwatch-go-client",
		sleep:      sleepContext,
		now:        time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	return c, nil
}

// BaseURL returns the server's URL as the client uses it.
func (c *Client) BaseURL() string { return c.base }

// Send posts reports to the server and returns its answer. Reports without
// an event_id or run_id get new ones (UUIDv7) before the first attempt, so
// that a retry is recognised as the same report; the answer's Items give
// them back. More than MaxBatch reports go in several requests.
//
// When the server refuses some or all reports, Send returns the answer
// together with a *RejectedError; the reports not listed in it were
// stored. Other failures (the server unreachable, 5xx answers that outlast
// the retries) are wrapped in the error with %w.
func (c *Client) Send(ctx context.Context, reports ...Report) (*Response, error) {
	total := &Response{Rejected: []Rejection{}, Items: []Item{}}
	if len(reports) == 0 {
		return total, nil
	}
	prepared := make([]Report, len(reports))
	for i, r := range reports {
		prepared[i] = prepare(r)
	}
	rejectedStatus := 0
	var reqErr *RejectedError
	for off := 0; off < len(prepared); off += MaxBatch {
		chunk := prepared[off:min(off+MaxBatch, len(prepared))]
		var (
			body []byte
			err  error
		)
		if len(chunk) == 1 {
			body, err = json.Marshal(chunk[0])
		} else {
			body, err = json.Marshal(chunk)
		}
		if err != nil {
			return total, fmt.Errorf("encode reports: %w", err)
		}
		resp, err := c.post(ctx, body)
		var rej *RejectedError
		if errors.As(err, &rej) && resp == nil {
			// A whole-request refusal without a list of rejections (a bad
			// token, a body too large): every report of the chunk is out.
			if reqErr == nil {
				reqErr = rej
			}
			for i := range chunk {
				total.Rejected = append(total.Rejected, Rejection{Index: off + i, Field: rej.Field, Reason: rej.Reason})
			}
			rejectedStatus = rej.StatusCode
			continue
		}
		if err != nil && resp == nil {
			return total, err
		}
		total.Accepted += resp.Accepted
		total.Duplicates += resp.Duplicates
		for _, it := range resp.Items {
			it.Index += off
			total.Items = append(total.Items, it)
		}
		for _, r := range resp.Rejected {
			r.Index += off
			total.Rejected = append(total.Rejected, r)
		}
		if rej != nil {
			rejectedStatus = rej.StatusCode
		} else if len(resp.Rejected) > 0 && rejectedStatus == 0 {
			rejectedStatus = http.StatusAccepted
		}
	}
	if len(total.Rejected) == 0 {
		return total, nil
	}
	e := &RejectedError{StatusCode: rejectedStatus, Rejections: total.Rejected}
	if reqErr != nil {
		e.StatusCode, e.Field, e.Reason = reqErr.StatusCode, reqErr.Field, reqErr.Reason
	} else {
		e.Field, e.Reason = total.Rejected[0].Field, total.Rejected[0].Reason
	}
	return total, e
}

// prepare fills the ids of a report and redacts its text.
func prepare(r Report) Report {
	if strings.TrimSpace(r.EventID) == "" {
		r.EventID = synclog.NewID()
	}
	if strings.TrimSpace(r.RunID) == "" {
		r.RunID = synclog.NewID()
	}
	r.Message = synclog.Redact(r.Message)
	r.Attributes = synclog.RedactAttributes(r.Attributes)
	if !r.StartedAt.IsZero() {
		r.StartedAt = r.StartedAt.UTC()
	}
	if !r.CompletedAt.IsZero() {
		r.CompletedAt = r.CompletedAt.UTC()
	}
	return r
}

// post sends one request body, retrying as the package doc describes. On a
// 4xx answer that lists rejections it returns the decoded answer and a
// *RejectedError; on one that does not, only the error.
func (c *Client) post(ctx context.Context, body []byte) (*Response, error) {
	endpoint := c.base + RunsPath
	for attempt := 1; ; attempt++ {
		resp, retryAfter, err := c.attempt(ctx, endpoint, body)
		if err == nil {
			return resp, nil
		}
		var (
			rej  *RejectedError
			perm permanentError
		)
		if errors.As(err, &rej) || errors.As(err, &perm) {
			return resp, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("post reports to %s: %w; last attempt: %w", endpoint, ctx.Err(), err)
		}
		if attempt > c.retries {
			return nil, fmt.Errorf("post reports to %s: giving up after %d attempts: %w", endpoint, attempt, err)
		}
		wait := c.backoff(attempt)
		if retryAfter >= 0 {
			wait = min(retryAfter, MaxRetryAfter)
		}
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("post reports to %s: giving up after %d attempts, the next (in %s) would pass the deadline: %w",
				endpoint, attempt, wait.Round(time.Millisecond), err)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("post reports to %s: %w; last attempt: %w", endpoint, serr, err)
		}
	}
}

// attempt sends the request once. retryAfter is the server's Retry-After,
// or -1 when it named none. The error is a *RejectedError when retrying
// cannot help.
func (c *Client) attempt(ctx context.Context, endpoint string, body []byte) (resp *Response, retryAfter time.Duration, err error) {
	retryAfter = -1
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, retryAfter, permanentError{fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, retryAfter, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, retryAfter, fmt.Errorf("read the answer (HTTP %d): %w", res.StatusCode, err)
	}
	code := res.StatusCode
	switch {
	case code >= 200 && code < 300:
		var r Response
		if err := json.Unmarshal(data, &r); err != nil {
			// A 2xx means the reports are stored; an answer we cannot read
			// is not a reason to send them again.
			return &Response{Rejected: []Rejection{}, Items: []Item{}}, retryAfter, nil
		}
		if r.Rejected == nil {
			r.Rejected = []Rejection{}
		}
		if r.Items == nil {
			r.Items = []Item{}
		}
		return &r, retryAfter, nil
	case code == http.StatusNotImplemented || code == http.StatusHTTPVersionNotSupported:
		// Not a syncwatch, or not one that takes reports: asking again
		// cannot help.
		return nil, retryAfter, permanentError{&StatusError{StatusCode: code, Message: errorText(data)}}
	case code == http.StatusTooManyRequests || code >= 500:
		retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), c.now())
		se := &StatusError{StatusCode: code, Message: errorText(data)}
		if retryAfter >= 0 {
			se.RetryAfter = retryAfter
		}
		return nil, retryAfter, se
	case code >= 400:
		return rejection(code, data)
	default:
		return nil, retryAfter, permanentError{&StatusError{StatusCode: code, Message: "unexpected answer: " + errorText(data)}}
	}
}

// permanentError is a failure that retrying cannot mend.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// rejection decodes a 4xx answer: an ingest answer listing the rejected
// reports, or an error body.
func rejection(code int, data []byte) (*Response, time.Duration, error) {
	var body struct {
		Response
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, -1, &RejectedError{StatusCode: code, Reason: errorText(data)}
	}
	e := &RejectedError{StatusCode: code, Field: body.Field, Reason: body.Error}
	if len(body.Rejected) == 0 {
		if e.Reason == "" {
			e.Reason = errorText(data)
		}
		return nil, -1, e
	}
	e.Rejections = body.Rejected
	if e.Reason == "" {
		e.Field, e.Reason = body.Rejected[0].Field, body.Rejected[0].Reason
	}
	r := body.Response
	if r.Items == nil {
		r.Items = []Item{}
	}
	return &r, -1, e
}

// errorText returns the "error" of a JSON error body, or the body itself
// on one line, shortened; nothing for an HTML page (of a proxy, say).
func errorText(data []byte) string {
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		return body.Error
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "\uFFFD")), " ")
	if strings.HasPrefix(s, "<") {
		return ""
	}
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date;
// -1 when it is absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// backoff returns the wait before retry number attempt (from 1): the
// minimum doubled for each earlier retry, capped, with "equal jitter" (half
// fixed, half random) so that many clients do not retry in step.
func (c *Client) backoff(attempt int) time.Duration {
	return backoff.Wait(attempt, c.minBackoff, c.maxBackoff)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready asks the server's /readyz whether it can accept and store reports,
// and returns nil when it can.
func (c *Client) Ready(ctx context.Context) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
	if err != nil {
		return err
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("syncwatch at %s: %w", c.base, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("syncwatch at %s is not ready: %w", c.base, &StatusError{StatusCode: res.StatusCode, Message: errorText(data)})
	}
	return nil
}
