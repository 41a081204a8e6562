package synclog

import (
	"hash/fnv"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTemplateInput is how many leading bytes of a message MessageTemplate
// looks at, so that messages whose long tails (stack traces, response
// bodies) differ still group.
const MaxTemplateInput = 1024

// The placeholders MessageTemplate puts in place of variable values.
const (
	templateUUID   = "<uuid>"
	templateEmail  = "<email>"
	templateTime   = "<time>"
	templateIP     = "<ip>"
	templateHex    = "<hex>"
	templateNumber = "<num>"
	templateString = "<str>"
)

// The anchored patterns MessageTemplate tries where a time may start.
var (
	// datePattern matches ISO 8601 / RFC 3339 timestamps and dates (with
	// 'T' or a space, optional fractions and zones, as Go's time.String
	// writes them too) and slash dates.
	datePattern = regexp.MustCompile(
		`^(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?` +
			`(?:Z| ?[+-]\d{2}:?\d{2}(?: ` + zoneNames + `\b)?| ` + zoneNames + `\b)?)?` +
			`|\d{4}/\d{2}/\d{2}(?: \d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?)`)
	// httpDatePattern matches RFC 1123 dates as HTTP headers carry them.
	httpDatePattern = regexp.MustCompile(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2}(?: (?:GMT|UTC|[+-]\d{4}))?`)
	// clockPattern matches times of day.
	clockPattern = regexp.MustCompile(`^\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?`)
	// domainPattern matches the domain of an e-mail address.
	domainPattern = regexp.MustCompile(`^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
)

// zoneNames are the time zone abbreviations a timestamp may end with.
const zoneNames = `(?:UTC|GMT|CST|CDT|EST|EDT|MST|MDT|PST|PDT|CET|CEST|EET|EEST|BST|IST|JST|KST|HKT|SGT|AEST|AEDT)`

// maxTimeLen bounds the text an anchored time pattern looks at.
const maxTimeLen = 96

// Fingerprint identifies the shape of a message so that messages that
// differ only in variable values (ids, numbers, times, quoted values) group
// together: it is the 64-bit FNV-1a hash of MessageTemplate(message), or 0
// for an empty message.
func Fingerprint(message string) uint64 {
	if message == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(MessageTemplate(message)))
	return h.Sum64()
}

// MessageTemplate returns the shape of a message: of its first
// MaxTemplateInput bytes, with whitespace runs collapsed to one space and
// trimmed, UUIDs replaced by <uuid>, timestamps and dates by <time>, e-mail
// addresses by <email>, IPv4 addresses by <ip>, hexadecimal ids (0x-prefixed,
// or at least 8 hex digits mixing digits and letters) by <hex>, numbers by
// <num> and quoted values by <str>, in that order. Letters keep their case
// and Redacted stays as it is.
func MessageTemplate(message string) string {
	if len(message) > MaxTemplateInput {
		n := MaxTemplateInput
		for n > 0 && !utf8.RuneStart(message[n]) {
			n--
		}
		message = message[:n]
	}
	s := collapseSpace(message)
	s = foldUUIDs(s)
	s = foldTimes(s)
	s = foldEmails(s)
	s = foldIPs(s)
	s = foldHexIDs(s)
	s = foldNumbers(s)
	return foldQuotes(s)
}

// rewriter builds a copy of s with spans replaced, in order; it copies
// nothing while nothing is replaced.
type rewriter struct {
	s    string
	b    strings.Builder
	last int // end of the last replaced span
}

func (w *rewriter) replace(start, end int, repl string) {
	if w.b.Cap() == 0 {
		w.b.Grow(len(w.s) + 16)
	}
	w.b.WriteString(w.s[w.last:start])
	w.b.WriteString(repl)
	w.last = end
}

func (w *rewriter) String() string {
	if w.b.Cap() == 0 {
		return w.s
	}
	w.b.WriteString(w.s[w.last:])
	return w.b.String()
}

// collapseSpace returns s with leading and trailing white space removed
// and every inner run of it replaced by one space; other bytes, even
// invalid UTF-8, stay as they are.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			pending = b.Len() > 0
		} else {
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	if b.Len() == len(s) {
		return s
	}
	return b.String()
}

// foldUUIDs replaces UUIDs (8-4-4-4-12 hex digits) by <uuid>.
func foldUUIDs(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); {
		d := strings.IndexByte(s[i:], '-')
		if d < 0 {
			break
		}
		start := i + d - 8
		if start >= w.last && uuidAt(s, start) {
			w.replace(start, start+36, templateUUID)
			i = start + 36
			continue
		}
		i += d + 1
	}
	return w.String()
}

// uuidAt reports whether a UUID starts at s[i].
func uuidAt(s string, i int) bool {
	if i < 0 || len(s)-i < 36 {
		return false
	}
	for k := range 36 {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexByte(c) {
			return false
		}
	}
	return true
}

// foldTimes replaces timestamps, dates and times of day by <time>.
func foldTimes(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		n := 0
		switch c := s[i]; {
		case isDigitByte(c):
			if i+4 < len(s) && (s[i+4] == '-' || s[i+4] == '/') {
				n = anchoredLen(datePattern, s, i)
			}
			if n == 0 && wordStart(s, i) && (i+2 < len(s) && s[i+1] == ':' || i+3 < len(s) && s[i+2] == ':') {
				n = anchoredLen(clockPattern, s, i)
			}
		case strings.IndexByte("MTWFS", c) >= 0 && wordStart(s, i):
			n = anchoredLen(httpDatePattern, s, i)
		}
		if n > 0 {
			w.replace(i, i+n, templateTime)
			i += n - 1
		}
	}
	return w.String()
}

