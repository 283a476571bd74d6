#!/usr/bin/env bash
# Starts a real PostgreSQL streaming replica of the server at 127.0.0.1:5432 on 127.0.0.1:PORT
# (default 5433) for the read-replica tests: allows replication connections from loopback on
# the primary, copies it with `pg_basebackup -R` into a temporary directory and starts the copy
# as a hot standby. Does nothing when a replica already answers on PORT. Prints the folder the
# replica lives in; `bash FOLDER/stop` stops it.
#   tests/replica/start.sh [PORT]
set -euo pipefail
port=${1:-5433}
primary=(-h 127.0.0.1 -p 5432 -U postgres)
if pg_isready -h 127.0.0.1 -p "$port" -q; then
  if [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'SELECT pg_is_in_recovery()')" = t ]; then
    exit 0
  fi
  echo "a PostgreSQL that is not a replica answers on port $port" >&2
  exit 1
fi
version=$(psql "${primary[@]}" -d postgres -tAc 'SHOW server_version_num')
bin=/usr/lib/postgresql/$((version / 10000))/bin
# PostgreSQL refuses to run as root: the copy is made and run by the postgres user.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
hba=$(psql "${primary[@]}" -d postgres -tAc 'SHOW hba_file')
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  echo "host replication all 127.0.0.1/32 trust" >> "$hba"
  psql "${primary[@]}" -d postgres -qtAc 'SELECT pg_reload_conf()' > /dev/null
fi
dir=$(mktemp -d /tmp/qianchuan-replica.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
as_postgres "$bin/pg_basebackup" "${primary[@]}" -D "$dir/data" -R -X stream -c fast
# Debian keeps the primary's postgresql.conf and pg_hba.conf outside its data folder: the copy
# gets its own (primary_conninfo is in postgresql.auto.conf, written by -R).
as_postgres tee "$dir/data/postgresql.conf" > /dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
hot_standby = on
hot_standby_feedback = on
CONF
as_postgres tee "$dir/data/pg_hba.conf" > /dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start > /dev/null
if [ "$(id -u)" = 0 ]; then run_as="runuser -u postgres --"; else run_as=""; fi
echo "$run_as $bin/pg_ctl -D $dir/data -m fast stop > /dev/null" > "$dir/stop"
echo "$dir"
