#!/usr/bin/env bash
# Two configurations of our server, measured at the same moment on one core: the ratio of their
# throughputs, which a shared machine's noise does not move as it moves two runs one after the
# other. Both servers run on core 0, each in a cpu cgroup of its own with equal shares (so that
# each gets half the core, whatever its thread count), each loaded by its own wrk (one thread, 50
# connections, `{ hello(delayMs: 0) }` POSTs) on core 1. A round starts both, warms both for 2 s,
# loads both for SECONDS, and prints both rates and A/B; the last line is the median of the rounds.
# Before the load, one answer of each is checked (its data, and the CORS header of a browser's);
# under load, wrk counts errors and answers with a status over 399 (bench/wrk/duel.lua), and a round
# with any says so.
#
#   bench/duel.sh ROUNDS SECONDS "A" "B"
#   bench/duel.sh 5 5 "METRICS=true LOG_LEVEL=info" "METRICS=false LOG_LEVEL=silent"
#   bench/duel.sh 5 5 "BROWSER=1 CORS_ORIGINS=http://app.example" ""
#   bench/duel.sh 5 5 "" "BUILD=/path/to/other/checkout/dist/<hash>"
#
# A side is a list of words: VAR=value sets the server's environment; BUILD=dir runs that build's
# main.js rather than this checkout's (built here as `npm start` builds it; the node flags are
# still this checkout's package.json's, or DUEL_FLAGS_DIR's); BROWSER=1 makes its
# wrk send a browser's headers (bench/scenarios.ts, BROWSER_HEADERS; Origin http://app.example).
# Run as root on Linux with cgroup v1's cpu controller or cgroup v2 (as on this project's
# machines); without either it warns, and the shares are left to the scheduler. Needs wrk
# (`apt-get install -y wrk`). The ratio says how much CPU a request costs each side; it is not the
# throughput either side has alone (each has half a core).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1 seconds=$2 spec_a=$3 spec_b=$4
# This checkout's build, unless both sides name theirs (npm run bench passes its own).
build=
if [[ " $spec_a " != *" BUILD="* || " $spec_b " != *" BUILD="* ]]; then
  build=$PWD/$(npm run --silent build | tail -n 1 | sed "s|^$PWD/||")
fi
# npm start's node flags, from this checkout's package.json or DUEL_FLAGS_DIR's.
start_flags=$(npx tsx bench/start-flags.ts "${DUEL_FLAGS_DIR:-$PWD}")
read -r -a flags <<<"$start_flags"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# The cgroups, one per side.
if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
  cgroup() { mkdir -p "/sys/fs/cgroup/cpu/duel-$1" && echo "/sys/fs/cgroup/cpu/duel-$1"; }
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
  cgroup() {
    mkdir -p "/sys/fs/cgroup/duel-$1"
    if [ ! -f "/sys/fs/cgroup/duel-$1/cpu.weight" ]; then echo "duel: cgroup v2 has no cpu controller here; the shares are the scheduler's" >&2; fi
    echo "/sys/fs/cgroup/duel-$1"
  }
else
  echo "duel: no writable cpu cgroup; the two servers share core 0 as the scheduler likes (by threads)" >&2
  cgroup() { echo ""; }
fi

# The wrk inputs: one body; plain or browser headers.
node -e 'console.log(JSON.stringify({ query: "{ hello(delayMs: 0) }" }))' >"$work/bodies"
echo "content-type: application/json" >"$work/plain-headers"
npx tsx -e 'import { BROWSER_HEADERS } from "./bench/scenarios.ts"; for (const [name, value] of Object.entries(BROWSER_HEADERS)) console.log(`${name}: ${value}`); console.log("content-type: application/json")' >"$work/browser-headers"

# start SIDE SPEC PORT: the server of one side, in its cgroup; prints its pid.
start() {
  local side=$1 spec=$2 port=$3 main=$build/main.js env=() word
  for word in $spec; do
    case $word in
      BUILD=*) main=${word#BUILD=}/main.js ;;
      BROWSER=*) ;;
      *) env+=("$word") ;;
    esac
  done
  rm -f "$work/$side.sqlite"*
  env PORT="$port" DATABASE_URL="file:$work/$side.sqlite" QUEUE_CONCURRENCY=0 "${env[@]}" \
    taskset -c 0 node "${flags[@]}" "$main" >"$work/$side.log" 2>&1 &
  local pid=$! group
  group=$(cgroup "$side")
  if [ -n "$group" ]; then echo "$pid" >"$group/cgroup.procs"; fi
  echo "$pid"
}

