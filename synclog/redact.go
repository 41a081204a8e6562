package synclog

import (
	"regexp"
	"strings"
)

// Redacted is the text that replaces a secret in a message or attribute.
const Redacted = "[REDACTED]"

// maxRedactPasses bounds how often Redact re-scans a text whose redaction
// uncovered a further secret. Real messages settle after one or two passes;
// a text that has not settled by then is replaced as a whole.
const maxRedactPasses = 4

// secretValue is the character set of an unquoted secret value: printable
// ASCII except space, quotes, '&', ',', ';' and '\', which end a value in
// query strings, lists, logfmt and escaped JSON.
const secretValue = `[!#$%(-+\--:<-\[\]-~]`

// secretKeyWords are the words that make a key name a secret's, as matched
// in free text (case-insensitive, with any prefix or suffix such as
// client_secret, access_token or aws_secret_access_key).
const secretKeyWords = `passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|cookie`

// secretPattern is one form a secret takes in free text.
type secretPattern struct {
	// re matches the secret. If it has capturing groups, the first group
	// that took part in a match is the value to redact (the rest of the
	// match, such as a key name, stays); otherwise the whole match is.
	re *regexp.Regexp
	// hints lists lowercase words of which the text (folded by hintText)
	// contains at least one whenever re can match; re is skipped otherwise.
	// No hint may be a substring of Redacted.
	hints []string
	// trimGroup is the group whose unbalanced closing brackets at the end are
	// left in place (as in "map[token:abc]"); 0 for none.
	trimGroup int
	// accept, when set, tells whether the value s[start:end] is a secret.
	accept func(s string, start, end int) bool
}

