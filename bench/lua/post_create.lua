-- POST /api/posts/ as many different users: each request takes the next token from the list,
-- starting at a different place in every thread, with a unique title.
-- Usage: wrk -s bench/lua/post_create.lua http://host:port/api/posts/ -- TOKENS_FILE SEED
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local tokens
local counter = 0
local next_token

function init(args)
   tokens = read_lines(args[1])
   seed_random(args[2])
   next_token = math.random(#tokens)
end

function request()
   counter = counter + 1
   next_token = next_token % #tokens + 1
   local body = string.format(
      '{"title":"Benchmark post %d-%d","content":"Written by the load benchmark (thread %d, '
         .. 'request %d). Plaza keeps every counter exact while this runs."}',
      thread_index, counter, thread_index, counter)
   return wrk.format("POST", nil, {
      ["Authorization"] = "Token " .. tokens[next_token],
      ["Content-Type"] = "application/json",
   }, body)
end
