#!/usr/bin/env bash
# The proxy against direct TLS and pgbouncer (PostgreSQL), and against direct TLS and a plain
# TCP relay (MariaDB), alternated in one run on this machine: tps, each middlebox's CPU seconds
# per 10,000 queries, µs per round trip, memory at 100 idle connections, and the load average.
# It uses the tests' private TLS servers (tests/it/common/servers.rs), so it needs PostgreSQL,
# pgbench, MariaDB, pgbouncer and socat. Prints the README's Markdown tables.
#
#   bench/proxy.sh                                 # 3 rounds of 10 s per pgbench run
#   BENCH_SECONDS=20 BENCH_ROUNDS=5 bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for program in pgbench pgbouncer socat; do
  command -v "$program" >/dev/null || {
    echo "bench/proxy.sh: $program is missing (apt-get install postgresql-client pgbouncer socat)" >&2
    exit 1
  }
done
cargo test --release --locked --test it proxy::proxy_benchmark -- --ignored --nocapture --exact \
  2>/dev/null | grep -E '^(\||Load average)'
