package config

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestClusterSettings checks the cluster and async-insert settings from
// each source and their rules.
func TestClusterSettings(t *testing.T) {
	const dsn = "clickhouse://db:9000/sw"
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantCluster string
		wantAsync   bool
		wantErr     string
	}{
		{name: "default is a single node", args: nil},
		{name: "flag", args: []string{"--clickhouse-dsn", dsn, "--clickhouse-cluster", "syncwatch", "--clickhouse-async-insert"}, wantCluster: "syncwatch", wantAsync: true},
		{name: "environment", env: map[string]string{"SYNCWATCH_CLICKHOUSE_DSN": dsn, "SYNCWATCH_CLICKHOUSE_CLUSTER": "c_2", "SYNCWATCH_CLICKHOUSE_ASYNC_INSERT": "true"}, wantCluster: "c_2", wantAsync: true},
		{name: "flag over environment", args: []string{"--clickhouse-cluster", "a"}, env: map[string]string{"SYNCWATCH_CLICKHOUSE_DSN": dsn, "SYNCWATCH_CLICKHOUSE_CLUSTER": "b"}, wantCluster: "a"},
		{name: "cluster without a server", args: []string{"--clickhouse-cluster", "syncwatch"}, wantErr: "clickhouse-cluster"},
		{name: "cluster name with a dash", args: []string{"--clickhouse-dsn", dsn, "--clickhouse-cluster", "sync-watch"}, wantErr: `"sync-watch": want letters, digits and '_'`},
		{name: "cluster name injecting SQL", args: []string{"--clickhouse-dsn", dsn, "--clickhouse-cluster", "c; DROP TABLE runs"}, wantErr: "want letters"},
		{name: "async insert on the embedded engine", args: []string{"--clickhouse-async-insert"}, wantErr: "clickhouse-async-insert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("serve", "", io.Discard)
			var st Storage
			st.Register(s)
			err := s.Parse(tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Cluster != tc.wantCluster || st.AsyncInsert != tc.wantAsync {
				t.Errorf("cluster %q async %v, want %q %v", st.Cluster, st.AsyncInsert, tc.wantCluster, tc.wantAsync)
			}
		})
	}
}

// TestClusterSettingsFile reads the settings' YAML keys.
func TestClusterSettingsFile(t *testing.T) {
	file := t.TempDir() + "/c.yml"
	if err := os.WriteFile(file, []byte("clickhouse_dsn: clickhouse://db:9000/sw\nclickhouse_cluster: syncwatch\nclickhouse_async_insert: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New("serve", "", io.Discard)
	var st Storage
	st.Register(s)
	if err := s.Parse([]string{"--config", file}, noEnv); err != nil {
		t.Fatal(err)
	}
	if st.Cluster != "syncwatch" || !st.AsyncInsert {
		t.Errorf("cluster %q async %v from the file", st.Cluster, st.AsyncInsert)
	}
}
