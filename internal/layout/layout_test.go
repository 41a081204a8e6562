package layout

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/syncwatch/syncwatch"

// rule forbids packages matching from to import packages matching to.
type rule struct {
	from, to []string
	why      string
}

// rules are the layout's forbidden edges. A pattern is a package path
// relative to the module, or a prefix ending in "/..." that matches the
// package itself and everything under it.
var rules = []rule{
	{from: []string{"synclog"}, to: []string{"..."}, why: "synclog is the leaf: it imports nothing of the project"},
	{from: []string{"..."}, to: []string{"cmd/..."}, why: "nothing imports a command"},
	{from: []string{"collector/...", "web/...", "runs", "diagnose/...", "auth", "relay"}, to: []string{"clickhouse/..."},
		why: "the ingest service, the read model and the packages that serve HTTP own their ports; clickhouse implements them"},
	{from: []string{"clickhouse/..."}, to: []string{"web/...", "collector/...", "exporter/...", "internal/app", "auth"},
		why: "clickhouse implements the ports of runs and synclog, never a consumer"},
	{from: []string{"runs", "diagnose/..."}, to: []string{"web/...", "collector/...", "exporter/...", "auth", "internal/app"},
		why: "the read model is below whoever presents it"},
	{from: []string{"web", "auth"}, to: []string{"web/api", "web/ui", "collector/...", "internal/app"},
		why: "the HTTP foundation and auth know no service built on them"},
	{from: []string{"collector/..."}, to: []string{"web/api", "web/ui", "exporter/...", "internal/app"},
		why: "the ingest service does not depend on the read side or the exporter"},
	{from: []string{"archive"}, to: []string{"clickhouse/...", "web/...", "collector/...", "exporter/...", "auth", "internal/app"},
		why: "the archive owns its ports (Store, BlobStore, Target); clickhouse implements them"},
	{from: []string{"digest", "notify"}, to: []string{"clickhouse/...", "web/...", "collector/...", "exporter/...", "internal/app", "auth"},
		why: "digests and the channels that deliver them own their ports and know nothing of who serves, stores or assembles them"},
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages returns the project's packages with their imports.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages: is the module path right?", len(pkgs))
	}
	return pkgs
}

// matches reports whether rel, a path relative to the module, matches one
// of patterns.
func matches(rel string, patterns []string) bool {
	for _, p := range patterns {
		switch {
		case p == "...":
			return true
		case strings.HasSuffix(p, "/..."):
			base := strings.TrimSuffix(p, "/...")
			if rel == base || strings.HasPrefix(rel, base+"/") {
				return true
			}
		case rel == p:
			return true
		}
	}
	return false
}

// TestLayout fails on every import of production code that a rule
// forbids. Tests may reach further (a harness assembles the whole
// service), except into cmd.
func TestLayout(t *testing.T) {
	for _, p := range listPackages(t) {
		from := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		check := func(imports []string, tests bool) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, module+"/") {
					continue
				}
				to := strings.TrimPrefix(imp, module+"/")
				for _, r := range rules {
					if tests && !matches(to, []string{"cmd/..."}) {
						continue
					}
					if matches(from, r.from) && matches(to, r.to) && from != to {
						t.Errorf("%s imports %s: %s", from, to, r.why)
					}
				}
			}
		}
		check(p.Imports, false)
		check(append(p.TestImports, p.XTestImports...), true)
	}
}

// TestRulesMatch keeps the pattern matcher honest.
func TestRulesMatch(t *testing.T) {
	for _, c := range []struct {
		rel      string
		patterns []string
		want     bool
	}{
		{"web/api", []string{"web/..."}, true},
		{"web", []string{"web/..."}, true},
		{"webhook", []string{"web/..."}, false},
		{"web/api", []string{"web"}, false},
		{"cmd/syncwatch", []string{"cmd/..."}, true},
		{"synclog", []string{"..."}, true},
	} {
		if got := matches(c.rel, c.patterns); got != c.want {
			t.Errorf("matches(%q, %v) = %v, want %v", c.rel, c.patterns, got, c.want)
		}
	}
}
