package config

import "regexp"

// clusterName is what a ClickHouse cluster name may be; syncwatch writes
// it into DDL.
var clusterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// registerCluster binds the settings of a ClickHouse cluster and of
// asynchronous inserts, which both want a server.
func (o *Storage) registerCluster(s *Set) {
	s.String(&o.Cluster, "clickhouse-cluster", "", "ClickHouse cluster (of the servers' remote_servers) to spread the schema over: ON CLUSTER DDL, replicated local tables, Distributed tables sharded by run_id; needs --clickhouse-dsn")
	s.Bool(&o.AsyncInsert, "clickhouse-async-insert", false, "insert with async_insert=1 and wait_for_async_insert=1 (the server batches the inserts of many collectors); needs --clickhouse-dsn")
	s.Check(func() error {
		switch {
		case o.Cluster == "":
			return nil
		case !clusterName.MatchString(o.Cluster):
			return s.Invalid("clickhouse-cluster", "%q: want letters, digits and '_', not starting with a digit", o.Cluster)
		case o.DSN == "" && !o.NoServer:
			return s.Invalid("clickhouse-cluster", "%q: a cluster needs a ClickHouse server: set clickhouse-dsn too", o.Cluster)
		}
		return nil
	})
	s.Check(func() error {
		if o.AsyncInsert && o.DSN == "" {
			return s.Invalid("clickhouse-async-insert", "the embedded engine inserts synchronously: set clickhouse-dsn too")
		}
		return nil
	})
}
