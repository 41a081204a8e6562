package synclog

import (
	"hash/fnv"
	"strings"
	"testing"
)

func TestMessageTemplate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"plain words", "supplier rejected request", "supplier rejected request"},
		{"numbers", "HTTP 503 from supplier after 30s", "HTTP <num> from supplier after <num>s"},
		{"decimals and signs", "price -12.50 changed by +3 to 7.25", "price <num> changed by <num> to <num>"},
		{"sign after equals", "temp=-5", "temp=<num>"},
		{"hyphen is not a sign", "range 10-20 and sku-5", "range <num>-<num> and sku-<num>"},
		{"digits in words", "order ORD2024 page4", "order ORD<num> page<num>"},
		{"uuid", "run 0190a6e2-7c1b-7d3e-9f00-1234567890ab failed", "run <uuid> failed"},
		{"uuid uppercase", "id 0190A6E2-7C1B-7D3E-9F00-1234567890AB", "id <uuid>"},
		{"email", "notify bob.smith+sync@example.co.uk failed", "notify <email> failed"},
		{"rfc3339", "at 2024-05-01T10:00:00Z", "at <time>"},
		{"rfc3339 fraction and offset", "at 2024-05-01T10:00:00.123456+08:00 done", "at <time> done"},
		{"space separated", "at 2024-05-01 10:00:05 done", "at <time> done"},
		{"go time string", "at 2006-01-02 15:04:05.999999999 -0700 MST done", "at <time> done"},
		{"utc suffix", "at 2024-05-01 10:00:05 UTC done", "at <time> done"},
		{"date only", "since 2024-05-01", "since <time>"},
		{"slash date", "since 2024/05/01", "since <time>"},
		{"http date", "Date: Mon, 02 Jan 2006 15:04:05 GMT", "Date: <time>"},
		{"time of day", "at 15:04:05.123", "at <time>"},
		{"ipv4", "dial tcp 10.0.0.5:443: connection refused", "dial tcp <ip>:<num>: connection refused"},
		{"ipv4 ending a sentence", "cannot reach 10.0.0.5. retrying", "cannot reach <ip>. retrying"},
		{"dotted number is not an ip", "version 1.2.3.4.5", "version <num>.<num>.<num>"},
		{"hex 0x", "fault at 0xc000123456", "fault at <hex>"},
		{"git sha", "commit a1b2c3d4e5f6 broke it", "commit <hex> broke it"},
		{"mongo id", "product 507f1f77bcf86cd799439011 missing", "product <hex> missing"},
		{"hex without digit is a word", "deadbeef cafebabe", "deadbeef cafebabe"},
		{"short hex is not hex", "sha a1b2c3d", "sha a<num>b<num>c<num>d"},
		{"hex inside a word", "xa1b2c3d4e5", "xa<num>b<num>c<num>d<num>e<num>"},
		{"double quotes", `unknown sku "ABC 123" in feed`, "unknown sku <str> in feed"},
		{"escaped double quote", `value "a \"b\" c" rejected`, "value <str> rejected"},
		{"single quotes", "field 'price' invalid", "field <str> invalid"},
		{"apostrophes stay", "can't parse it's value", "can't parse it's value"},
		{"unclosed quote", `missing " in header`, `missing " in header`},
		{"json body", `{"code":500,"msg":"Internal error"}`, "{<str>:<num>,<str>:<str>}"},
		{"redacted kept", "login password=[REDACTED] rejected", "login password=[REDACTED] rejected"},
		{"whitespace collapsed", "  timeout \n\t reading\u3000page  ", "timeout reading page"},
		{"case kept", "Timeout READING Products", "Timeout READING Products"},
		{"chinese", "库存同步失败：第 4 页超时", "库存同步失败：第 <num> 页超时"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MessageTemplate(tt.in)
			if got != tt.want {
				t.Errorf("MessageTemplate(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := MessageTemplate(got); again != got {
				t.Errorf("MessageTemplate is not idempotent: MessageTemplate(%q) = %q", got, again)
			}
		})
	}
}

