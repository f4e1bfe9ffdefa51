-- W4 read: GET one read route for learners drawn from the ids file with
-- Zipf(S) popularity (rank k has weight 1/k^S; ranks follow the file's
-- order, which is random).
-- ROUTE: generate  -> GET /generate-exercise?user_id=U&top_n=5
--        exercises -> GET /v1/users/U/exercises?n=10
--        top       -> GET /v1/users/U/errors/top?n=10
-- wrk -s bench/w4_read.lua URL -- IDS_FILE [ROUTE] [S]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local next_request

function read_path(r, user)
  if r == "generate" then return "/generate-exercise?user_id=" .. user .. "&top_n=5" end
  if r == "exercises" then return "/v1/users/" .. user .. "/exercises?n=10" end
  if r == "top" then return "/v1/users/" .. user .. "/errors/top?n=10" end
  error("unknown route " .. tostring(r))
end

function init(args)
  seed_random()
  local users = load_ids(arg_or(args, 1, "ids.tsv"))
  local route = arg_or(args, 2, "generate")
  local pick = zipf_sampler(#users, tonumber(arg_or(args, 3, "1.0")))
  next_request = request_table(function()
    return wrk.format("GET", read_path(route, users[pick()]))
  end, 4 * REQUEST_TABLE_SIZE)
end

function request()
  return next_request()
end
