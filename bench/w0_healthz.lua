-- W0 ceiling: GET /healthz, a static request (wrk's fastest path).
-- wrk -s bench/w0_healthz.lua URL
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

wrk.method = "GET"
wrk.path = "/healthz"
