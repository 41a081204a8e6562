package replicas_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/web/ui"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsoleSessionsAcrossReplicas signs in on one replica and uses the
// session on another that shares the session secrets, through a rotation,
// and checks that a replica with other secrets refuses it.
func TestConsoleSessionsAcrossReplicas(t *testing.T) {
	store := apptest.NewRealStore(t)
	shared := []byte("the-shared-session-secret-of-the-replicas")
	next := []byte("the-next-session-secret-of-the-replicas!!")
	serve := func(keys ...[]byte) string {
		env := apptest.New(t, apptest.Options{Storage: store, Query: store, Tokens: apptest.Tokens(), Console: &ui.Config{SessionKeys: keys}})
		srv := httptest.NewServer(env.Handler())
		t.Cleanup(srv.Close)
		return srv.URL
	}
	a, b, rotated, other := serve(shared), serve(shared), serve(next, shared), serve(next)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// do sends a request to base with the session cookie, the form
	// posted from a page of base.
	do := func(method, base, path, cookie string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: ui.SessionCookie, Value: cookie})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	csrf := func(page string) string {
		t.Helper()
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no CSRF token on the page")
		}
		return m[1]
	}

	_, login := do(http.MethodGet, a, "/ui/login", "", nil)
	resp, _ := do(http.MethodPost, a, "/ui/login", "", url.Values{"token": {apptest.SecretQuery}, "csrf": {csrf(login)}, "next": {"/ui/"}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in on replica a: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	session := resp.Cookies()[0].Value

	for _, tt := range []struct {
		name string
		base string
		want int
	}{
		{"the replica that signed in", a, http.StatusOK},
		{"another replica with the same secret", b, http.StatusOK},
		{"a replica that put a new secret first", rotated, http.StatusOK},
		{"a replica without the secret", other, http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, _ := do(http.MethodGet, tt.base, "/ui/", session, nil); resp.StatusCode != tt.want {
				t.Errorf("the console answers %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	t.Run("a form of one replica posts to another", func(t *testing.T) {
		_, page := do(http.MethodGet, a, "/ui/", session, nil)
		// The form goes to replica b, as posted from b's own page would.
		resp, _ := do(http.MethodPost, b, "/ui/logout", session, url.Values{"csrf": {csrf(page)}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
			t.Errorf("sign-out on replica b: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := do(http.MethodGet, b, "/ui/", session, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("replica b accepts the session it signed out: %d", resp.StatusCode)
		}
	})
}
