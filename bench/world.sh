# Sourced by bench/ingest.sh and bench/ingest_wait.sh: the benchmarks' load, defined once.
#   new_world SCALE   — the database qc_bench, empty and migrated, and a generated world of SCALE
#                       records (seed 7) in $work/world; sets root, bin, work (removed on exit), url
#   load_world [OUT]  — the five `qianchuan ingest` runs, one source after another; each run's
#                       JSON report in OUT/<source>.jsonl (discarded without OUT)
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth).

new_world() {
  local scale=$1 db=qc_bench admin="postgres://postgres@127.0.0.1:5432/test"
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bin="$root/target/release/qianchuan"
  [ -x "$bin" ] || (cd "$root" && cargo build --release -q -p gateway)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  url="postgres://postgres@127.0.0.1:5432/$db"
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  "$bin" demo --out "$work/world" --scale "$scale" --seed 7
  export QIANCHUAN_DATABASE_URL="$url" QIANCHUAN_LOG=warn
  "$bin" migrate 2>/dev/null
}

load_world() {
  local out=${1:-} s
  for s in enforcement discipline congress procuratorate social; do
    if [ -n "$out" ]; then
      "$bin" ingest "$s" "$work/world/$s" --json > "$out/$s.jsonl"
    else
      "$bin" ingest "$s" "$work/world/$s" --json > /dev/null
    fi
  done
}
