#!/usr/bin/env bash
# Server CPU time per request, a steadier figure than requests/s on a shared machine: the server
# runs pinned to core 0, autocannon on core 1 sends 3,000 warm-up requests and then 10,000 counted
# ones, and the server's user+system CPU ticks (/proc/PID/stat) over those 10,000 are divided by
# the count.
#
#   bench/cpu-per-request.sh BODY.json ours      # node FLAGS dist/<build>/main.js (built and flagged as npm start does)
#   bench/cpu-per-request.sh BODY.json plain     # bench/servers/plain-yoga.ts on the same data
#   bench/cpu-per-request.sh BODY.json mercurius # bench/servers/mercurius-jit.ts on the same data
#
# BODY.json is a GraphQL POST body, e.g. {"query":"{ hello(delayMs: 0) }"}. A body holding [<id>]
# gets a counter there, a new one for every request (bench/distinct-load.ts): a different text each
# time, e.g. {"query":"{ hello(name: \"[<id>]\", delayMs: 0) }"}, what a client with a counter in its
# query costs. Our server inherits the environment: with TRUSTED_DOCUMENTS=persisted-documents.json
# exported, a body {"documentId":"sha256:<hex>"} measures a trusted document run by id.
set -euo pipefail
cd "$(dirname "$0")/.."
body=$1
which=${2:-ours}
port=${PORT:-4800}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

build=$(node scripts/build.mjs)
read -r -a flags <<<"$(npx tsx bench/start-flags.ts)"
# Our server creates and seeds the database; the plain server then reads the same file.
DATABASE_URL="file:$dir/db.sqlite" PORT=$port QUEUE_CONCURRENCY=0 node "$build/main.js" >/dev/null &
pid=$!
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
if [ "$which" = mercurius ]; then
  kill "$pid"; wait "$pid" 2>/dev/null || true
  DB_FILE="$dir/db.sqlite" PORT=$port NODE_ENV=production taskset -c 0 node --import tsx bench/servers/mercurius-jit.ts >/dev/null &
elif [ "$which" = plain ]; then
  kill "$pid"; wait "$pid" 2>/dev/null || true
  DB_FILE="$dir/db.sqlite" PORT=$port NODE_ENV=production taskset -c 0 node --import tsx bench/servers/plain-yoga.ts >/dev/null &
else
  kill "$pid"; wait "$pid" 2>/dev/null || true
  DATABASE_URL="file:$dir/db.sqlite" PORT=$port QUEUE_CONCURRENCY=0 NODE_ENV=production taskset -c 0 node "${flags[@]}" "$build/main.js" >/dev/null &
fi
pid=$!
until curl -sf -o /dev/null -H 'content-type: application/json' -d '{"query":"{__typename}"}' "http://127.0.0.1:$port/graphql"; do sleep 0.2; done

if grep -qF '[<id>]' "$body"; then
  load() { taskset -c 1 node --import tsx bench/distinct-load.ts "http://127.0.0.1:$port/graphql" "$body" "$1" >/dev/null; }
else
  load() { taskset -c 1 npx autocannon -c 20 -a "$1" -m POST -H content-type=application/json -i "$body" "http://127.0.0.1:$port/graphql" >/dev/null 2>&1; }
fi
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
load 3000
before=$(ticks)
load 10000
after=$(ticks)
hz=$(getconf CLK_TCK)
echo "$which: $(( (after - before) * 1000000 / hz / 10000 )) µs of server CPU per request"
