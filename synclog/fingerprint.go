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

var (
	uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

	// timePattern matches ISO 8601 / RFC 3339 timestamps and dates (with
	// 'T' or a space, optional fractions and zones, as Go's time.String
	// writes them too), slash dates, RFC 1123 HTTP dates and times of day.
	timePattern = regexp.MustCompile(
		`\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?` +
			`(?:Z| ?[+-]\d{2}:?\d{2}(?: ` + zoneNames + `\b)?| ` + zoneNames + `\b)?)?` +
			`|\d{4}/\d{2}/\d{2}(?: \d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?` +
			`|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2}(?: (?:GMT|UTC|[+-]\d{4}))?` +
			`|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?`)

	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	ipv4Pattern  = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`)
	hexPattern   = regexp.MustCompile(`0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,}`)
	numPattern   = regexp.MustCompile(`[-+]?\d+(?:\.\d+)?`)
)

// zoneNames are the time zone abbreviations a timestamp may end with.
const zoneNames = `(?:UTC|GMT|CST|CDT|EST|EDT|MST|MDT|PST|PDT|CET|CEST|EET|EEST|BST|IST|JST|KST|HKT|SGT|AEST|AEDT)`

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
// <num> and quoted values by <str>. Letters keep their case and Redacted
// stays as it is.
func MessageTemplate(message string) string {
	if len(message) > MaxTemplateInput {
		n := MaxTemplateInput
		for n > 0 && !utf8.RuneStart(message[n]) {
			n--
		}
		message = message[:n]
	}
	s := strings.Join(strings.Fields(message), " ")
	s = uuidPattern.ReplaceAllLiteralString(s, templateUUID)
	s = timePattern.ReplaceAllLiteralString(s, templateTime)
	s = emailPattern.ReplaceAllLiteralString(s, templateEmail)
	s = replaceWhere(s, ipv4Pattern, templateIP, func(s string, start, end int) (int, int, bool) {
		ok := (start == 0 || !isDigitOrDot(s[start-1])) && (end == len(s) || !isDigitOrDot(s[end]))
		return start, end, ok
	})
	s = replaceWhere(s, hexPattern, templateHex, func(s string, start, end int) (int, int, bool) {
		if start > 0 && isAlnumByte(s[start-1]) || end < len(s) && isAlnumByte(s[end]) {
			return 0, 0, false
		}
		v := s[start:end]
		if v[0] == '0' && (v[1] == 'x' || v[1] == 'X') {
			return start, end, true
		}
		return start, end, strings.ContainsAny(v, "0123456789") && strings.ContainsAny(v, "abcdefABCDEF")
	})
	s = replaceWhere(s, numPattern, templateNumber, func(s string, start, end int) (int, int, bool) {
		// A sign belongs to the number only where it cannot be a hyphen or
		// an operator: at the start or after a space or an opening mark.
		if c := s[start]; (c == '-' || c == '+') && start > 0 && !strings.ContainsRune(" =:([{,;\"'", rune(s[start-1])) {
			start++
		}
		return start, end, true
	})
	return foldQuotes(s)
}

// replaceWhere replaces the matches of re in s by repl where keep allows,
// over the range keep returns.
func replaceWhere(s string, re *regexp.Regexp, repl string, keep func(s string, start, end int) (int, int, bool)) string {
	locs := re.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, loc := range locs {
		start, end, ok := keep(s, loc[0], loc[1])
		if !ok {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(repl)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
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
	for i := 0; i < len(s); i++ {
		var end int
		switch s[i] {
		case '"':
			end = closingDoubleQuote(s, i+1)
		case '\'':
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); i > 0 && wordRune(r) {
				continue
			}
			end = closingSingleQuote(s, i+1)
		default:
			continue
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

// closingSingleQuote returns the index of the first '\'' at or after from
// that no letter or digit follows, or -1.
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

func isDigitOrDot(c byte) bool { return '0' <= c && c <= '9' || c == '.' }
