#!/usr/bin/env bash
# Before/after: the gateway of commit BEFORE and of the working tree, each loading the same
# generated world into its own PostgreSQL database, then served in turn at 16 clients,
# alternating, two rounds, in one run (case_bench and chain_bench against each).
#   bench/before_after.sh BEFORE [SCALE]        e.g. bench/before_after.sh c81ec75 100000
set -euo pipefail
before=${1:?usage: bench/before_after.sh BEFORE [SCALE]}
scale=${2:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
old_tree=$(mktemp -d)
work=$(mktemp -d)
trap 'git worktree remove --force "$old_tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -f "$old_tree" "$before" -q
cargo build --release -q -p gateway --bin qianchuan --example case_bench --example chain_bench
(cd "$old_tree" && CARGO_TARGET_DIR="$root/target/before" cargo build --release -q -p gateway --bin qianchuan --example case_bench --example chain_bench)
NEW="$root/target/release"
OLD="$root/target/before/release"
admin=postgres://postgres@127.0.0.1:5432/test
export QIANCHUAN_JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes QIANCHUAN_LOG=warn QIANCHUAN_RATE_LIMIT_PER_MINUTE=0
"$NEW/qianchuan" demo --out "$work/world" --scale "$scale" --seed 7 >/dev/null
bin_of() { if [ "$1" = before ]; then echo "$OLD"; else echo "$NEW"; fi; }
for side in before after; do
  bin=$(bin_of $side)
  psql -q "$admin" -c "DROP DATABASE IF EXISTS qc_$side" -c "CREATE DATABASE qc_$side"
  export QIANCHUAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/qc_$side
  "$bin/qianchuan" migrate 2>/dev/null
  start=$(date +%s.%N)
  for s in enforcement discipline congress procuratorate social; do
    "$bin/qianchuan" ingest $s "$work/world/$s" --json >/dev/null
  done
  echo "$side: ingestion $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for round in 1 2; do
  for side in before after; do
    bin=$(bin_of $side)
    export QIANCHUAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/qc_$side
    port=$(free_port)
    "$bin/qianchuan" serve --bind 127.0.0.1:$port &
    server=$!
    for _ in $(seq 1 1200); do
      curl -fsS "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q '"state":"ready"' && break
      sleep 0.5
    done
    token=$("$bin/qianchuan" token --role discipline --regions 33 --ttl 1h)
    echo "== round $round, $side: case(id)"
    "$bin/examples/case_bench" --gateway "http://127.0.0.1:$port" --token "$token" \
      --database "$QIANCHUAN_DATABASE_URL" --clients 16 --requests 10000 | grep steady
    echo "== round $round, $side: caseChain"
    "$bin/examples/chain_bench" --gateway "http://127.0.0.1:$port" --token "$token" \
      --database "$QIANCHUAN_DATABASE_URL" --clients 16 --requests 3000 --cte-requests 10 --walk-alone no | grep "over HTTP.*steady"
    kill $server
    wait $server 2>/dev/null || true
  done
done
