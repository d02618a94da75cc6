-- The requests of bench/duel.sh: one body (BENCH_BODIES' first line) with BENCH_HEADERS' headers,
-- formatted once, and no per-answer check here: two of these share one core of the load generator
-- in a duel, and reading every body (as load.lua does) would make them what limits the servers.
-- duel.sh checks one answer of each server before the load. done() writes the errors wrk saw
-- (statuses over 399 included) to BENCH_RESULT as JSON.

local fixed

function init(args)
  local headers = {}
  for line in io.lines(os.getenv("BENCH_HEADERS")) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  local body = io.lines(os.getenv("BENCH_BODIES"))()
  fixed = wrk.format("POST", nil, headers, body)
end

function request()
  return fixed
end

function done(summary, _, _)
  local errors = summary.errors
  local file = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  file:write(string.format('{"requests":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}',
    summary.requests, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
  file:close()
end
