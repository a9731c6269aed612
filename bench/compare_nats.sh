#!/usr/bin/env bash
# edri next to NATS on this machine, in one run: a nats-server on a free
# loopback port with libnats publisher/subscriber and requester/responder
# (bench/nats_bench.c), and the matching edri-bench scenarios, interleaved
# A B A B for 3 rounds. Prints each JSON line, then a table of medians and
# the ratio edri / NATS.
#   bench/compare_nats.sh [BUILD_DIR] [EVENTS]
# Needs nats-server and libnats-dev: `sudo scripts/install-deps.sh bench`,
# then re-run cmake so nats-bench is built.
set -euo pipefail
build=${1:-build}
events=${2:-1000000}
size=256
rounds=3
for bin in "$build/bin/edri-bench" "$build/bin/nats-bench"; do
  [[ -x $bin ]] || { echo "missing $bin (see the comment at the top of $0)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server is not installed (scripts/install-deps.sh bench)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
nats_pid=$!
trap 'kill $nats_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
url="nats://127.0.0.1:$port"

out=$(mktemp)
for round in $(seq $rounds); do
  echo "# round $round" >&2
  "$build/bin/nats-bench" "$url" notify "$events" $size | tee -a "$out"
  "$build/bin/edri-bench" inproc-notify --events "$events" --size $size | tee -a "$out"
  "$build/bin/edri-bench" switch --events "$((events))" --size $size | tee -a "$out"
  "$build/bin/nats-bench" "$url" request "$((events / 50))" $size | tee -a "$out"
  "$build/bin/edri-bench" inproc-request --events "$((events / 5))" --size $size | tee -a "$out"
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(scenario, key, **where):
    v = [r[key] for r in rows if r["scenario"] == scenario and all(r.get(k) == x for k, x in where.items())]
    return statistics.median(v) if v else float("nan")
nats_pub = med("nats-notify", "events_per_s")
nats_p50 = med("nats-request", "p50_us")
table = [
    ("inproc-notify 256 B (events/s)", med("inproc-notify", "events_per_s", fanout=1), nats_pub, "higher"),
    ("switch-notify 256 B (events/s)", med("switch-notify", "events_per_s"), nats_pub, "higher"),
    ("switch-request p50 (us)", med("switch-request", "p50_us"), nats_p50, "lower"),
    ("inproc-request p50 (us)", med("inproc-request", "p50_us"), nats_p50, "lower"),
]
print()
print(f"| scenario | edri | NATS | edri / NATS | better is |")
print(f"|---|---:|---:|---:|---|")
for name, e, n, better in table:
    print(f"| {name} | {e:,.1f} | {n:,.1f} | {e / n:.2f} | {better} |")
PY
