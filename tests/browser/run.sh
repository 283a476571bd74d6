#!/usr/bin/env bash
# Starts the gateway on a scratch SQLite database with CORS open to one local origin and runs
# browser.mjs (GraphiQL, CORS) in Debian's headless Chromium against it; then `serve --demo`
# and screen.mjs (the command screen). Screenshots: target/browser-screenshots.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/target/debug/qianchuan"
[ -x "$bin" ] || (cd "$root" && cargo build -q -p gateway --bin qianchuan)
(cd "$here" && npm ci --no-audit --no-fund --silent)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); allowed=$(free_port); stranger=$(free_port)
work=$(mktemp -d)
secret=browser-test-secret-of-at-least-32-bytes
(cd "$work" && exec env -u QIANCHUAN_TEST_DATABASE_URL QIANCHUAN_JWT_SECRET=$secret \
  QIANCHUAN_CORS_ORIGINS="http://127.0.0.1:$allowed" "$bin" serve --bind 127.0.0.1:$port >"$work/serve.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
token=$(QIANCHUAN_JWT_SECRET=$secret "$bin" token --role admin)
node "$here/browser.mjs" "http://127.0.0.1:$port" "$token" "$allowed" "$stranger" "$root/target/browser-screenshots"

# The command screen of `serve --demo` (on loopback, so the sign-in page offers the role tokens).
demo=$(mktemp -d)
demo_port=$(free_port)
(cd "$demo" && exec env -u QIANCHUAN_TEST_DATABASE_URL QIANCHUAN_JWT_SECRET=$secret \
  "$bin" serve --demo --bind 127.0.0.1:$demo_port >"$demo/serve.out" 2>"$demo/serve.err") &
demo_server=$!
trap 'kill $server $demo_server 2>/dev/null || true; rm -rf "$work" "$demo"' EXIT
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$demo_port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
five=$(grep -o 'sourceKey: "[^"]*"' "$demo/serve.err" | head -n 1 | cut -d'"' -f2)
agency=$(QIANCHUAN_JWT_SECRET=$secret "$bin" token --role agency --regions 330110 --unit 仓前街道 --sub 仓前街道办)
node "$here/screen.mjs" "http://127.0.0.1:$demo_port" "$five" "$agency" "$root/target/browser-screenshots"
