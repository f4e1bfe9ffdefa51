-- W2 v1 write: POST /v1/utterances with 0-4 errors (uniform, mean 2) in an
-- existing conversation of a learner drawn uniformly from the ids file.
-- wrk -s bench/w2_v1_write.lua URL -- IDS_FILE [user-header]
-- user-header: also send X-User-Id: <learner> (what nginx hashes writes on,
-- deploy/nginx.conf; errata ignores it).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local next_request

function init(args)
  seed_random()
  local users, convs = load_ids(arg_or(args, 1, "ids.tsv"))
  local user_header = user_header_arg(args, 2)
  local n = 0
  next_request = request_table(function()
    local i = math.random(#users)
    n = n + 1
    local body = v1_utterance_body(users[i], convs[i], n)
    local headers = {["Content-Type"] = "application/json"}
    if user_header then headers["X-User-Id"] = users[i] end
    return wrk.format("POST", "/v1/utterances", headers, body)
  end)
end

function request()
  return next_request()
end
