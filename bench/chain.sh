#!/usr/bin/env bash
# Chain benchmark: `caseChain` depth 3 at 16 concurrent clients on the world that
# bench/ingest.sh loaded into database qc_bench, beside a recursive-CTE walk of the same
# graph in the same run. Targets: p50 <= 10 ms, p99 <= 50 ms, >= 10x the CTE.
#   bench/ingest.sh 1000000 && bench/chain.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p gateway --bin qianchuan --example chain_bench
url="postgres://postgres@127.0.0.1:5432/qc_bench"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export QIANCHUAN_JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes QIANCHUAN_DATABASE_URL="$url" QIANCHUAN_LOG=warn QIANCHUAN_RATE_LIMIT_PER_MINUTE=0
target/release/qianchuan serve --bind "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
token=$(target/release/qianchuan token --role discipline --regions 33 --ttl 1h)
# Chains are walked in SQL until the in-memory linkage index is built: wait for it.
started=$(date +%s.%N)
for _ in $(seq 1 1200); do
  curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"state":"ready"' && break
  sleep 0.5
done
echo "linkage index: $(curl -fsS "http://127.0.0.1:$port/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["linkIndex"])') after $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s"
echo "gateway RSS before: $(ps -o rss= -p $server) KiB"
target/release/examples/chain_bench --gateway "http://127.0.0.1:$port" --token "$token" --database "$url" --clients 16 "$@"
echo "gateway RSS after:  $(ps -o rss= -p $server) KiB"
