-- W5 mixed: WRITE_PCT% writes (POST /v1/utterances, 0-4 errors, uniform
-- learner), the rest reads split evenly between GET /generate-exercise?top_n=5
-- and GET /v1/users/U/exercises?n=10 (Zipf(S) learner popularity).
-- wrk -s bench/w5_mixed.lua URL -- IDS_FILE [WRITE_PCT] [S]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local next_request

function init(args)
  seed_random()
  local users, convs = load_ids(arg_or(args, 1, "ids.tsv"))
  local write_pct = tonumber(arg_or(args, 2, "10"))
  local pick = zipf_sampler(#users, tonumber(arg_or(args, 3, "1.0")))
  local headers = {["Content-Type"] = "application/json"}
  local n = 0
  next_request = request_table(function()
    local x = math.random() * 100
    if x < write_pct then
      local i = math.random(#users)
      n = n + 1
      local body = '{"user_id":"' .. users[i] .. '","conversation_id":"' .. convs[i] ..
        '","content":"Me and him goes there (' .. thread_id .. '.' .. n .. ')","errors":[' ..
        v1_errors(math.random(0, 4)) .. ']}'
      return wrk.format("POST", "/v1/utterances", headers, body)
    end
    local user = users[pick()]
    if x < write_pct + (100 - write_pct) / 2 then
      return wrk.format("GET", "/generate-exercise?user_id=" .. user .. "&top_n=5")
    end
    return wrk.format("GET", "/v1/users/" .. user .. "/exercises?n=10")
  end, 4 * REQUEST_TABLE_SIZE)
end

function request()
  return next_request()
end
