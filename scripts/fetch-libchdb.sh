#!/usr/bin/env bash
# Fetches libchdb (the embedded ClickHouse engine) into a cache outside the
# repository and prints its path. Does nothing when it is already there.
#
#   scripts/fetch-libchdb.sh            # prints the path of libchdb.so
#
# Source: the npm package @chdb/lib-linux-x64-gnu (one libchdb.so), fetched
# with `npm pack` and checked against a pinned sha256.
set -euo pipefail

version=26.5.3
tgz_sha256=b874e449710950da3abd7e20376f7bb3387d9e03adcc7082f022be18dfdf316a
cache="${XDG_CACHE_HOME:-$HOME/.cache}/syncwatch/libchdb/$version"
lib="$cache/libchdb.so"

if [ -s "$lib" ] && [ -f "$cache/.complete" ]; then
  echo "$lib"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="@chdb/lib-linux-x64-gnu" ;;
  *) echo "fetch-libchdb: no pinned libchdb for $(uname -s)-$(uname -m); use a ClickHouse server (--clickhouse-dsn)" >&2; exit 1 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "fetch-libchdb: installing npm" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
  else
    echo "fetch-libchdb: npm is needed to fetch $pkg@$version" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-libchdb: fetching $pkg@$version (about 170 MB)" >&2
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
got=$(sha256sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$tgz_sha256" ]; then
  echo "fetch-libchdb: sha256 mismatch for $tgz: got $got, want $tgz_sha256" >&2
  exit 1
fi
mkdir -p "$cache"
tar -xzf "$tgz" -C "$tmp" package/libchdb.so
mv "$tmp/package/libchdb.so" "$lib.tmp"
chmod 0755 "$lib.tmp"
mv "$lib.tmp" "$lib"
touch "$cache/.complete"
echo "$lib"
