-- W1 seed write: POST /simulate-and-generate with 3 errors on an existing
-- utterance of a learner drawn uniformly from the ids file.
-- wrk -s bench/w1_seed_write.lua URL -- IDS_FILE [user-header]
-- user-header: also send X-User-Id: <learner> (what nginx hashes writes on,
-- deploy/nginx.conf; errata ignores it).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local next_request

function init(args)
  seed_random()
  local users, convs, utts = load_ids(arg_or(args, 1, "ids.tsv"))
  local user_header = user_header_arg(args, 2)
  next_request = request_table(function()
    local i = math.random(#users)
    local parts = {}
    for k = 1, 3 do
      local p = PAIRS[math.random(#PAIRS)]
      parts[k] = '{"errorCategory":"' .. p[1] .. '","errorSubCategory":"' .. p[2] .. '"}'
    end
    local body = '{"user_id":"' .. users[i] .. '","conversation_id":"' .. convs[i] ..
      '","utterance_id":"' .. utts[i] .. '","errors":[' .. table.concat(parts, ",") .. ']}'
    local headers = {["Content-Type"] = "application/json"}
    if user_header then headers["X-User-Id"] = users[i] end
    return wrk.format("POST", "/simulate-and-generate", headers, body)
  end)
end

function request()
  return next_request()
end
