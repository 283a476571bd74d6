#!/usr/bin/env bash
# What indexing an audit entry's subjects costs PostgreSQL, design against design: one group of
# 16 entries citing 22 random cases each (a group of depth-3 chain requests), written by one
# client for SECONDS, as
#   rows     — one row per subject in `audit_subjects` (the key and the index by subject: today's);
#   array    — the subjects as a bigint[] in the entry itself, under a GIN index (fastupdate);
#   entries  — the entries alone, no index by subject (the floor any design stands on).
# On the database bench/ingest.sh loaded (its audit log as it is); the scratch tables are
# dropped at the end, the rows written into `audit_log` and `audit_subjects` are deleted.
#   bench/audit_designs.sh [postgres://postgres@127.0.0.1:5432/qc_bench] [SECONDS]
set -euo pipefail
url=${1:-postgres://postgres@127.0.0.1:5432/qc_bench}
seconds=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q "$url" -c "DROP TABLE IF EXISTS bench_audit_array, bench_audit_entries" \
  -c "DELETE FROM audit_subjects WHERE audit_id IN (SELECT id FROM audit_log WHERE sub = '"'"'audit-designs'"'"')" \
  -c "DELETE FROM audit_log WHERE sub = '"'"'audit-designs'"'"'"' EXIT
psql -q "$url" <<'SQL'
DROP TABLE IF EXISTS bench_audit_array, bench_audit_entries;
CREATE TABLE bench_audit_entries (LIKE audit_log INCLUDING ALL);
ALTER TABLE bench_audit_entries ALTER id RESTART WITH 1000000000;
INSERT INTO bench_audit_entries SELECT * FROM audit_log;
CREATE TABLE bench_audit_array (LIKE bench_audit_entries INCLUDING ALL);
ALTER TABLE bench_audit_array ALTER id RESTART WITH 1000000000;
ALTER TABLE bench_audit_array ADD COLUMN subjects bigint[];
INSERT INTO bench_audit_array SELECT a.*, ARRAY(SELECT c::bigint FROM json_array_elements_text(a.case_ids) c)
  FROM bench_audit_entries a;
CREATE INDEX ON bench_audit_array USING gin (subjects) WITH (fastupdate = on);
SQL
group="WITH g AS (SELECT (SELECT json_agg(DISTINCT (random() * 200000)::int) FROM generate_series(1, 22)
  WHERE s > 0) AS c FROM generate_series(1, 16) s)"
cat > "$work/rows.sql" <<SQL
$group, e AS (INSERT INTO audit_log (at, sub, role, query_hash, variables, case_ids, party_ids)
  SELECT now(), 'audit-designs', 'discipline', 'h', 'null', c, '[]' FROM g RETURNING id, case_ids)
INSERT INTO audit_subjects (audit_id, kind, subject_id)
  SELECT e.id, 'CASE', c::bigint FROM e, json_array_elements_text(e.case_ids) c;
SQL
cat > "$work/array.sql" <<SQL
$group INSERT INTO bench_audit_array (at, sub, role, query_hash, variables, case_ids, party_ids, subjects)
  SELECT now(), 'audit-designs', 'discipline', 'h', 'null', c, '[]',
    ARRAY(SELECT x::bigint FROM json_array_elements_text(c) x) FROM g;
SQL
cat > "$work/entries.sql" <<SQL
$group INSERT INTO bench_audit_entries (at, sub, role, query_hash, variables, case_ids, party_ids)
  SELECT now(), 'audit-designs', 'discipline', 'h', 'null', c, '[]' FROM g;
SQL
for design in rows array entries; do
  pgbench -n -c 1 -T "$seconds" -f "$work/$design.sql" "$url" 2>&1 \
    | awk -v d="$design" '/latency average/ { print "a group of 16 entries x 22 subjects, " d ": " $4 " ms" }'
done
