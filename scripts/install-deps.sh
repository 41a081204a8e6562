#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing:
#   clickhouse-server  a real ClickHouse server for the native-protocol tests
#   prometheus         promtool and a Prometheus server for the metrics tests
#   prometheus-alertmanager  amtool and an Alertmanager for the alerting tests
#   chromium           the headless browser of the web console's end-to-end test
#   fonts-wqy-microhei a CJK font, so that its Chinese screenshots are legible
# It uses apt-get (as root, or through sudo) and does nothing when every
# file is already there.
set -euo pipefail

declare -A want=(
  [/usr/sbin/clickhouse-server]=clickhouse-server
  [/usr/bin/promtool]=prometheus
  [/usr/bin/amtool]=prometheus-alertmanager
  [/usr/bin/prometheus-alertmanager]=prometheus-alertmanager
  [/usr/bin/chromium]=chromium
  [/usr/share/fonts/truetype/wqy/wqy-microhei.ttc]=fonts-wqy-microhei
)
missing=()
for bin in "${!want[@]}"; do
  [ -e "$bin" ] || missing+=("${want[$bin]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=sudo; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
