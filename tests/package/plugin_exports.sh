#!/usr/bin/env bash
# Every plugin built here exports its entry symbol and nothing else: no
# libstdc++ instantiations (an STB_GNU_UNIQUE one would keep the library
# loaded after dlclose). The fixture without an entry exports nothing.
#   plugin_exports.sh DIR...
set -euo pipefail
checked=0
for dir in "$@"; do
  for so in "$dir"/libedri_*.so; do
    exports=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
    expected="edri_plugin_entry "
    [[ $(basename "$so") == libedri_no_entry.so ]] && expected=""
    if [[ "$exports" != "$expected" ]]; then
      echo "$so exports: $exports"
      exit 1
    fi
    checked=$((checked + 1))
  done
done
(( checked >= 10 )) || { echo "only $checked plugins found in $*"; exit 1; }
echo "$checked plugins export their entry only"
