-- POST /api/posts/{id}/like/ for random (user, post) pairs out of the sample users and post ids,
-- so nearly every like is new (201); an already-liked pair answers 200 and is counted apart.
-- Usage: wrk -s bench/lua/like.lua http://host:port/ -- TOKENS_FILE POST_IDS_FILE SEED
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local tokens
local post_ids

function init(args)
   tokens = read_lines(args[1])
   post_ids = read_lines(args[2])
   seed_random(args[3])
end

function request()
   local token = tokens[math.random(#tokens)]
   local post_id = post_ids[math.random(#post_ids)]
   return wrk.format("POST", "/api/posts/" .. post_id .. "/like/", {
      ["Authorization"] = "Token " .. token,
   }, "")
end
