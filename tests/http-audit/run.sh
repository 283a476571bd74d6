#!/usr/bin/env bash
# Starts the gateway on a scratch SQLite database and runs the graphql-http audit
# suite against it (fails on any audit error, warning or notice), then Apollo Client's
# persisted-query link (apq.mjs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/target/debug/qianchuan"
[ -x "$bin" ] || (cd "$root" && cargo build -q -p gateway --bin qianchuan)
(cd "$here" && npm ci --no-audit --no-fund --silent)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret=http-audit-secret-of-at-least-32-bytes
(cd "$work" && exec env -u QIANCHUAN_TEST_DATABASE_URL QIANCHUAN_JWT_SECRET=$secret "$bin" serve --bind 127.0.0.1:$port >"$work/serve.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
token=$(QIANCHUAN_JWT_SECRET=$secret "$bin" token --role admin)
node "$here/audit.mjs" "http://127.0.0.1:$port/graphql" "$token"
node "$here/apq.mjs" "http://127.0.0.1:$port/graphql" "$token"
