#!/bin/sh
# A shell job that reports its own run with `syncwatch send`: processing at
# the start, then the final status with the same run_id and started_at.
# (`syncwatch run --type stock -- ./sync-stock-inner.sh` does the same with
# no changes to the script.)
set -u

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Reporting must not stop the job: ignore a failure, keep going without ids.
run_id=$(syncwatch send --type stock --source haier --status processing --started-at "$started") || run_id=

total=0 ok=0 bad=0
for sku in $(cat /var/lib/shop/skus.txt); do
  total=$((total + 1))
  if curl -fsS "https://openapi.haier.example/v3/stock/$sku" -o "/var/lib/shop/stock/$sku.json"; then
    ok=$((ok + 1))
  else
    bad=$((bad + 1))
  fi
done

status=success
if [ "$bad" -gt 0 ] && [ "$ok" -gt 0 ]; then status=partial; fi
if [ "$bad" -gt 0 ] && [ "$ok" -eq 0 ]; then status=failed; fi

syncwatch send --type stock --source haier --status "$status" \
  ${run_id:+--run-id "$run_id"} --started-at "$started" --completed-at now \
  --total "$total" --success "$ok" --failed "$bad" \
  --message "$bad of $total stock levels failed" >/dev/null || true

[ "$status" = success ]
