package ui

import (
	"crypto/tls"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/runs"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
)

// TestConsoleSessions checks the signed sessions: valid on every console
// that shares the keys (replicas), across a key rotation, until they
// expire, while their token keeps its secret, and not after a sign-out
// on the console that signed out.
func TestConsoleSessions(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const secret = "query-token-secret-0123456789"
	tokens := func(secret string) *auth.Auth {
		a, err := auth.NewAuth([]auth.Token{{Name: "q", Secret: secret, Roles: []auth.Role{auth.RoleQuery}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	oldKey := []byte("an-old-session-secret-of-32-bytes-or-more")
	newKey := []byte("a-new-session-secret-of-32-bytes-or-more!")
	console := func(a *auth.Auth, keys ...[]byte) *Console {
		t.Helper()
		k, err := newSessionKeys(keys, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return &Console{cfg: Config{SessionTTL: time.Hour}, now: func() time.Time { return now }, auth: a, keys: k, signedOut: map[string]time.Time{}}
	}
	lookup := func(cn *Console, cookie string) *consoleSession {
		req := httptest.NewRequest(http.MethodGet, "http://localhost/ui/", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
		c, _ := ginTestContext(req)
		return cn.session(c)
	}
	a := tokens(secret)
	tok := a.Authenticate("Bearer " + secret)
	signer := console(a, oldKey)
	s, cookie, err := signer.newSession(tok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cn    *Console
		valid bool
	}{
		{"the console that signed it", signer, true},
		{"a replica with the same key", console(a, oldKey), true},
		{"a replica that rotated: a new key first, the old one still", console(a, newKey, oldKey), true},
		{"a replica with the old key removed", console(a, newKey), false},
		{"a replica with a random key (none configured)", console(a), false},
		{"a replica where the token has another secret", console(tokens("another-query-secret-0123"), oldKey), false},
		{"a replica without the token", console(func() *auth.Auth {
			other, err := auth.NewAuth([]auth.Token{{Name: "other", Secret: secret, Roles: []auth.Role{auth.RoleQuery}}}, 0)
			if err != nil {
				t.Fatal(err)
			}
			return other
		}(), oldKey), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lookup(tt.cn, cookie)
			if tt.valid && (got == nil || got.token.Name != "q" || got.id != s.id) {
				t.Errorf("session %+v, want the one signed in", got)
			}
			if !tt.valid && got != nil {
				t.Errorf("session %+v accepted", got)
			}
		})
	}
	t.Run("forms rendered before a rotation still post", func(t *testing.T) {
		rotated := console(a, newKey, oldKey)
		if !rotated.csrfValid(signer.csrfToken(s), s) || rotated.csrfToken(s) == signer.csrfToken(s) {
			t.Error("the old key's CSRF token is refused, or the new key does not sign")
		}
		if rotated.csrfValid(signer.csrfToken(nil), s) {
			t.Error("the CSRF token of no session is accepted for a session")
		}
	})
	t.Run("tampered or unknown cookies", func(t *testing.T) {
		for _, c := range []string{"", "nope", cookie[:len(cookie)-2] + "xx", strings.Repeat("a", 2000)} {
			if lookup(signer, c) != nil {
				t.Errorf("cookie %.40q accepted", c)
			}
		}
	})
	t.Run("sign-out", func(t *testing.T) {
		replica := console(a, oldKey)
		signer.dropSession(s)
		if lookup(signer, cookie) != nil {
			t.Error("the console that signed the session out accepts it")
		}
		if lookup(replica, cookie) == nil {
			t.Error("another replica refuses the session: it shares no state")
		}
	})
	t.Run("expiry", func(t *testing.T) {
		_, fresh, err := signer.newSession(tok)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if lookup(signer, fresh) != nil {
			t.Error("an expired session is accepted")
		}
	})
}

// ginTestContext returns a gin context for req.
func ginTestContext(req *http.Request) (*gin.Context, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = req
	return c, w
}

func TestAcceptLanguage(t *testing.T) {
	for _, c := range []struct {
		header string
		want   synclog.Language
	}{
		{"", synclog.English},
		{"zh-CN", synclog.Chinese},
		{"zh-CN,zh;q=0.9,en;q=0.8", synclog.Chinese},
		{"en-US,en;q=0.9,zh-CN;q=0.8", synclog.English},
		{"fr-FR, zh;q=0.5", synclog.Chinese},
		{"fr-FR, de", synclog.English},
		{"en;q=0.2, zh-Hant;q=0.7", synclog.Chinese},
		{"zh;q=0, en", synclog.English},
		{"zh;q=bogus", synclog.English},
		{"ZH-cn", synclog.Chinese},
		{"*", synclog.English},
	} {
		t.Run(c.header, func(t *testing.T) {
			if got := acceptLanguage(c.header); got != c.want {
				t.Errorf("%q: %s, want %s", c.header, got, c.want)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for _, c := range []struct{ next, want string }{
		{"", "/ui/"},
		{"/ui/", "/ui/"},
		{"/ui", "/ui"},
		{"/ui/runs?status=failed&q=a+b", "/ui/runs?status=failed&q=a+b"},
		{"/ui/runs/abc", "/ui/runs/abc"},
		{"//evil.example/", "/ui/"},
		{"https://evil.example/ui/", "/ui/"},
		{"/api/v1/runs", "/ui/"},
		{"/uix", "/ui/"},
		{"/ui/\\evil.example", "/ui/"},
		{"/ui/\r\nSet-Cookie: x=1", "/ui/"},
		{"javascript:alert(1)", "/ui/"},
	} {
		t.Run(c.next, func(t *testing.T) {
			if got := safeNext(c.next); got != c.want {
				t.Errorf("%q: %q, want %q", c.next, got, c.want)
			}
		})
	}
}

func TestConsoleFormats(t *testing.T) {
	ms := func(v int64) *int64 { return &v }
	for _, c := range []struct{ name, got, want string }{
		{"ms", formatMS(ms(850)), "850 ms"},
		{"seconds", formatMS(ms(12_345)), "12.3 s"},
		{"minutes", formatMS(ms(245_000)), "4m 05s"},
		{"hours", formatMS(ms(7_380_000)), "2h 03m"},
		{"no duration", formatMS(nil), "–"},
		{"age en", formatAge(3*time.Hour+20*time.Minute, synclog.English), "3h 20m ago"},
		{"age zh", formatAge(3*time.Hour+20*time.Minute, synclog.Chinese), "3小时20分钟前"},
		{"age days", formatAge(50*time.Hour, synclog.English), "2d 2h ago"},
		{"age whole days zh", formatAge(48*time.Hour, synclog.Chinese), "2天前"},
		{"age now", formatAge(10*time.Second, synclog.English), "just now"},
		{"interval hours", formatInterval(6 * time.Hour), "6h"},
		{"interval minutes", formatInterval(15 * time.Minute), "15m"},
		{"interval days", formatInterval(48 * time.Hour), "2d"},
		{"signed", signedFloat(2.5), "+2.5"},
		{"signed zero", signedFloat(-0.01), "0"},
		{"clip", clipText("连接超时了", 2), "连接…"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%q, want %q", c.got, c.want)
			}
		})
	}
}

func TestSuccessState(t *testing.T) {
	last := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		last          time.Time
		age, expected time.Duration
		want          string
	}{
		{"unscheduled", last, time.Hour, 0, stateUnscheduled},
		{"never", time.Time{}, 0, time.Hour, stateNever},
		{"on time", last, time.Hour, time.Hour, stateOK},
		{"late", last, 90 * time.Minute, time.Hour, stateLate},
		{"very late", last, 121 * time.Minute, time.Hour, stateVeryLate},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := successState(c.last, c.age, c.expected); got != c.want {
				t.Errorf("%s, want %s", got, c.want)
			}
		})
	}
}

func TestHourlyChart(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := func(h int) *time.Time { t := start.Add(time.Duration(h) * time.Hour); return &t }
	ch := hourlyChart([]runs.Stats{
		{Bucket: b(0), SyncType: "products", Runs: 4, Failed: 2},
		{Bucket: b(0), SyncType: "prices", Runs: 6, Partial: 1},
		{Bucket: b(5), Runs: 1},
		{Bucket: b(-1), Runs: 100}, // before the chart
		{Bucket: b(24), Runs: 100}, // after it
	}, start, 24, chartSize{W: 240, H: 41})
	if ch.Max != 10 || len(ch.Bars) != 24 {
		t.Fatalf("max %d, %d bars", ch.Max, len(ch.Bars))
	}
	first := ch.Bars[0]
	if first.Runs != 10 || first.H != 40 || first.Y != 0 || first.FH != 8 || first.FY != 32 || first.PH != 4 || first.PY != 28 {
		t.Errorf("first bar %+v", first)
	}
	if ch.Bars[5].H != 4 || ch.Bars[1].H != 0 || ch.Bars[5].X != 51 || ch.Bars[5].W != 8 {
		t.Errorf("bars 1 and 5: %+v %+v", ch.Bars[1], ch.Bars[5])
	}
}

// TestConsoleTranslations checks that every UI string of the templates
// and the handlers has a Chinese translation, and that every translation
// is used.
func TestConsoleTranslations(t *testing.T) {
	used := map[string]bool{}
	tmplKey := regexp.MustCompile(`\{\{-?\s*t "([^"]+)"`)
	files, err := fs.Glob(consoleFiles, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		b, _ := fs.ReadFile(consoleFiles, f)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	goKey := regexp.MustCompile(`(?:fail\(c, [^,]+, |Error: |render\(c, [^,]+, "[a-z]+", )"([^"]+)"`)
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	for _, s := range stateLabels {
		used[s] = true
	}
	for _, s := range kindLabels {
		used[s] = true
	}
	for _, code := range []int{400, 401, 403, 404, 429, 500, 503} {
		used[http.StatusText(code)] = true
	}
	for s := range used {
		if _, ok := consoleZH[s]; !ok {
			t.Errorf("no Chinese for %q", s)
		}
	}
	for s := range consoleZH {
		if !used[s] {
			t.Errorf("the translation of %q is not used", s)
		}
	}
	if len(used) < 100 {
		t.Errorf("only %d UI strings found: is the pattern still right?", len(used))
	}
}

// TestCookiesSecure checks when the console's cookies carry Secure: over
// TLS, and always when SecureCookies says TLS ends at a proxy in front.
func TestCookiesSecure(t *testing.T) {
	for _, c := range []struct {
		name         string
		tls, setting bool
		wantSecure   bool
	}{
		{"plain http", false, false, false},
		{"tls", true, false, true},
		{"tls at a proxy", false, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cn := &Console{cfg: Config{SecureCookies: c.setting}}
			req := httptest.NewRequest(http.MethodGet, "http://localhost/ui/", nil)
			if c.tls {
				req.TLS = &tls.ConnectionState{}
			}
			gc, w := ginTestContext(req)
			cn.setCookie(gc, LangCookie, "en", 60)
			cookies := w.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Secure != c.wantSecure {
				t.Errorf("cookies %+v, want Secure %v", cookies, c.wantSecure)
			}
		})
	}
}

func TestLoadSessionKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, second := strings.Repeat("a", 32), strings.Repeat("b", 40)
	for _, tc := range []struct {
		name, body string
		want       []string
		wantErr    string
	}{
		{"one", first + "\n", []string{first}, ""},
		{"rotation with comments and blank lines", "# new first\n  " + second + "  \n\n# old\n" + first, []string{second, first}, ""},
		{"short", first + "\nshort\n", nil, "line 2: a secret of 5 bytes; want at least 32"},
		{"none", "# nothing\n\n", nil, "holds no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := LoadSessionKeys(write(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, string(k))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("keys %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := LoadSessionKeys(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file is accepted")
	}
}
