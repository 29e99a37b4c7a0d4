-- Shared by Plaza's wrk scripts (loaded with dofile): counts responses by status code in every
-- thread and, when the run ends, prints one line "PLAZA_WRK_RESULT {json}" with throughput,
-- latency percentiles (microseconds), errors and status counts, for bench/run.py to parse.
-- Parsing wrk's own text output would depend on its unit formatting; this does not.

local threads = {}

-- Per-thread state: `statuses` maps a status code to its count.
statuses = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      local thread_statuses = thread:get("statuses") or {}
      for code, n in pairs(thread_statuses) do
         counts[code] = (counts[code] or 0) + n
      end
   end
   local status_parts = {}
   for code, n in pairs(counts) do
      table.insert(status_parts, string.format('"%d":%d', code, n))
   end
   local percentiles = {}
   for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
      table.insert(percentiles, string.format('"%s":%.1f', tostring(p), latency:percentile(p)))
   end
   local errors = summary.errors
   io.write(string.format(
      'PLAZA_WRK_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"min":%.1f,"mean":%.1f,"stdev":%.1f,"max":%.1f,"percentiles":{%s}},'
         .. '"statuses":{%s}}\n',
      summary.duration, summary.requests, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.min, latency.mean, latency.stdev, latency.max, table.concat(percentiles, ","),
      table.concat(status_parts, ",")))
end

-- Helpers for the scripts that load this file.

-- The lines of a text file, skipping empty ones.
function read_lines(path)
   local lines = {}
   local file = assert(io.open(path, "r"), "cannot open " .. path)
   for line in file:lines() do
      if line ~= "" then
         table.insert(lines, line)
      end
   end
   file:close()
   assert(#lines > 0, path .. " is empty")
   return lines
end

-- A random generator per thread: the run's seed (from bench/run.py) plus the thread's index,
-- so threads and successive runs pick different users and posts.
function seed_random(seed)
   math.randomseed((tonumber(seed) or os.time()) + 7919 * (thread_index or 0))
   -- LuaJIT's first values after seeding are poorly mixed.
   for _ = 1, 10 do
      math.random()
   end
end