# check SIDE SPEC PORT: one answer, as the load will ask it, must be hello's (and a browser's must be allowed).
check() {
  local spec=$2 port=$3 headers=$work/plain-headers args=()
  if [[ " $spec " == *" BROWSER=1 "* ]]; then headers=$work/browser-headers; fi
  while IFS= read -r header; do args+=(-H "$header"); done <"$headers"
  local answer
  answer=$(curl -s -D - "${args[@]}" --data-binary @"$work/bodies" "http://127.0.0.1:$port/graphql")
  if [[ $answer != *'{"data":{"hello":"Hello, World"}}'* ]] || { [ "$headers" = "$work/browser-headers" ] && [[ ${answer,,} != *"access-control-allow-origin: http://app.example"* ]]; }; then
    echo "duel: side $1 did not answer as expected:" >&2
    echo "$answer" >&2
    exit 1
  fi
}

# load SIDE SPEC PORT SECONDS: wrk against one side; its rate is in $work/SIDE.rate, its verdict in $work/SIDE.json.
load() {
  local side=$1 spec=$2 port=$3 secs=$4 headers=$work/plain-headers
  if [[ " $spec " == *" BROWSER=1 "* ]]; then headers=$work/browser-headers; fi
  BENCH_BODIES=$work/bodies BENCH_HEADERS=$headers BENCH_RESULT=$work/$side.json \
    taskset -c 1 wrk -t1 -c50 -d"${secs}s" -s bench/wrk/duel.lua "http://127.0.0.1:$port/graphql" |
    awk '/Requests\/sec/ { print $2 }' >"$work/$side.rate"
}

ratios=()
for round in $(seq "$rounds"); do
  port_a=$((20000 + RANDOM % 10000)) port_b=$((30000 + RANDOM % 10000))
  pid_a=$(start a "$spec_a" "$port_a") pid_b=$(start b "$spec_b" "$port_b")
  pids=("$pid_a" "$pid_b")
  for side in a b; do
    port=port_$side pid=pid_$side
    for _ in $(seq 150); do
      curl -sf -o /dev/null "http://127.0.0.1:${!port}/health" && continue 2
      kill -0 "${!pid}" 2>/dev/null || break
      sleep 0.2
    done
    echo "duel: the server of side $side did not start; its log:" >&2
    cat "$work/$side.log" >&2
    exit 1
  done
  check a "$spec_a" "$port_a"
  check b "$spec_b" "$port_b"
  load a "$spec_a" "$port_a" 2 & load b "$spec_b" "$port_b" 2; wait
  load a "$spec_a" "$port_a" "$seconds" & load b "$spec_b" "$port_b" "$seconds"; wait
  rate_a=$(cat "$work/a.rate") rate_b=$(cat "$work/b.rate")
  verdict=$(node -e '
    const [a, b] = process.argv.slice(1).map((file) => JSON.parse(require("fs").readFileSync(file, "utf8")));
    const bad = (r) => r.status + r.connect + r.read + r.write + r.timeout;
    console.log(bad(a) + bad(b) === 0 ? "" : `ERRORS: A ${bad(a)}, B ${bad(b)}`);' "$work/a.json" "$work/b.json")
  ratio=$(node -e 'console.log((process.argv[1] / process.argv[2]).toFixed(3))' "$rate_a" "$rate_b")
  ratios+=("$ratio")
  echo "round $round: A $rate_a req/s, B $rate_b req/s, A/B $ratio $verdict"
  kill "$pid_a" "$pid_b"
  # Not this shell's children (each was started in a subshell): wait, a while at most, for them to be gone.
  for _ in $(seq 100); do
    kill -0 "$pid_a" 2>/dev/null || kill -0 "$pid_b" 2>/dev/null || break
    sleep 0.1
  done
  pids=()
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { printf "median A/B %s (min %s, max %s) of %d rounds\n", r[int((NR + 1) / 2)], r[1], r[NR], NR }'
