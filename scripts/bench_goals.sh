#!/usr/bin/env bash
# The criterion goals of the append benches, in alternating rounds: each round runs every bench
# below once, back to back, so load that comes and goes on a shared machine falls on all of
# them; each ratio is taken within one round, and the medians over the rounds close the output.
#
#   scripts/bench_goals.sh [rounds]        (default 3; about a minute per round)
#
# The ratios (8 threads, the `mutex` strategy, 100-byte messages):
#   batch 100   reserve-batch100/mutex/8 ÷ raw batched writes   goal ≥ 0.85
#   single      reserve-single/mutex/8   ÷ raw writes           goal ≥ 0.85
#   whole       single/mutex/8           ÷ one thread's raw writes   goal ≥ 0.85
# and, reported beside the whole goal (no goal of their own), what bounds it:
#   std lock    single/std-rwlock/8      ÷ one thread's raw writes   (the same serialized write
#               under std's futex lock in place of parking_lot's: the lock's hand-offs)
#   one thread  single/mutex/1           ÷ one thread's raw writes   (no hand-off at all: the
#               log's own steps, the record's CRC and framing, the index, the lock's two atomics)
# Raw writes from 8 threads are taken as the better of 8 threads and as many as the cores (when
# the bench has that count), as the harness's write ceilings are: writers beyond the cores
# contend on the file's lock in the kernel and can write less.
set -euo pipefail
# A failure inside $(...) (a bench with no rate) stops the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
rounds=${1:-3}
case $rounds in '' | *[!0-9]* | 0) echo "usage: $0 [rounds ≥ 1]" >&2; exit 2 ;; esac
cores=$(nproc)
cargo bench --quiet --bench append --no-run

# Messages per second of one bench id, from criterion's first "thrpt:" line (its middle
# estimate). The whole output is read (no early exit, which could break criterion's pipe), and
# a bench that printed no rate stops the script with its output shown.
rate() {
  local out r
  out=$(cargo bench --quiet --bench append -- --warm-up-time 1 --measurement-time 3 "^$1\$" 2>&1) || true
  r=$(printf '%s\n' "$out" | awk '/thrpt:/ && !done++ {
      v = $4; u = $5
      m = (u ~ /^G/) ? 1e9 : (u ~ /^M/) ? 1e6 : (u ~ /^K/) ? 1e3 : 1
      printf "%.0f\n", v * m
    }')
  if [ -z "$r" ]; then
    printf '%s\n' "$out" >&2
    echo "bench_goals: no rate for $1 (output above)" >&2
    exit 1
  fi
  echo "$r"
}

# The better of raw writes from 8 threads and from as many as the cores (1, 2 or 4 are benched).
raw_at_8() {
  local kind=$1 best
  best=$(rate "append/$kind/8")
  case $cores in
    1 | 2 | 4)
      local fewer
      fewer=$(rate "append/$kind/$cores")
      [ "$fewer" -gt "$best" ] && best=$fewer
      ;;
  esac
  echo "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

batch_all="" single_all="" whole_all="" std_all="" one_all=""
for r in $(seq 1 "$rounds"); do
  raw_batch=$(raw_at_8 raw-pwrite-batch100)
  reserve_batch=$(rate append/reserve-batch100/mutex/8)
  raw_single=$(raw_at_8 raw-pwrite)
  reserve_single=$(rate append/reserve-single/mutex/8)
  raw_one=$(rate append/raw-pwrite/1)
  whole_single=$(rate append/single/mutex/8)
  std_single=$(rate append/single/std-rwlock/8)
  one_single=$(rate append/single/mutex/1)
  b=$(ratio "$reserve_batch" "$raw_batch")
  s=$(ratio "$reserve_single" "$raw_single")
  w=$(ratio "$whole_single" "$raw_one")
  d=$(ratio "$std_single" "$raw_one")
  o=$(ratio "$one_single" "$raw_one")
  batch_all="$batch_all $b" single_all="$single_all $s" whole_all="$whole_all $w"
  std_all="$std_all $d" one_all="$one_all $o"
  echo "round $r: batch 100 $reserve_batch ÷ $raw_batch = $b;" \
    "single $reserve_single ÷ $raw_single = $s;" \
    "whole $whole_single ÷ $raw_one = $w (msg/s);" \
    "beside it: std-rwlock $std_single ÷ $raw_one = $d, one thread $one_single ÷ $raw_one = $o"
done
echo "medians over $rounds rounds (goal ≥ 0.85 each):" \
  "batch 100 $(echo "$batch_all" | median)," \
  "single $(echo "$single_all" | median)," \
  "whole $(echo "$whole_all" | median)"
echo "beside the whole goal (medians, no goal of their own): std-rwlock in place of mutex" \
  "$(echo "$std_all" | median), mutex with one thread $(echo "$one_all" | median)"
