-- Appended to every scenario script: one machine-readable line with the totals and latencies.
-- Scripts may define `extra_counters` (names of per-thread counters) and keep them with thread:set.
threads = threads or {}
local _setup = setup
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  if _setup then _setup(thread) end
end

function done(summary, latency, requests)
  local e = summary.errors
  local extra = {}
  for _, name in ipairs(extra_counters or {}) do
    local total = 0
    for _, t in ipairs(threads) do total = total + (t:get(name) or 0) end
    table.insert(extra, string.format('"%s": %d', name, total))
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "extra": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(extra, ", ")))
end
