#!/usr/bin/env bash
# Supervision models at scale: a generated world of SCALE records (default 1,000,000: about
# 485,000 companies in the registry and 360,000 practitioners) loaded into PostgreSQL, then a
# full run of both models — the automatic run (lifecycle from scratch) and an evaluation with
# asOf — each a `qianchuan run-models` process (both models side by side on PostgreSQL, one
# after the other on SQLite), timed, with its peak memory (max RSS); and the evaluation's
# findings and codes checked against the world's reference_truth.json. Target (issue #13):
# under 60 s and under 300 MB. Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth),
# or with `sqlite` the embedded database (a file in a temporary folder).
#   bench/models.sh [SCALE] [postgres|sqlite]
set -euo pipefail
scale=${1:-1000000}
backend=${2:-postgres}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/qianchuan"
[ -x "$bin" ] || (cd "$root" && cargo build --release -q -p gateway)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$backend" = sqlite ]; then
  url="sqlite://$work/models.db?mode=rwc"
  sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print("\t".join("" if v is None else str(v) for v in r)) for r in c.execute(sys.argv[2])]' "$work/models.db" "$1"; }
else
  db=qc_models
  admin="postgres://postgres@127.0.0.1:5432/test"
  url="postgres://postgres@127.0.0.1:5432/$db"
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  sql() { psql -tA -F $'\t' "$url" -c "$1"; }
fi

"$bin" demo --out "$work/world" --scale "$scale" --seed 7 > /dev/null
as_of=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["asOf"])' "$work/world/reference_truth.json")
export QIANCHUAN_DATABASE_URL="$url" QIANCHUAN_LOG=warn QIANCHUAN_MODEL_DATE="$as_of"
"$bin" migrate 2>/dev/null
for feed in enforcement discipline congress procuratorate social registry insurance tax practitioners convictions; do
  "$bin" ingest "$feed" "$work/world/$feed" --json --no-models > "$work/$feed.jsonl"
done
sql "SELECT 'loaded: ' || (SELECT count(*) FROM cases) || ' cases, ' || (SELECT count(*) FROM registry_rows) || ' companies, ' || (SELECT count(DISTINCT id_number) FROM practitioner_rows) || ' practitioners, ' || (SELECT count(*) FROM insurance_rows) || ' insurance rows, ' || (SELECT count(*) FROM tax_rows) || ' tax rows, ' || (SELECT count(*) FROM conviction_rows) || ' convictions'"

# The runs are measured on the database at rest, not while the kernel still writes out the load.
if [ "$backend" = sqlite ]; then sync; else sql "CHECKPOINT" > /dev/null; sync; fi

# Runs `qianchuan run-models ARGS` (both models; side by side on PostgreSQL) in a child
# process; prints its lines, wall time and max RSS.
measure() {
  python3 - "$bin" "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
out = subprocess.run([sys.argv[1], "run-models", *sys.argv[2:]], check=True, capture_output=True, text=True).stdout
wall = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(out.strip())
print(f"  run-models {' '.join(sys.argv[2:]) or '(automatic)'}: {wall:.1f} s, peak RSS {rss:.0f} MB (target < 60 s, < 300 MB: {'met' if wall < 60 and rss < 300 else 'MISSED'})")
PY
}
measure
measure --as-of "$as_of"

sql "SELECT f.subject_key, f.level FROM findings f WHERE NOT f.automatic AND f.as_of = '$as_of'" > "$work/findings.tsv"
sql "SELECT c.id_number || '|' || c.trade, c.color FROM practitioner_codes c JOIN model_runs r ON r.id = c.run_id WHERE NOT r.automatic AND r.as_of = '$as_of'" > "$work/codes.tsv"
python3 - "$work/world/reference_truth.json" "$work/findings.tsv" "$work/codes.tsv" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))
found = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[2]) if line.strip())
codes = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[3]) if line.strip())
shells = {k: v for k, v in found.items() if "|" not in k}
trade = {k: v for k, v in found.items() if "|" in k}
want_trade = {k: v for k, v in truth["trade_access"].items() if v != "BLUE"}
print(f"truth:   shell_company {len(shells)} findings, equal to the truth file: {shells == truth['shell_company']}")
print(f"         trade_access {len(trade)} findings: {trade == want_trade}; {len(codes)} codes: {codes == truth['trade_access']}")
for name, got, want in [("shell_company", shells, truth["shell_company"]), ("trade_access", trade, want_trade), ("codes", codes, truth["trade_access"])]:
    different = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    for k in different[:5]:
        print(f"  {name} differs at {k}: found {got.get(k)}, truth {want.get(k)}")
    if different:
        sys.exit(1)
PY
