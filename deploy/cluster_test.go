package deploy

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// clusterDir holds deploy/cluster, seen from this package's directory.
const clusterDir = "cluster"

// clusterTestEnv stands for the .env deploy/gen-env.sh writes for it.
var clusterTestEnv = map[string]string{
	"CLICKHOUSE_PASSWORD":       "ch-password-1",
	"CLICKHOUSE_CLUSTER_SECRET": "cluster-secret-2",
	"SYNCWATCH_INGEST_TOKEN":    "ingest-token-3",
	"SYNCWATCH_QUERY_TOKEN":     "query-token-4",
	"SYNCWATCH_ADMIN_TOKEN":     "admin-token-5",
}

// loadCluster loads deploy/cluster/docker-compose.yml as docker compose
// does, with env as the only environment, or with the env files given.
func loadCluster(t *testing.T, env map[string]string, envFiles ...string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(clusterDir), cli.WithEnv(list)}
	if len(envFiles) > 0 {
		opts = append(opts, cli.WithEnvFiles(envFiles...), cli.WithDotEnv)
	}
	o, err := cli.NewProjectOptions([]string{filepath.Join(clusterDir, "docker-compose.yml")}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return o.LoadProject(context.Background())
}

func clusterProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCluster(t, clusterTestEnv)
	if err != nil {
		t.Fatalf("deploy/cluster/docker-compose.yml: %v", err)
	}
	return p
}

// The parts of the ClickHouse and Keeper configurations the checks read.
type (
	chConfig struct {
		RemoteServers struct {
			Replace  string     `xml:"replace,attr"`
			Clusters []xmlNamed `xml:",any"`
		} `xml:"remote_servers"`
		Zookeeper struct {
			Nodes []hostPort `xml:"node"`
		} `xml:"zookeeper"`
		DistributedDDL struct {
			Path string `xml:"path"`
		} `xml:"distributed_ddl"`
		Macros struct {
			Shard   string `xml:"shard"`
			Replica string `xml:"replica"`
		} `xml:"macros"`
	}
	xmlNamed struct {
		XMLName xml.Name
		Secret  struct {
			FromEnv string `xml:"from_env,attr"`
			Value   string `xml:",chardata"`
		} `xml:"secret"`
		Shards []struct {
			InternalReplication string     `xml:"internal_replication"`
			Replicas            []hostPort `xml:"replica"`
		} `xml:"shard"`
	}
	hostPort struct {
		Host     string `xml:"host"`
		Port     string `xml:"port"`
		Password string `xml:"password"`
	}
	keeperConfig struct {
		Server struct {
			TCPPort     string `xml:"tcp_port"`
			ServerID    string `xml:"server_id"`
			HTTPControl struct {
				Port string `xml:"port"`
			} `xml:"http_control"`
			Raft struct {
				Servers []struct {
					ID       string `xml:"id"`
					Hostname string `xml:"hostname"`
					Port     string `xml:"port"`
				} `xml:"server"`
			} `xml:"raft_configuration"`
		} `xml:"keeper_server"`
	}
)

// readXML parses the file at path, strictly, into v.
func readXML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	d.Strict = true
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// boundFile returns the host file a service mounts at target.
func boundFile(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	v := mount(t, s, target)
	if v.Type != types.VolumeTypeBind || !v.ReadOnly {
		t.Errorf("%s: %s should be a read-only bind mount", s.Name, target)
	}
	if _, err := os.Stat(v.Source); err != nil {
		t.Fatalf("%s mounts %s: %v", s.Name, v.Source, err)
	}
	return v.Source
}

