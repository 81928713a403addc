#!/usr/bin/env bash
# The proxy against direct TLS, in one run on this machine: pgbench -S throughput, connection
# set-up, a MariaDB select loop and connection set-up, and the proxy's memory at 100 idle
# connections. It uses the tests' private TLS servers (tests/common/servers.rs), so it needs
# PostgreSQL, pgbench and MariaDB as the tests do. Prints the README's Markdown table.
#
#   bench/proxy.sh                  # 10 s per pgbench run
#   BENCH_SECONDS=30 bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --locked --test proxy proxy_benchmark -- --ignored --nocapture --exact \
  2>/dev/null | grep '^|'
