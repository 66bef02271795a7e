-- Prepended to every scenario script. wrk.format() ignores wrk.headers (the -H flags) when it is
-- given its own headers, so scripts pass theirs through with_headers().
function with_headers(extra)
  local merged = {}
  for name, value in pairs(wrk.headers) do merged[name] = value end
  for name, value in pairs(extra or {}) do merged[name] = value end
  return merged
end
