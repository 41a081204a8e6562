package synclog

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on the fields of a report.
const (
	MaxIDLength          = 128
	MaxSourceLength      = 64
	MaxMessageBytes      = 64 << 10
	MaxAttributes        = 32
	MaxAttributeKeyLen   = 64
	MaxAttributeValueLen = 1024
	MaxAttributesBytes   = 8 << 10
	// MaxCount bounds total_count, success_count and failed_count. A
	// trillion records is far beyond any sync run, stays exact in every
	// JSON parser and in a float64 (both exact up to 2^53−1), and lets
	// ClickHouse sum the counts of 18 million runs at the maximum before a
	// UInt64 could wrap.
	MaxCount = 1_000_000_000_000
	// MaxClockSkew is how far in the future a timestamp may lie.
	MaxClockSkew = time.Hour
	// DefaultSource is the source of a report that names none.
	DefaultSource = "default"
)

// earliest is the earliest timestamp a report may carry.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Report is one report of a sync run: a job sends one when a run starts and
// one when it ends (or only the last). Reports of one run share its RunID;
// EventID makes a report idempotent.
type Report struct {
	RunID        string            `json:"run_id"`
	EventID      string            `json:"event_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       Status            `json:"status"`
	Message      string            `json:"message,omitempty"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    time.Time         `json:"started_at"`
	CompletedAt  *time.Time        `json:"completed_at,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`

	// ReceivedAt is when syncwatch accepted the report; set by the server.
	ReceivedAt time.Time `json:"received_at"`
	// Fingerprint identifies the shape of Message so that errors group; set
	// by Normalize from the redacted message (0 for an empty message).
	Fingerprint uint64 `json:"fingerprint,string,omitempty"`
	// RunStartedAt is the start of the run as its first report gave it,
	// the same in every report of the run; set by the server after
	// Normalize. Zero until then.
	RunStartedAt time.Time `json:"run_started_at,omitzero"`
}

// Duration is CompletedAt − StartedAt, or zero while the run is in progress.
func (r *Report) Duration() time.Duration {
	if r.CompletedAt == nil {
		return 0
	}
	return r.CompletedAt.Sub(r.StartedAt)
}

// ValidationError says which field of a report broke which rule.
type ValidationError struct {
	Field string
	Rule  string
}

// Error returns "field: rule".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Rule }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// NewID returns a new time-ordered identifier (a UUIDv7) for a run or event.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does.
		return uuid.NewString()
	}
	return id.String()
}

// runIDNamespace is the UUID namespace of the run ids RunIDFor derives.
var runIDNamespace = uuid.MustParse("6f1c5a52-8d1e-4f43-9a3e-2b7c1d0e9f18")

// RunIDFor returns the run id of a report that names none but has event id
// eventID: a name-based UUID (version 5) of its source and event id, the
// same on every collector replica, so that a retry of the report, which
// may reach another replica, joins the run its first delivery made
// instead of making another.
func RunIDFor(source, eventID string) string {
	return uuid.NewSHA1(runIDNamespace, []byte(source+"\x00"+eventID)).String()
}

// Normalize prepares a decoded report for validation and storage: it trims
// strings, lowercases enumerations, fills defaults (source, run_id, event_id,
// timestamps), redacts secrets from the message and attributes, and computes
// the message fingerprint. now is the time the server received the report.
func (r *Report) Normalize(now time.Time) {
	now = now.UTC()
	r.RunID = strings.TrimSpace(r.RunID)
	r.EventID = strings.TrimSpace(r.EventID)
	r.Source = strings.ToLower(strings.TrimSpace(r.Source))
	r.SyncType = strings.ToLower(strings.TrimSpace(r.SyncType))
	r.Status = Status(strings.ToLower(strings.TrimSpace(string(r.Status))))
	r.Message = strings.TrimSpace(strings.ToValidUTF8(r.Message, "\uFFFD"))
	if r.Source == "" {
		r.Source = DefaultSource
	}
	if r.RunID == "" {
		if r.EventID != "" {
			// A retry of the report reaches the same run, whichever
			// collector replica takes it.
			r.RunID = RunIDFor(r.Source, r.EventID)
		} else {
			r.RunID = NewID()
		}
	}
	if r.EventID == "" {
		r.EventID = NewID()
	}
	if r.CompletedAt != nil {
		c := r.CompletedAt.UTC()
		r.CompletedAt = &c
	} else if r.Status.Terminal() {
		c := now
		r.CompletedAt = &c
	}
	switch {
	case !r.StartedAt.IsZero():
		r.StartedAt = r.StartedAt.UTC()
	case r.CompletedAt != nil:
		r.StartedAt = *r.CompletedAt
	default:
		r.StartedAt = now
	}
	r.ReceivedAt = now
	r.RunStartedAt = time.Time{}
	r.Message = Redact(r.Message)
	r.Attributes, _ = redactAttributes(r.Attributes)
	r.Fingerprint = Fingerprint(r.Message)
}

