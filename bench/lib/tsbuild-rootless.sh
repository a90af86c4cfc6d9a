#!/bin/bash
# tsbuild in rootless mode (issue 16; bench/build.mjs tool `tsbuild@rootless`): `--mode rootless` for every command,
# so each runs itself again inside a user namespace with overlay mounted `userxattr` (as root the map is 0-65535 onto
# itself; a user's maps its subordinate range: the same code path). A store belongs to one mode, so the shared
# run.sh's `--root DIR` becomes `DIR-rootless`; its prep-cold (rm -rf DIR, then `pull`) clears that one too.
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then
    root="$2-rootless"
    args+=(--root "$root")
    shift 2
    continue
  fi
  [ "$1" = pull ] && [ -n "$root" ] && [ ! -e "${root%-rootless}" ] && rm -rf "$root"
  args+=("$1")
  shift
done
TSBUILD_MODE=rootless exec "$TSBUILD_BENCH_REAL" "${args[@]}"
