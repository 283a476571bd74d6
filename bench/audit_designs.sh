#!/usr/bin/env bash
# What indexing an audit entry's subjects costs PostgreSQL, design against design: one group of
# 16 entries citing 22 random cases each (a group of depth-3 chain requests), written by one
# client for SECONDS, as
#   rows     — one row per subject in a table keyed (entry, kind, subject) and indexed by subject
#              (`audit_subjects` before migration 000017);
#   array    — the subjects as a bigint[] in the entry under a GIN index (`subject_keys`, today's);
#   entries  — the entries alone, no index by subject (the floor any design stands on).
# Each design writes into scratch copies of the audit log of the database bench/ingest.sh loaded
# (its entries and their subjects, so the indexes start at the log's size); dropped at the end.
#   bench/audit_designs.sh [postgres://postgres@127.0.0.1:5432/qc_bench] [SECONDS]
set -euo pipefail
url=${1:-postgres://postgres@127.0.0.1:5432/qc_bench}
seconds=${2:-10}
work=$(mktemp -d)
scratch="bench_audit_rows_log, bench_audit_rows, bench_audit_array, bench_audit_entries"
trap 'rm -rf "$work"; psql -q "$url" -c "DROP TABLE IF EXISTS $scratch"' EXIT
psql -q "$url" <<SQL
DROP TABLE IF EXISTS $scratch;
CREATE TABLE bench_audit_entries AS
  SELECT id, at, sub, role, operation, query_hash, variables, case_ids, party_ids FROM audit_log;
ALTER TABLE bench_audit_entries ADD PRIMARY KEY (id);
CREATE SEQUENCE bench_audit_ids START 1000000000;
ALTER TABLE bench_audit_entries ALTER id SET DEFAULT nextval('bench_audit_ids');
CREATE INDEX ON bench_audit_entries (sub, at);
CREATE TABLE bench_audit_rows_log (LIKE bench_audit_entries INCLUDING ALL);
INSERT INTO bench_audit_rows_log SELECT * FROM bench_audit_entries;
CREATE TABLE bench_audit_rows (audit_id bigint NOT NULL, kind varchar NOT NULL, subject_id bigint NOT NULL,
  PRIMARY KEY (audit_id, kind, subject_id));
INSERT INTO bench_audit_rows SELECT id, 'CASE', c::bigint FROM bench_audit_entries, json_array_elements_text(case_ids) c
  ON CONFLICT DO NOTHING;
CREATE INDEX ON bench_audit_rows (kind, subject_id);
CREATE TABLE bench_audit_array (LIKE bench_audit_entries INCLUDING ALL);
ALTER TABLE bench_audit_array ADD COLUMN subject_keys bigint[];
INSERT INTO bench_audit_array SELECT e.*, ARRAY(SELECT c::bigint FROM json_array_elements_text(e.case_ids) c)
  FROM bench_audit_entries e;
CREATE INDEX ON bench_audit_array USING gin (subject_keys);
VACUUM ANALYZE bench_audit_entries, bench_audit_rows_log, bench_audit_rows, bench_audit_array;
SQL
group="WITH g AS (SELECT (SELECT json_agg(DISTINCT (random() * 200000)::int) FROM generate_series(1, 22)
  WHERE s > 0) AS c FROM generate_series(1, 16) s)"
columns="at, sub, role, query_hash, variables, case_ids, party_ids"
values="now(), 'audit-designs', 'discipline', 'h', 'null', c, '[]'"
cat > "$work/rows.sql" <<SQL
$group, e AS (INSERT INTO bench_audit_rows_log ($columns) SELECT $values FROM g RETURNING id, case_ids)
INSERT INTO bench_audit_rows (audit_id, kind, subject_id)
  SELECT e.id, 'CASE', c::bigint FROM e, json_array_elements_text(e.case_ids) c;
SQL
cat > "$work/array.sql" <<SQL
$group INSERT INTO bench_audit_array ($columns, subject_keys)
  SELECT $values, ARRAY(SELECT x::bigint FROM json_array_elements_text(c) x) FROM g;
SQL
cat > "$work/entries.sql" <<SQL
$group INSERT INTO bench_audit_entries ($columns) SELECT $values FROM g;
SQL
for design in rows array entries; do
  pgbench -n -c 1 -T "$seconds" -f "$work/$design.sql" "$url" 2>&1 \
    | awk -v d="$design" '/latency average/ { print "a group of 16 entries x 22 subjects, " d ": " $4 " ms" }'
done
