package auth_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

func TestAuthAnswers(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	unauthorized := testutil.ErrorBody("a valid bearer token is required (Authorization: Bearer <token>)")
	tests := []struct {
		name     string
		method   string
		path     string
		auth     string // the Authorization header, if any
		body     string
		wantCode int
		wantBody string // exact, when set
	}{
		{name: "ingest without a token", method: "POST", path: "/api/v1/runs", body: testutil.Report("a"), wantCode: 401, wantBody: unauthorized},
		{name: "ingest with an unknown token", method: "POST", path: "/api/v1/runs", auth: "Bearer not-a-known-token-at-all", body: testutil.Report("a"), wantCode: 401, wantBody: unauthorized},
		{name: "ingest with basic auth", method: "POST", path: "/api/v1/runs", auth: "Basic " + apptest.SecretIngestAll, body: testutil.Report("a"), wantCode: 401, wantBody: unauthorized},
		{name: "ingest with an empty bearer", method: "POST", path: "/api/v1/runs", auth: "Bearer ", body: testutil.Report("a"), wantCode: 401, wantBody: unauthorized},
		{name: "ingest with a bare secret", method: "POST", path: "/api/v1/runs", auth: apptest.SecretIngestAll, body: testutil.Report("a"), wantCode: 401, wantBody: unauthorized},
		{name: "ingest with a query token", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretQuery, body: testutil.Report("a"), wantCode: 403,
			wantBody: testutil.ErrorBody("this token lacks the ingest role")},
		{name: "ingest with an ingest token", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestAll, body: testutil.Report("b"), wantCode: 202},
		{name: "scheme is case-insensitive", method: "POST", path: "/api/v1/runs", auth: "bearer " + apptest.SecretIngestAll, body: testutil.Report("c"), wantCode: 202},
		{name: "hashed token", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretHashed, body: testutil.Report("d"), wantCode: 202},
		{name: "limited token, allowed source", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestHaier, body: testutil.Report("e"), wantCode: 202},
		{name: "limited token, other source", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestHaier, body: testutil.Report("f", "source", `"gree"`), wantCode: 403,
			wantBody: `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"source","error":"this token may not report for source \"gree\""}],"items":[]}`},
		{name: "limited token, default source", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestHaier, body: testutil.Report("g", "source", "<delete>"), wantCode: 403,
			wantBody: `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"field":"source","error":"this token may not report for source \"default\""}],"items":[]}`},
		{name: "limited token, mixed batch", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestHaier,
			body: "[" + testutil.Report("h1", "source", `"gree"`) + "," + testutil.Report("h2", "source", `"Midea"`) + "]", wantCode: 202,
			wantBody: `{"accepted":1,"duplicates":0,"rejected":[{"index":0,"field":"source","error":"this token may not report for source \"gree\""}],"items":[{"index":1,"run_id":"run-h2","event_id":"h2"}]}`},
		{name: "limited token, invalid and forbidden", method: "POST", path: "/api/v1/runs", auth: "Bearer " + apptest.SecretIngestHaier,
			body: "[" + testutil.Report("i1", "source", `"gree"`) + "," + testutil.Report("i2", "status", `"?"`) + "]", wantCode: 403},
		{name: "health without a token", method: "GET", path: "/api/v1/health", wantCode: 401, wantBody: unauthorized},
		{name: "health with an ingest token", method: "GET", path: "/api/v1/health", auth: "Bearer " + apptest.SecretIngestAll, wantCode: 403,
			wantBody: testutil.ErrorBody("this token lacks the query role")},
		{name: "health with a query token", method: "GET", path: "/api/v1/health", auth: "Bearer " + apptest.SecretQuery, wantCode: 200},
		{name: "health with an admin token", method: "GET", path: "/api/v1/health", auth: "Bearer " + apptest.SecretAdmin, wantCode: 200},
		{name: "health with an ingest+query token", method: "GET", path: "/api/v1/health", auth: "Bearer " + apptest.SecretHashed, wantCode: 200},
		// Probes and metrics stay open for orchestrators and Prometheus.
		{name: "healthz without a token", method: "GET", path: "/healthz", wantCode: 200},
		{name: "readyz without a token", method: "GET", path: "/readyz", wantCode: 200},
		{name: "metrics without a token", method: "GET", path: "/metrics", wantCode: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			w := e.Do(tc.method, tc.path, strings.NewReader(tc.body), h)
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if tc.wantBody != "" {
				testutil.ExactJSON(t, w, tc.wantCode, tc.wantBody)
			}
			wa := w.Header().Get("WWW-Authenticate")
			if tc.wantCode == 401 && wa != `Bearer realm="syncwatch"` {
				t.Fatalf("401 without the challenge: WWW-Authenticate %q", wa)
			}
			if tc.wantCode != 401 && wa != "" {
				t.Fatalf("WWW-Authenticate %q on a %d", wa, tc.wantCode)
			}
		})
	}
	// Only the accepted reports reached the spool.
	want := []string{"b", "c", "d", "e", "h2"}
	if got := e.Spooled(t); !slices.Equal(got, want) {
		t.Fatalf("spool holds %v, want %v", got, want)
	}
}

