#!/usr/bin/env bash
# A learner's records as a whole, on a fresh store: a page of a learner's
# conversations, the export and the erase of a learner, by the learner's size
# (bench/learner_records.py; docs/conversations.md, docs/erasure.md).
#
#   bench/learner_records.sh BIN [sqlite|rocksdb]   (SIZES=100,1000,10000 BACKGROUND=10000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:?usage: $0 BIN [sqlite|rocksdb]}
source bench/single.sh
begin "${2:-sqlite}" learner-records
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
echo "== $BIN on ${2:-sqlite}"
python3 bench/learner_records.py --url "http://127.0.0.1:$PORT" --sizes "${SIZES:-100,1000,10000}" \
  --background "${BACKGROUND:-10000}"
unserve
