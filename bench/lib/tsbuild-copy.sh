#!/bin/sh
# tsbuild with copy snapshots (issue 16; bench/build.mjs tool `tsbuild@copy`): `--mode unprivileged` for every command.
TSBUILD_MODE=unprivileged exec "$TSBUILD_BENCH_REAL" "$@"
