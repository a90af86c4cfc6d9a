#!/bin/sh
# tsbuild with `--network $TSBUILD_BENCH_NETWORK` added to its build commands (bench/build.mjs, tool `tsbuild@MODE`);
# other commands (the untimed pull of the base) pass through unchanged.
for a in "$@"; do
  if [ "$a" = build ]; then exec "$TSBUILD_BENCH_REAL" "$@" --network "$TSBUILD_BENCH_NETWORK"; fi
done
exec "$TSBUILD_BENCH_REAL" "$@"
