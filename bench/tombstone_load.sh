#!/usr/bin/env bash
# What tombstones cost a load of new learners (docs/erasure.md,
# "Tombstones"): USERS learners of one utterance each (3 errors), each seen
# for the first time, loaded into a fresh store, ROUNDS times each way,
# alternately: with no learner ever erased (no lookup), and after one erase
# (a tombstone lookup per new learner). Prints the load's seconds.
#
#   bench/tombstone_load.sh BIN [sqlite|rocksdb]   (USERS=200000 ROUNDS=2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:?usage: $0 BIN [sqlite|rocksdb]}
USERS=${USERS:-200000}
source bench/single.sh
begin "${2:-sqlite}" tombstone-load
for round in $(seq "${ROUNDS:-2}"); do
  for mode in none erased; do
    rm -rf "$WORK/data"
    serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
    if [[ $mode == erased ]]; then
      uid=$(python3 -c 'import uuid; print(uuid.uuid4())')
      printf '{"user_id":"%s","conversation_id":"%s","content":"x","errors":[{"code":"R:PREP"}]}\n' \
        "$uid" "$(python3 -c 'import uuid; print(uuid.uuid4())')" |
        curl -sf -o /dev/null --data-binary @- "http://127.0.0.1:$PORT/v1/ingest"
      curl -sf -o /dev/null -X DELETE "http://127.0.0.1:$PORT/v1/users/$uid"
    fi
    start=$EPOCHREALTIME
    load "$PORT" "$USERS" "$((USERS * 3))" "$WORK/ids.tsv"
    seconds=$(python3 -c "print(f'{$EPOCHREALTIME - $start:.1f}')")
    echo "${2:-sqlite} round $round, $mode: $seconds s for $USERS new learners"
    unserve
  done
done
