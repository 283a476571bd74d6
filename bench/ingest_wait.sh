#!/usr/bin/env bash
# Where a load's time goes, from PostgreSQL's side: a generated world of SCALE records (default
# 200,000) loaded by the five `qianchuan ingest` runs into an empty database while a procedure
# reads the writing backend's state from pg_stat_activity every ~5 ms (committing between reads,
# so each read is fresh). Prints how much of the load the backend was running a statement
# ("active") and how much it waited for qianchuan ("idle in transaction"). Needs PostgreSQL at
# 127.0.0.1:5432 (user postgres, trust auth). The world and its load: bench/world.sh.
#   bench/ingest_wait.sh [SCALE]
set -euo pipefail
. "$(dirname "$0")/world.sh"
new_world "${1:-200000}" > /dev/null

psql -q "$url" <<'SQL'
CREATE SCHEMA bench_wait;
CREATE TABLE bench_wait.stop (at timestamptz);
CREATE PROCEDURE bench_wait.sample() LANGUAGE plpgsql AS $$
DECLARE active int := 0; waiting int := 0; state text; until timestamptz := clock_timestamp() + interval '3 hours';
BEGIN
  LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM bench_wait.stop) OR clock_timestamp() > until;
    SELECT a.state INTO state FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.backend_type = 'client backend'
       AND a.pid <> pg_backend_pid() AND a.state IN ('active', 'idle in transaction')
     ORDER BY a.xact_start LIMIT 1;
    IF state = 'active' THEN active := active + 1; ELSIF state IS NOT NULL THEN waiting := waiting + 1; END IF;
    COMMIT;
    PERFORM pg_sleep(0.005);
  END LOOP;
  RAISE NOTICE 'backend running a statement: % %%, waiting for qianchuan: % %% (% samples)',
    round(100.0 * active / greatest(active + waiting, 1)), round(100.0 * waiting / greatest(active + waiting, 1)),
    active + waiting;
END $$;
SQL
psql -q "$url" -c "CALL bench_wait.sample()" 2> "$work/sample.txt" &
sampler=$!
# The procedure runs in the server until told to stop: tell it, whatever ends this script.
stop_sampler() { psql -q "$url" -c "INSERT INTO bench_wait.stop VALUES (now())" 2>/dev/null || true; }
trap 'stop_sampler; rm -rf "$work"' EXIT
start=$(date +%s.%N)
load_world
end=$(date +%s.%N)
stop_sampler
wait "$sampler"
psql -q "$url" -c "SET client_min_messages = warning" -c "DROP SCHEMA bench_wait CASCADE"
echo "load: $(python3 -c "print(round($end - $start, 1))") s"
sed -n 's/.*NOTICE: *//p' "$work/sample.txt"
