package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/runs"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
)

// storeSnapshot is what a ClickHouse database holds, as the tests check it.
type storeSnapshot struct {
	// EventIDs are the event ids of every stored row of reports, not
	// deduplicated: a report inserted twice appears twice until a merge.
	EventIDs []string `json:"event_ids"`
	// Reports and Runs count the rows of reports and runs with FINAL, as
	// every query sees them.
	Reports uint64 `json:"reports"`
	Runs    uint64 `json:"runs"`
}

// distinct returns the set of stored event ids and how many rows each has.
func (s storeSnapshot) distinct() map[string]int {
	m := make(map[string]int, len(s.EventIDs))
	for _, id := range s.EventIDs {
		m[id]++
	}
	return m
}

// snapshot reads what st holds through the store's own query API.
func snapshot(ctx context.Context, st *clickhouse.Store) (storeSnapshot, error) {
	var snap storeSnapshot
	refs, err := st.RecentEvents(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 100_000_000)
	if err != nil {
		return snap, err
	}
	for _, r := range refs {
		snap.EventIDs = append(snap.EventIDs, r.EventID)
	}
	// A dry-run delete of everything counts runs and reports with FINAL.
	res, err := st.DeleteRuns(ctx, runs.Filter{Until: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, true)
	if err != nil {
		return snap, err
	}
	snap.Reports, snap.Runs = res.Reports, res.Runs
	return snap, nil
}

// verifyMain is the helper process: it opens the embedded database that a
// stopped `syncwatch serve` left in dir and prints its snapshot.
func verifyMain(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dir, LibchdbPath: os.Getenv("SYNCWATCH_LIBCHDB")}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify: open:", err)
		return 1
	}
	defer st.Close()
	snap, err := snapshot(ctx, st)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(snap); err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 1
	}
	return 0
}

// inspectDataDir runs the helper process on the data directory of a
// stopped server and returns what its database holds.
func inspectDataDir(t testing.TB, dataDir string) storeSnapshot {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), apptest.VerifyEnv+"="+dataDir, "SYNCWATCH_LIBCHDB="+apptest.Libchdb(t))
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("inspect %s: %v\n%s", dataDir, err, stderr.String())
	}
	var snap storeSnapshot
	if err := json.Unmarshal(out, &snap); err != nil {
		t.Fatalf("inspect %s: %q: %v", dataDir, out, err)
	}
	return snap
}

// checkExactlyOnce fails unless every acknowledged event id is stored,
// nothing is stored twice as queries see it (FINAL), and, when strict,
// nothing is stored that was not acknowledged and no row is duplicated at
// all. Each report of these tests is a run of its own.
func checkExactlyOnce(t testing.TB, snap storeSnapshot, acked map[string]bool, strict bool) {
	t.Helper()
	stored := snap.distinct()
	var missing []string
	for id := range acked {
		if stored[id] == 0 {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged reports are not stored, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
	}
	if snap.Reports != uint64(len(stored)) {
		t.Errorf("reports FINAL counts %d rows for %d distinct event ids", snap.Reports, len(stored))
	}
	if snap.Runs != uint64(len(stored)) {
		t.Errorf("runs FINAL counts %d runs for %d distinct event ids (one run each)", snap.Runs, len(stored))
	}
	if !strict {
		return
	}
	for id, n := range stored {
		if n > 1 {
			t.Errorf("event %s has %d rows", id, n)
		}
		if !acked[id] {
			t.Errorf("event %s is stored but was never acknowledged", id)
		}
	}
}
