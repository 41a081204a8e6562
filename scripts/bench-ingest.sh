#!/usr/bin/env bash
# One run of the ingest benchmarks (docs/benchmarks.md), side by side on
# 127.0.0.1:
#   empty-gin    gin answering an empty 202: the ceiling of an HTTP service
#   pushgateway  Prometheus Pushgateway taking one push per request
#   single       syncwatch, one JSON report per request, durable acks
#   ndjson       syncwatch, NDJSON batches, until ClickHouse holds them all
#   raw insert   the embedded engine's own INSERT rate (BenchmarkInsert)
#   overload     syncwatch at twice the single-report rate, open loop, with a
#                small spool; memory sampled; every acknowledged report checked
#   overload-limited  the same with an ingest token rate-limited to 3/4 of
#                the single-report rate, so that the excess is refused with 429
#
#   scripts/bench-ingest.sh        # or: make bench-ingest
#
# Knobs (environment): BENCH_DIR (results; default a new directory under
# /tmp), BENCH_DURATION (each closed-loop scenario, default 15s),
# BENCH_OVERLOAD_DURATION (60s), BENCH_CONNECTIONS (64), BENCH_BATCH (1000),
# BENCH_NDJSON_CONNECTIONS (4), BENCH_OVERLOAD_CONNECTIONS (256),
# BENCH_SPOOL_MAX_BYTES (the overload server's spool, default 8 MiB),
# BENCH_MAX_LOAD and BENCH_LOAD_WAIT (wait up to BENCH_LOAD_WAIT seconds,
# default 0, for the 1-minute load average to fall below BENCH_MAX_LOAD,
# default 1.5), BENCH_PPROF=1 (save a 10 s CPU profile of syncwatch during
# the single-report scenario).
set -euo pipefail
cd "$(dirname "$0")/.."

dur=${BENCH_DURATION:-15s}
over_dur=${BENCH_OVERLOAD_DURATION:-60s}
conns=${BENCH_CONNECTIONS:-64}
batch=${BENCH_BATCH:-1000}
nd_conns=${BENCH_NDJSON_CONNECTIONS:-4}
over_conns=${BENCH_OVERLOAD_CONNECTIONS:-256}
spool_max=${BENCH_SPOOL_MAX_BYTES:-8388608}
max_load=${BENCH_MAX_LOAD:-1.5}
load_wait=${BENCH_LOAD_WAIT:-0}
dir=${BENCH_DIR:-$(mktemp -d /tmp/syncwatch-bench.XXXXXX)}
mkdir -p "$dir/bin"
res="$dir/results"
mkdir -p "$res"

say() { printf '\n== %s\n' "$*" >&2; }

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# stop PID: SIGTERM and wait for it to exit (syncwatch flushes its batcher).
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# wait_http URL: until URL answers 2xx (60 s at most).
wait_http() {
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.25
  done
  echo "bench-ingest: $1 did not come up" >&2
  return 1
}

