package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReadyzURL(t *testing.T) {
	for _, c := range []struct{ listen, want string }{
		{"0.0.0.0:8080", "http://127.0.0.1:8080/readyz"},
		{":9000", "http://127.0.0.1:9000/readyz"},
		{"[::]:8080", "http://127.0.0.1:8080/readyz"},
		{"127.0.0.1:8081", "http://127.0.0.1:8081/readyz"},
		{"10.1.2.3:80", "http://10.1.2.3:80/readyz"},
		{"[::1]:8080", "http://[::1]:8080/readyz"},
	} {
		got, err := readyzURL(c.listen)
		if err != nil || got != c.want {
			t.Errorf("readyzURL(%q) = %q, %v; want %q", c.listen, got, err, c.want)
		}
	}
	if _, err := readyzURL("8080"); err == nil {
		t.Error("readyzURL(\"8080\"): no error")
	}
}

// TestHealthcheck runs `syncwatch healthcheck` through the command switch
// against a server that is ready, then not.
func TestHealthcheck(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if !ready.Load() {
			http.Error(w, `{"status":"failing","error":"spool above high water"}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := func(k string) string {
		if k == "SYNCWATCH_LISTEN" {
			return "0.0.0.0:" + port // as in the container: serve listens on every address
		}
		return ""
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"healthcheck"}, env, &stdout, &stderr); code != 0 {
		t.Fatalf("ready server: exit %d, stderr %s", code, stderr.String())
	}
	mu.Lock()
	if !strings.Contains(stdout.String(), "200") || len(paths) != 1 || paths[0] != "/readyz" {
		t.Errorf("stdout %q, paths %v", stdout.String(), paths)
	}
	mu.Unlock()

	ready.Store(false)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"healthcheck", "--url", srv.URL + "/readyz"}, func(string) string { return "" }, &stdout, &stderr); code != 1 {
		t.Errorf("unready server: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "503") || !strings.Contains(stderr.String(), "spool above high water") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}

	// Nothing listening: unhealthy, not a usage error.
	srv.Close()
	stderr.Reset()
	if code := run([]string{"healthcheck", "--timeout", "1s"}, env, &stdout, &stderr); code != 1 {
		t.Errorf("no server: exit %d, want 1 (%s)", code, stderr.String())
	}
	if code := run([]string{"healthcheck", "--timeout", "0s"}, env, &stdout, &stderr); code != 2 {
		t.Errorf("--timeout 0s: exit %d, want 2", code)
	}
}
