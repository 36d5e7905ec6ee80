#!/usr/bin/env bash
# The classroom demo: build once, play the three acts of `harness demo` keeping the data, then show the
# damage the unsynchronized log left on disk with `synclog verify` (read-only), and print the path
# of the classroom page (one HTML file to open in a browser or project).
#
#   scripts/demo.sh [DATA_DIR]      (default: a fresh directory under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${1:-$(mktemp -d /tmp/synclog-demo-XXXXXX)}
report_dir=$(mktemp -d /tmp/synclog-demo-page-XXXXXX)

echo "== building (release) ..."
cargo build --release --quiet --bin harness --bin synclog

echo "== harness demo --data-dir $data_dir"
status=0
./target/release/harness demo --data-dir "$data_dir" --report "$report_dir" || status=$?

echo
echo "== synclog verify --data-dir $data_dir   (the files, checked from byte 0; 'none' topics show the damage)"
./target/release/synclog verify --data-dir "$data_dir" | grep -E "^(topic|verdict)|^  [a-z_]+ +[0-9]" || true
echo
echo "(the data stays in $data_dir; remove it with: rm -r $data_dir)"
echo "classroom page: $report_dir/index.html"
exit "$status"