func TestMessageTemplateLimit(t *testing.T) {
	head := strings.Repeat("x", MaxTemplateInput)
	a := MessageTemplate(head + "a tail that differs")
	b := MessageTemplate(head + "b another tail")
	if a != head || b != head {
		t.Fatalf("templates of messages with the same first %d bytes are not that head: %d and %d bytes", MaxTemplateInput, len(a), len(b))
	}
	// A multi-byte character straddling the limit is dropped, not split.
	msg := strings.Repeat("x", MaxTemplateInput-1) + "界tail"
	if got := MessageTemplate(msg); got != strings.Repeat("x", MaxTemplateInput-1) {
		t.Fatalf("MessageTemplate cut a character: %q", got[len(got)-4:])
	}
}

func TestFingerprint(t *testing.T) {
	if got := Fingerprint(""); got != 0 {
		t.Fatalf("Fingerprint(\"\") = %d, want 0", got)
	}
	msg := "HTTP 503 from supplier after 30s"
	h := fnv.New64a()
	h.Write([]byte(MessageTemplate(msg)))
	if got, want := Fingerprint(msg), h.Sum64(); got != want {
		t.Fatalf("Fingerprint(%q) = %d, want FNV-1a of the template %d", msg, got, want)
	}
	if Fingerprint(msg) == 0 {
		t.Fatalf("Fingerprint of a non-empty message is 0")
	}
}

func TestFingerprintGroups(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"numbers", "timeout reading products page 4 after 30s", "timeout reading products page 17 after 45s"},
		{"uuids", "run 0190a6e2-7c1b-7d3e-9f00-1234567890ab failed", "run 0190a6e3-0000-7d3e-8f00-abcdefabcdef failed"},
		{"times", "stale since 2024-05-01T10:00:00Z", "stale since 2025-12-31T23:59:59.999+08:00"},
		{"emails", "notify bob@example.com failed", "notify alice.wong@supplier.cn failed"},
		{"ips", "dial tcp 10.0.0.5:443: connection refused", "dial tcp 192.168.1.20:8443: connection refused"},
		{"hex ids", "product 507f1f77bcf86cd799439011 missing", "product 65a1b2c3d4e5f60718293a4b missing"},
		{"quoted", `unknown sku "ABC-123" in feed`, `unknown sku "XYZ 9" in feed`},
		{"whitespace", "timeout  reading\nproducts", "timeout reading products"},
		{"long tails", strings.Repeat("a", 1100) + "tail one", strings.Repeat("a", 1100) + "tail two"},
		{"redacted secrets", Redact("login failed password=hunter2"), Redact("login failed password=correct-horse")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fa, fb := Fingerprint(tt.a), Fingerprint(tt.b); fa != fb {
				t.Errorf("Fingerprint(%q) = %d and Fingerprint(%q) = %d differ; templates %q and %q",
					tt.a, fa, tt.b, fb, MessageTemplate(tt.a), MessageTemplate(tt.b))
			}
		})
	}
}

func TestFingerprintSeparates(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"different words", "timeout reading products page 4", "timeout reading prices page 4"},
		{"different verbs", "connection refused", "connection reset"},
		{"case", "Timeout", "timeout"},
		{"different units", "took 30s", "took 30ms"},
		{"apostrophe words", "can't read file", "can't open file"},
		{"hex-like words", "deadbeef", "cafebabe"},
		{"different keys", "password=[REDACTED]", "token=[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Fingerprint(tt.a) == Fingerprint(tt.b) {
				t.Errorf("Fingerprint(%q) = Fingerprint(%q); templates %q and %q",
					tt.a, tt.b, MessageTemplate(tt.a), MessageTemplate(tt.b))
			}
		})
	}
}

func BenchmarkFingerprint(b *testing.B) {
	msg := benchmarkMessage()
	for b.Loop() {
		Fingerprint(msg)
	}
}
