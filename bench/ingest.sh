#!/usr/bin/env bash
# Ingestion benchmark: a generated world of SCALE records (default 1,000,000) loaded into
# PostgreSQL by `qianchuan ingest`, beside PostgreSQL `COPY` of the very rows it wrote
# (same tables, same indexes, same foreign keys), in the same run. Target (ARCHITECTURE.md):
# within 1.5x of COPY (the absolute rate is reported, not a target: COPY itself runs at
# 7,300-10,600 records/s on this machine). Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth).
#   bench/ingest.sh [SCALE]
set -euo pipefail
. "$(dirname "$0")/world.sh"
new_world "${1:-1000000}"

start=$(date +%s.%N)
load_world "$work"
end=$(date +%s.%N)
records=$(cat "$work"/*.jsonl | python3 -c 'import json,sys; print(sum(json.loads(l)["read"] for l in sys.stdin))')
ingest_s=$(python3 -c "print(round($end - $start, 1))")

tables="cases parties case_parties case_keys source_records quarantine data_quality_issues"
psql -q "$url" -c "CREATE SCHEMA copybench"
for t in $tables; do
  psql -q "$url" -c "\\copy $t TO '$work/$t.csv' CSV"
  psql -q "$url" -c "CREATE TABLE copybench.$t (LIKE public.$t INCLUDING DEFAULTS INCLUDING INDEXES)"
done
# The same foreign keys as the real tables: COPY checks them too.
psql -tA "$url" -c "SELECT format('ALTER TABLE copybench.%I ADD CONSTRAINT %I %s;', conrelid::regclass::text, conname, pg_get_constraintdef(oid)) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN ('cases','parties','case_parties','case_keys','source_records','quarantine','data_quality_issues')" > "$work/fks.sql"
PGOPTIONS="-c search_path=copybench" psql -q "$url" -f "$work/fks.sql"
start=$(date +%s.%N)
for t in $tables; do
  psql -q "$url" -c "\\copy copybench.$t FROM '$work/$t.csv' CSV"
done
end=$(date +%s.%N)
copy_s=$(python3 -c "print(round($end - $start, 1))")
rows=$(psql -tA "$url" -c "SELECT (SELECT count(*) FROM cases)+(SELECT count(*) FROM parties)+(SELECT count(*) FROM case_parties)+(SELECT count(*) FROM case_keys)+(SELECT count(*) FROM source_records)")

python3 - "$records" "$ingest_s" "$copy_s" "$rows" <<'PY'
import sys
records, ingest_s, copy_s, rows = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rate = records / ingest_s
print(f"ingest:  {records} records in {ingest_s} s = {rate:,.0f} records/s")
print(f"COPY:    the same {rows:,} rows in {copy_s} s = {records / copy_s:,.0f} records/s")
print(f"ratio:   ingest takes {ingest_s / copy_s:.1f}x COPY (target <= 1.5x: {'met' if ingest_s <= 1.5 * copy_s else 'MISSED'})")
PY
