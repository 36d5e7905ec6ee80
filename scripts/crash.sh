#!/usr/bin/env bash
# Watch a broker survive `kill -9`: a person-sized version of tests/crash.rs.
#
#   scripts/crash.sh [CYCLES] [FSYNC]      (defaults: 10 cycles, --fsync always)
#
# Each cycle: start the release `broker` on one data dir, produce batches of 20 messages with
# `synclog produce` in the background (each answered batch is an ack: its offsets are noted),
# `kill -9` the broker after a random 0.2-1.0 s, look at the files the kill left (`synclog
# verify`: a torn tail is informational), restart it (recovery runs at open), read the topic
# back with `synclog consume` and check that every acknowledged message sits at its offset,
# stop it with SIGTERM, and `synclog verify` again (must be clean). One line per cycle.
#
# Under --fsync always an ack means fdatasync ran; under never it means the page cache has the
# bytes. A killed process loses neither (the kernel keeps its page cache), so both modes must
# show every ack after every kill; only a machine crash would tell them apart.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-10}
fsync=${2:-always}
topic=crash

echo "== building (release) ..."
cargo build --release --quiet --bin broker --bin synclog
bin=./target/release
work=$(mktemp -d /tmp/synclog-crash-XXXXXX)
data="$work/data"
acked="$work/acked.txt"      # "offset payload", one line per acknowledged message
: >"$acked"
broker_pid=

cleanup() {
  if [ -n "$broker_pid" ]; then kill -9 "$broker_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Starts the broker in the background; sets broker_pid and addr.
start_broker() {
  : >"$work/stdout"
  "$bin/broker" --listen 127.0.0.1:0 --data-dir "$data" --fsync "$fsync" \
    >"$work/stdout" 2>>"$work/broker.log" &
  broker_pid=$!
  for _ in $(seq 1 200); do
    if grep -q '^listening on ' "$work/stdout"; then
      addr=$(sed -n 's/^listening on //p' "$work/stdout")
      return
    fi
    sleep 0.05
  done
  echo "the broker did not start; its log:" >&2
  tail -n 20 "$work/broker.log" >&2
  exit 1
}

# Sends batches until the broker is gone; appends every acked message to $acked.
produce_until_killed() {
  local cycle=$1 i=0 out first k
  while :; do
    local msgs=()
    for k in $(seq 1 20); do msgs+=("c$cycle-b$i-m$k"); done
    out=$("$bin/synclog" produce --broker "$addr" --topic "$topic" "${msgs[@]}" 2>/dev/null) || break
    # "produced 20 messages to crash at offsets 40..=59"
    first=${out##*offsets }
    first=${first%%..=*}
    for k in "${!msgs[@]}"; do echo "$((first + k)) ${msgs[$k]}"; done >>"$acked"
    i=$((i + 1))
  done
}

# Prints the verdict line of `synclog verify` (and whether it saw a torn tail); returns its status.
verify() {
  local out status=0
  out=$("$bin/synclog" verify --data-dir "$data") || status=$?
  local torn=""
  if grep -q "torn tail" <<<"$out"; then torn=" + torn tail"; fi
  printf '%s%s' "$(grep -E '^verdict|^no topics' <<<"$out" | sed -e 's/^verdict: //' -e 's/ (.*//')" "$torn"
  return "$status"
}

echo "== $cycles cycles of kill -9 under --fsync $fsync (data in $work)"
failed=0
for cycle in $(seq 1 "$cycles"); do
  start_broker
  before=$(wc -l <"$acked")
  produce_until_killed "$cycle" &
  producer_pid=$!
  pause=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + 0.8 * r / 32767 }')
  sleep "$pause"
  kill -9 "$broker_pid"
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=
  wait "$producer_pid" || true
  total=$(wc -l <"$acked")
  crash_state=$(verify || true)

  # Restart: recovery runs before `listening on`. Every ack must be at its offset.
  start_broker
  "$bin/synclog" consume --broker "$addr" --topic "$topic" --from 0 >"$work/consumed.txt" 2>/dev/null || true
  missing=$(awk 'NR == FNR { stored[NR - 1] = $0; next } stored[$1] != $2 { bad++ } END { print bad + 0 }' \
    "$work/consumed.txt" "$acked")
  stored=$(wc -l <"$work/consumed.txt")
  kill -TERM "$broker_pid"
  wait "$broker_pid" || { echo "  the broker did not exit 0 on SIGTERM" >&2; failed=1; }
  broker_pid=
  if after=$(verify); then :; else failed=1; fi
  [ "$missing" -eq 0 ] || failed=1

  printf 'cycle %2d: killed after %ss; acked %5d (total %6d); stored %6d; acks missing %d; at the kill: %s; after restart: %s\n' \
    "$cycle" "$pause" "$((total - before))" "$total" "$stored" "$missing" "$crash_state" "$after"
done

if [ "$failed" -eq 0 ]; then
  echo "== every acknowledged message survived every kill; verify clean after each restart"
  rm -r "$work"
else
  echo "== FAILED: see above; data and broker log kept in $work" >&2
  exit 3
fi
