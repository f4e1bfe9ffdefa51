#!/usr/bin/env bash
# The learner search's speed (docs/user-search.md) for one or two binaries,
# on a fresh store each: bench/search.py loads USERS named learners (default
# 100000) and times each kind of query (median of 20). CHECK=1: fail unless
# each query that should find the learner does (the smoke test). ACCENTED=F:
# that share of the learners get names with accents or in another script.
#
#   bench/search.sh BIN [BIN_B] [sqlite|rocksdb]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:?usage: $0 BIN [BIN_B] [sqlite|rocksdb]}
BINS=("$A")
STORE=sqlite
for arg in "${@:2}"; do
  case "$arg" in sqlite|rocksdb) STORE=$arg ;; *) BINS+=("$arg") ;; esac
done
source bench/single.sh
begin "$STORE" search
for bin in "${BINS[@]}"; do
  rm -rf "$WORK/data"
  serve "$bin" "$PORT" "$WORK/data" "$WORK/server.log"
  echo "== $bin on $STORE"
  python3 bench/search.py --url "http://127.0.0.1:$PORT" --users "${USERS:-100000}" \
    --accented "${ACCENTED:-0}" ${CHECK:+--check}
  unserve
done
