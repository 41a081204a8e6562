package synclog

import (
	"bytes"
	"maps"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
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
const secretKeyWords = `passw(?:or)?d|passphrase|pass\b|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|cookie`

// secretValueForms are the forms of the value after a secret's key and its
// separator, each a capturing group: a double-quoted JSON string, an
// escaped JSON string (\"…\"), a single-quoted string, or an unquoted
// value, optionally after an opening quote and an authorization scheme.
// The unquoted value is the fourth group.
const secretValueForms = `(?:"((?:[^"\\\r\n]|\\.)*)"` +
	`|\\"((?:[^"\\\r\n]|\\[^"\r\n])*)\\"` +
	`|'([^'\r\n]*)'` +
	`|(?:\\?["'])?(?:(?:bearer|basic|digest|negotiate|token)[ \t]+)?(` + secretValue + `+))`

// proseSecretWords are the key words after which "is" or "was" introduces a
// secret in prose ("the password is hunter2"). Bare "pass" and "pwd" are
// left out: "bypass is on" and "pwd is /srv" are not secrets.
const proseSecretWords = `passw(?:or)?d|passphrase|secret|token|api[_ -]?key|access[_ -]?key|private[_ -]?key|credentials?`

// cjkSecretKeyWords are the Chinese key words of secrets, simplified and
// traditional: password (密码, 口令), secret or private key (密钥, 秘钥,
// 私钥, and so 访问密钥, access key), token (令牌), authorization code
// (授权码), verification code (验证码) and signature (签名).
const cjkSecretKeyWords = `密码|密碼|口令|密钥|密鑰|秘钥|秘鑰|祕鑰|私钥|私鑰|令牌|授权码|授權碼|验证码|驗證碼|签名|簽名`

// cjkSecretAnchors are characters of which every word of cjkSecretKeyWords
// holds one; the search for a Chinese key word starts at the run of
// non-ASCII bytes around one of them.
var cjkSecretAnchors = []string{"码", "碼", "钥", "鑰", "令", "名"}

// cjkSpace is a run of spaces between a Chinese key word, its
// separator and its value: ASCII blanks and the ideographic space U+3000.
const cjkSpace = `[ \t\x{3000}]*`

// cjkSecretValue is a character of an unquoted value after a Chinese key
// word: those of secretValue and every non-ASCII character except spaces
// and punctuation (CJK symbols and punctuation, full-width punctuation,
// general punctuation such as quotation marks, and CJK compatibility
// forms), which end the value as ',' and ';' do.
const cjkSecretValue = `(?:` + secretValue + `|[^\x00-\x7f\x{85}\x{a0}\x{1680}\x{2000}-\x{206f}\x{3000}-\x{303f}\x{fe10}-\x{fe1f}\x{fe30}-\x{fe6f}\x{feff}\x{ff01}-\x{ff0f}\x{ff1a}-\x{ff20}\x{ff3b}-\x{ff40}\x{ff5b}-\x{ff65}\x{fffd}])`

// secretPattern is one form a secret takes in free text.
type secretPattern struct {
	// re matches the secret. If it has capturing groups, the first group
	// that took part in a match is the value to redact (the rest of the
	// match, such as a key name, stays); otherwise the whole match is.
	re *regexp.Regexp
	// anchors, when set, are words every match contains and that start a
	// match or follow its start within a run of backOver bytes; re then
	// never matches across a line break. Only the lines holding an anchor
	// are searched, each from the first anchor (less the run of backOver
	// bytes before it) to its end, so that a long text costs little more
	// than a substring search. Without anchors re is searched over the
	// whole text. Either way every byte is searched at most once, so the
	// cost stays linear in the length of the text.
	anchors []string
	// fold makes anchors match regardless of ASCII case (anchors are then
	// lowercase).
	fold bool
	// backOver reports whether a byte before an anchor may belong to the
	// match, or to the word whose start re checks with \b.
	backOver func(c byte) bool
	// trimGroup is the group whose unbalanced closing brackets at the end are
	// left in place (as in "map[token:abc]"); 0 for none.
	trimGroup int
	// accept, when set, tells whether the match s[m0:m1] with value
	// s[start:end] is a secret.
	accept func(s string, m0, m1, start, end int) bool
	// acceptFrom, when not 0, is the first group whose values accept
	// decides on; values of earlier groups are secrets without it.
	acceptFrom int
}

// secretPatterns are the forms of secrets, in the order Redact applies them.
var secretPatterns = []secretPattern{
	{
		// PEM private key blocks, also truncated ones: the body goes.
		re: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----((?s:.*?))(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)`),
	},
	{
		// Credentials in URLs: scheme://user:password@host.
		re:       regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s/?#@:]*:([^\s/?#]+)@`),
		anchors:  []string{"://"},
		backOver: isSchemeByte,
	},
	{
		// key=value, key: value, "key": "value", key='value', \"key\":\"value\",
		// query parameters and Authorization headers (the scheme stays). Any
		// prefix of the key (client_secret, db.password) stays as well.
		//
		// And secrets in prose (groups 5 to 7): "the password is hunter2",
		// "token was abc". Words that describe rather than give a secret
		// ("password is incorrect", "token was rejected") are not secrets.
		// The two forms share one search, as they share their key words.
		re: regexp.MustCompile(`(?i)(?:` + secretKeyWords + `)[a-z0-9_.-]*(?:\\?["'])?[ \t]*(?::=|=>|[:=])[ \t]*` + secretValueForms +
			`|(?:` + proseSecretWords + `)[ \t]+(?:is|was)(?:[ \t]*:)?[ \t]+` +
			`(?:"([^"\r\n]*)"|'([^'\r\n]*)'|(` + secretValue + `+?))[.!?:)]*(?:[\s,;'"\x{3000}-\x{303f}\x{ff01}-\x{ff0f}\x{ff1a}-\x{ff20}]|$)`),
		anchors:    []string{"pass", "pwd", "secret", "token", "api", "access", "private", "authorization", "cookie", "credential"},
		fold:       true,
		trimGroup:  4,
		accept:     func(s string, _, _, start, end int) bool { return !notSecretWord(s[start:end]) },
		acceptFrom: 5,
	},
	{
		// credentials=user:password, and "credentials": "…" in JSON. Unlike
		// the key words above, a bare "credentials:" takes no value: it
		// starts error messages ("NoCredentialProviders: no valid
		// providers", "invalid credentials: check the user").
		re:        regexp.MustCompile(`(?i)credential[a-z0-9_.-]*(?:[ \t]*=|\\?["'][ \t]*(?::=|=>|[:=]))[ \t]*` + secretValueForms),
		anchors:   []string{"credential"},
		fold:      true,
		trimGroup: 4,
	},
	{
		// The Chinese key words with an ASCII or full-width colon or
		// equals sign: 密码：hunter2, 密钥=…, "密码": "…". The value ends at
		// a space (also U+3000) or at ASCII or CJK punctuation.
		re: regexp.MustCompile(`(?:` + cjkSecretKeyWords + `)(?:\\?["'])?` + cjkSpace + `(?::=|=>|[:=：＝])` + cjkSpace +
			`(?:"((?:[^"\\\r\n]|\\.)*)"` +
			`|\\"((?:[^"\\\r\n]|\\[^"\r\n])*)\\"` +
			`|'([^'\r\n]*)'` +
			`|[“‘「『]?(` + cjkSecretValue + `+))`),
		anchors:   cjkSecretAnchors,
		backOver:  isNonASCIIByte,
		trimGroup: 4,
	},
	{
		// The Chinese key words followed by 是 or 为 ("is"): 密码是 hunter2.
		// Only an ASCII value that ends at a space, punctuation or the end
		// of the text counts, which leaves 密码为空 ("is empty") and
		// 密码为6位数字 ("is six digits") alone.
		re: regexp.MustCompile(`(?:` + cjkSecretKeyWords + `)` + cjkSpace + `(?:是|为|為)` + cjkSpace + `(?:[:：]` + cjkSpace + `)?` +
			`(?:"([^"\r\n]*)"|“([^”\r\n]*)”|(` + secretValue + `+))`),
		anchors:  cjkSecretAnchors,
		backOver: isNonASCIIByte,
		accept: func(s string, _, m1, start, end int) bool {
			return !notSecretWord(s[start:end]) && (m1 > end || endsWord(s, m1))
		},
	},
	{
		// A bare bearer token outside a header.
		re:       regexp.MustCompile(`(?i)\bbearer[ \t]+([a-z0-9._~+/-]+=*)`),
		anchors:  []string{"bearer"},
		fold:     true,
		backOver: isWordByte,
		accept:   func(s string, _, _, start, end int) bool { return tokenLike(s[start:end]) },
	},
	{
		// JSON Web Tokens: three base64url segments, the header's JSON
		// starting "eyJ".
		re:      regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`),
		anchors: []string{"eyJ"},
	},
	{
		// A 40-character AWS secret access key near an aws or secret key word.
		re: regexp.MustCompile(`(?i)\b(?:aws|secret)[a-z0-9_-]*(?:[ \t]+[a-z0-9_.\[\]-]+){0,3}?` +
			`(?:["']?[ \t]*[:=][ \t]*["']?|[ \t]+)([a-z0-9/+]{40})`),
		anchors:  []string{"aws", "secret"},
		fold:     true,
		backOver: isWordByte,
		accept:   func(s string, _, m1, _, _ int) bool { return m1 == len(s) || !isBase64Byte(s[m1]) },
	},
	{
		// Oracle JDBC URLs: jdbc:oracle:thin:user/password@host:1521:sid
		// and …@//host:1521/service.
		re:      regexp.MustCompile(`(?i)jdbc:oracle:[a-z0-9]+:[^\s/@:"']*/([^\s/]+)@`),
		anchors: []string{"jdbc:oracle:"},
		fold:    true,
	},
	{
		// GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server
		// (ghu_), server-to-server (ghs_) and refresh (ghr_) tokens, and
		// fine-grained personal tokens (github_pat_). The prefix stays.
		// The anchor is the first '_', rare in prose, after the letters
		// before it.
		re:       regexp.MustCompile(`(?:gh[pousr]_|github_pat_)([A-Za-z0-9_]{30,})`),
		anchors:  []string{"_"},
		backOver: isAlnumByte,
		accept:   notAfterAlnum,
	},
	{
		// Stripe secret and restricted keys, live and test; publishable
		// keys (pk_) are public. The prefix stays.
		re:       regexp.MustCompile(`(?:sk|rk)_(?:live|test)_([A-Za-z0-9]{16,})`),
		anchors:  []string{"_live_", "_test_"},
		backOver: isAlnumByte,
		accept:   notAfterAlnum,
	},
	{
		// Slack tokens: bot (xoxb-), user (xoxp-), app-level (xapp-) and
		// the other xox?- kinds. The prefix stays.
		re:      regexp.MustCompile(`(?:xox[abeoprs]|xapp)-([A-Za-z0-9-]{10,})`),
		anchors: []string{"xox", "xapp-"},
		accept:  notAfterAlnum,
	},
	{
		// Slack incoming webhooks and workflow triggers: the last segment
		// of the path is the secret; the workspace and channel ids before
		// it stay.
		re:      regexp.MustCompile(`(?i)hooks\.slack\.com/(?:services|workflows|triggers)/(?:[a-z0-9_-]+/)+([a-z0-9_-]+)`),
		anchors: []string{"hooks.slack.com/"},
		fold:    true,
		accept:  func(s string, _, m1, _, _ int) bool { return m1 == len(s) || s[m1] != '/' },
	},
	{
		// AWS access key ids, long-term (AKIA) and temporary (ASIA).
		re:       regexp.MustCompile(`(?:AKIA|ASIA)[A-Z0-9]{16}`),
		anchors:  []string{"AKIA", "ASIA"},
		backOver: isAlnumByte,
		accept: func(s string, m0, m1, _, _ int) bool {
			return (m0 == 0 || !isAlnumByte(s[m0-1])) && (m1 == len(s) || !isAlnumByte(s[m1]))
		},
	},
}

// Redact returns s with the secrets it contains replaced by Redacted:
//   - values of password (pass, passwd, pwd), secret, token, API key, access
//     key, private key, cookie and authorization keys, in key=value,
//     key: value, JSON, quoted and query string forms (the key name stays so
//     that the text remains readable), and of credentials keys given with
//     '=' or in JSON (credentials=user:password);
//   - the same secrets in prose: "the password is hunter2", "token was
//     abc" (but not "password is incorrect" or "token was rejected");
//   - values of the Chinese key words 密码, 口令, 密钥, 秘钥, 私钥, 令牌,
//     授权码, 验证码, 访问密钥 and 签名 (simplified or traditional) after an
//     ASCII or full-width colon or equals sign, with or without spaces
//     (密码：hunter2, 密钥=…), or after 是 or 为 (密码是 hunter2); the value
//     ends at a space or at ASCII or CJK punctuation;
//   - bearer tokens, credentials in URLs (scheme://user:password@host) and
//     in Oracle JDBC URLs (jdbc:oracle:thin:user/password@host);
//   - tokens recognised by their shape: JSON Web Tokens, AWS access key ids
//     and secret keys, GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_,
//     github_pat_), Stripe secret and restricted keys (sk_live_, sk_test_,
//     rk_live_, rk_test_; not the public pk_ keys), Slack tokens (xoxb-,
//     xoxp-, xapp- and the like) and the secret of Slack webhook URLs
//     (hooks.slack.com/services/T…/B…/secret); the prefix of a token stays;
//   - the bodies of PEM private key blocks.
//
// Text without secrets is returned unchanged. Redact is idempotent, leaves
// Redacted values alone, and its result is valid UTF-8 when s is. Its cost
// is linear in the length of s.
func Redact(s string) string {
	if s == "" {
		return s
	}
	lower := asciiLower(s)
	for range maxRedactPasses {
		changed := false
		for i := range secretPatterns {
			if spans := secretPatterns[i].spans(s, lower); len(spans) > 0 {
				s = replaceSpans(s, spans, Redacted)
				lower = replaceSpans(lower, spans, redactedLower)
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

// redactedLower is Redacted in lowercase, for the lowercase copy of a text.
const redactedLower = "[redacted]"

// containsSecret reports whether s contains a secret that Redact would
// replace; it is false for every result of Redact.
func containsSecret(s string) bool {
	lower := asciiLower(s)
	for i := range secretPatterns {
		if len(secretPatterns[i].spans(s, lower)) > 0 {
			return true
		}
	}
	return false
}

// spans returns the byte ranges of the secret values p finds in s, in order
// and without overlap; lower is s with ASCII letters lowercased. Empty
// values and values that are already Redacted are not secrets.
func (p *secretPattern) spans(s, lower string) [][2]int {
	var out [][2]int
	if p.anchors == nil {
		for _, m := range p.re.FindAllStringSubmatchIndex(s, -1) {
			if sp, ok := p.value(s, 0, m); ok {
				out = append(out, sp)
			}
		}
		return out
	}
	hay := s
	if p.fold {
		hay = lower
	}
	// next[k] caches where anchors[k] next occurs: -2 not yet searched,
	// -1 nowhere. Each anchor's searches together read s once.
	var nextBuf [16]int
	next := nextBuf[:len(p.anchors)]
	for k := range next {
		next[k] = -2
	}
	for i := 0; i < len(s); {
		// i is the start of a line; find the first anchor at or after it.
		j := -1
		for k, a := range p.anchors {
			if next[k] != -1 && next[k] < i {
				next[k] = -1
				if n := strings.Index(hay[i:], a); n >= 0 {
					next[k] = i + n
				}
			}
			if next[k] >= 0 && (j < 0 || next[k] < j) {
				j = next[k]
			}
		}
		if j < 0 {
			break
		}
		start := j
		for p.backOver != nil && start > i && p.backOver(s[start-1]) {
			start--
		}
		lineEnd := len(s)
		if n := strings.IndexByte(s[j:], '\n'); n >= 0 {
			lineEnd = j + n
		}
		// The search starts at a line start or after a byte that backOver
		// rejects, so \b and the like see what they would in all of s.
		for _, m := range p.re.FindAllStringSubmatchIndex(s[start:lineEnd], -1) {
			if sp, ok := p.value(s, start, m); ok {
				out = append(out, sp)
			}
		}
		i = lineEnd + 1
	}
	return out
}

// value returns the span of the secret value in match m of p, found in s
// from offset off, and whether it is a secret.
func (p *secretPattern) value(s string, off int, m []int) ([2]int, bool) {
	start, end, group := m[0], m[1], 0
	for g := 1; 2*g < len(m); g++ {
		if m[2*g] >= 0 {
			start, end, group = m[2*g], m[2*g+1], g
			break
		}
	}
	start += off
	end += off
	if group != 0 && group == p.trimGroup {
		end = trimClosers(s, start, end)
	}
	if start >= end || s[start:end] == Redacted {
		return [2]int{}, false
	}
	if p.accept != nil && group >= p.acceptFrom && !p.accept(s, off+m[0], off+m[1], start, end) {
		return [2]int{}, false
	}
	return [2]int{start, end}, true
}

// replaceSpans returns s with every span replaced by repl.
func replaceSpans(s string, spans [][2]int, repl string) string {
	var b strings.Builder
	b.Grow(len(s) + len(spans)*len(repl))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(repl)
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

// tokenLike reports whether v looks like a token rather than a word: at
// least 8 characters with a digit, or at least 20.
func tokenLike(v string) bool {
	return len(v) >= 20 || len(v) >= 8 && strings.ContainsAny(v, "0123456789")
}

func isWordByte(c byte) bool { return isAlnumByte(c) || c == '_' }

func isNonASCIIByte(c byte) bool { return c >= utf8.RuneSelf }

// notAfterAlnum accepts a match that does not continue a word of letters
// and digits.
func notAfterAlnum(s string, m0, _, _, _ int) bool { return m0 == 0 || !isAlnumByte(s[m0-1]) }

// notSecretWord reports whether the value v after "password is" and the
// like is a word that describes a secret rather than gives it, as in
// "password is incorrect" or "token was rejected": a word of the list
// below, or a word of letters ending in "ed" or "ing".
func notSecretWord(v string) bool {
	w := asciiLower(v)
	switch w {
	case "a", "an", "the", "not", "no", "now", "still", "also", "already", "too", "very", "being",
		"only", "just", "either", "in", "at", "for", "from", "of", "on", "off", "out", "to", "by",
		"with", "without", "and", "or", "but", "as", "incorrect", "correct", "wrong", "invalid", "valid",
		"expired", "required", "missing", "empty", "blank", "null", "nil", "none", "undefined", "unset",
		"set", "ok", "true", "false", "weak", "strong", "short", "long", "bad", "good", "same",
		"different", "unknown", "absent", "present", "mandatory", "optional", "malformed", "stale",
		"old", "new", "outdated", "unavailable", "available", "needed", "necessary", "unchanged",
		"ignored", "rejected", "revoked", "locked", "disabled", "enabled", "active", "inactive",
		"pending", "here", "there", "this", "that", "it", "n/a":
		return true
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return strings.HasSuffix(w, "ed") || strings.HasSuffix(w, "ing")
}

// endsWord reports whether a value that ends at s[i] ends there because a
// word ends: at the end of s, at an ASCII byte (which secretValue stopped
// at), or at a non-ASCII space or punctuation mark, not at a letter such
// as a CJK character.
func endsWord(s string, i int) bool {
	if i == len(s) || s[i] < utf8.RuneSelf {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// asciiLower returns s with ASCII letters lowercased and every other byte,
// and so every offset, unchanged.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isSchemeByte(c byte) bool {
	return isAlnumByte(c) || c == '+' || c == '.' || c == '-'
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isBase64Byte(c byte) bool {
	return isAlnumByte(c) || c == '+' || c == '/' || c == '='
}

// secretAttributeWords are the words that make an attribute key a secret's;
// keys are compared lowercased and without '_', '-', '.' and spaces. The
// Chinese words are those of cjkSecretKeyWords (访问密钥 holds 密钥).
var secretAttributeWords = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accesskey",
	"authorization", "cookie", "credential", "privatekey",
	"密码", "密碼", "口令", "密钥", "密鑰", "秘钥", "秘鑰", "祕鑰", "私钥", "私鑰", "令牌",
	"授权码", "授權碼", "验证码", "驗證碼", "签名", "簽名",
}

// RedactAttributes returns a copy of attrs in which the value of every key
// that names a secret (password, secret, token, API or access key,
// authorization, cookie, credential, private key, and the Chinese 密码,
// 口令, 密钥, 秘钥, 私钥, 令牌, 授权码, 验证码, 访问密钥 and 签名, simplified
// or traditional) is Redacted and every
// other value has been passed through Redact. attrs itself is not changed;
// the result is nil when attrs is empty.
func RedactAttributes(attrs map[string]string) map[string]string {
	out, changed := redactAttributes(attrs)
	if !changed {
		return maps.Clone(out)
	}
	return out
}

// redactAttributes is RedactAttributes, except that it returns attrs
// itself (changed false) when nothing in it is a secret: most reports
// carry none, and Normalize need not copy their attributes. attrs itself
// is never changed.
func redactAttributes(attrs map[string]string) (out map[string]string, changed bool) {
	if len(attrs) == 0 {
		return nil, false
	}
	for k, v := range attrs {
		nv := v
		if secretKey(k) {
			nv = Redacted
		} else {
			nv = Redact(v)
		}
		if nv != v && !changed {
			out, changed = maps.Clone(attrs), true
		}
		if changed {
			out[k] = nv
		}
	}
	if !changed {
		return attrs, false
	}
	return out, true
}

// secretKey reports whether an attribute key names a secret.
func secretKey(key string) bool {
	// Most keys are short ASCII: compact them on the stack.
	var buf [64]byte
	if len(key) <= len(buf) {
		n, ascii := 0, true
		for i := 0; i < len(key); i++ {
			c := key[i]
			switch {
			case c >= utf8.RuneSelf:
				ascii = false
			case c == '_' || c == '-' || c == '.' || c == ' ':
				continue
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			buf[n] = c
			n++
		}
		if ascii {
			compact := buf[:n]
			for _, w := range secretAttributeWords {
				if bytes.Contains(compact, []byte(w)) {
					return true
				}
			}
			return false
		}
	}
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
