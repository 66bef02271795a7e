-- PUT with a resourceVersion precondition on a few shared values: writers race for each one.
-- A 409 marks the value stale; the next request for it is a GET that learns the new version.
-- Filled in by bench/wrk.py: NAMESPACE_PATH, NAMES (name -> initial resourceVersion), DESCRIPTION_PREFIX.
-- Counters are thread globals so that report.lua's done() can read them with thread:get.
extra_counters = {"puts", "gets", "conflicts", "ok"}
puts, gets, conflicts, ok = 0, 0, 0, 0  -- ok: 200 answers, GETs included
order, versions, stale = {}, {}, {}
position = 0

function init(args)
  for name, rv in pairs(NAMES) do
    table.insert(order, name)
    versions[name] = rv
  end
  table.sort(order)
  position = tid or 0  -- threads start at different values, so they collide on some at a time
end

function request()
  position = position % #order + 1
  local name = order[position]
  local path = NAMESPACE_PATH .. "/" .. name
  if stale[name] then
    stale[name] = false
    gets = gets + 1
    return wrk.format("GET", path)
  end
  puts = puts + 1
  local body = string.format(
    '{"apiVersion":"secret.grafana.app/v1beta1","kind":"SecureValue","metadata":{"name":"%s",' ..
    '"resourceVersion":"%s","labels":{"app":"bench","tier":"gold"}},"spec":{"description":"%s%d",' ..
    '"decrypters":["bench-reader"]}}', name, versions[name], DESCRIPTION_PREFIX, puts % 100000)
  return wrk.format("PUT", path, with_headers({["Content-Type"] = "application/json"}), body)
end

function response(status, headers, body)
  local name = body:match('"name":"(u%-[%w%-]+)"')
  if name == nil then return end
  if status == 200 then
    ok = ok + 1
    local rv = body:match('"resourceVersion":"(%d+)"')
    if rv then versions[name] = rv end
  elseif status == 409 then
    stale[name] = true
    conflicts = conflicts + 1
  end
end
