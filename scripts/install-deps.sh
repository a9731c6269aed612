#!/usr/bin/env bash
# Installs the Debian 12 packages edri needs to build and test, when missing.
# As root it runs apt-get; otherwise it prints the one command to run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-all-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  catch2 libsystemd-dev liblmdb-dev libssl-dev libmimalloc-dev
  clang libclang-rt-14-dev
  python3 curl
  nats-server libnats-dev redis-server libhiredis-dev
)

# `install-deps.sh bench` also installs what the benchmarks compare against.
if [[ "${1:-}" == "bench" ]]; then
  packages+=(wrk)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "edri: missing packages: ${missing[*]}" >&2
  echo "edri: run as root:  apt-get update && $cmd" >&2
  exit 1
fi

echo "edri: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
