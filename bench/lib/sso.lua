-- wrk script for SSO over many signed-in users.
--
-- Environment:
--   WRK_COOKIES  file with one Cookie header value per line (one signed-in
--                user's session each); requests rotate through them, each
--                thread starting at a different line, so consecutive requests
--                on a connection belong to different users.
--   WRK_RATE     0 (default): closed loop, each connection sends its next
--                request as soon as the previous answer arrives (maximum
--                throughput). N > 0: rate-limited, about N requests/s over all
--                connections: each connection waits an exponentially
--                distributed gap (mean WRK_CONNS / N seconds) after each
--                answer before the next request (wrk's delay()), so arrivals
--                are roughly Poisson. The achieved rate is printed (it is a
--                little under N: the gap starts when the answer arrives).
--   WRK_CONNS    the -c value (needed for the per-connection gap).
--
-- Prints one line at the end:
--   RESULT rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. non200=.. errors=..
-- where non200 counts answers other than 200 (a 303 to /login means a session
-- did not count) and errors counts socket errors and timeouts.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local cookies = {}
local idx = 1
local mean_gap_ms = 0
non200 = 0

function init(args)
  local path = os.getenv("WRK_COOKIES")
  for line in io.lines(path) do
    if #line > 0 then table.insert(cookies, line) end
  end
  if #cookies == 0 then error("no cookies in " .. path) end
  -- Spread the threads over the list.
  idx = ((tid - 1) * 7919) % #cookies + 1
  local rate = tonumber(os.getenv("WRK_RATE") or "0") or 0
  local conns = tonumber(os.getenv("WRK_CONNS") or "1") or 1
  if rate > 0 then mean_gap_ms = conns * 1000.0 / rate end
  math.randomseed(os.time() + tid)
end

function request()
  local c = cookies[idx]
  idx = idx % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = c })
end

-- Defined only in rate-limited mode: with delay() present, wrk routes every
-- request through a timer, which costs a little even at 0 ms.
if (tonumber(os.getenv("WRK_RATE") or "0") or 0) > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * mean_gap_ms)
  end
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non200") or 0) end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f requests=%d non200=%d errors=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, bad, e.connect + e.read + e.write + e.timeout))
end
