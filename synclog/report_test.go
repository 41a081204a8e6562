package synclog

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	testNow   = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	testTypes = MustSyncTypes(DefaultSyncTypes)
	uuidV7    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

const (
	allowedTypes    = "products, prices, stock, order, logistics, manual"
	allowedStatuses = "pending, processing, success, failed, partial"
)

// validReport returns a finished report that passes Validate at testNow.
func validReport() Report {
	started := testNow.Add(-10 * time.Minute)
	completed := testNow.Add(-time.Minute)
	return Report{
		RunID:        "run-1",
		EventID:      "evt-1",
		Source:       "acme",
		SyncType:     "products",
		Status:       StatusPartial,
		Message:      "2 items rejected",
		TotalCount:   10,
		SuccessCount: 8,
		FailedCount:  2,
		StartedAt:    started,
		CompletedAt:  &completed,
		Attributes:   map[string]string{"supplier": "acme"},
		ReceivedAt:   testNow,
	}
}

func ptr(t time.Time) *time.Time { return &t }

func TestValidateRejects(t *testing.T) {
	long := strings.Repeat("a", MaxIDLength+1)
	tooManyAttrs := make(map[string]string, MaxAttributes+1)
	for i := range MaxAttributes + 1 {
		tooManyAttrs[fmt.Sprintf("k%02d", i)] = "v"
	}
	bigAttrs := make(map[string]string)
	for i := range 9 {
		bigAttrs[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1000)
	}
	longKey := strings.Repeat("k", MaxAttributeKeyLen+1)

	tests := []struct {
		name   string
		modify func(r *Report)
		field  string
		rule   string
	}{
		{"run_id missing", func(r *Report) { r.RunID = "" }, "run_id", "is required"},
		{"run_id too long", func(r *Report) { r.RunID = long }, "run_id", "must be at most 128 characters, got 129"},
		{"run_id bad character", func(r *Report) { r.RunID = "run 1" }, "run_id", "must contain only letters, digits, '-', '_', '.' and ':'"},
		{"run_id non-ascii", func(r *Report) { r.RunID = "运行1" }, "run_id", "must contain only letters, digits, '-', '_', '.' and ':'"},
		{"event_id missing", func(r *Report) { r.EventID = "" }, "event_id", "is required"},
		{"event_id too long", func(r *Report) { r.EventID = long }, "event_id", "must be at most 128 characters, got 129"},
		{"event_id bad character", func(r *Report) { r.EventID = "evt/1" }, "event_id", "must contain only letters, digits, '-', '_', '.' and ':'"},
		{"source missing", func(r *Report) { r.Source = "" }, "source", "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"},
		{"source uppercase", func(r *Report) { r.Source = "Acme" }, "source", "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"},
		{"source leading dash", func(r *Report) { r.Source = "-acme" }, "source", "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"},
		{"source too long", func(r *Report) { r.Source = strings.Repeat("a", MaxSourceLength+1) }, "source", "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"},
		{"sync_type missing", func(r *Report) { r.SyncType = "" }, "sync_type", "is required; allowed are " + allowedTypes},
		{"sync_type unknown", func(r *Report) { r.SyncType = "invoices" }, "sync_type", `unknown value "invoices"; allowed are ` + allowedTypes},
		{"status missing", func(r *Report) { r.Status = "" }, "status", "is required; allowed are " + allowedStatuses},
		{"status unknown", func(r *Report) { r.Status = "done" }, "status", `unknown value "done"; allowed are ` + allowedStatuses},
		{"message too long", func(r *Report) { r.Message = strings.Repeat("m", MaxMessageBytes+1) }, "message", "must be at most 65536 bytes, got 65537"},
		{"success above total", func(r *Report) { r.SuccessCount, r.FailedCount = 11, 0 }, "success_count", "must not exceed total_count (11 > 10)"},
		{"failed above total", func(r *Report) { r.SuccessCount, r.FailedCount = 0, 11 }, "failed_count", "must not exceed total_count (11 > 10)"},
		{"sum above total", func(r *Report) { r.SuccessCount, r.FailedCount = 6, 6 }, "total_count", "must be at least success_count + failed_count (10 < 12)"},
		{
			"sum overflows", func(r *Report) { r.TotalCount, r.SuccessCount, r.FailedCount = MaxCount, MaxCount, 1 },
			"total_count", "must be at least success_count + failed_count (1000000000000 < 1000000000001)",
		},
		{"total above the maximum", func(r *Report) { r.TotalCount = MaxCount + 1 }, "total_count", "must be at most 1000000000000, got 1000000000001"},
		{"total at uint64 max", func(r *Report) { r.TotalCount = math.MaxUint64 }, "total_count", "must be at most 1000000000000, got 18446744073709551615"},
		{"success above the maximum", func(r *Report) { r.TotalCount, r.SuccessCount = 10, math.MaxUint64 }, "success_count", "must be at most 1000000000000, got 18446744073709551615"},
		{"failed above the maximum", func(r *Report) { r.TotalCount, r.FailedCount = 10, MaxCount+1 }, "failed_count", "must be at most 1000000000000, got 1000000000001"},
		{"started_at too early", func(r *Report) { r.StartedAt = earliest.Add(-time.Second) }, "started_at", "must not be before 2000-01-01T00:00:00Z"},
		{"started_at zero", func(r *Report) { r.StartedAt = time.Time{} }, "started_at", "must not be before 2000-01-01T00:00:00Z"},
		{"started_at in the future", func(r *Report) { r.StartedAt = testNow.Add(MaxClockSkew + time.Second) }, "started_at", "must not be more than 1h0m0s in the future"},
		{"completed_at before started_at", func(r *Report) { r.CompletedAt = ptr(r.StartedAt.Add(-time.Second)) }, "completed_at", "must not be before started_at"},
		{"completed_at in the future", func(r *Report) { r.CompletedAt = ptr(testNow.Add(MaxClockSkew + time.Second)) }, "completed_at", "must not be more than 1h0m0s in the future"},
		{"completed_at while processing", func(r *Report) { r.Status = StatusProcessing }, "completed_at", "must be empty while status is processing"},
		{"completed_at while pending", func(r *Report) { r.Status = StatusPending }, "completed_at", "must be empty while status is pending"},
		{"completed_at missing on success", func(r *Report) { r.Status, r.CompletedAt = StatusSuccess, nil }, "completed_at", "is required when status is success"},
		{"completed_at missing on failure", func(r *Report) { r.Status, r.CompletedAt = StatusFailed, nil }, "completed_at", "is required when status is failed"},
		{"too many attributes", func(r *Report) { r.Attributes = tooManyAttrs }, "attributes", "must have at most 32 entries, got 33"},
		{"empty attribute key", func(r *Report) { r.Attributes = map[string]string{"": "v"} }, "attributes", `key "" must be 1-64 bytes`},
		{"attribute key too long", func(r *Report) { r.Attributes = map[string]string{longKey: "v"} }, "attributes", fmt.Sprintf("key %q must be 1-64 bytes", longKey)},
		{"attribute key not utf-8", func(r *Report) { r.Attributes = map[string]string{"k\xff": "v"} }, "attributes.k\xff", "must be valid UTF-8"},
		{"attribute value not utf-8", func(r *Report) { r.Attributes = map[string]string{"k": "v\xff"} }, "attributes.k", "must be valid UTF-8"},
		{"attribute value too long", func(r *Report) { r.Attributes = map[string]string{"k": strings.Repeat("v", MaxAttributeValueLen+1)} }, "attributes.k", "value must be at most 1024 bytes, got 1025"},
		{"attributes too big", func(r *Report) { r.Attributes = bigAttrs }, "attributes", "must be at most 8192 bytes in all, got 9018"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validReport()
			tt.modify(&r)
			err := r.Validate(testTypes, testNow)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if ve.Field != tt.field || ve.Rule != tt.rule {
				t.Errorf("Validate() = field %q rule %q\nwant field %q rule %q", ve.Field, ve.Rule, tt.field, tt.rule)
			}
			if want := tt.field + ": " + tt.rule; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	maxAttrs := make(map[string]string, MaxAttributes)
	for i := range MaxAttributes {
		maxAttrs[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", MaxAttributesBytes/MaxAttributes-3)
	}
	tests := []struct {
		name   string
		modify func(r *Report)
	}{
		{"finished", func(r *Report) {}},
		{"processing without completed_at", func(r *Report) { r.Status, r.CompletedAt = StatusProcessing, nil }},
		{"pending without counts", func(r *Report) {
			r.Status, r.CompletedAt, r.TotalCount, r.SuccessCount, r.FailedCount = StatusPending, nil, 0, 0, 0
		}},
		{"ids at the limit", func(r *Report) {
			r.RunID = strings.Repeat("R", MaxIDLength)
			r.EventID = "a-b_c.d:E9"
		}},
		{"uuid ids", func(r *Report) { r.RunID, r.EventID = NewID(), NewID() }},
		{"source at the limit", func(r *Report) { r.Source = "a" + strings.Repeat("-", MaxSourceLength-1) }},
		{"configured sync type", func(r *Report) { r.SyncType = "manual" }},
		{"message at the limit", func(r *Report) { r.Message = strings.Repeat("m", MaxMessageBytes) }},
		{"empty message", func(r *Report) { r.Message = "" }},
		{"counts at the limit", func(r *Report) {
			r.TotalCount, r.SuccessCount, r.FailedCount = MaxCount, MaxCount-1, 1
		}},
		{"started_at at the earliest", func(r *Report) { r.StartedAt = earliest }},
		{"timestamps at the clock skew limit", func(r *Report) {
			r.StartedAt = testNow.Add(MaxClockSkew)
			r.CompletedAt = ptr(r.StartedAt)
		}},
		{"no attributes", func(r *Report) { r.Attributes = nil }},
		{"attributes at the limits", func(r *Report) { r.Attributes = maxAttrs }},
		{"attribute value at the limit", func(r *Report) {
			r.Attributes = map[string]string{strings.Repeat("k", MaxAttributeKeyLen): strings.Repeat("v", MaxAttributeValueLen)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validReport()
			tt.modify(&r)
			if err := r.Validate(testTypes, testNow); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	r := Report{
		RunID:      "  run-1 ",
		EventID:    "\tevt-1\n",
		Source:     "  ACME-Foods ",
		SyncType:   " Products ",
		Status:     " SUCCESS ",
		Message:    "  login failed password=hunter2 after 30s \n",
		StartedAt:  time.Date(2024, 5, 1, 19, 50, 0, 0, time.FixedZone("CST", 8*3600)),
		Attributes: map[string]string{"api_token": "t0k3n", "url": "https://u:p4ss@host/x"},
	}
	attrs := maps.Clone(r.Attributes)
	r.Normalize(testNow)

	if r.RunID != "run-1" || r.EventID != "evt-1" {
		t.Errorf("ids = %q, %q; want trimmed", r.RunID, r.EventID)
	}
	if r.Source != "acme-foods" || r.SyncType != "products" || r.Status != StatusSuccess {
		t.Errorf("source, sync_type, status = %q, %q, %q; want trimmed and lowercased", r.Source, r.SyncType, r.Status)
	}
	if want := "login failed password=[REDACTED] after 30s"; r.Message != want {
		t.Errorf("Message = %q, want %q", r.Message, want)
	}
	if want := Fingerprint("login failed password=[REDACTED] after 30s"); r.Fingerprint != want || want == 0 {
		t.Errorf("Fingerprint = %d, want %d", r.Fingerprint, want)
	}
	wantAttrs := map[string]string{"api_token": Redacted, "url": "https://u:[REDACTED]@host/x"}
	if !maps.Equal(r.Attributes, wantAttrs) {
		t.Errorf("Attributes = %v, want %v", r.Attributes, wantAttrs)
	}
	if !maps.Equal(attrs, map[string]string{"api_token": "t0k3n", "url": "https://u:p4ss@host/x"}) {
		t.Errorf("the decoded attributes map was changed: %v", attrs)
	}
	if want := time.Date(2024, 5, 1, 11, 50, 0, 0, time.UTC); !r.StartedAt.Equal(want) || r.StartedAt.Location() != time.UTC {
		t.Errorf("StartedAt = %v, want %v in UTC", r.StartedAt, want)
	}
	if r.CompletedAt == nil || !r.CompletedAt.Equal(testNow) {
		t.Errorf("CompletedAt = %v, want now for a terminal status", r.CompletedAt)
	}
	if !r.ReceivedAt.Equal(testNow) {
		t.Errorf("ReceivedAt = %v, want now", r.ReceivedAt)
	}
	if err := r.Validate(testTypes, testNow); err != nil {
		t.Errorf("Validate() after Normalize = %v", err)
	}
}

func TestNormalizeDefaults(t *testing.T) {
	local := time.FixedZone("CST", 8*3600)
	completed := time.Date(2024, 5, 1, 19, 0, 0, 0, local)
	tests := []struct {
		name          string
		in            Report
		wantStarted   time.Time
		wantCompleted *time.Time
	}{
		{"processing", Report{Status: StatusProcessing}, testNow, nil},
		{"pending", Report{Status: StatusPending}, testNow, nil},
		{"success", Report{Status: StatusSuccess}, testNow, &testNow},
		{"failed", Report{Status: StatusFailed}, testNow, &testNow},
		{"partial", Report{Status: StatusPartial}, testNow, &testNow},
		{"completed given", Report{Status: StatusSuccess, CompletedAt: &completed}, completed, &completed},
		{"unknown status", Report{Status: "weird"}, testNow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in
			r.Normalize(testNow.In(local))
			if r.Source != DefaultSource {
				t.Errorf("Source = %q, want %q", r.Source, DefaultSource)
			}
			if !uuidV7.MatchString(r.RunID) || !uuidV7.MatchString(r.EventID) {
				t.Errorf("ids %q, %q are not UUIDv7", r.RunID, r.EventID)
			}
			if r.RunID == r.EventID {
				t.Errorf("run_id and event_id are both %q", r.RunID)
			}
			if !r.StartedAt.Equal(tt.wantStarted) || r.StartedAt.Location() != time.UTC {
				t.Errorf("StartedAt = %v, want %v in UTC", r.StartedAt, tt.wantStarted)
			}
			switch {
			case tt.wantCompleted == nil && r.CompletedAt != nil:
				t.Errorf("CompletedAt = %v, want nil", r.CompletedAt)
			case tt.wantCompleted != nil && (r.CompletedAt == nil || !r.CompletedAt.Equal(*tt.wantCompleted) || r.CompletedAt.Location() != time.UTC):
				t.Errorf("CompletedAt = %v, want %v in UTC", r.CompletedAt, *tt.wantCompleted)
			}
			if !r.ReceivedAt.Equal(testNow) || r.ReceivedAt.Location() != time.UTC {
				t.Errorf("ReceivedAt = %v, want %v in UTC", r.ReceivedAt, testNow)
			}
			if r.Message != "" || r.Fingerprint != 0 || r.Attributes != nil {
				t.Errorf("message %q, fingerprint %d, attributes %v; want empty", r.Message, r.Fingerprint, r.Attributes)
			}
		})
	}
}

func TestNormalizeKeeps(t *testing.T) {
	sent := time.Date(2024, 5, 1, 11, 0, 0, 0, time.FixedZone("X", 3600))
	r := Report{
		RunID: "r", EventID: "e", Source: "s", SyncType: "stock", Status: StatusProcessing,
		Message: "bad \xff byte", Attributes: map[string]string{},
		// The server sets these; a client's values do not count.
		ReceivedAt: sent, RunStartedAt: sent,
	}
	r.Normalize(testNow)
	if r.RunID != "r" || r.EventID != "e" || r.Source != "s" {
		t.Errorf("given values replaced: %q %q %q", r.RunID, r.EventID, r.Source)
	}
	if !r.ReceivedAt.Equal(testNow) || r.ReceivedAt.Location() != time.UTC {
		t.Errorf("ReceivedAt = %v, want %v in UTC", r.ReceivedAt, testNow)
	}
	if !r.RunStartedAt.IsZero() {
		t.Errorf("RunStartedAt = %v, want zero", r.RunStartedAt)
	}
	if r.Message != "bad \uFFFD byte" {
		t.Errorf("Message = %q, want invalid UTF-8 replaced", r.Message)
	}
	if r.Attributes != nil {
		t.Errorf("Attributes = %v, want nil for an empty map", r.Attributes)
	}
}

func TestDuration(t *testing.T) {
	r := validReport()
	if got := r.Duration(); got != 9*time.Minute {
		t.Errorf("Duration() = %v, want 9m", got)
	}
	r.CompletedAt = nil
	if got := r.Duration(); got != 0 {
		t.Errorf("Duration() in progress = %v, want 0", got)
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if !uuidV7.MatchString(a) || !uuidV7.MatchString(b) || a == b {
		t.Fatalf("NewID() = %q, %q; want distinct UUIDv7s", a, b)
	}
}

// TestNormalizeDerivesRunID checks that a report naming no run but an
// event gets a run id derived from its source and event id: the same on
// every collector replica, so that a retry joins the run its first
// delivery made.
func TestNormalizeDerivesRunID(t *testing.T) {
	normalized := func(source, eventID string) string {
		r := Report{Source: source, EventID: eventID, Status: StatusSuccess}
		r.Normalize(testNow)
		return r.RunID
	}
	a := normalized("Haier", "ev-1")
	if a != normalized("haier", " ev-1 ") {
		t.Errorf("the retry of a report got another run id")
	}
	if a != RunIDFor("haier", "ev-1") {
		t.Errorf("run id %q, want RunIDFor's %q", a, RunIDFor("haier", "ev-1"))
	}
	if a == normalized("other", "ev-1") || a == normalized("haier", "ev-2") {
		t.Error("reports of other sources or events share a run id")
	}
	if err := validID("run_id", a); err != nil {
		t.Errorf("derived run id %q: %v", a, err)
	}
	if got := normalized("haier", ""); got == normalized("haier", "") {
		t.Error("reports without ids share a run id")
	}
}
