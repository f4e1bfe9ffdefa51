-- Shared by the bench/w*.lua wrk scripts (loaded with dofile). wrk runs one
-- Lua state per thread plus one for setup()/done(); every thread calls init().
--
-- done() prints one machine-readable line that bench/run.sh parses:
--   BENCH_RESULT {"requests":..,"duration_s":..,"rps":..,"p50_ms":..,"p99_ms":..,
--                 "p999_ms":..,"non2xx":..,"socket_errors":..,"counters":{..}}
-- "non2xx" is wrk's "Non-2xx or 3xx responses" (every status > 399).
-- "requests" counts answers received; wrk's "timeout" counts only answers
-- that came later than --timeout, so a request never answered is in no
-- figure here: bench/measure.py fails a run of 0 requests and compares
-- "requests" with the server's own count of its answers.
-- A script that defines response() may also keep per-thread counters named in
-- the global COUNTERS list; done() sums them over the threads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Reads a "user<TAB>conversation<TAB>utterance" file (bench/gen_dataset.py
-- synth --ids-out) into three arrays.
function load_ids(path)
  local users, convs, utts = {}, {}, {}
  local f = assert(io.open(path, "r"), "cannot open ids file " .. tostring(path))
  for line in f:lines() do
    local u, c, t = line:match("^(%S+)\t(%S+)\t(%S+)")
    if u then
      users[#users + 1] = u
      convs[#convs + 1] = c
      utts[#utts + 1] = t
    end
  end
  f:close()
  assert(#users > 0, "no ids in " .. path)
  return users, convs, utts
end

-- Zipf(s) over ranks 1..n: P(k) ~ 1 / k^s. Returns a sampler of ranks.
function zipf_sampler(n, s)
  local cdf, total = {}, 0
  for k = 1, n do
    total = total + 1 / (k ^ s)
    cdf[k] = total
  end
  for k = 1, n do cdf[k] = cdf[k] / total end
  return function()
    local x = math.random()
    local lo, hi = 1, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < x then lo = mid + 1 else hi = mid end
    end
    return lo
  end
end

-- request_table(n, make): calls make() n times at init and returns a request()
-- that cycles through the results, so that a request costs wrk one table
-- lookup. wrk shares the machine's cores with the server, and building each
-- request in Lua (string concatenation, the Zipf search) took 10-20% off the
-- read workloads' requests/s (BENCHMARKS.md, "Load generator cost"). W0 is a
-- static request, so the ratios compare like with like. Nothing in a table
-- depends on being unique: the write workloads' bodies carry no ids of their
-- own (the server assigns them), so a repeated body is a new write.
REQUEST_TABLE_SIZE = 65536
function request_table(make, n)
  n = n or REQUEST_TABLE_SIZE
  local t = {}
  for k = 1, n do t[k] = make() end
  local i = 0
  return function()
    i = i + 1
    if i > n then i = 1 end
    return t[i]
  end
end

-- A fresh version-4 UUID: thread id and a per-thread counter make it unique
-- within the run, the random part across runs.
local uuid_counter = 0
local run_salt = nil
function fresh_uuid()
  if run_salt == nil then
    run_salt = math.random(0, 0xfff)
  end
  uuid_counter = uuid_counter + 1
  return string.format("%08x-%04x-4%03x-%x%03x-%012x",
    math.random(0, 0x7fffffff), math.random(0, 0xffff), run_salt,
    8 + (thread_id or 0) % 4, math.floor((thread_id or 0) / 4) % 0x1000, uuid_counter)
end

function seed_random()
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919 + math.floor(os.clock() * 1e6))
  for _ = 1, 10 do math.random() end
end

-- The (category, subcategory) pairs the workloads draw from.
PAIRS = {
  {"Grammar", "Subject-Verb Agreement"},
  {"Grammar", "Verb Tense"},
  {"Grammar", "Articles & Determiners"},
  {"Grammar", "Prepositions"},
  {"Grammar", "Pronouns"},
  {"Vocabulary", "Word Choice"},
  {"Vocabulary", "Collocation"},
  {"Mechanics", "Spelling"},
  {"Mechanics", "Punctuation"},
  {"Pronunciation", "Vowel Sounds"},
  {"Fluency", "Filler Words"},
}

-- {"category":..,"subcategory":..} objects, k of them, comma-separated.
function v1_errors(k)
  local parts = {}
  for i = 1, k do
    local p = PAIRS[math.random(#PAIRS)]
    parts[i] = '{"category":"' .. p[1] .. '","subcategory":"' .. p[2] .. '"}'
  end
  return table.concat(parts, ",")
end

-- The body of a POST /v1/utterances in an existing conversation: 0-4
-- errors (uniform, mean 2), content made unique by the thread and `n`.
function v1_utterance_body(user, conv, n)
  return '{"user_id":"' .. user .. '","conversation_id":"' .. conv ..
    '","content":"I has went to the shop yesterday (' .. thread_id .. '.' .. n .. ')","errors":[' ..
    v1_errors(math.random(0, 4)) .. ']}'
end

function arg_or(args, i, default)
  if args ~= nil and args[i] ~= nil and args[i] ~= "" then return args[i] end
  return default
end

-- True when args[i] is "user-header": the write scripts then send the
-- learner's id in X-User-Id, as clients behind deploy/nginx.conf should.
function user_header_arg(args, i)
  local v = arg_or(args, i, "")
  if v == "" then return false end
  assert(v == "user-header", "unknown option " .. v .. " (expected user-header)")
  return true
end

local function json_num(x)
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  return string.format("%.6g", x)
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local counters = {}
  for _, name in ipairs(COUNTERS or {}) do
    local sum = 0
    for _, t in ipairs(threads) do sum = sum + (tonumber(t:get(name)) or 0) end
    counters[#counters + 1] = string.format('"%s":%d', name, sum)
  end
  local p = function(q) return latency:percentile(q) / 1000 end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%s,"rps":%s,"bytes":%d,' ..
    '"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"p999_ms":%s,"max_ms":%s,"mean_ms":%s,' ..
    '"non2xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"counters":{%s}}\n',
    summary.requests, json_num(secs), json_num(summary.requests / secs), summary.bytes,
    json_num(p(50)), json_num(p(90)), json_num(p(99)), json_num(p(99.9)),
    json_num(latency.max / 1000), json_num(latency.mean / 1000),
    e.status, e.connect, e.read, e.write, e.timeout, table.concat(counters, ",")))
end
