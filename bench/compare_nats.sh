#!/usr/bin/env bash
# edri next to NATS on this machine, in one run: a nats-server on a free
# loopback port with libnats publisher/subscriber and requester/responder
# (bench/nats_bench.c), and the matching edri-bench scenarios, interleaved
# A B A B for 3 rounds at each payload size (16 B, 256 B, 4 KiB). Then, once:
# switch-replay, open-loop request latency, queued-event memory and idle
# edrid memory. Prints each JSON line, then a table of medians with the
# ratio edri / NATS.
#   bench/compare_nats.sh [BUILD_DIR] [EVENTS]
# EVENTS is for 256 B (16 B runs as many, 4 KiB a quarter). Needs nats-server
# and libnats-dev: `sudo scripts/install-deps.sh bench`, then re-run cmake so
# nats-bench is built.
set -euo pipefail
build=${1:-build}
events=${2:-1000000}
rounds=3
for bin in "$build/bin/edri-bench" "$build/bin/nats-bench" "$build/bin/edrid"; do
  [[ -x $bin ]] || { echo "missing $bin (see the comment at the top of $0)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server is not installed (scripts/install-deps.sh bench)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
js_dir=$(mktemp -d)
# JetStream on, for the work-queue consumer; its stream is kept in memory.
nats-server -a 127.0.0.1 -p "$port" -js -sd "$js_dir" >/dev/null 2>&1 &
nats_pid=$!
out=$(mktemp)
trap 'kill $nats_pid 2>/dev/null || true; rm -rf "$out" "$js_dir"' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
url="nats://127.0.0.1:$port"
bench() { timeout 300 "$build/bin/edri-bench" "$@" 2>/dev/null | tee -a "$out"; }

for size in 16 256 4096; do
  n=$events
  [[ $size == 4096 ]] && n=$((events / 4))
  for round in $(seq $rounds); do
    echo "# size $size, round $round" >&2
    "$build/bin/nats-bench" "$url" notify "$n" $size | tee -a "$out"
    bench inproc-notify --events "$n" --size $size
    # The two-thread ring inproc-notify 1->1 is measured against (issue 28).
    [[ $size == 256 ]] && bench spsc-ring --events "$n" --size 256
    bench switch --events "$n" --size $size
    "$build/bin/nats-bench" "$url" request "$((n / 50))" $size | tee -a "$out"
    bench inproc-request --events "$((n / 5))" --size $size
  done
done
# Work groups: two members sharing the events, next to NATS queue groups
# (core) and a JetStream work-queue consumer with explicit acks.
for round in $(seq $rounds); do
  echo "# groups, round $round" >&2
  "$build/bin/nats-bench" "$url" queue "$events" 256 | tee -a "$out"
  bench inproc-notify --fanout 1 --events "$events" --size 256
  bench inproc-notify --fanout 1 --events "$events" --size 256 --group at_most_once
  bench inproc-notify --fanout 2 --events "$((events * 2))" --size 256 --group at_most_once
  bench inproc-notify --fanout 2 --events "$((events * 2))" --size 256 --group at_least_once
  bench switch-notify --events "$events" --size 256
  bench switch-notify --events "$events" --size 256 --group at_most_once
  bench switch-notify --events "$events" --size 256 --group at_least_once
  "$build/bin/nats-bench" "$url" jetstream "$((events / 4))" 256 | tee -a "$out"
done
# Durable queues: events on disk before the sender hears "taken", then
# handled, next to a JetStream work-queue stream on file storage (which
# writes each message to the OS and fsyncs every 2 minutes: edri's sync: os).
for round in $(seq $rounds); do
  echo "# durable, round $round" >&2
  "$build/bin/nats-bench" "$url" jetstream-file "$((events / 4))" 256 | tee -a "$out"
  for sync in os batch always; do
    bench durable-notify --events "$((events / 4))" --size 256 --sync $sync --producers 4
  done
done
echo "# once" >&2
bench switch-replay --events "$((events * 4))" --size 256
bench inproc-request --events "$events" --size 256 --rate 10000
bench inproc-notify --fanout 1 --events "$events" --size 256 --payload bytes
bench queued-memory --events "$events" --size 256 --payload string
bench queued-memory --events "$events" --size 256 --payload bytes
bench executor-thread --events "$events"
bench executor-process --events "$events"
bench/footprint.sh "$build" | tee -a "$out"

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(scenario, key, **where):
    v = [r[key] for r in rows if r["scenario"] == scenario and all(r.get(k) == x for k, x in where.items())]
    return statistics.median(v) if v else float("nan")
def one(scenario, key, **where):
    v = [r[key] for r in rows if r["scenario"] == scenario and all(r.get(k) == x for k, x in where.items())]
    return v[-1] if v else float("nan")
print()
print("| scenario | size | edri | NATS | edri / NATS | better is |")
print("|---|---:|---:|---:|---:|---|")
for size in (16, 256, 4096):
    nats_pub = med("nats-notify", "events_per_s", size=size)
    nats_p50 = med("nats-request", "p50_us", size=size)
    table = [
        ("inproc-notify 1->1 (events/s)", med("inproc-notify", "events_per_s", fanout=1, size=size, payload="std::string"), nats_pub, "higher"),
        ("inproc-notify 1->4 (deliveries/s)", med("inproc-notify", "deliveries_per_s", fanout=4, size=size, payload="std::string"), nats_pub, "higher"),
        ("switch-notify (events/s)", med("switch-notify", "events_per_s", size=size), nats_pub, "higher"),
        ("switch-request p50 (us)", med("switch-request", "p50_us", size=size), nats_p50, "lower"),
        ("inproc-request p50 (us)", med("inproc-request", "p50_us", size=size), nats_p50, "lower"),
    ]
    for name, e, n, better in table:
        print(f"| {name} | {size} | {e:,.1f} | {n:,.1f} | {e / n:.2f} | {better} |")
ring = med("spsc-ring", "events_per_s", size=256)
inproc1 = med("inproc-notify", "events_per_s", fanout=1, size=256, payload="std::string")
print(f"\ninproc-notify 1->1 at 256 B is {inproc1 / ring:.1%} of a two-thread SPSC ring ({ring:,.0f} items/s, batches of 64)")
print()
print("| work groups, 256 B, two members unless said (events/s) | edri | compared with | ratio |")
print("|---|---:|---|---:|")
plain1 = med("inproc-notify", "events_per_s", fanout=1, size=256, payload="std::string", delivery="fan-out")
g_one = med("inproc-group", "events_per_s", delivery="at_most_once", fanout=1)
g_amo = med("inproc-group", "events_per_s", delivery="at_most_once", fanout=2)
g_alo = med("inproc-group", "events_per_s", delivery="at_least_once", fanout=2)
sw_plain = med("switch-notify", "events_per_s", size=256, delivery="fan-out")
sw_amo = med("switch-group", "events_per_s", delivery="at_most_once")
sw_alo = med("switch-group", "events_per_s", delivery="at_least_once")
nq = med("nats-queue", "events_per_s")
njs = med("nats-jetstream", "events_per_s")
for name, e, other, n in [
    ("in process, a group of one, at most once (the cost of picking)", g_one, "inproc-notify 1->1", plain1),
    ("in process, at most once", g_amo, "inproc-notify 1->1", plain1),
    ("in process, at least once", g_alo, "inproc-notify 1->1", plain1),
    ("across the switch, at most once", sw_amo, "switch-notify 1->1", sw_plain),
    ("across the switch, at most once", sw_amo, "NATS queue group", nq),
    ("across the switch, at least once", sw_alo, "NATS queue group", nq),
    ("across the switch, at least once", sw_alo, "JetStream explicit acks", njs),
]:
    print(f"| {name} | {e:,.0f} | {other} {n:,.0f} | {e / n:.2f} |")
print()
print("| durable, 256 B, enqueue + handle (events/s) | edri | JetStream file storage | ratio | edri commit p50 / p99 (us) |")
print("|---|---:|---:|---:|---:|")
njf = med("nats-jetstream-file", "events_per_s")
for sync in ("os", "batch", "always"):
    e = med("durable-notify", "events_per_s", sync=sync)
    print(f"| queue.sync: {sync}, 4 producers | {e:,.0f} | {njf:,.0f} | {e / njf:.2f} | "
          f"{med('durable-notify', 'commit_p50_us', sync=sync):,.0f} / {med('durable-notify', 'commit_p99_us', sync=sync):,.0f} |")
print()
lost = sum(r.get("lost", 0) for r in rows)
replay = one("switch-replay", "events_per_s")
print("| once | figure |")
print("|---|---|")
print(f"| switch-replay 256 B, links cut every 200 ms | {replay:,.0f} events/s = {replay / med('switch-notify', 'events_per_s', size=256):.2f} of switch-notify; "
      f"lost {one('switch-replay', 'lost')}, duplicates {one('switch-replay', 'duplicates')}, out of order {one('switch-replay', 'out_of_order')}, cuts {one('switch-replay', 'cuts')} |")
print(f"| inproc-request at 10 000/s (open loop) | p50 {one('inproc-request-rate', 'p50_us'):.1f} us, p99 {one('inproc-request-rate', 'p99_us'):.1f} us, p99.9 {one('inproc-request-rate', 'p999_us'):.1f} us |")
print(f"| executor-thread, 2 workers | {one('executor-thread', 'tasks_per_s'):,.0f} tasks/s |")
print(f"| executor-process, 2 workers | {one('executor-process', 'tasks_per_s'):,.0f} tasks/s |")
print(f"| inproc-notify 1->1 256 B, edri::ByteString in a Draft | {one('inproc-notify', 'events_per_s', payload='edri::ByteString in a Draft'):,.0f} events/s |")
print(f"| memory per queued 256 B event, std::string payload | {one('queued-memory', 'bytes_per_queued_event', payload='std::string'):.0f} B |")
print(f"| memory per queued 256 B event, edri::ByteString in a Draft | {one('queued-memory', 'bytes_per_queued_event', payload='edri::ByteString in a Draft'):.0f} B |")
print(f"| idle edrid (config/edrid.yaml) | {one('edrid-idle', 'rss_kib') / 1024:.1f} MiB (+ {one('edrid-idle', 'workers_rss_kib') / 1024:.1f} MiB in 2 worker processes) |")
print(f"| events lost, all runs | {lost} |")
PY