say "dependencies and builds"
libchdb=$(scripts/fetch-libchdb.sh)
export SYNCWATCH_LIBCHDB="$libchdb"
pushgw=/usr/bin/prometheus-pushgateway
if [ ! -x "$pushgw" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus-pushgateway >&2
fi
go build -o "$dir/bin/syncwatch" ./cmd/syncwatch
go build -o "$dir/bin/syncload" ./bench/syncload
chtest=""
if go test -c -o "$dir/bin/clickhouse.test" ./clickhouse >&2; then
  chtest="$dir/bin/clickhouse.test"
else
  echo "bench-ingest: the clickhouse benchmarks do not build; no raw insert rate" >&2
fi
load="$dir/bin/syncload"
sw="$dir/bin/syncwatch"

if [ "$load_wait" -gt 0 ]; then
  waited=0
  while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$max_load" 'BEGIN{exit !(l >= m)}'; do
    [ "$waited" -ge "$load_wait" ] && { echo "bench-ingest: load average still $(cut -d' ' -f1 /proc/loadavg) after ${waited}s; measuring anyway" >&2; break; }
    echo "bench-ingest: load average $(cut -d' ' -f1-3 /proc/loadavg); waiting for < $max_load" >&2
    sleep 30
    waited=$((waited + 30))
  done
fi
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$loadavg" >"$res/loadavg.txt"
say "load average $loadavg; results in $dir"

# --- the empty gin handler ---------------------------------------------
say "empty gin handler"
"$load" emptyserver --listen 127.0.0.1:0 >"$dir/empty.addr" 2>"$dir/empty.log" &
epid=$!
pids+=("$epid")
for _ in $(seq 1 40); do [ -s "$dir/empty.addr" ] && break; sleep 0.25; done
eaddr=$(head -1 "$dir/empty.addr")
"$load" run --name empty-gin --mode single --url "http://$eaddr/api/v1/runs" -c "$conns" -d "$dur" --pid "$epid" --out "$res/empty-gin.json"
if command -v wrk >/dev/null 2>&1; then
  # The same handler under wrk, a C generator, for how much the Go one costs.
  wrk -t2 -c"$conns" -d5s --latency "http://$eaddr/api/v1/runs" >"$res/empty-gin-wrk.txt" 2>&1 || true
  grep -E 'Requests/sec|^ +(50|99)%' "$res/empty-gin-wrk.txt" | sed 's/^/  wrk: /' >&2 || true
fi
stop "$epid"

# --- Prometheus Pushgateway ---------------------------------------------
say "Prometheus Pushgateway"
pport=$("$load" freeport)
"$pushgw" --web.listen-address="127.0.0.1:$pport" --persistence.file="" --log.level=warn >"$dir/pushgateway.log" 2>&1 &
ppid=$!
pids+=("$ppid")
wait_http "http://127.0.0.1:$pport/-/ready"
"$load" run --name pushgateway --mode pushgateway --url "http://127.0.0.1:$pport" -c "$conns" -d "$dur" --pid "$ppid" --out "$res/pushgateway.json"
stop "$ppid"

# start_syncwatch NAME [flags]: a fresh data directory, a free port; sets
# sw_pid and sw_url.
start_syncwatch() {
  local name=$1
  shift
  local port
  port=$("$load" freeport)
  rm -rf "$dir/data-$name"
  # The load comes from one address (and one token): give that client the
  # whole in-flight limit, as the README advises for local jobs.
  "$sw" serve --listen "127.0.0.1:$port" --data-dir "$dir/data-$name" --log-format json --max-inflight-per-client 128 "$@" >"$dir/syncwatch-$name.log" 2>&1 &
  sw_pid=$!
  pids+=("$sw_pid")
  sw_url="http://127.0.0.1:$port"
  wait_http "$sw_url/readyz"
}

# --- syncwatch: single reports, then NDJSON batches ----------------------
say "syncwatch: single reports with durable acks"
pprof_flags=()
if [ "${BENCH_PPROF:-0}" = 1 ]; then
  pprof_port=$("$load" freeport)
  pprof_flags=(--pprof-listen "127.0.0.1:$pprof_port")
fi
start_syncwatch main "${pprof_flags[@]}"
prof_pid=""
if [ ${#pprof_flags[@]} -gt 0 ]; then
  (sleep 4 && curl -s -o "$res/cpu-single.pprof" "http://127.0.0.1:$pprof_port/debug/pprof/profile?seconds=10") &
  prof_pid=$!
fi
"$load" run --name single --mode single --url "$sw_url/api/v1/runs" -c "$conns" -d "$dur" \
  --acked "$dir/acked-main-single.txt" --pid "$sw_pid" --out "$res/single.json"
[ -z "$prof_pid" ] || wait "$prof_pid" || true
say "syncwatch: NDJSON batches of $batch into ClickHouse"
"$load" run --name ndjson --mode ndjson --batch "$batch" --url "$sw_url/api/v1/runs" -c "$nd_conns" -d "$dur" --warmup 0s \
  --acked "$dir/acked-main-ndjson.txt" --wait-drain --pid "$sw_pid" --out "$res/ndjson.json"
stop "$sw_pid"

# --- the engine's raw insert rate ----------------------------------------
raw=0
store=0
if [ -n "$chtest" ]; then
  say "embedded ClickHouse: raw insert rate"
  (cd "$dir" && "$chtest" -test.run '^$' -test.bench 'Insert/(raw|store)-10k$' -test.benchtime 10x) >"$res/insert-bench.txt" 2>&1 || true
  grep Benchmark "$res/insert-bench.txt" >&2 || tail -5 "$res/insert-bench.txt" >&2
  raw=$(awk '/raw-10k/ { for (i = 1; i < NF; i++) if ($(i+1) == "rows/s") print $i }' "$res/insert-bench.txt")
  store=$(awk '/store-10k/ { for (i = 1; i < NF; i++) if ($(i+1) == "rows/s") print $i }' "$res/insert-bench.txt")
fi

# --- overload ---------------------------------------------------------------
single_rate=$(jq '.reports_per_s' "$res/single.json")
rate=$(awk -v r="$single_rate" 'BEGIN { printf "%d", (r >= 500 ? 2 * r : 1000) }')
say "syncwatch: overload at $rate requests/s (twice the single-report rate) for $over_dur, spool $spool_max bytes"
start_syncwatch overload --spool-max-bytes "$spool_max"
"$load" run --name overload --mode single --url "$sw_url/api/v1/runs" -c "$over_conns" -d "$over_dur" --rate "$rate" --timeout 5s \
  --acked "$dir/acked-overload.txt" --wait-drain --pid "$sw_pid" --out "$res/overload.json"
stop "$sw_pid"

# Under overload the server serves fewer requests than in the closed-loop
# run (more connections, more waiting), so the limit is set below it.
limit=$(awk -v r="$single_rate" 'BEGIN { printf "%d", (r >= 500 ? 0.75 * r : 500) }')
say "syncwatch: overload at $rate requests/s, the token limited to $limit requests/s"
token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf -- '- name: bench\n  token: %s\n  roles: [ingest, query]\n  rate_limit: %s\n' "$token" "$limit" >"$dir/tokens.yaml"
start_syncwatch limited --spool-max-bytes "$spool_max" --tokens-file "$dir/tokens.yaml"
"$load" run --name overload-limited --mode single --url "$sw_url/api/v1/runs" -c "$over_conns" -d "$over_dur" --rate "$rate" --timeout 5s \
  --token "$token" --acked "$dir/acked-limited.txt" --wait-drain --pid "$sw_pid" --out "$res/overload-limited.json"
stop "$sw_pid"

# --- nothing acknowledged is lost ------------------------------------------
say "loss check"
cat "$dir"/acked-main-*.txt >"$dir/acked-main.txt"
ok=0
"$load" verify --data-dir "$dir/data-main" --acked "$dir/acked-main.txt" --out "$res/verify-main.json" || ok=1
"$load" verify --data-dir "$dir/data-overload" --acked "$dir/acked-overload.txt" --out "$res/verify-overload.json" || ok=1
"$load" verify --data-dir "$dir/data-limited" --acked "$dir/acked-limited.txt" --out "$res/verify-limited.json" || ok=1

"$load" report --dir "$res" --raw-rows-per-s "${raw:-0}" --store-rows-per-s "${store:-0}" --loadavg "$loadavg" >"$res/summary.md"
say "summary ($res/summary.md)"
cat "$res/summary.md"

# Keep the results and the tail of the logs; drop the databases.
rm -rf "$dir"/data-* "$dir"/acked-*.txt "$dir/tokens.yaml"
for f in "$dir"/*.log; do tail -n 200 "$f" >"$f.tail" && mv "$f.tail" "$f"; done
exit "$ok"
