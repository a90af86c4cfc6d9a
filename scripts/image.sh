#!/bin/bash
# Builds tsbuild's own image with tsbuild (deploy/Buildfile): packs this checkout (`npm pack`, which compiles), puts
# the tarball, an npm cache holding its dependencies and the runtime helper's source in a context directory, and runs
# `tsbuild build -f deploy/Buildfile` on it. Arguments go to `tsbuild build` (-t, --push, --build-arg BASE=…).
#   bash scripts/image.sh -t registry.example.com/tools/tsbuild:0.1.0 --push
# $TSBUILD names the tsbuild that builds (default: this checkout's bin/tsbuild); $TSBUILD_TGZ an already packed
# tarball of this checkout to use instead of packing again.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
name=$(node -p 'require(process.argv[1]).name' "$repo/package.json")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ctx=$work/context
mkdir -p "$ctx"
if [ -n "${TSBUILD_TGZ:-}" ]; then
  cp "$TSBUILD_TGZ" "$ctx/$name.tgz"
else
  tgz=$(cd "$repo" && npm pack --silent --pack-destination "$work")
  mv "$work/$tgz" "$ctx/$name.tgz"
fi
cp "$repo/runtime/helper/tsbuild-exec.c" "$ctx/"
# The dependencies as this machine's npm resolves them, into a cache the image's `npm install --offline` reads.
npm install --prefix "$work/deps" --cache "$ctx/npm-cache" --global --ignore-scripts --no-audit --no-fund \
  --no-update-notifier --loglevel=error "$ctx/$name.tgz" >/dev/null
rm -rf "$ctx/npm-cache/_logs" "$ctx/npm-cache/_update-notifier-last-checked"
exec "${TSBUILD:-$repo/bin/tsbuild}" build -f "$repo/deploy/Buildfile" "$@" "$ctx"
