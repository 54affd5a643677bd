-- wrk script: durable SalesMan adds, a new person in every request (the
-- phone and e-mail count up per wrk thread, scattered by a per-thread
-- offset), so the gateway does the real work of an add each time.
-- Prints p50/p99/max and the non-2xx count as one JSON line at the end.
--
--   wrk -t2 -c64 -d60s -s bench/wrk_salesman_add.lua http://127.0.0.1:18080

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

function init(args)
  sequence = 0
  wrk.method = "POST"
  wrk.path = "/developer/v1/leads"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  failures = 0
end

function request()
  sequence = sequence + 1
  -- A real person's number: thread and sequence spread over the range.
  local person = string.format("%07d", (thread_number * 7919 + sequence * 104729) % 10000000)
  local body = "login=bench%40example.ru&apikey=bench-apikey&action=add"
    .. "&title=wrk+" .. thread_number .. "-" .. sequence
    .. "&phone=%2B790" .. thread_number .. person
    .. "&email=wrk" .. thread_number .. "-" .. sequence .. "%40example.ru"
    .. "&description=%D0%A5%D0%BE%D1%87%D1%83+%D0%B4%D0%B5%D0%BC%D0%BE&path=Website"
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"Success"', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
  end
  io.write(string.format(
    '{"requests": %d, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    failed + summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
