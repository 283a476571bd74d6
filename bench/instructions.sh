#!/usr/bin/env bash
# Instructions per depth-3 chain request, counted by callgrind: a figure that does not move with
# the machine's load, for comparing two builds of the gateway (timings on this shared 2-core
# machine move by 20 % from run to run). The gateway runs under `valgrind --tool=callgrind`
# (Debian package `valgrind`) on the world bench/ingest.sh loaded into qc_bench; a first round
# over N roots fills its case cache, then the counters are zeroed, the same N roots are asked
# twice (a round and N more: every answer from memory, as in the steady state), and the count
# is divided by the 2N requests. Prints the inclusive top entries of the profile.
#   bench/instructions.sh [BINARY] [N] [PROFILE]   e.g. bench/instructions.sh target/release/qianchuan 200
# PROFILE: where to keep the callgrind profile (for `callgrind_annotate --inclusive=yes PROFILE`).
# The audit entries it writes are removed first (`TRUNCATE audit_log`, on qc_bench only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/release/qianchuan}
n=${2:-200}
keep=${3:-}
cargo build --release -q -p gateway --bin qianchuan --example chain_bench
url=postgres://postgres@127.0.0.1:5432/qc_bench
psql -q "$url" -c "TRUNCATE audit_log"
out=$(mktemp -d)
export QIANCHUAN_DATABASE_URL=$url QIANCHUAN_JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes \
  QIANCHUAN_RATE_LIMIT_PER_MINUTE=0 QIANCHUAN_LOG=warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" "$bin" serve --bind "127.0.0.1:$port" \
  >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out"' EXIT
# The linkage index builds at valgrind's pace: a minute and a half on the 200,000-record world.
for _ in $(seq 1 1800); do
  curl -fsS "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q '"state":"ready"' && break
  sleep 1
done
token=$(target/release/qianchuan token --role discipline --regions 33 --ttl 1h)
ask() {
  target/release/examples/chain_bench --gateway "http://127.0.0.1:$port" --token "$token" --database "$url" \
    --clients 4 --roots "$n" --requests "$1" --walk-alone no --cte-requests 1
}
ask 1 >/dev/null
callgrind_control -z "$server" >/dev/null
ask "$n" | grep -E "first round|steady"
callgrind_control -d "$server" >/dev/null
profile=$(ls "$out"/callgrind.*.1)
if [ -n "$keep" ]; then cp "$profile" "$keep"; fi
total=$(callgrind_annotate "$profile" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "instructions per chain request: $((total / (2 * n))) ($total over $((2 * n)) requests)"
callgrind_annotate --inclusive=yes "$profile" | grep -E "^ *[0-9,]+ +\( *[0-9.]+%\)" \
  | grep -E "http::graphql::(execute|response_body|authenticate)|linkage::walk|chain::case_chain|CaseChain>::resolve|Case>::resolve|insert_value|format_inner|hash_one|drop_in_place<async_graphql_value|FuturesUnordered<Fut> as futures_core::stream::Stream>::poll_next \[" \
  | grep -v "'2" | head -20 || true  # none listed (a stripped binary): the count above still stands
