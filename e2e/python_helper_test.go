package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// pythonDriver uses examples/python/syncwatch_report.py as a Django or
// Celery job would: a run that fails with a long Chinese message, a run
// that succeeds, and one report sent twice with the same event_id. It
// prints the run ids it got back, one per line.
const pythonDriver = `
import sys
sys.path.insert(0, sys.argv[1])
import syncwatch_report as sw

long_message = "供应商接口返回错误：库存数据格式不正确。" * 1500  # 30,000 characters, 90,000 bytes
try:
    with sw.sync_run("stock", source="haier") as run:
        run.total_count = 10
        raise RuntimeError(long_message)
except RuntimeError:
    pass
print(run.run_id)

with sw.sync_run("products", source="haier") as ok:
    ok.total_count, ok.success_count = 5, 5
print(ok.run_id)

report = {"event_id": "python-retry-1", "run_id": "python-retry-run", "source": "haier", "sync_type": "manual",
          "status": "success", "completed_at": sw.iso(sw.now())}
print(sw.send_report(dict(report)))
print(sw.send_report(dict(report)))
`

// The Python helper against a real syncwatch: it needs nothing but the
// standard library, its long Chinese message is cut to the server's limit
// in bytes (before, cut in characters, the final report was refused and
// the run stayed processing), and a retry is stored once.
func TestPythonHelperAgainstARealServer(t *testing.T) {
	python := testutil.Tool(t, "python3")
	bin := testutil.BuildSyncwatch(t, t.TempDir())
	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", t.TempDir(),
		"--libchdb", testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()), "--batch-max-age", "50ms", "--log-level", "warn")
	logs := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("syncwatch serve:\n%s", logs)
		}
	})
	waitOK(t, base+"/healthz")

	examples, err := filepath.Abs("../examples/python")
	if err != nil {
		t.Fatal(err)
	}
	py := exec.Command(python, "-c", pythonDriver, examples)
	// A bare environment: no site packages beyond the standard library are
	// needed, and nothing leaks in from the developer's shell.
	py.Env = []string{"SYNCWATCH_SERVER=" + base, "PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1", "PATH=" + os.Getenv("PATH")}
	out, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 4 {
		t.Fatalf("python printed %q, want four run ids", out)
	}
	failedRun, okRun := lines[0], lines[1]
	if lines[2] != "python-retry-run" || lines[3] != "python-retry-run" {
		t.Errorf("send_report returned %q and %q, want the run id twice", lines[2], lines[3])
	}

	type run struct {
		Run struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"run"`
		Reports []struct {
			EventID string `json:"event_id"`
		} `json:"reports"`
	}
	get := func(id string) run {
		t.Helper()
		var r run
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(base + "/api/v1/runs/" + id)
			if err == nil {
				if resp.StatusCode == http.StatusOK {
					err = json.NewDecoder(resp.Body).Decode(&r)
					resp.Body.Close()
					if err == nil && r.Run.Status != "processing" && r.Run.Status != "pending" {
						return r
					}
				} else {
					resp.Body.Close()
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s not finished in ClickHouse after 30s: %+v %v", id, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	failed := get(failedRun)
	if msg := failed.Run.Message; failed.Run.Status != "failed" || len(msg) > 65536 || len(msg) < 65000 || !utf8.ValidString(msg) ||
		!strings.HasSuffix(msg, "库存数据格式不正确。") || len(failed.Reports) != 2 {
		t.Errorf("failed run: status %s, %d reports, message of %d bytes (valid UTF-8 %v) ending %q",
			failed.Run.Status, len(failed.Reports), len(msg), utf8.ValidString(msg), tail(msg, 40))
	}
	if ok := get(okRun); ok.Run.Status != "success" || len(ok.Reports) != 2 {
		t.Errorf("successful run: %+v", ok)
	}
	if retried := get("python-retry-run"); len(retried.Reports) != 1 {
		t.Errorf("a report sent twice with one event_id is stored %d times", len(retried.Reports))
	}
}

func waitOK(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 90s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
