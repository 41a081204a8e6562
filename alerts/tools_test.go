package alerts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// The binaries come from Debian's prometheus and prometheus-alertmanager
// packages (scripts/install-deps.sh installs them); upstream tarballs name
// the Alertmanager binary alertmanager.
var toolNames = map[string][]string{
	"promtool":     {"promtool"},
	"prometheus":   {"prometheus"},
	"amtool":       {"amtool"},
	"alertmanager": {"prometheus-alertmanager", "alertmanager"},
}

// tool returns the path of a required binary, or fails the test: these tests
// never skip.
func tool(t testing.TB, name string) string {
	t.Helper()
	return testutil.Tool(t, toolNames[name]...)
}

// run runs a tool with a timeout and returns its combined output and error.
func run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// globFiles returns the files matching pattern, sorted, failing when none does.
func globFiles(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	sort.Strings(files)
	return files
}

// ruleFile is the Prometheus 2.x rule file format, as far as these tests need it.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// shippedRuleFiles are the rule files Prometheus loads.
func shippedRuleFiles(t testing.TB) []string {
	return globFiles(t, filepath.Join("rules", "*.yml"))
}

// loadRules returns every rule of the shipped rule files.
func loadRules(t testing.TB) []rule {
	t.Helper()
	var all []rule
	for _, f := range shippedRuleFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			all = append(all, g.Rules...)
		}
	}
	return all
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
