#!/usr/bin/env bash
# The reference comparison committed in reports/reference/: every strategy at 1, 2, 4 and 8
# producers (producing alone, then with 4 consumers), plus the performance-goal workloads, each
# beside the machine's ceilings measured in the same run.
#
#   scripts/compare.sh [OUT_DIR]     (default: reports/reference)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/reference}
cargo build --release --quiet --bin harness
./target/release/harness compare \
  --strategies none,semaphore,rwlock,mutex,std-rwlock \
  --producers 1,2,4,8 \
  --consumers 0,4 \
  --messages 80000 \
  --goals \
  --out "$out"
echo "summary: $out/summary.md"