// TestAuthDisabled: without tokens the API is open (serve then listens on
// loopback only).
func TestAuthDisabled(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	if e.Service.Guard.Enabled() {
		t.Fatal("auth enabled without tokens")
	}
	if w := e.Post(testutil.Report("a"), "Authorization", "Bearer whatever-it-is-ignored"); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := e.Do("GET", "/api/v1/health", nil, nil); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var nilAuth *auth.Auth
	if nilAuth.Enabled() {
		t.Fatal("a nil Auth is enabled")
	}
}

func TestRateLimit(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens()})
	// slow-job may make 1 request per second with a burst of 2.
	codes := []int{}
	var last http.Header
	var lastBody string
	for i := range 4 {
		w := e.Do("POST", "/api/v1/runs", strings.NewReader(testutil.Report("r"+string(rune('0'+i)))), apptest.Bearer(apptest.SecretLimited))
		codes = append(codes, w.Code)
		last, lastBody = w.Header(), w.Body.String()
	}
	if codes[0] != 202 || codes[1] != 202 || codes[2] != 429 || codes[3] != 429 {
		t.Fatalf("codes %v, want 202 202 429 429", codes)
	}
	if ra := last.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
	if lastBody != testutil.ErrorBody("rate limit of this token exceeded: retry after 1s") {
		t.Fatalf("429 body %s", lastBody)
	}
	// The limit is per token: another token is not affected.
	if w := e.Do("POST", "/api/v1/runs", strings.NewReader(testutil.Report("other")), apptest.Bearer(apptest.SecretIngestAll)); w.Code != 202 {
		t.Fatalf("another token got %d", w.Code)
	}
	// The budget refills.
	time.Sleep(1100 * time.Millisecond)
	if w := e.Do("POST", "/api/v1/runs", strings.NewReader(testutil.Report("later")), apptest.Bearer(apptest.SecretLimited)); w.Code != 202 {
		t.Fatalf("after a second: %d %s", w.Code, w.Body)
	}
	if got := e.Spooled(t); !slices.Equal(got, []string{"r0", "r1", "other", "later"}) {
		t.Fatalf("spool holds %v", got)
	}
}