// Validate checks a normalised report against the rules of the data model
// and returns the first broken rule as a *ValidationError. now bounds
// timestamps from the future.
func (r *Report) Validate(types SyncTypes, now time.Time) error {
	if err := validID("run_id", r.RunID); err != nil {
		return err
	}
	if err := validID("event_id", r.EventID); err != nil {
		return err
	}
	if !identifier(r.Source, MaxSourceLength) {
		return invalid("source", "must be 1-%d characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit", MaxSourceLength)
	}
	if r.SyncType == "" {
		return invalid("sync_type", "is required; allowed are %s", types)
	}
	if !types.Contains(r.SyncType) {
		return invalid("sync_type", "unknown value %q; allowed are %s", r.SyncType, types)
	}
	if r.Status == "" {
		return invalid("status", "is required; allowed are %s", joinStatuses())
	}
	if !r.Status.Valid() {
		return invalid("status", "unknown value %q; allowed are %s", r.Status, joinStatuses())
	}
	if len(r.Message) > MaxMessageBytes {
		return invalid("message", "must be at most %d bytes, got %d", MaxMessageBytes, len(r.Message))
	}
	for _, c := range []struct {
		field string
		n     uint64
	}{{"total_count", r.TotalCount}, {"success_count", r.SuccessCount}, {"failed_count", r.FailedCount}} {
		if c.n > MaxCount {
			return invalid(c.field, "must be at most %d, got %d", uint64(MaxCount), c.n)
		}
	}
	if r.SuccessCount > r.TotalCount {
		return invalid("success_count", "must not exceed total_count (%d > %d)", r.SuccessCount, r.TotalCount)
	}
	if r.FailedCount > r.TotalCount {
		return invalid("failed_count", "must not exceed total_count (%d > %d)", r.FailedCount, r.TotalCount)
	}
	// Both counts are at most MaxCount here, so their sum cannot wrap.
	if sum := r.SuccessCount + r.FailedCount; sum > r.TotalCount {
		return invalid("total_count", "must be at least success_count + failed_count (%d < %d)", r.TotalCount, sum)
	}
	latest := now.Add(MaxClockSkew)
	if r.StartedAt.Before(earliest) {
		return invalid("started_at", "must not be before %s", earliest.Format(time.RFC3339))
	}
	if r.StartedAt.After(latest) {
		return invalid("started_at", "must not be more than %s in the future", MaxClockSkew)
	}
	if r.CompletedAt != nil {
		if r.CompletedAt.Before(r.StartedAt) {
			return invalid("completed_at", "must not be before started_at")
		}
		if r.CompletedAt.After(latest) {
			return invalid("completed_at", "must not be more than %s in the future", MaxClockSkew)
		}
		if !r.Status.Terminal() {
			return invalid("completed_at", "must be empty while status is %s", r.Status)
		}
	} else if r.Status.Terminal() {
		return invalid("completed_at", "is required when status is %s", r.Status)
	}
	return validAttributes(r.Attributes)
}

func validID(field, id string) error {
	if id == "" {
		return invalid(field, "is required")
	}
	if len(id) > MaxIDLength {
		return invalid(field, "must be at most %d characters, got %d", MaxIDLength, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return invalid(field, "must contain only letters, digits, '-', '_', '.' and ':'")
		}
	}
	return nil
}

func validAttributes(attrs map[string]string) error {
	if len(attrs) > MaxAttributes {
		return invalid("attributes", "must have at most %d entries, got %d", MaxAttributes, len(attrs))
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, k := range keys {
		v := attrs[k]
		if k == "" || len(k) > MaxAttributeKeyLen {
			return invalid("attributes", "key %q must be 1-%d bytes", k, MaxAttributeKeyLen)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalid("attributes."+k, "must be valid UTF-8")
		}
		if len(v) > MaxAttributeValueLen {
			return invalid("attributes."+k, "value must be at most %d bytes, got %d", MaxAttributeValueLen, len(v))
		}
		total += len(k) + len(v)
	}
	if total > MaxAttributesBytes {
		return invalid("attributes", "must be at most %d bytes in all, got %d", MaxAttributesBytes, total)
	}
	return nil
}

// EventRef identifies a stored report: its event id within its source, and
// the run it belongs to.
type EventRef struct {
	Source  string
	EventID string
	RunID   string
}

// RunAnchor is where a run started and which source it belongs to, as its
// first report gave them.
type RunAnchor struct {
	RunID     string
	Source    string
	StartedAt time.Time
}
