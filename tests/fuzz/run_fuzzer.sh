#!/usr/bin/env bash
# Builds one libFuzzer target with clang (plus ASan and UBSan) and runs it
# for a bounded time. Exits 77 (skipped) when clang or its fuzzer runtime is
# not installed.
#   run_fuzzer.sh SOURCE_DIR WORK_DIR SECONDS TARGET      TARGET: frame | worker | api
set -euo pipefail
src=$1 work=$2 seconds=${3:-20} target=${4:-frame}
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z "$cxx" ]]; then
  echo "clang++ not installed: fuzzing skipped"; exit 77
fi
work="$work/$target"
mkdir -p "$work/corpus"
case "$target" in
  frame)
    sources=("$src/tests/fuzz/frame_fuzzer.cpp" "$src/daemon/cluster/wire.cpp" "$src/daemon/codec/frame_splitter.cpp" "$src/daemon/event/event.cpp"
             "$src/daemon/event/event_blocks.cpp" "$src/daemon/event/pattern.cpp"
             "$src/daemon/event/content_filter.cpp" "$src/daemon/manager/journal_record.cpp")
    # spdlog and fmt header-only: nothing is linked but the sources.
    includes=(-I"$src/daemon" -I"$src/sdk/include" -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY)
    # Short hand-made frames are enough for libFuzzer to find the structure.
    printf '\x05\x00\x00\x00\x09\x00\x00\x00' > "$work/corpus/close"
    printf '\x09\x00\x00\x00\x06\x01\x00\x00\x00\x00\x00\x00\x00' > "$work/corpus/ack"
    # A payload map for the content filters: {"a": 1, "s": "abc", "n": 2}.
    printf '\x83\xa1a\x01\xa1s\xa3abc\xa1n\x02' > "$work/corpus/map"
    # A durable queue record (docs/protocol.md): notification a.b, payload {"a": 1}.
    printf '\x6b\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x61\x2e\x62\x03\x61\x2e\x62\x01\x72\x01\x73\x00\x00\x00\x00\x04\x00\x00\x00\x81\xa1\x61\x01' > "$work/corpus/record"
    ;;
  worker)
    sources=("$src/tests/fuzz/worker_fuzzer.cpp" "$src/daemon/exec/worker_protocol.cpp"
             "$src/daemon/codec/frame_splitter.cpp" "$src/daemon/event/event.cpp"
             "$src/daemon/event/event_blocks.cpp" "$src/daemon/event/pattern.cpp")
    includes=(-I"$src/daemon" -I"$src/sdk/include")
    # A log frame and a tunnel credit frame.
    printf '\x0d\x00\x00\x00\x06\x02\x00\x00\x00\x04\x00\x00\x00abcd' > "$work/corpus/log"
    printf '\x1d\x00\x00\x00\x0e\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00' > "$work/corpus/credit"
    ;;
  api)
    sources=("$src/tests/fuzz/api_fuzzer.cpp" "$src/plugins/api/ws_frame.cpp" "$src/plugins/api/expose_policy.cpp"
             "$src/plugins/api/cross_site_guard.cpp" "$src/plugins/api/route_table.cpp")
    includes=(-I"$src/plugins/api" -I"$src/sdk/include")
    printf 'POST /events/demo.echo?kind=notification&x=%%c3%%bc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"a":[1,{"b":2}]}' > "$work/corpus/post"
    printf 'GET /users/7 HTTP/1.1\r\nHost: edri.lan\r\nSec-Fetch-Site: cross-site\r\n\r\n' > "$work/corpus/get"
    printf '{"op":"subscribe","type":"audit.>","id":1,"where":{"user":"ada"}}' > "$work/corpus/ws-sub"
    printf '{"op":"request","type":"demo.echo","data":{"text":"x"},"id":"r1"}' > "$work/corpus/ws-req"
    ;;
  *) echo "unknown fuzz target '$target'"; exit 2 ;;
esac
bin="$work/fuzzer"
if ! "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     "${includes[@]}" "${sources[@]}" -o "$bin" 2> "$work/build.log"; then
  if grep -q "libclang_rt.fuzzer\|fsanitize=fuzzer" "$work/build.log"; then
    echo "clang's libFuzzer runtime is missing (libclang-rt-dev): fuzzing skipped"; cat "$work/build.log"; exit 77
  fi
  cat "$work/build.log"; exit 1
fi
"$bin" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
