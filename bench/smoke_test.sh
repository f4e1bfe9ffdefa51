#!/usr/bin/env bash
# The benchmark harness in smoke mode, for ctest (make test): a tiny dataset,
# 1 s per workload, rows to a temp file (not BENCHMARKS.md). Fails when a
# row failed (bench/run.sh: non-2xx, socket errors, no request answered, wrk
# and the server counting answers differently, a loader or count-check
# failure, a dead or hung server).
# ERRATA_BIN: the server binary (default build/errata). BENCH_STORE: the
# embedded store (sqlite, the default, or rocksdb).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BENCH_SMOKE=1
unset BENCH_OUT BENCH_DURATION BENCH_CONNECTIONS BENCH_THREADS BENCH_USERS BENCH_W3_LINES BENCH_M2_COPIES BENCH_WORKLOADS BENCH_SCALE BENCH_LABEL
exec ./bench/run.sh
