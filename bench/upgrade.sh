#!/usr/bin/env bash
# The time a newer build takes to open (upgrade) a store an older one wrote:
# OLD loads USERS learners and ERRORS errors (bench/gen_dataset.py synth) and
# stops; NEW starts on the same data dir and the time to its first /healthz
# answer is printed, with what its log says of the upgrade.
#
#   bench/upgrade.sh OLD_BIN NEW_BIN [sqlite|rocksdb]   (USERS=100000 ERRORS=2000000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OLD=${1:?usage: $0 OLD_BIN NEW_BIN [sqlite|rocksdb]}
NEW=${2:?usage: $0 OLD_BIN NEW_BIN [sqlite|rocksdb]}
source bench/single.sh
begin "${3:-sqlite}" upgrade
serve "$OLD" "$PORT" "$WORK/data" "$WORK/old.log"
t0=$(date +%s.%N)
load "$PORT" "${USERS:-100000}" "${ERRORS:-2000000}" "$WORK/ids.tsv"
echo "$OLD loaded ${USERS:-100000} learners, ${ERRORS:-2000000} errors in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s; data dir $(du -sm "$WORK/data" | cut -f1) MiB"
unserve
t0=$(date +%s.%N)
"$NEW" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log-level info "${OPTS[@]}" \
  >>"$WORK/new.log" 2>&1 &
PID=$!
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
  kill -0 "$PID" 2>/dev/null || { echo "$NEW exited: $(tail -3 "$WORK/new.log")" >&2; exit 1; }
  sleep 0.05
done
echo "$NEW ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
grep -E 'migrated|upgraded' "$WORK/new.log" || true
unserve
