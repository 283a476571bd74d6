#!/usr/bin/env bash
# Chain benchmark: `caseChain` depth 3 at 16 concurrent clients on the world that
# bench/ingest.sh loaded into database qc_bench, beside the peer in the same run: PostGraphile 4
# serving a recursive-CTE SQL function over the same `case_keys` (`bench.case_chain`, what a
# PostGraphile user would write), the same CTE sent straight to PostgreSQL, and `pgbench -S`
# on the same server (point reads per second, the physical reference). Every response is
# checked for `errors`. Each server answers a first round over the 2,000 roots (each once), then
# the same roots in turn for 20 s (the steady state, as `wrk -d 20s` measures it); both are
# printed with their ratios. Targets (ARCHITECTURE.md): >= 10x PostGraphile's CTE function,
# p99 <= 50 ms, gateway RSS <= 400 MB.
# PostGraphile is installed with npm into bench/.postgraphile on first use (not committed).
#   bench/ingest.sh 1000000 && bench/chain.sh [--seconds 20 | --requests N] [--roots 2000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. bench/peers.sh
cargo build --release -q -p gateway --bin qianchuan --example chain_bench
url="postgres://postgres@127.0.0.1:5432/qc_bench"
# The CTE as PostGraphile users expose it: a STABLE SQL function, which PostgreSQL inlines and
# plans with the root's value (no `SET` clause on the function: it would stop the inlining).
# JIT off for every connection to the database (it compiles the recursive query for longer
# than it runs).
psql -q "$url" <<'SQL'
ALTER DATABASE qc_bench SET jit = off;
CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE FUNCTION bench.case_chain(root bigint)
RETURNS TABLE (case_id bigint, source text, depth int, score float8)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE walk(case_id, source, depth, score) AS (
    SELECT c.id, c.source::text, 0, 1.0::float8 FROM cases c WHERE c.id = root
    UNION
    SELECT k2.case_id, c.source::text, w.depth + 1, w.score * k1.score
    FROM walk w
    JOIN case_keys k1 ON k1.case_id = w.case_id
    JOIN case_keys k2 ON k2.kind = k1.kind AND k2.value = k1.value AND k2.case_id <> w.case_id
    JOIN cases c ON c.id = k2.case_id AND c.deleted = false
    WHERE w.depth < 3 AND w.score * k1.score >= 0.5)
  -- The source travels with the walk: joining cases again at the end let the planner pick a
  -- merge join over all of cases (0.5 s a chain on the 1,000,000-record world).
  SELECT case_id, source, min(depth), max(score) FROM walk GROUP BY case_id, source LIMIT 200
$$;
SQL
start_peers "$url" bench
token=$(target/release/qianchuan token --role discipline --regions 33 --ttl 1h)
# Chains are walked in SQL until the in-memory linkage index is built: wait for it.
started=$(date +%s.%N)
wait_for_index
echo "linkage index: $(curl -fsS "http://127.0.0.1:$port/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["linkIndex"])') after $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s"
echo "gateway RSS before: $(ps -o rss= -p $server) KiB"
target/release/examples/chain_bench --gateway "http://127.0.0.1:$port" --token "$token" --database "$url" \
  --postgraphile "http://127.0.0.1:$pg_port/graphql" --clients 16 "$@"
echo "gateway RSS after:  $(ps -o rss= -p $server) KiB"
bench/pgbench.sh "$url"
