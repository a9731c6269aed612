#!/usr/bin/env bash
# Builds the link frame decoder with clang's libFuzzer (plus ASan and UBSan)
# and runs it for a bounded time. Exits 77 (skipped) when clang or its fuzzer
# runtime is not installed.
#   run_frame_fuzzer.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1 work=$2 seconds=${3:-20}
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z "$cxx" ]]; then
  echo "clang++ not installed: fuzzing skipped"; exit 77
fi
mkdir -p "$work/corpus"
bin="$work/frame_fuzzer"
if ! "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -I"$src/daemon" -I"$src/sdk/include" \
     "$src/tests/fuzz/frame_fuzzer.cpp" "$src/daemon/cluster/wire.cpp" \
     "$src/daemon/event/event.cpp" "$src/daemon/event/event_blocks.cpp" "$src/daemon/router/pattern.cpp" -o "$bin" 2> "$work/build.log"; then
  if grep -q "libclang_rt.fuzzer\|fsanitize=fuzzer" "$work/build.log"; then
    echo "clang's libFuzzer runtime is missing (libclang-rt-dev): fuzzing skipped"; cat "$work/build.log"; exit 77
  fi
  cat "$work/build.log"; exit 1
fi
# Seeds: a few valid frames written by the codec's own encoder would need the
# daemon; short hand-made ones are enough for libFuzzer to find the structure.
printf '\x05\x00\x00\x00\x09\x00\x00\x00' > "$work/corpus/close"
printf '\x09\x00\x00\x00\x06\x01\x00\x00\x00\x00\x00\x00\x00' > "$work/corpus/ack"
"$bin" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