// secretPatterns are the forms of secrets, in the order Redact applies them.
var secretPatterns = []secretPattern{
	{
		// PEM private key blocks, also truncated ones: the body goes.
		re:    regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----((?s:.*?))(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)`),
		hints: []string{"private key"},
	},
	{
		// Credentials in URLs: scheme://user:password@host.
		re:    regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s/?#@:]*:([^\s/?#]+)@`),
		hints: []string{"://"},
	},
	{
		// key=value, key: value, "key": "value", key='value', \"key\":\"value\",
		// query parameters and Authorization headers (the scheme stays).
		re: regexp.MustCompile(`(?i)[a-z0-9_.-]*(?:` + secretKeyWords + `)[a-z0-9_.-]*(?:\\?["'])?[ \t]*(?::=|=>|[:=])[ \t]*` +
			`(?:"((?:[^"\\\r\n]|\\.)*)"` +
			`|\\"((?:[^"\\\r\n]|\\[^"\r\n])*)\\"` +
			`|'([^'\r\n]*)'` +
			`|(?:\\?["'])?(?:(?:bearer|basic|digest|negotiate|token)[ \t]+)?(` + secretValue + `+))`),
		hints:     []string{"pass", "pwd", "secret", "token", "key", "authorization", "cookie"},
		trimGroup: 4,
	},
	{
		// A bare bearer token outside a header.
		re:     regexp.MustCompile(`(?i)\bbearer[ \t]+([a-z0-9._~+/-]+=*)`),
		hints:  []string{"bearer"},
		accept: tokenLike,
	},
	{
		// JSON Web Tokens: three base64url segments, the header's JSON
		// starting "eyJ".
		re:    regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`),
		hints: []string{"eyj"},
	},
	{
		// A 40-character AWS secret access key near an aws or secret key word.
		re: regexp.MustCompile(`(?i)\b(?:aws|secret)[a-z0-9_-]*(?:[ \t]+[a-z0-9_.\[\]-]+){0,3}?` +
			`(?:["']?[ \t]*[:=][ \t]*["']?|[ \t]+)([a-z0-9/+]{40})`),
		hints:  []string{"aws", "secret"},
		accept: func(s string, _, end int) bool { return end == len(s) || !isBase64Byte(s[end]) },
	},
	{
		// AWS access key ids, long-term (AKIA) and temporary (ASIA).
		re:    regexp.MustCompile(`(?:AKIA|ASIA)[A-Z0-9]{16}`),
		hints: []string{"akia", "asia"},
		accept: func(s string, start, end int) bool {
			return (start == 0 || !isAlnumByte(s[start-1])) && (end == len(s) || !isAlnumByte(s[end]))
		},
	},
}

// Redact returns s with the secrets it contains replaced by Redacted:
// values of password, secret, token, API key, access key, cookie and
// authorization keys (in key=value, key: value, JSON, quoted and query
// string forms; the key name stays so that the text remains readable),
// bearer tokens, credentials in URLs, JSON Web Tokens, AWS access key ids
// and secret keys, and PEM private key blocks. Text without secrets is
// returned unchanged. Redact is idempotent, and its result is valid UTF-8
// when s is.
func Redact(s string) string {
	if s == "" {
		return s
	}
	// Redaction never creates a hint word (Redacted contains none), so the
	// patterns that cannot match s cannot match any later text either.
	hints := hintText(s)
	active := make([]*secretPattern, 0, len(secretPatterns))
	for i := range secretPatterns {
		if secretPatterns[i].hinted(hints) {
			active = append(active, &secretPatterns[i])
		}
	}
	if len(active) == 0 {
		return s
	}
	for range maxRedactPasses {
		changed := false
		for _, p := range active {
			if spans := p.spans(s); len(spans) > 0 {
				s = replaceSpans(s, spans)
				changed = true
			}
		}
		if !changed {
			return s
		}
	}
	// Each redaction uncovered another secret; keep nothing of the text.
	return Redacted
}

// containsSecret reports whether s contains a secret that Redact would
// replace; it is false for every result of Redact.
func containsSecret(s string) bool {
	hints := hintText(s)
	for i := range secretPatterns {
		p := &secretPatterns[i]
		if p.hinted(hints) && len(p.spans(s)) > 0 {
			return true
		}
	}
	return false
}

// hinted reports whether the folded text contains one of p's hints.
func (p *secretPattern) hinted(folded string) bool {
	for _, h := range p.hints {
		if strings.Contains(folded, h) {
			return true
		}
	}
	return false
}

// spans returns the byte ranges of the secret values p finds in s, in order
// and without overlap. Empty values and values that are already Redacted
// are not secrets.
func (p *secretPattern) spans(s string) [][2]int {
	var out [][2]int
	for _, m := range p.re.FindAllStringSubmatchIndex(s, -1) {
		start, end, group := m[0], m[1], 0
		for g := 1; 2*g < len(m); g++ {
			if m[2*g] >= 0 {
				start, end, group = m[2*g], m[2*g+1], g
				break
			}
		}
		if group != 0 && group == p.trimGroup {
			end = trimClosers(s, start, end)
		}
		if start >= end || s[start:end] == Redacted {
			continue
		}
		if p.accept != nil && !p.accept(s, start, end) {
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

// replaceSpans returns s with every span replaced by Redacted.
func replaceSpans(s string, spans [][2]int) string {
	var b strings.Builder
	b.Grow(len(s) + len(spans)*len(Redacted))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(Redacted)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// trimClosers returns the end of s[start:end] without the closing brackets
// at its end that close nothing opened inside it.
func trimClosers(s string, start, end int) int {
	var open, closed [3]int
	for i := start; i < end; i++ {
		if k := strings.IndexByte("([{", s[i]); k >= 0 {
			open[k]++
		} else if k := strings.IndexByte(")]}", s[i]); k >= 0 {
			closed[k]++
		}
	}
	for end > start {
		k := strings.IndexByte(")]}", s[end-1])
		if k < 0 || closed[k] <= open[k] {
			break
		}
		closed[k]--
		end--
	}
	return end
}

// tokenLike reports whether s[start:end] looks like a token rather than a
// word: at least 8 characters with a digit, or at least 20.
func tokenLike(s string, start, end int) bool {
	v := s[start:end]
	return len(v) >= 20 || len(v) >= 8 && strings.ContainsAny(v, "0123456789")
}

// hintText folds s for matching hints: ASCII letters are lowercased, and
// the two non-ASCII letters that case-insensitive regular expressions match
// as ASCII ones (KELVIN SIGN and LONG S) become 'k' and 's'.
func hintText(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == 0xE2 && strings.HasPrefix(s[i:], "\u212A"):
			b = append(b, 'k')
			i += len("\u212A") - 1
		case c == 0xC5 && strings.HasPrefix(s[i:], "\u017F"):
			b = append(b, 's')
			i += len("\u017F") - 1
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isBase64Byte(c byte) bool {
	return isAlnumByte(c) || c == '+' || c == '/' || c == '='
}

// secretAttributeWords are the words that make an attribute key a secret's;
// keys are compared lowercased and without '_', '-', '.' and spaces.
var secretAttributeWords = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accesskey",
	"authorization", "cookie", "credential", "privatekey",
}

// RedactAttributes returns a copy of attrs in which the value of every key
// that names a secret (password, secret, token, API or access key,
// authorization, cookie, credential, private key) is Redacted and every
// other value has been passed through Redact. attrs itself is not changed;
// the result is nil when attrs is empty.
func RedactAttributes(attrs map[string]string) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if secretKey(k) {
			out[k] = Redacted
		} else {
			out[k] = Redact(v)
		}
	}
	return out
}

// secretKey reports whether an attribute key names a secret.
func secretKey(key string) bool {
	compact := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(key))
	for _, w := range secretAttributeWords {
		if strings.Contains(compact, w) {
			return true
		}
	}
	return false
}
