-- W3 bulk: POST /v1/ingest, LINES utterances per request (default 1000), each
-- with ERRORS_PER_LINE errors (default 2) and a fresh utterance_id, for
-- learners drawn uniformly from the ids file. response() tallies the answers:
-- counters applied/replayed/rejected (lines) and errors_applied.
-- wrk -s bench/w3_bulk.lua URL -- IDS_FILE [LINES] [ERRORS_PER_LINE]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

COUNTERS = {"applied", "replayed", "rejected", "errors_applied", "bad_status"}
applied, replayed, rejected, errors_applied, bad_status = 0, 0, 0, 0, 0

local users, convs
local lines, epl
local headers = {["Content-Type"] = "application/x-ndjson"}

function init(args)
  seed_random()
  users, convs = load_ids(arg_or(args, 1, "ids.tsv"))
  lines = tonumber(arg_or(args, 2, "1000"))
  epl = tonumber(arg_or(args, 3, "2"))
end

function request()
  local out = {}
  for k = 1, lines do
    local i = math.random(#users)
    out[k] = '{"user_id":"' .. users[i] .. '","conversation_id":"' .. convs[i] ..
      '","utterance_id":"' .. fresh_uuid() .. '","content":"She go to school every days","errors":[' ..
      v1_errors(epl) .. ']}\n'
  end
  return wrk.format("POST", "/v1/ingest", headers, table.concat(out))
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    return
  end
  local a = tonumber(body:match('"applied":(%d+)')) or 0
  applied = applied + a
  replayed = replayed + (tonumber(body:match('"replayed":(%d+)')) or 0)
  rejected = rejected + (tonumber(body:match('"rejected":(%d+)')) or 0)
  errors_applied = errors_applied + a * epl
end
