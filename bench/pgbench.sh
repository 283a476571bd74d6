#!/usr/bin/env bash
# The physical reference beside the GraphQL benchmarks: `pgbench -S` (one primary-key read per
# transaction) at 16 clients on the same PostgreSQL database, in the same run. Its tables
# (pgbench_*, scale 10: 1,000,000 accounts) are created once in that database.
#   bench/pgbench.sh postgres://postgres@127.0.0.1:5432/qc_bench [SECONDS]
set -euo pipefail
url=$1
seconds=${2:-15}
if [ "$(psql -tAc "SELECT to_regclass('public.pgbench_accounts') IS NOT NULL" "$url")" != t ]; then
  pgbench -i -q -s 10 "$url" > /dev/null 2>&1
fi
pgbench -S -n -c 16 -j 2 -T "$seconds" "$url" 2>/dev/null \
  | awk '/latency average|^tps/ { sub(/ \(without initial connection time\)/, ""); print "pgbench -S, 16 clients: " $0 }'
