#!/usr/bin/env bash
# case(id) benchmark: `case(id)` with its parties at 16 concurrent clients on the world that
# bench/ingest.sh loaded into database qc_bench, beside PostGraphile 4 serving the same tables
# in the same run, and `pgbench -S` on the same server (point reads per second, the physical
# reference). Every response is checked for `errors`. Each server answers a first round over the
# 5,000 cases (each once: for the gateway, nothing kept yet), then the same cases in turn for
# 20 s (the steady state, as `wrk -d 20s` measures it); both are printed with their ratios.
# Targets (ARCHITECTURE.md): >= 3x PostGraphile's requests/s with p99 no worse.
# PostGraphile is installed with npm into bench/.postgraphile on first use (not committed).
#   bench/ingest.sh 1000000 && bench/case.sh [--seconds 20 | --requests N] [--cases 5000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. bench/peers.sh
cargo build --release -q -p gateway --bin qianchuan --example case_bench
url="postgres://postgres@127.0.0.1:5432/qc_bench"
start_peers "$url" public
# Let the gateway finish building its linkage index first (it would compete for the CPU).
wait_for_index
token=$(target/release/qianchuan token --role discipline --regions 33 --ttl 1h)
target/release/examples/case_bench --gateway "http://127.0.0.1:$port" --token "$token" --database "$url" \
  --postgraphile "http://127.0.0.1:$pg_port/graphql" --clients 16 "$@"
bench/pgbench.sh "$url"
