#!/usr/bin/env bash
# HTTP requests/s for POST /events/demo.echo with keep-alive, measured by wrk
# (Debian package `wrk`; install it by hand: it is a bench tool, not a build
# dependency). Starts its own edrid on a free loopback port and stops it.
#   bench/http_echo.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/edrid.yaml" <<YAML
router:
  log: {level: warn}
managers:
  - name: echo
    plugin: echo
  - name: api
    plugin: api
    config: {port: $port, threads: 2}
YAML
build/bin/edrid -c "$dir/edrid.yaml" &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"text":"hello from wrk"}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$port/events/demo.echo"