func TestRateLimitDefault(t *testing.T) {
	e := apptest.New(t, apptest.Options{Tokens: apptest.Tokens(), Rate: 2})
	n429 := 0
	for range 8 {
		if w := e.Do("GET", "/api/v1/health", nil, apptest.Bearer(apptest.SecretQuery)); w.Code == 429 {
			n429++
		}
	}
	// A burst of 4 at 2/s: the loop takes far less than a second, so 4 are
	// limited, or fewer on a machine so busy that the budget refills.
	if n429 < 2 || n429 > 4 {
		t.Fatalf("%d of 8 requests limited, want 4 (at least 2)", n429)
	}
	// A token's own limit overrides the default.
	a, err := auth.NewAuth([]auth.Token{{Name: "fast", Secret: strings.Repeat("f", 16), Roles: []auth.Role{auth.RoleIngest}, RateLimit: 1000}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tok := a.Authenticate("Bearer " + strings.Repeat("f", 16))
	for i := range 100 {
		if ok, _ := a.Allow(tok); !ok {
			t.Fatalf("request %d refused under a 1000/s limit", i)
		}
	}
}

func TestNewAuthRejectsBadTokens(t *testing.T) {
	long := strings.Repeat("s", 16)
	tests := []struct {
		name   string
		tokens []auth.Token
		want   string
	}{
		{"no name", []auth.Token{{Secret: long, Roles: []auth.Role{auth.RoleIngest}}}, "token 1: name is required"},
		{"name twice", []auth.Token{{Name: "a", Secret: long, Roles: []auth.Role{auth.RoleIngest}}, {Name: "a", Secret: long + "x", Roles: []auth.Role{auth.RoleIngest}}}, `token "a": name used twice`},
		{"both forms", []auth.Token{{Name: "a", Secret: long, SHA256: strings.Repeat("0", 64), Roles: []auth.Role{auth.RoleIngest}}}, `token "a": give token or token_sha256, not both`},
		{"short secret", []auth.Token{{Name: "a", Secret: "short", Roles: []auth.Role{auth.RoleIngest}}}, `token "a": must be at least 16 characters`},
		{"bad hash", []auth.Token{{Name: "a", SHA256: "abc", Roles: []auth.Role{auth.RoleIngest}}}, `token "a": token_sha256 must be 64 hex digits`},
		{"no secret", []auth.Token{{Name: "a", Roles: []auth.Role{auth.RoleIngest}}}, `token "a": token or token_sha256 is required`},
		{"no role", []auth.Token{{Name: "a", Secret: long}}, `token "a": at least one role (ingest, query, admin, relay) is required`},
		{"unknown role", []auth.Token{{Name: "a", Secret: long, Roles: []auth.Role{"root"}}}, `token "a": unknown role "root": allowed are ingest, query, admin, relay`},
		{"same secret", []auth.Token{{Name: "a", Secret: long, Roles: []auth.Role{auth.RoleIngest}}, {Name: "b", Secret: long, Roles: []auth.Role{auth.RoleQuery}}}, `token "b": same secret as another token`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.NewAuth(tc.tokens, 0)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAuthForgetsSecrets(t *testing.T) {
	toks := apptest.Tokens()
	a, err := auth.NewAuth(toks, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok := a.Authenticate("Bearer " + apptest.SecretAdmin)
	if tok == nil || tok.Name != "ops" || tok.Secret != "" {
		t.Fatalf("authenticated token %+v: want ops without its secret", tok)
	}
	if !tok.Has(auth.RoleQuery) || !tok.Has(auth.RoleAdmin) || !tok.Has(auth.RoleRelay) || tok.Has(auth.RoleIngest) {
		t.Fatal("admin must imply query and relay, and only those")
	}
	relay := auth.Token{Name: "am", Roles: []auth.Role{auth.RoleRelay}}
	if !relay.Has(auth.RoleRelay) || relay.Has(auth.RoleQuery) || relay.Has(auth.RoleAdmin) || relay.Has(auth.RoleIngest) {
		t.Fatal("a relay token may relay and nothing else")
	}
	if a.Authenticate("Bearer  "+apptest.SecretAdmin+" ") == nil {
		t.Fatal("surrounding spaces are not part of the secret")
	}
	if a.Authenticate("Bearer "+apptest.SecretAdmin+"x") != nil || a.Authenticate("Bearer "+apptest.SecretAdmin[:20]) != nil {
		t.Fatal("a near-miss secret authenticated")
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens.yaml")
	os.WriteFile(good, []byte(`
- name: haier-job
  token: `+apptest.SecretIngestHaier+`
  roles: [ingest]
  sources: [haier]
  rate_limit: 5
- name: grafana
  token_sha256: `+strings.Repeat("ab", 32)+`
  roles: [query]
`), 0o600)
	toks, err := auth.LoadTokens(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].Name != "haier-job" || toks[0].Secret != apptest.SecretIngestHaier || toks[0].RateLimit != 5 ||
		len(toks[0].Sources) != 1 || toks[1].SHA256 != strings.Repeat("ab", 32) || toks[1].Roles[0] != auth.RoleQuery {
		t.Fatalf("loaded %+v", toks)
	}
	if _, err := auth.NewAuth(toks, 0); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- name: x\n  secret: abc\n  roles: [ingest]\n"), 0o600)
	if _, err := auth.LoadTokens(bad); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("an unknown key was accepted: %v", err)
	}
	if _, err := auth.LoadTokens(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

func TestTokensFromEnv(t *testing.T) {
	toks := auth.TokensFromEnv(" i1-aaaaaaaaaaaaaaa , i2-aaaaaaaaaaaaaaa,", "", "a1-aaaaaaaaaaaaaaa")
	if len(toks) != 3 {
		t.Fatalf("%+v", toks)
	}
	if toks[0].Name != "env-ingest-1" || toks[0].Secret != "i1-aaaaaaaaaaaaaaa" || toks[0].Roles[0] != auth.RoleIngest ||
		toks[1].Name != "env-ingest-2" || toks[2].Name != "env-admin-1" || toks[2].Roles[0] != auth.RoleAdmin {
		t.Fatalf("%+v", toks)
	}
	if _, err := auth.NewAuth(toks, 0); err != nil {
		t.Fatal(err)
	}
	if len(auth.TokensFromEnv("", " , ", "")) != 0 {
		t.Fatal("blank lists make tokens")
	}
}
