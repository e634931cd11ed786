-- wrk script: POSTs a mixed-case body to echod's http service and checks each reply is the body
-- uppercased. Usage: wrk -t2 -c100 -d10s -s loadtest/wrk/post.lua http://127.0.0.1:PORT/
-- A wrong reply is counted and reported at the end (wrk itself only counts non-2xx statuses).

local body = string.rep("Hello, echod! The quick brown fox jumps over the lazy dog. ", 16)
local expected = string.upper(body)
local threads = {}

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "text/plain"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrong = 0
end

function response(status, headers, reply)
  if status ~= 200 or reply ~= expected then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("wrong")
  end
  io.write(string.format("Wrong replies: %d\n", total))
end
