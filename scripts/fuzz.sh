#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets/ for a bounded time, on the stable toolchain.
#
#   scripts/fuzz.sh                     # each target for 30 s
#   FUZZ_SECONDS=300 scripts/fuzz.sh    # longer
#   FUZZ_TARGETS="recover_log" scripts/fuzz.sh
#
# Installs cargo-fuzz when it is missing (`cargo install cargo-fuzz --locked`, about 1.5 min).
# Builds with `--sanitizer none`: cargo-fuzz's default, AddressSanitizer, needs the nightly-only
# `-Zsanitizer` flag, while the coverage instrumentation libFuzzer needs (`-Cpasses=sancov-module`,
# `-Cllvm-args=-sanitizer-coverage-*`) and `--cfg fuzzing` are stable rustc flags, so no
# RUSTC_BOOTSTRAP is needed. The code under test is safe Rust (`forbid(unsafe_code)`), so the
# sanitizer would add little; debug assertions and overflow checks stay on (cargo-fuzz's default).
#
# Each target starts from a copy of its committed seeds (fuzz/corpus/<target>/) in a temporary
# directory, so a run never adds files to the committed corpus. The build goes to fuzz/target
# (fuzz/ is a workspace of its own); a crashing input is saved in fuzz/artifacts/<target>/ and
# the script exits 1 after the other targets ran. Regenerate the seeds with
# `cargo run --manifest-path fuzz/Cargo.toml --example write_seeds`.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
FUZZ_TARGETS="${FUZZ_TARGETS:-decode_request recover_log}"

step() { printf '\n== %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

step "cargo fuzz build --sanitizer none ($(cargo fuzz --version))"
cargo fuzz build --sanitizer none

work="$(mktemp -d "${TMPDIR:-/tmp}/synclog-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failed=()
summary=()
for target in $FUZZ_TARGETS; do
  step "fuzzing $target for ${FUZZ_SECONDS} s"
  cp -r "fuzz/corpus/$target" "$work/$target"
  log="$work/$target.log"
  status=0
  # -timeout: one input taking this long counts as a failure (a hang), not a wait.
  cargo fuzz run --sanitizer none "$target" "$work/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=20 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  if [ -z "$runs" ]; then
    runs="$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)"
  fi
  if [ "$status" -ne 0 ]; then
    # The panic message, the failing input and how to reproduce it.
    grep -E -A 3 "panicked at|ERROR: libFuzzer|Failing input|Reproduce with" "$log" | head -n 40 >&2 || true
    failed+=("$target")
    summary+=("$target: FAILED after ${runs:-?} executions")
  else
    summary+=("$target: ${runs:-?} executions in ${FUZZ_SECONDS} s, no failure")
  fi
  echo "${summary[-1]}"
done

step "summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
