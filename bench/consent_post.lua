-- wrk script: POST /api/v1/consents as the banner sends it (modelled on the shared consent.lua).
-- Environment:
--   BENCH_ACKED    file to write every acknowledged (2xx) consent, one "consent_id event_id" a line
--   BENCH_ERRBODY  file to write the first non-2xx response of each thread (for the log)
-- done() prints one line "RESULT {json}" with counts by status class and latency percentiles (us).
-- Counters are per-thread globals, summed in done() through thread:get().

threads = {}
tid = 0
n2xx, n3xx, n4xx, n5xx, nbadbody = 0, 0, 0, 0, 0
acked = {}
counter = 0
errbody = ""

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local body_head = '{"event_id":"'
local body_tail = '","choices":{"analytics":true,"marketing":false},'
   .. '"policy_version":"1","language":"nb"}'
-- A browser's User-Agent: the app truncates, digests and stores it, so the real path pays for it.
local headers = {
   ["Content-Type"] = "application/json",
   ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      .. "Chrome/126.0 Safari/537.36",
}

function init(args)
   math.randomseed(os.time() * 1000 + tid)
   t0 = os.time() % 0x7fffffff
   salt = math.random(0, 0x7fffffff)
   salt2 = math.random(0, 0xffff)
end

-- A unique, well-formed version-4 UUID per request: start second, thread, random salt, counter.
-- Every field stays below 2^32 so LuaJIT's %x formats it exactly.
local function event_id()
   return string.format("%08x-%04x-4%03x-%04x-%04x%08x", t0, tid % 0x10000, salt % 0x1000,
      0x8000 + math.floor(salt / 0x1000) % 0x4000, salt2, counter)
end

function request()
   counter = counter + 1
   return wrk.format("POST", "/api/v1/consents", headers, body_head .. event_id() .. body_tail)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      n2xx = n2xx + 1
      local cid = body:match('"consent_id":%s*"([%w_%-]+)"')
      local eid = body:match('"event_id":%s*"([%x%-]+)"')
      if cid and eid then acked[#acked + 1] = cid .. " " .. eid else nbadbody = nbadbody + 1 end
   else
      if errbody == "" then errbody = status .. " " .. body:sub(1, 400) end
      if status >= 500 then n5xx = n5xx + 1
      elseif status >= 400 then n4xx = n4xx + 1
      else n3xx = n3xx + 1 end
   end
end

function done(summary, latency, requests)
   local tot = { n2xx = 0, n3xx = 0, n4xx = 0, n5xx = 0, nbadbody = 0 }
   local out = os.getenv("BENCH_ACKED") and io.open(os.getenv("BENCH_ACKED"), "w")
   local errs = os.getenv("BENCH_ERRBODY") and io.open(os.getenv("BENCH_ERRBODY"), "w")
   for _, th in ipairs(threads) do
      for k, _ in pairs(tot) do tot[k] = tot[k] + (th:get(k) or 0) end
      if out then
         for _, line in ipairs(th:get("acked")) do out:write(line, "\n") end
      end
      local eb = th:get("errbody")
      if errs and eb and eb ~= "" then errs:write(eb, "\n") end
   end
   if out then out:close() end
   if errs then errs:close() end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"mode":"consents","requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,'
      .. '"n2xx":%d,"n3xx":%d,"n4xx":%d,"n5xx":%d,"nbadbody":%d,'
      .. '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      tot.n2xx, tot.n3xx, tot.n4xx, tot.n5xx, tot.nbadbody,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max))
end
