package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLookTool(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantErr string
	}{
		{name: "found", names: []string{"sh"}},
		{name: "first missing, second found", names: []string{"no-such-tool-syncwatch", "sh"}},
		{name: "missing", names: []string{"no-such-tool-syncwatch"}, wantErr: "no-such-tool-syncwatch is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LookTool(tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LookTool(%v) = %q, %v; want error containing %q", tt.names, p, err, tt.wantErr)
				}
				return
			}
			if err != nil || filepath.Base(p) != "sh" {
				t.Fatalf("LookTool(%v) = %q, %v; want sh", tt.names, p, err)
			}
		})
	}
}

func TestLibchdb(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libchdb.so")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, fallback, want string
	}{
		{name: "environment first", env: lib, fallback: "/nowhere", want: lib},
		{name: "fallback", env: "", fallback: lib, want: lib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(LibchdbEnv, tt.env)
			if got := Libchdb(t, tt.fallback); got != tt.want {
				t.Fatalf("Libchdb = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.Bytes()); got != 800 {
		t.Fatalf("wrote %d bytes, want 800", got)
	}
}
