#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds examples/hello_plugin
# and its unit test against the installed SDK with find_package(edri), runs
# the test (edri::testing), loads the plugin into the installed edrid and
# calls it over HTTP. Ends the edrid it started, by PID.
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

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/edrid.yaml" <<YAML
router:
  plugin_dirs: [$work/hello]
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
