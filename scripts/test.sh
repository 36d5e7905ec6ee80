#!/usr/bin/env bash
# The project's test command (README: "scripts/test.sh"), and what CI runs through .ci/run.
#
# It first installs what the tests need that cargo cannot fetch by itself (Debian's kcat,
# redis-server, nats-server and chromium; kafka-python from PyPI; cargo-fuzz, by scripts/fuzz.sh),
# then runs the checks: cargo fmt --check, cargo clippy -D warnings, cargo test --workspace, the
# loom models (scripts/loom.sh) and each fuzz target for 30 s (scripts/fuzz.sh). About 25 minutes
# on a 2-core machine, most of it building and the loom models.
# Every install step says what it installs; if one cannot run (not root, no apt), it prints the
# exact command to run by hand and the tests that need the missing tool fail with its name.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Debian packages the tests use: kcat is the real Kafka client tests/kafka.rs runs against the
# broker's Kafka listener; redis-server and nats-server are the peers tests/peers.rs measures
# (each test starts its own server on a free loopback port; nothing runs as a service).
# chromium opens report pages headless in tests/report_page.rs.
APT_PACKAGES=(kcat redis-server nats-server chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "cannot install ${missing[*]} here: run 'sudo apt-get install ${missing[*]}'" >&2
  fi
fi

# kafka-python: the Python Kafka client tests/kafka.rs runs against the broker's Kafka listener.
python3 -c 'import kafka' 2>/dev/null || { step "installing kafka-python"; pip install -q kafka-python || echo "cannot install kafka-python here: run 'pip install kafka-python'" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --workspace 2>&1 | tee "$test_log"

step "loom model checking (scripts/loom.sh)"
scripts/loom.sh

step "fuzzing (scripts/fuzz.sh: each target for ${FUZZ_SECONDS:-30} s)"
scripts/fuzz.sh

# One closing line for the whole run: the cargo test totals (loom and fuzz passed if we got here).
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$test_log" | awk '{s+=$4} END {print s+0}')
step "done"
echo "tests: ${passed} passed, 0 failed"