// servicesLike returns the names of the services matching re, sorted.
func servicesLike(p *types.Project, re string) []string {
	var out []string
	for name := range p.Services {
		if regexp.MustCompile(re).MatchString(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestClusterTopology checks deploy/cluster: 3 Keeper nodes with one raft
// configuration and unique ids, 2 shards × 2 replicas whose macros are
// unique and match remote_servers, which lists every node once, and every
// node pointed at every Keeper.
func TestClusterTopology(t *testing.T) {
	p := clusterProject(t)
	keepers := servicesLike(p, `^keeper-\d+$`)
	nodes := servicesLike(p, `^ch-s\d+-r\d+$`)
	if len(keepers) != 3 || len(nodes) != 4 {
		t.Fatalf("keepers %q, ClickHouse nodes %q; want 3 and 4", keepers, nodes)
	}

	// Keeper.
	ids := map[string]string{}
	var raft string
	for _, name := range keepers {
		s := service(t, p, name)
		if s.Hostname != name {
			t.Errorf("%s: hostname %q, want its service name (the raft configuration uses it)", name, s.Hostname)
		}
		var k keeperConfig
		readXML(t, boundFile(t, s, "/etc/clickhouse-keeper/keeper_config.xml"), &k)
		if other, dup := ids[k.Server.ServerID]; dup {
			t.Errorf("%s and %s have server_id %s", other, name, k.Server.ServerID)
		}
		ids[k.Server.ServerID] = name
		if k.Server.TCPPort != "9181" {
			t.Errorf("%s: tcp_port %s, want 9181 (the nodes' zookeeper section)", name, k.Server.TCPPort)
		}
		if !slices.Contains(s.HealthCheck.Test, "http://127.0.0.1:"+k.Server.HTTPControl.Port+"/ready") {
			t.Errorf("%s: health check %q does not ask http_control's /ready on port %s", name, s.HealthCheck.Test, k.Server.HTTPControl.Port)
		}
		servers := fmt.Sprint(k.Server.Raft.Servers)
		if raft == "" {
			raft = servers
		} else if servers != raft {
			t.Errorf("%s: raft_configuration %s differs from another node's %s", name, servers, raft)
		}
		found := false
		for _, srv := range k.Server.Raft.Servers {
			if srv.ID == k.Server.ServerID {
				found = srv.Hostname == name
			}
		}
		if !found {
			t.Errorf("%s: server_id %s is not in raft_configuration with hostname %s", name, k.Server.ServerID, name)
		}
		if len(k.Server.Raft.Servers) != len(keepers) {
			t.Errorf("%s: raft_configuration has %d servers, want %d", name, len(k.Server.Raft.Servers), len(keepers))
		}
	}

	// ClickHouse nodes.
	type replica struct{ shard, name string }
	macros := map[string]replica{}
	seenReplica := map[string]string{}
	var cluster chConfig
	var clusterFile string
	for _, name := range nodes {
		s := service(t, p, name)
		if s.Hostname != name {
			t.Errorf("%s: hostname %q, want its service name (remote_servers and replication use it)", name, s.Hostname)
		}
		file := boundFile(t, s, "/etc/clickhouse-server/config.d/cluster.xml")
		if clusterFile == "" {
			clusterFile = file
			readXML(t, file, &cluster)
		} else if file != clusterFile {
			t.Errorf("%s mounts %s as cluster.xml; the others %s", name, file, clusterFile)
		}
		var m chConfig
		readXML(t, boundFile(t, s, "/etc/clickhouse-server/config.d/macros.xml"), &m)
		if m.Macros.Shard == "" || m.Macros.Replica == "" {
			t.Errorf("%s: macros shard %q replica %q; want both", name, m.Macros.Shard, m.Macros.Replica)
		}
		if other, dup := seenReplica[m.Macros.Replica]; dup {
			t.Errorf("%s and %s share the replica macro %q: it must be unique in the cluster", other, name, m.Macros.Replica)
		}
		seenReplica[m.Macros.Replica] = name
		macros[name] = replica{m.Macros.Shard, m.Macros.Replica}
		if got := env(s, "CLICKHOUSE_CLUSTER_SECRET"); got != clusterTestEnv["CLICKHOUSE_CLUSTER_SECRET"] {
			t.Errorf("%s: CLICKHOUSE_CLUSTER_SECRET %q, want the .env's", name, got)
		}
		for _, k := range keepers {
			if c, ok := s.DependsOn[k]; !ok || c.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s does not wait for %s to be healthy", name, k)
			}
		}
	}
	if cluster.RemoteServers.Replace != "true" {
		t.Error("remote_servers should replace the image's default clusters")
	}
	if len(cluster.RemoteServers.Clusters) != 1 {
		t.Fatalf("remote_servers defines %d clusters, want 1", len(cluster.RemoteServers.Clusters))
	}
	c := cluster.RemoteServers.Clusters[0]
	if c.Secret.FromEnv != "CLICKHOUSE_CLUSTER_SECRET" || c.Secret.Value != "" {
		t.Errorf("cluster %s: the secret should come from CLICKHOUSE_CLUSTER_SECRET, not the file", c.XMLName.Local)
	}
	listed := map[string]bool{}
	for i, sh := range c.Shards {
		if sh.InternalReplication != "true" {
			t.Errorf("shard %d: internal_replication %q, want true (replication, not the Distributed table, copies a block to the other replica)", i+1, sh.InternalReplication)
		}
		if len(sh.Replicas) != 2 {
			t.Errorf("shard %d has %d replicas, want 2", i+1, len(sh.Replicas))
		}
		shardMacro := ""
		for _, r := range sh.Replicas {
			if r.Password != "" {
				t.Errorf("remote_servers writes a password for %s", r.Host)
			}
			if r.Port != "9000" {
				t.Errorf("replica %s: port %s, want the native port 9000", r.Host, r.Port)
			}
			m, ok := macros[r.Host]
			if !ok {
				t.Errorf("remote_servers names %s, which is no ClickHouse service", r.Host)
				continue
			}
			if listed[r.Host] {
				t.Errorf("remote_servers lists %s twice", r.Host)
			}
			listed[r.Host] = true
			if shardMacro == "" {
				shardMacro = m.shard
			} else if m.shard != shardMacro {
				t.Errorf("shard %d: %s has shard macro %s, its neighbour %s", i+1, r.Host, m.shard, shardMacro)
			}
		}
		for j := range i {
			if other := macros[c.Shards[j].Replicas[0].Host].shard; other == shardMacro {
				t.Errorf("shards %d and %d share the shard macro %s", j+1, i+1, shardMacro)
			}
		}
	}
	if len(c.Shards) != 2 {
		t.Errorf("cluster %s has %d shards, want 2", c.XMLName.Local, len(c.Shards))
	}
	for _, name := range nodes {
		if !listed[name] {
			t.Errorf("remote_servers does not list %s", name)
		}
	}
	var zk []string
	for _, n := range cluster.Zookeeper.Nodes {
		zk = append(zk, n.Host+":"+n.Port)
	}
	var wantZK []string
	for _, k := range keepers {
		wantZK = append(wantZK, k+":9181")
	}
	if !slices.Equal(zk, wantZK) {
		t.Errorf("zookeeper nodes %q, want every Keeper %q", zk, wantZK)
	}
	if cluster.DistributedDDL.Path == "" {
		t.Error("no distributed_ddl path: ON CLUSTER needs one")
	}

	// The collectors and the migration.
	for _, name := range append(servicesLike(p, `^syncwatch-\d+$`), "migrate") {
		s := service(t, p, name)
		if got := env(s, "SYNCWATCH_CLICKHOUSE_CLUSTER"); got != c.XMLName.Local {
			t.Errorf("%s: SYNCWATCH_CLICKHOUSE_CLUSTER %q, want the cluster of remote_servers %q", name, got, c.XMLName.Local)
		}
		dsn := env(s, "SYNCWATCH_CLICKHOUSE_DSN")
		m := regexp.MustCompile(`^clickhouse://syncwatch:([^@]*)@([^/]+)/syncwatch\?`).FindStringSubmatch(dsn)
		if m == nil || m[1] != clusterTestEnv["CLICKHOUSE_PASSWORD"] {
			t.Errorf("%s: DSN %q: want user syncwatch with the .env's password on database syncwatch", name, dsn)
			continue
		}
		var hosts []string
		for _, h := range strings.Split(m[2], ",") {
			hosts = append(hosts, strings.TrimSuffix(h, ":9000"))
		}
		slices.Sort(hosts)
		if !slices.Equal(hosts, nodes) {
			t.Errorf("%s: DSN hosts %q, want every node %q", name, hosts, nodes)
		}
		if name == "migrate" {
			if !slices.Equal(s.Command, types.ShellCommand{"migrate", "up"}) {
				t.Errorf("migrate runs %q", s.Command)
			}
			for _, n := range nodes {
				if s.DependsOn[n].Condition != types.ServiceConditionHealthy {
					t.Errorf("migrate does not wait for %s", n)
				}
			}
			continue
		}
		if env(s, "SYNCWATCH_MIGRATE") != "false" {
			t.Errorf("%s migrates at start-up: the migrate service owns the schema", name)
		}
		if s.DependsOn["migrate"].Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for the migration", name)
		}
		if v := mount(t, s, "/var/lib/syncwatch"); v.Type != types.VolumeTypeVolume || v.Source != name+"-data" {
			t.Errorf("%s: spool on %q, want a volume of its own", name, v.Source)
		}
	}
}

// TestClusterImagesAndSecrets checks that the images are pinned, that the
// server and Keeper run one version, and that the stack refuses to start
// without each secret.
func TestClusterImagesAndSecrets(t *testing.T) {
	p := clusterProject(t)
	pinned := regexp.MustCompile(`^[a-z0-9./_-]+:v?[0-9]+(\.[0-9]+)+$`)
	versions := map[string]bool{}
	for _, s := range p.Services {
		switch {
		case s.Build != nil:
			if s.Image != "syncwatch:local" {
				t.Errorf("%s: built image named %q", s.Name, s.Image)
			}
		case !pinned.MatchString(s.Image):
			t.Errorf("%s: image %q is not pinned to a version", s.Name, s.Image)
		default:
			versions[s.Image[strings.LastIndex(s.Image, ":"):]] = true
		}
	}
	if len(versions) != 1 {
		t.Errorf("ClickHouse server and Keeper run versions %v; keep them equal", versions)
	}
	for key := range clusterTestEnv {
		env := map[string]string{}
		for k, v := range clusterTestEnv {
			if k != key {
				env[k] = v
			}
		}
		if _, err := loadCluster(t, env); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("without %s: %v, want an error naming it", key, err)
		}
	}
}

// TestGenEnvFeedsCluster loads deploy/cluster with the .env gen-env.sh
// writes.
func TestGenEnvFeedsCluster(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	if out, err := exec.Command("sh", filepath.Join(root, "deploy", "gen-env.sh"), envFile).CombinedOutput(); err != nil {
		t.Fatalf("gen-env.sh: %v\n%s", err, out)
	}
	p, err := loadCluster(t, nil, envFile)
	if err != nil {
		t.Fatalf("deploy/cluster with the generated .env: %v", err)
	}
	if got := env(p.Services["ch-s1-r1"], "CLICKHOUSE_CLUSTER_SECRET"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
		t.Errorf("the cluster secret from .env is %q", got)
	}
}
