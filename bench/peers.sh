# Sourced by bench/case.sh and bench/chain.sh: the gateway and PostGraphile 4 on the same
# database, side by side. PostGraphile is installed with npm into bench/.postgraphile on first
# use (not committed).
#   start_peers URL SCHEMA   — sets port, pg_port, server, postgraphile; both answer on return
#   wait_for_index           — until the gateway's linkage index is built

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_peers() {
  local url=$1 schema=$2
  port=$(free_port)
  pg_port=$(free_port)
  if [ ! -x bench/.postgraphile/node_modules/.bin/postgraphile ]; then
    mkdir -p bench/.postgraphile
    (cd bench/.postgraphile && npm install --no-audit --no-fund --silent postgraphile@4)
  fi
  export QIANCHUAN_JWT_SECRET=bench-secret-of-at-least-thirty-two-bytes QIANCHUAN_DATABASE_URL="$url" QIANCHUAN_LOG=warn QIANCHUAN_RATE_LIMIT_PER_MINUTE=0
  target/release/qianchuan serve --bind "127.0.0.1:$port" &
  server=$!
  bench/.postgraphile/node_modules/.bin/postgraphile -c "$url" -s "$schema" -p "$pg_port" \
    --disable-graphiql --disable-query-log >/dev/null 2>&1 &
  postgraphile=$!
  trap 'kill $server $postgraphile 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  for _ in $(seq 1 100); do
    curl -fsS -H 'content-type: application/json' -d '{"query":"{__typename}"}' \
      "http://127.0.0.1:$pg_port/graphql" >/dev/null 2>&1 && break
    sleep 0.2
  done
}

wait_for_index() {
  for _ in $(seq 1 1200); do
    curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"state":"ready"' && break
    sleep 0.5
  done
}
