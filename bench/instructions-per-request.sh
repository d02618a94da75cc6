#!/usr/bin/env bash
# Instructions per request of our server, counted by valgrind (callgrind): a figure the machine's
# load does not move, where requests/s and even CPU time move by 15-30 % on a shared machine (runs
# of one build still differ: by 3 % for the plain request, up to 15 % with BROWSER=1, as the
# garbage collector's and the JIT's work is counted too; repeat a run before trusting a gap). The
# server (built as `npm start` builds it, run with its node flags) is started twice under callgrind,
# once answering 200 requests and once 5,200 (bench/fixed-requests.ts: `{ hello(delayMs: 0) }`
# POSTs over 8 keep-alive connections); the difference of the two totals over the 5,000 extra
# requests leaves out startup and shutdown. What it does not see: the kernel's part (socket and file
# writes), and the timing of a JIT under valgrind, which differs from a real run. Compare
# configurations with it, not absolute speeds. Each run takes about a minute and a half.
#
#   bench/instructions-per-request.sh [ENV=VALUE...]          # e.g. METRICS=false LOG_LEVEL=silent
#   BROWSER=1 bench/instructions-per-request.sh CORS_ORIGINS=http://app.example
#
# BROWSER=1 sends a browser's headers with each request (Origin http://app.example, cookies,
# Chrome's User-Agent and Accept...). Needs valgrind (`apt-get install -y valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(npm run --silent build | tail -n 1)
read -r -a flags <<<"$(npx tsx bench/start-flags.ts "$PWD")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=${PORT:-4820}

total() { # requests → instructions of a whole run
  rm -f "$work"/db.sqlite*
  env PORT="$port" DATABASE_URL="file:$work/db.sqlite" QUEUE_CONCURRENCY=0 "$@" \
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" node "${flags[@]}" "$build/main.js" \
    >"$work/server.log" 2>"$work/valgrind.log" &
  local pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.5; done
  npx tsx bench/fixed-requests.ts "$port" "$requests"
  kill -TERM "$pid"
  wait "$pid" || true
  grep -o 'Collected : [0-9]*' "$work/valgrind.log" | awk '{print $3}'
}
requests=200; small=$(total "$@")
requests=5200; large=$(total "$@")
echo "$(( (large - small) / 5000 )) instructions per request ($* ${BROWSER:+BROWSER=$BROWSER})"