// anchoredLen returns the length of the match of the anchored pattern re
// at s[i], or 0.
func anchoredLen(re *regexp.Regexp, s string, i int) int {
	loc := re.FindStringIndex(s[i:min(len(s), i+maxTimeLen)])
	if loc == nil {
		return 0
	}
	return loc[1]
}

// foldEmails replaces e-mail addresses by <email>.
func foldEmails(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); {
		at := strings.IndexByte(s[i:], '@')
		if at < 0 {
			break
		}
		at += i
		start := at
		for start > w.last && isEmailLocalByte(s[start-1]) {
			start--
		}
		if start < at {
			if loc := domainPattern.FindStringIndex(s[at+1:]); loc != nil {
				end := at + 1 + loc[1]
				w.replace(start, end, templateEmail)
				i = end
				continue
			}
		}
		i = at + 1
	}
	return w.String()
}

// foldIPs replaces IPv4 addresses (not parts of longer dotted numbers) by
// <ip>.
func foldIPs(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) || i > 0 && (isDigitByte(s[i-1]) || s[i-1] == '.') {
			continue
		}
		if n := ipv4Len(s, i); n > 0 {
			w.replace(i, i+n, templateIP)
			i += n - 1
		}
	}
	return w.String()
}

// ipv4Len returns the length of the IPv4 address at s[i], or 0.
func ipv4Len(s string, i int) int {
	p := i
	for g := range 4 {
		d := 0
		for p+d < len(s) && isDigitByte(s[p+d]) {
			d++
		}
		if d == 0 || d > 3 {
			return 0
		}
		p += d
		if g < 3 {
			if p >= len(s) || s[p] != '.' {
				return 0
			}
			p++
		}
	}
	// A sentence may end after an address, a longer dotted number may not.
	if p < len(s) && (isDigitByte(s[p]) || s[p] == '.' && p+1 < len(s) && isDigitByte(s[p+1])) {
		return 0
	}
	return p - i
}

// foldHexIDs replaces words that are hexadecimal ids by <hex>: 0x-prefixed
// hex numbers, and at least 8 hex digits with both digits and letters.
func foldHexIDs(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); {
		if !isAlnumByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isAlnumByte(s[j]) {
			j++
		}
		if hexID(s[i:j]) {
			w.replace(i, j, templateHex)
		}
		i = j
	}
	return w.String()
}

// hexID reports whether the word v is a hexadecimal id.
func hexID(v string) bool {
	if len(v) >= 3 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') {
		return allHex(v[2:])
	}
	return len(v) >= 8 && allHex(v) && strings.ContainsAny(v, "0123456789") && strings.ContainsAny(v, "abcdefABCDEF")
}

func allHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if !isHexByte(v[i]) {
			return false
		}
	}
	return true
}

// signContext lists the bytes after which a '-' or '+' is a sign rather
// than a hyphen or an operator.
const signContext = " =:([{,;\"'"

// foldNumbers replaces numbers (digits, with a decimal fraction and a sign
// where there is one) by <num>; digits inside words count too.
func foldNumbers(s string) string {
	w := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) {
			continue
		}
		start := i
		if i > 0 && (s[i-1] == '-' || s[i-1] == '+') && i-1 >= w.last &&
			(i == 1 || strings.IndexByte(signContext, s[i-2]) >= 0) {
			start = i - 1
		}
		j := i
		for j < len(s) && isDigitByte(s[j]) {
			j++
		}
		if j+1 < len(s) && s[j] == '.' && isDigitByte(s[j+1]) {
			j++
			for j < len(s) && isDigitByte(s[j]) {
				j++
			}
		}
		w.replace(start, j, templateNumber)
		i = j - 1
	}
	return w.String()
}

// foldQuotes replaces quoted values by <str>: "…" (with backslash escapes)
// anywhere, and '…' where the quotes are not apostrophes inside words (the
// opening one follows no letter or digit, the closing one precedes none).
// A quote without its closing one stays.
func foldQuotes(s string) string {
	if !strings.ContainsAny(s, `"'`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	// Once a quote has no closing one, no later quote of its kind has one.
	openDouble, openSingle := true, true
	for i := 0; i < len(s); i++ {
		end := -1
		switch s[i] {
		case '"':
			if openDouble {
				end = closingDoubleQuote(s, i+1)
				openDouble = end >= 0
			}
		case '\'':
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); openSingle && (i == 0 || !wordRune(r)) {
				end = closingSingleQuote(s, i+1)
				openSingle = end >= 0
			}
		}
		if end < 0 {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(templateString)
		last = end + 1
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// closingDoubleQuote returns the index of the '"' closing a value that
// starts at from, skipping backslash escapes, or -1.
func closingDoubleQuote(s string, from int) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// closingSingleQuote returns the index of the first single quote at or after
// from that no letter or digit follows, or -1.
func closingSingleQuote(s string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(s[i+1:]); i+1 == len(s) || !wordRune(r) {
			return i
		}
	}
	return -1
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isEmailLocalByte(c byte) bool {
	return isAlnumByte(c) || strings.IndexByte("._%+-", c) >= 0
}

// wordStart reports whether a word starts at s[i]: no ASCII letter, digit
// or '_' precedes it.
func wordStart(s string, i int) bool { return i == 0 || !isWordByte(s[i-1]) }
