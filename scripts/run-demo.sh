#!/usr/bin/env bash
# Starts `syncwatch serve` on the embedded engine with `syncwatch demo`
# feeding it, so that the console and /metrics show runs within seconds.
# Ctrl-C (or SIGTERM) stops both. `make run` calls it.
#
#   scripts/run-demo.sh [BINARY]        # default bin/syncwatch
#
# Environment:
#   DATA_DIR    data directory of the server (./data)
#   LISTEN      address of the server (SYNCWATCH_LISTEN, else 127.0.0.1:8080)
#   DEMO        0 runs the server alone (1)
#   DEMO_FLAGS  more flags for syncwatch demo, e.g. "--speed 60 --backfill 10m"
#
# With SYNCWATCH_INGEST_TOKENS set and no SYNCWATCH_TOKEN, the demo reports
# with the first ingest token.
set -euo pipefail

bin=${1:-bin/syncwatch}
data_dir=${DATA_DIR:-./data}
listen=${LISTEN:-${SYNCWATCH_LISTEN:-127.0.0.1:8080}}
libchdb=$(scripts/fetch-libchdb.sh)

host=${listen%:*}
port=${listen##*:}
case "$host" in
  "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;;
esac
server="http://$host:$port"
token=${SYNCWATCH_TOKEN:-${SYNCWATCH_INGEST_TOKENS:-}}
token=${token%%,*}

"$bin" serve --data-dir "$data_dir" --libchdb "$libchdb" --listen "$listen" &
serve_pid=$!
demo_pid=
echo "run-demo: syncwatch at $server (/metrics, /api/v1/health)$([ "${DEMO:-1}" != 0 ] && echo ", fed by syncwatch demo"); Ctrl-C stops" >&2
if [ "${DEMO:-1}" != 0 ]; then
  # shellcheck disable=SC2086 # DEMO_FLAGS is a list of flags
  SYNCWATCH_TOKEN=$token "$bin" demo --server "$server" ${DEMO_FLAGS:-} &
  demo_pid=$!
fi

stop() {
  trap - INT TERM
  if [ -n "$demo_pid" ]; then kill -TERM "$demo_pid" 2>/dev/null || true; fi
  kill -TERM "$serve_pid" 2>/dev/null || true
  if [ -n "$demo_pid" ]; then wait "$demo_pid" 2>/dev/null || true; fi
  wait "$serve_pid" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# The server ending ends the demo too; the demo ending alone (it gave up
# waiting for the server, say) leaves the server running.
set +e
wait "$serve_pid"
code=$?
if [ -n "$demo_pid" ]; then
  kill -TERM "$demo_pid" 2>/dev/null
  wait "$demo_pid" 2>/dev/null
fi
exit "$code"
