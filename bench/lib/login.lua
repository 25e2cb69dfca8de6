-- wrk script for a storm of password sign-ins (POST /login).
--
-- Run against the server's /login URL, e.g.
--   WRK_ACCOUNTS=storm.txt WRK_THREADS=2 wrk -t 2 -c 8 -d 20s -s login.lua http://127.0.0.1:8080/login
--
-- Every request signs in one account of WRK_ACCOUNTS with its right
-- password, as a browser does after loading the form:
--   POST /login
--   Origin: <the server's origin>
--   Cookie: lanyard_csrf=<token>
--   X-Forwarded-For: 10.<thread>.<c>.<d>
--   login=<account>&password=<password>&csrf=<token>&next=%2Fportal
--
-- CSRF: the sign-in form is a double-submit: GET /login sets the
-- lanyard_csrf cookie and puts the same token in the form's hidden field,
-- and POST /login wants the two to match (the server keeps no state for
-- it). Each wrk thread starts with GET /login (one per connection of the
-- thread that starts before the first answer, a handful in all), takes
-- the token from the Set-Cookie (checked against the form's field), and
-- then only POSTs, reusing it, as a browser reuses its cookie across sign-ins.
-- The GETs are counted apart (csrf_gets; csrf_bad: a GET whose form and
-- cookie disagreed, or not a 200) and are not sign-in attempts; their
-- few fast answers are in wrk's latency histogram (wrk keeps one per run),
-- below every sign-in, so p90/p99 are the sign-ins' own.
--
-- X-Forwarded-For: the server must trust the load generator as a proxy
-- (trusted_proxies = 127.0.0.1); it then takes the client's address from
-- this header, so one load machine stands for many clients. Each thread
-- counts through its own block 10.<thread>.0.1, 10.<thread>.0.2, ...
-- (65,024 addresses), moving to the next address every WRK_XFF_EVERY
-- sign-ins (default 1: a fresh address per sign-in, like a crowd of users
-- each signing in once). The server's per-address limit (30 per minute by
-- default) is then never reached, so the storm is made of real argon2id
-- verifications, not cheap 429s.
--
-- Accounts: every thread goes round the list, starting at its own share of
-- it (thread i of WRK_THREADS at i/WRK_THREADS of the list), so one account
-- is rarely in flight twice at once (the server lets at most
-- lockout_failures = 5 attempts at one account be checked at a time).
--
-- Environment:
--   WRK_ACCOUNTS    file with one login (email or username) per line
--   WRK_PASSWORD    their password (default bench-password-123, lib/lanyard_bench.py's)
--   WRK_THREADS     the -t value (to spread the threads over the list)
--   WRK_XFF_EVERY   sign-ins per forwarded address (default 1)
--
-- A sign-in counts as successful only when the server answers the way a
-- successful password sign-in does: 303 to /portal (the form's next) with a
-- Set-Cookie of a new lanyard_session (64 hex digits). Anything else
-- (200: the form again, wrong credentials; 403: CSRF or locked; 429: the
-- per-address limit; 303 elsewhere, e.g. to the second factor) is a failure.
--
-- Prints one line at the end:
--   LOGIN sign_ins_per_s=.. sign_ins=.. attempts=.. failures=.. status=303:..,..
--         csrf_gets=.. csrf_bad=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. errors=.. seconds=..
-- where status counts the answers to POST /login by HTTP status (a 303
-- that is not a sign-in shows as 303x) and errors counts socket errors and
-- timeouts.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local accounts = {}
local idx = 1
local password = "bench-password-123"
local xff_every = 1
local origin = ""
local csrf = nil
local sent = 0

-- Read by done() through thread:get.
status_counts = {}
sign_ins = 0
attempts = 0
csrf_gets = 0
bad_gets = 0

function init(args)
  local path = os.getenv("WRK_ACCOUNTS") or args[1]
  if not path then error("WRK_ACCOUNTS (a file of logins) is not set") end
  for line in io.lines(path) do
    line = line:gsub("%s+$", "")
    if #line > 0 then table.insert(accounts, urlencode(line)) end
  end
  if #accounts == 0 then error("no logins in " .. path) end
  password = urlencode(os.getenv("WRK_PASSWORD") or password)
  xff_every = math.max(1, tonumber(os.getenv("WRK_XFF_EVERY") or "1") or 1)
  local nthreads = math.max(1, tonumber(os.getenv("WRK_THREADS") or "1") or 1)
  idx = math.floor((tid - 1) * #accounts / nthreads) % #accounts + 1
  local port = wrk.port or (wrk.scheme == "https" and "443" or "80")
  origin = string.format("%s://%s:%s", wrk.scheme, wrk.host, port)
end

-- The n-th forwarded address of this thread (n from 0).
local function forwarded(n)
  n = n % (256 * 254)
  return string.format("10.%d.%d.%d", tid % 256, math.floor(n / 254), n % 254 + 1)
end

function request()
  if csrf == nil then
    csrf_gets = csrf_gets + 1
    return wrk.format("GET", "/login", { ["X-Forwarded-For"] = forwarded(0) })
  end
  local login = accounts[idx]
  idx = idx % #accounts + 1
  local xff = forwarded(math.floor(sent / xff_every))
  sent = sent + 1
  local body = "login=" .. login .. "&password=" .. password .. "&csrf=" .. csrf .. "&next=%2Fportal"
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = origin,
    ["Cookie"] = "lanyard_csrf=" .. csrf,
    ["X-Forwarded-For"] = xff,
  }, body)
end

local function count(key)
  status_counts[key] = (status_counts[key] or 0) + 1
end

function response(status, headers, body)
  local cookie, location = "", ""
  for k, v in pairs(headers) do
    local name = k:lower()
    if name == "set-cookie" then cookie = v
    elseif name == "location" then location = v end
  end
  -- The answer to GET /login: the form and its double-submit cookie.
  local token = cookie:match("^lanyard_csrf=(%x+);")
  if token then
    local field = body and body:match('name="csrf" value="(%x+)"')
    if status == 200 and field == token then
      csrf = csrf or token
    else
      bad_gets = bad_gets + 1
    end
    return
  end
  attempts = attempts + 1
  if status == 303 then
    local session = cookie:match("^lanyard_session=(%x+);")
    if location == "/portal" and session and #session == 64 then
      sign_ins = sign_ins + 1
      count("303")
    else
      count("303x")
    end
  else
    count(tostring(status))
  end
end

function done(summary, latency, requests)
  local ok, tried, gets, bad, statuses = 0, 0, 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + (t:get("sign_ins") or 0)
    tried = tried + (t:get("attempts") or 0)
    gets = gets + (t:get("csrf_gets") or 0)
    bad = bad + (t:get("bad_gets") or 0)
    for k, v in pairs(t:get("status_counts") or {}) do statuses[k] = (statuses[k] or 0) + v end
  end
  local keys = {}
  for k in pairs(statuses) do table.insert(keys, k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, k .. ":" .. statuses[k]) end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "LOGIN sign_ins_per_s=%.1f sign_ins=%d attempts=%d failures=%d status=%s csrf_gets=%d csrf_bad=%d " ..
    "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f requests=%d errors=%d seconds=%.2f\n",
    ok / secs, ok, tried, tried - ok, #parts > 0 and table.concat(parts, ",") or "none", gets, bad,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout, secs))
end
