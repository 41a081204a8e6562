#!/bin/sh
# Writes the .env file that docker-compose.yml reads, with a fresh random
# value for every password and token, readable by its owner only. It never
# overwrites an existing file.
#
#   deploy/gen-env.sh            # writes .env at the repository's root
#   deploy/gen-env.sh PATH       # writes PATH instead
#   deploy/gen-env.sh deploy/cluster/.env   # for deploy/cluster
#
# Keep .env out of version control and out of images (.dockerignore).
set -eu
out=${1:-"$(dirname "$0")/../.env"}
if [ -e "$out" ]; then
  echo "gen-env: $out exists; remove it first to make new secrets" >&2
  exit 1
fi
rand() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
cat > "$out" <<ENV
# Secrets of syncwatch's docker compose stack, made by deploy/gen-env.sh.
# ClickHouse passwords: of syncwatch's user, and of Grafana's read-only user.
CLICKHOUSE_PASSWORD=$(rand)
CLICKHOUSE_GRAFANA_PASSWORD=$(rand)
# Bearer tokens of syncwatch's API: jobs report with the ingest token.
SYNCWATCH_INGEST_TOKEN=$(rand)
SYNCWATCH_QUERY_TOKEN=$(rand)
SYNCWATCH_ADMIN_TOKEN=$(rand)
# Grafana's admin user (admin).
GRAFANA_ADMIN_PASSWORD=$(rand)
# The inter-server secret of deploy/cluster's ClickHouse nodes.
CLICKHOUSE_CLUSTER_SECRET=$(rand)
# Optional:
# SYNCWATCH_PUBLISH_ADDR=0.0.0.0          # publish the ports beyond this host
# SYNCWATCH_ALERTMANAGER_SECRETS_DIR=/etc/syncwatch/alertmanager-secrets
ENV
echo "gen-env: wrote $out" >&2
