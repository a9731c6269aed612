#!/usr/bin/env bash
# Checks that every folder under daemon/ includes only folders below it
# (docs/architecture.md, "Layers"). Prints each include that points up and
# exits 1 if there is one, or if a folder is missing from the list.
#   check_layers.sh SOURCE_DIR
set -euo pipefail
src=${1:-.}
# Top first; folders on one line are peers and may not include each other.
layers=(
  "app testing"
  "config"
  "cluster"
  "router"
  "manager"
  "exec"
  "tunnel"
  "plugin"
  "queue timer codec metrics memory"
  "log"
  "event"
)
declare -A rank
for i in "${!layers[@]}"; do
  for f in ${layers[$i]}; do rank[$f]=$i; done
done
bad=0
for dir in "$src"/daemon/*/; do
  folder=$(basename "$dir")
  if [[ -z "${rank[$folder]+x}" ]]; then
    echo "daemon/$folder/ is in no layer: add it to tests/layers/check_layers.sh and docs/architecture.md"
    bad=1
    continue
  fi
  while IFS= read -r line; do
    file=${line%%:*}
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$line")
    [[ "$target" == "$folder" ]] && continue
    if [[ -z "${rank[$target]+x}" ]]; then
      echo "${file#"$src"/}: includes $target/, which is in no layer"; bad=1
    elif (( rank[$target] <= rank[$folder] )); then
      echo "${file#"$src"/}: $folder/ includes $target/, which is not below it"; bad=1
    fi
  done < <(grep -HE '^#include "[a-z_]+/' "$dir"* || true)
done
if (( bad )); then exit 1; fi
echo "every include in daemon/ points down"
