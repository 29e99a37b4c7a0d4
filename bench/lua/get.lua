-- GET the URL given to wrk (and the headers given with -H), reporting like the others.
-- Usage: wrk -s bench/lua/get.lua -H "Authorization: Token ..." http://host:port/api/feed/
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
