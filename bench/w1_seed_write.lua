-- W1 seed write: POST /simulate-and-generate with 3 errors on an existing
-- utterance of a learner drawn uniformly from the ids file.
-- wrk -s bench/w1_seed_write.lua URL -- IDS_FILE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local users, convs, utts
local headers = {["Content-Type"] = "application/json"}

function init(args)
  seed_random()
  users, convs, utts = load_ids(arg_or(args, 1, "ids.tsv"))
end

function request()
  local i = math.random(#users)
  local parts = {}
  for k = 1, 3 do
    local p = PAIRS[math.random(#PAIRS)]
    parts[k] = '{"errorCategory":"' .. p[1] .. '","errorSubCategory":"' .. p[2] .. '"}'
  end
  local body = '{"user_id":"' .. users[i] .. '","conversation_id":"' .. convs[i] ..
    '","utterance_id":"' .. utts[i] .. '","errors":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/simulate-and-generate", headers, body)
end
