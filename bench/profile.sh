#!/usr/bin/env bash
# CPU profile of our server under load: builds the checkout at DIR (default: this repository) with
# tsc (into DIR/dist/, as the build of any version of this repository can be run from there), runs `node --cpu-prof dist/main.js` pinned to core 0 on a fresh SQLite file, loads
# it from core 1 with autocannon (50 connections, SECONDS seconds, BODY.json POSTed to /graphql),
# stops it with SIGINT (it exits cleanly and V8 writes the profile), and prints where the time went
# by package (bench/profile-summary.ts). The node flags are npm start's (bench/start-flags.ts). docs/performance.md's tables come from runs of this.
#
#   bench/profile.sh BODY.json [SECONDS] [DIR]
#   git worktree add /tmp/before 870aaa2 && ln -s "$PWD/node_modules" /tmp/before/node_modules
#   bench/profile.sh hello.json 15 /tmp/before
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
body=$(realpath "$1")
seconds=${2:-15}
dir=$(realpath "${3:-$repo}")
port=${PORT:-4810}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$dir" && npx tsc -p tsconfig.build.json)
read -r -a flags <<<"$(cd "$repo" && npx tsx bench/start-flags.ts "$dir")"
DATABASE_URL="file:$work/db.sqlite" PORT=$port QUEUE_CONCURRENCY=0 NODE_ENV=production \
  taskset -c 0 node "${flags[@]}" --cpu-prof --cpu-prof-dir="$work/profile" "$dir/dist/main.js" >"$work/server.log" 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.2; done
requests=$(taskset -c 1 npx autocannon -c 50 -d "$seconds" -m POST -H content-type=application/json -i "$body" -j \
  "http://127.0.0.1:$port/graphql" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.requests.total)})')
kill -INT "$pid"
wait "$pid" || true
profile=$(ls "$work"/profile/*.cpuprofile | head -n 1)
mkdir -p "$repo/bench/results/profiles"
kept="$repo/bench/results/profiles/$(basename "$dir")-$(date +%H%M%S).cpuprofile"
cp "$profile" "$kept"
echo "$requests requests in $seconds s; profile kept as $kept"
(cd "$repo" && npx tsx bench/profile-summary.ts "$(basename "$dir")=$kept@$requests" --top 16 --functions 20)
