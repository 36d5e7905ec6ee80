#!/usr/bin/env bash
# The reference comparison committed in reports/reference/: every strategy at 1, 2, 4 and 8
# producers (producing alone, then with 4 consumers), plus the performance-goal workloads, each
# beside the machine's ceilings measured in the same run, and the peers a user would pick
# instead (Redis Streams, NATS JetStream) run on the goal workloads that name them, and the
# open-loop latency curves of every strategy at 8 producers (--rates), with the locks' own wait
# and hold measured in every cell (--lock-stats); then the lab's read/write sweep.
#
#   scripts/compare.sh [OUT_DIR]     (default: reports/reference)
#
# The peers are the Debian packages redis-server and nats-server; they are installed here when
# missing (as root with apt). Without them the comparison still runs and summary.md says which
# peer was not measured.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/reference}

missing=()
for pkg in redis-server nats-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the peers: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
      echo "could not install ${missing[*]}: the comparison runs without them" >&2
  else
    echo "peers not installed (${missing[*]}): run 'sudo apt-get install ${missing[*]}' to measure them" >&2
  fi
fi

cargo build --release --quiet --bin harness
./target/release/harness compare \
  --strategies none,semaphore,rwlock,mutex,std-rwlock \
  --producers 1,2,4,8 \
  --consumers 0,4 \
  --messages 80000 \
  --goals \
  --peers \
  --rates 20000,40000,60000,80000,160000 \
  --lock-stats \
  --out "$out"
echo "summary: $out/summary.md"

# The read/write sweep straight on the log (no sockets): which lock wins each mix of reads and
# appends, at 1, 2, 4 and 8 threads, short and long read sections. First a short criterion run
# of the one-thread append, which the lab prints beside its 1-thread, 0 % reads cells (two
# instruments measuring the same thing).
cargo bench --quiet --bench append -- 'append/single/(semaphore|rwlock|mutex|std-rwlock)/1$' \
  --warm-up-time 1 --measurement-time 3 >/dev/null
./target/release/harness lab --out "$out/lab"
echo "lab summary: $out/lab/summary.md"
