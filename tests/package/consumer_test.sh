#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds examples/hello_plugin
# and its unit test against the installed SDK with find_package(edri), runs
# the test (edri::testing), installs the plugin into the same prefix, where
# the installed edrid finds it with no plugin_dirs, and calls it over HTTP.
# Ends the edrid it started, by PID.
#   consumer_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in bin/edrid lib/edri/plugins/libedri_api.so lib/edri/plugins/libedri_store.so include/edri/abi.h \
         include/edri/testing.hpp lib/libedri_testing.so \
         lib/cmake/edri/edriConfig.cmake lib/systemd/system/edrid.service lib/systemd/system/edrid@.service; do
  [[ -e "$work/prefix/$f" ]] || { echo "not installed: $f"; exit 1; }
done

# Every relative link in the installed docs reaches an installed file.
python3 - "$work/prefix/share/doc/edri" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
docs = list(root.rglob("*.md"))
assert len(docs) > 10, f"only {len(docs)} docs installed under {root}"
broken = []
for doc in docs:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        path = target.split("#")[0]
        if not path or re.match(r"[a-z]+:", path):
            continue
        if not (doc.parent / path).exists():
            broken.append(f"{doc.relative_to(root)} -> {target}")
print(f"{len(docs)} installed docs, links checked")
if broken:
    print("broken links in the installed docs:", *broken, sep="\n  ")
    sys.exit(1)
PY

# The installed units, pointed at this prefix, must verify without a word.
if command -v systemd-analyze > /dev/null; then
  mkdir -p "$work/units"
  sed "s|ExecStart=.*/edrid |ExecStart=$work/prefix/bin/edrid |; s|ExecStartPre=.*/edrid |ExecStartPre=$work/prefix/bin/edrid |" \
    "$work/prefix/lib/systemd/system/edrid.service" > "$work/units/edrid.service"
  sed "s|ExecStart=.*/edrid |ExecStart=$work/prefix/bin/edrid |; s|ExecStartPre=.*/edrid |ExecStartPre=$work/prefix/bin/edrid |" \
    "$work/prefix/lib/systemd/system/edrid@.service" > "$work/units/edrid@test.service"
  for unit in "$work/units/edrid.service" "$work/units/edrid@test.service"; do
    out=$(systemd-analyze verify "$unit" 2>&1 || true)
    [[ -z "$out" ]] || { echo "systemd-analyze verify $unit:"; echo "$out"; exit 1; }
  done
  echo "units verified"
fi

cmake -S "$src/examples/hello_plugin" -B "$work/hello" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/hello" > "$work/build.log"
[[ -f "$work/hello/libedri_hello.so" ]] || { echo "the example plugin was not built"; exit 1; }
# Its unit test links the installed edri::testing and runs the manager in-process.
"$work/hello/hello_manager_test"
# `cmake --install` puts it where the edrid of that prefix looks, with no
# plugin_dirs, and it exports its entry only.
cmake --install "$work/hello" --prefix "$work/prefix" > "$work/install-hello.log"
[[ -f "$work/prefix/lib/edri/plugins/libedri_hello.so" ]] || { echo "the example plugin was not installed"; exit 1; }
exports=$(nm -D --defined-only "$work/prefix/lib/edri/plugins/libedri_hello.so" | awk '{print $3}' | tr '\n' ' ')
[[ "$exports" == "edri_plugin_entry " ]] || { echo "libedri_hello.so exports: $exports"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/edrid.yaml" <<YAML
managers:
  - name: hello
    plugin: hello
    config: {salutation: hi}
  - name: api
    plugin: api
    config: {port: $port}
YAML
"$work/prefix/bin/edrid" --check-config -c "$work/edrid.yaml"
"$work/prefix/bin/edrid" -c "$work/edrid.yaml" > "$work/edrid.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.05; done
answer=$(curl -fs -XPOST -H 'Content-Type: application/json' "http://127.0.0.1:$port/events/hello.greet" -d '{"name":"edri"}')
echo "answer: $answer"
[[ "$answer" == '{"greeting":"hi, edri"}' ]] || { cat "$work/edrid.log"; exit 1; }
kill -TERM "$pid"
wait "$pid"
pid=""
echo "2 passed, 0 failed"
