package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigratePrintDDL prints the schema for a cluster and for one node
// without reaching a database, and refuses a cluster without a server
// where one is needed.
func TestMigratePrintDDL(t *testing.T) {
	golden, err := os.ReadFile("../../clickhouse/testdata/cluster_ddl.sql")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "never")
	env := cleanEnv()
	code, stdout, stderr := runBinary(t, env, "migrate", "--print-ddl", "--clickhouse-cluster", "syncwatch", "--data-dir", dir)
	if code != 0 || stdout != string(golden) {
		t.Fatalf("migrate --print-ddl --clickhouse-cluster: exit %d, stderr %s, stdout differs from the golden DDL:\n%s", code, stderr, stdout)
	}
	code, stdout, stderr = runBinary(t, env, "migrate", "--print-ddl", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "CREATE TABLE IF NOT EXISTS reports\n") || strings.Contains(stdout, "ON CLUSTER") {
		t.Fatalf("migrate --print-ddl: exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--print-ddl touched the data directory: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "version", "--clickhouse-cluster", "syncwatch", "--data-dir", dir}, "clickhouse-cluster"},
		{[]string{"migrate", "--print-ddl", "--clickhouse-cluster", "sync-watch"}, "want letters, digits and '_'"},
		{[]string{"migrate", "--print-ddl", "up"}, `unexpected argument "up"`},
	} {
		code, _, stderr := runBinary(t, env, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
