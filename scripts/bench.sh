#!/usr/bin/env bash
# Runs the criterion benches (HTML reports on) and says where the report is.
#   scripts/bench.sh [criterion filter]     e.g. scripts/bench.sh append/batch100
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench append --bench protocol -- "$@"
echo
echo "HTML report: $(pwd)/target/criterion/report/index.html"
