#!/usr/bin/env bash
# Model-checks the strategies and the log's append/read protocol with loom.
#
# Builds with `--cfg loom` (every strategy on loom's primitives, the log protocol over the
# in-memory model in src/storage/model.rs) and runs both loom test files, in release mode:
#   strategies/tests/loom.rs  what each strategy lets overlap
#   tests/loom.rs             appends dense and never lost, reads never torn, under
#                             `--append whole` and `reserve` (publication in offset order); NoSync caught
# then prints how many interleavings loom explored for each test.
#
# Bounded so the tests take about five minutes once built, most of it the reserve models (the
# first build, of every dependency with `--cfg loom`, takes a few minutes): LOOM_MAX_PREEMPTIONS
# defaults to 3 here (the four-thread reserve model stays at 2 or below); raise it to search
# further (4 takes about five times as long). The build goes to target/loom, so the cfg change
# never invalidates the normal build in target/.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
# The should_panic tests fail on purpose; their backtraces would bury the summary.
export RUST_BACKTRACE=0

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

printf '\n== loom (LOOM_MAX_PREEMPTIONS=%s, target %s)\n' "$LOOM_MAX_PREEMPTIONS" "$CARGO_TARGET_DIR"
start=$SECONDS
status=0
# One test thread: loom is CPU-bound, and the machine's two cores are shared.
cargo test --release --workspace --test loom -- --test-threads=1 --nocapture >"$log" 2>&1 || status=$?

# The interleavings explored per test (each loom test prints one `loom: …` line).
printf '\n-- interleavings explored\n'
grep -o 'loom: .*' "$log" || true
printf '\n-- results (%ss)\n' "$((SECONDS - start))"
grep -E '^test result|^test .*(FAILED|panicked)|^error' "$log" || true

if [ "$status" -ne 0 ]; then
  printf '\nloom tests failed; free disk where the build goes, then the full output.\n' >&2
  df -h "$(dirname "$CARGO_TARGET_DIR")" >&2 || true
  # The linker's own message comes last; print it first too, as long logs get cut.
  grep -B2 -A20 'error: linking' "$log" >&2 || true
  cat "$log" >&2
  exit "$status"
fi
