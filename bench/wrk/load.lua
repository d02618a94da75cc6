-- The requests and the bookkeeping of one wrk run of the bench (see bench/wrk-load.ts), set through
-- the environment:
--   BENCH_BODIES   a file of request bodies, one a line, sent in turn; after the last comes the
--                  first again, which `wraps` counts (a scenario whose bodies must never repeat
--                  fails on it)
--   BENCH_HEADERS  a file of `name: value` lines, sent with every request
--   BENCH_BUSINESS 1 when INSUFFICIENT_FUNDS is an accepted outcome rather than an error
--   BENCH_RESULT   the file done() writes the figures to, as JSON
-- Globals, not locals, hold what done() reads: it runs in the main thread and reads each load
-- thread's through thread:get.

ok, business, graphql_errors, non2xx, wraps, samples = 0, 0, 0, 0, 0, ""

local bodies, headers, next_body, fixed, accept_business

function init(args)
  headers = {}
  for line in io.lines(os.getenv("BENCH_HEADERS")) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  bodies = {}
  for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
  next_body = 1
  -- One body: format the request once.
  if #bodies == 1 then fixed = wrk.format("POST", nil, headers, bodies[1]) end
  accept_business = os.getenv("BENCH_BUSINESS") == "1"
end

function request()
  if fixed then return fixed end
  local body = bodies[next_body]
  next_body = next_body + 1
  if next_body > #bodies then
    next_body = 1
    wraps = wraps + 1
  end
  return wrk.format("POST", nil, headers, body)
end

-- The same verdicts as classifyBody in bench/loadgen.ts, and as cheap: it runs for every response.
function response(status, _, body)
  local failed = false
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    failed = true
  elseif not body:find('"errors"', 1, true) then
    if body:sub(1, 7) == '{"data"' then ok = ok + 1 else graphql_errors = graphql_errors + 1; failed = true end
  elseif accept_business and body:find("INSUFFICIENT_FUNDS", 1, true) then
    business = business + 1
  else
    graphql_errors = graphql_errors + 1
    failed = true
  end
  if failed and #samples < 1000 then samples = samples .. status .. " " .. body:sub(1, 300) .. "\n" end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, _)
  local total = { ok = 0, business = 0, graphql_errors = 0, non2xx = 0, wraps = 0 }
  local all_samples = ""
  for _, thread in ipairs(threads) do
    for name in pairs(total) do total[name] = total[name] + thread:get(name) end
    all_samples = all_samples .. thread:get("samples")
  end
  local errors = summary.errors
  local file = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  file:write(string.format(
    '{"durationUs":%d,"responses":%d,"ok":%d,"business":%d,"graphqlErrors":%d,"non2xx":%d,"wraps":%d,' ..
      '"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,' ..
      '"meanUs":%.1f,"p50Us":%d,"p99Us":%d,"maxUs":%d,"samples":%s}',
    summary.duration, summary.requests, total.ok, total.business, total.graphql_errors, total.non2xx, total.wraps,
    errors.connect, errors.read, errors.write, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max, json_string(all_samples)))
  file:close()
end
