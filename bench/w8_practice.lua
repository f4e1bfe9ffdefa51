-- W8 practice: learners answering exercises between utterances. Each request
-- is, with probability SHARE (default 0.2), POST /v1/users/{id}/attempts on
-- an exercise drawn from data/exercises.json, right or wrong at even odds;
-- otherwise a W2 write (POST /v1/utterances, 0-4 errors). Learners are drawn
-- uniformly from the ids file. Not one of issue #4's workloads: it measures
-- batches that mix attempts with other writes (PostgreSQL's batched path).
-- wrk -s bench/w8_practice.lua URL -- IDS_FILE [SHARE]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local next_request

local function exercise_ids()
  local f = assert(io.open(dir .. "../data/exercises.json", "r"), "cannot open data/exercises.json")
  local ids = {}
  for id in f:read("a"):gmatch('"id"%s*:%s*"([^"]+)"') do ids[#ids + 1] = id end
  f:close()
  assert(#ids > 0, "no exercise ids")
  return ids
end

function init(args)
  seed_random()
  local users, convs = load_ids(arg_or(args, 1, "ids.tsv"))
  local share = tonumber(arg_or(args, 2, "0.2"))
  local exercises = exercise_ids()
  local headers = {["Content-Type"] = "application/json"}
  local n = 0
  next_request = request_table(function()
    local i = math.random(#users)
    n = n + 1
    if math.random() < share then
      local body = '{"exercise_id":"' .. exercises[math.random(#exercises)] .. '","correct":' ..
        (math.random() < 0.5 and "true" or "false") .. '}'
      return wrk.format("POST", "/v1/users/" .. users[i] .. "/attempts", headers, body)
    end
    return wrk.format("POST", "/v1/utterances", headers, v1_utterance_body(users[i], convs[i], n))
  end)
end

function request()
  return next_request()
end
