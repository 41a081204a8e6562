// Package deploy holds the configuration of syncwatch's docker compose
// stack (docker-compose.yml and the Dockerfile at the repository's root,
// and the files below this directory) and no code. Its tests load the
// compose file with compose-go, as docker compose does, and check that
// every file it mounts exists, that the services agree on names, ports,
// users and paths (syncwatch's listen port, its health check, Prometheus'
// scrape target and the Grafana datasources), that every image is pinned
// and that no secret is written in the repository. deploy/cluster holds the
// ClickHouse cluster stack (two shards of two replicas, three Keeper
// nodes, collectors in cluster mode); its tests check the topology the
// configurations describe.
package deploy
