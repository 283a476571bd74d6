#!/usr/bin/env bash
# case(id) benchmark: `case(id)` with its parties at 16 concurrent clients on the world that
# bench/ingest.sh loaded into database qc_bench, beside PostGraphile 4 serving the same tables
# in the same run, and `pgbench -S` on the same server (point reads per second, the physical
# reference). Every response is checked for `errors`. Targets (ARCHITECTURE.md): >= 3x
# PostGraphile's requests/s with p99 no worse.
# PostGraphile is installed with npm into bench/.postgraphile on first use (not committed).
#   bench/ingest.sh 1000000 && bench/case.sh [--requests 20000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p gateway --bin qianchuan --example case_bench
url="postgres://postgres@127.0.0.1:5432/qc_bench"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pg_port=$(free_port)
if [ ! -x bench/.postgraphile/node_modules/.bin/postgraphile ]; then
  mkdir -p bench/.postgraphile
  (cd bench/.postgraphile && npm install --no-audit --no-fund --silent postgraphile@4)
fi
export QIANCHUAN_JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes QIANCHUAN_DATABASE_URL="$url" QIANCHUAN_LOG=warn QIANCHUAN_RATE_LIMIT_PER_MINUTE=0
target/release/qianchuan serve --bind "127.0.0.1:$port" &
server=$!
bench/.postgraphile/node_modules/.bin/postgraphile -c "$url" -s public -p "$pg_port" \
  --disable-graphiql --disable-query-log >/dev/null 2>&1 &
postgraphile=$!
trap 'kill $server $postgraphile 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
for _ in $(seq 1 100); do
  curl -fsS -H 'content-type: application/json' -d '{"query":"{__typename}"}' \
    "http://127.0.0.1:$pg_port/graphql" >/dev/null 2>&1 && break
  sleep 0.2
done
# Let the gateway finish building its linkage index first (it would compete for the CPU).
for _ in $(seq 1 1200); do
  curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"state":"ready"' && break
  sleep 0.5
done
token=$(target/release/qianchuan token --role discipline --regions 33 --ttl 1h)
target/release/examples/case_bench --gateway "http://127.0.0.1:$port" --token "$token" --database "$url" \
  --postgraphile "http://127.0.0.1:$pg_port/graphql" --clients 16 "$@"
bench/pgbench.sh "$url"
