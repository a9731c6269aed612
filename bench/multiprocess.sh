#!/usr/bin/env bash
# What users run, measured: three separate edrid processes started from
# their YAML (router A with a sending plugin, a switch, router B with a
# counting plugin; bench/plugins/bench_probe.cpp) next to NATS as three
# processes (nats-server, a nats-bench publisher, a nats-bench subscriber),
# interleaved NATS, edri, NATS, edri ... for ROUNDS rounds at 16 B, 256 B
# and 4 KiB. Both figures are taken at the receiver, first to last arrival.
# Prints each JSON line, then the medians and the ratio edri / NATS.
#   bench/multiprocess.sh [BUILD_DIR] [EVENTS] [ROUNDS]
# EVENTS is for 16 B and 256 B (4 KiB runs a quarter). Needs nats-server and
# libnats-dev (scripts/install-deps.sh installs both).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
events=${2:-2000000}
rounds=${3:-3}
for bin in "$build/bin/edrid" "$build/bin/nats-bench" "$build/lib/edri/plugins/libedri_bench_probe.so"; do
  [[ -e $bin ]] || { echo "missing $bin (build the bench targets: cmake --build $build)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server is not installed (scripts/install-deps.sh)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
dir=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$dir"' EXIT
out="$dir/lines"
: > "$out"

nats_port=$(free_port)
nats-server -a 127.0.0.1 -p "$nats_port" > "$dir/nats.log" 2>&1 &
nats_pid=$!
wait_port "$nats_port"
url="nats://127.0.0.1:$nats_port"

run_nats() {  # size n
  "$build/bin/nats-bench" "$url" sub "$2" "$1" > "$dir/sub.out" &
  local sub=$!
  for _ in $(seq 200); do grep -q ready "$dir/sub.out" 2>/dev/null && break; sleep 0.05; done
  "$build/bin/nats-bench" "$url" pub "$2" "$1"
  wait "$sub"
  grep '^{' "$dir/sub.out" | tee -a "$out"
}

run_edri() {  # size n
  local size=$1 n=$2 port
  port=$(free_port)
  rm -f "$dir/result"
  cat > "$dir/switch.yaml" <<YAML
router: {id: hub, log: {level: warn}}
switch: {listen: "127.0.0.1:$port"}
managers: []
YAML
  cat > "$dir/b.yaml" <<YAML
router: {id: router-b, log: {level: warn}, plugin_dirs: ["$build/lib/edri/plugins"]}
connector: {switch: "127.0.0.1:$port"}
managers:
  - name: sink
    plugin: bench_probe
    queue: {capacity: 65536}
    config: {role: sink, count: $n, result: "$dir/result"}
YAML
  cat > "$dir/a.yaml" <<YAML
router: {id: router-a, log: {level: warn}, plugin_dirs: ["$build/lib/edri/plugins"]}
connector: {switch: "127.0.0.1:$port"}
managers:
  - name: source
    plugin: bench_probe
    config: {role: source, count: $n, size: $size}
YAML
  "$build/bin/edrid" -c "$dir/switch.yaml" > "$dir/switch.log" 2>&1 & pids+=($!)
  wait_port "$port"
  "$build/bin/edrid" -c "$dir/b.yaml" > "$dir/b.log" 2>&1 & pids+=($!)
  "$build/bin/edrid" -c "$dir/a.yaml" > "$dir/a.log" 2>&1 & pids+=($!)
  for _ in $(seq 6000); do [[ -s $dir/result ]] && break; sleep 0.05; done
  stop_all
  [[ -s $dir/result ]] || { echo "edri run at $size B gave no result; logs:" >&2; tail -5 "$dir"/*.log >&2; return 1; }
  python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).readline()); j["size"]=int(sys.argv[2]); print(json.dumps(j))' \
    "$dir/result" "$size" | tee -a "$out"
}

for size in 16 256 4096; do
  n=$events
  [[ $size == 4096 ]] && n=$((events / 4))
  for round in $(seq "$rounds"); do
    echo "# size $size, round $round" >&2
    run_nats "$size" "$n"
    run_edri "$size" "$n"
  done
done
kill "$nats_pid" 2>/dev/null || true
wait "$nats_pid" 2>/dev/null || true

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'size':>6} {'NATS 3 processes':>18} {'edri 3 processes':>18} {'edri/NATS':>10} {'lost':>6}")
for size in (16, 256, 4096):
    nats = [r["events_per_s"] for r in rows if r["scenario"] == "nats-3proc" and r["size"] == size]
    edri = [r["events_per_s"] for r in rows if r["scenario"] == "edri-3proc" and r["size"] == size]
    lost = sum(r["lost"] for r in rows if r["size"] == size)
    if nats and edri:
        n, e = statistics.median(nats), statistics.median(edri)
        print(f"{size:>6} {n:>16,.0f}/s {e:>16,.0f}/s {e / n:>9.2f}x {lost:>6}")
PY
