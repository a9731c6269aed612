#!/usr/bin/env bash
# Idle edrid memory: starts edrid on a config (the example by default, its
# HTTP port picked free), lets it settle, prints one JSON line with the
# daemon's resident set and its worker processes' (process executors), and
# stops it by PID.
#   bench/footprint.sh [BUILD_DIR] [CONFIG] [SETTLE_SECONDS]
set -euo pipefail
build=${1:-build}
config=${2:-config/edrid.yaml}
settle=${3:-3}
log=$(mktemp)
EDRI_HTTP_PORT=0 "$build/bin/edrid" -c "$config" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$log"' EXIT
sleep "$settle"
kill -0 $pid 2>/dev/null || { echo "edrid exited:" >&2; cat "$log" >&2; exit 1; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
daemon=$(rss_kib $pid)
workers=0
for child in $(pgrep -P $pid || true); do workers=$((workers + $(rss_kib "$child"))); done
kill -TERM $pid
wait $pid || true
trap - EXIT
rm -f "$log"
printf '{"scenario":"edrid-idle","config":"%s","settle_s":%s,"rss_kib":%s,"workers_rss_kib":%s}\n' \
  "$config" "$settle" "$daemon" "$workers"
