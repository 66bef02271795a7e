-- POST a new SecureValue per request; names are unique per thread and request.
-- Filled in by bench/wrk.py: NAMESPACE_PATH, BODY_PREFIX, BODY_SUFFIX, RUN_ID.
-- `tid` is set per thread by report.lua's setup().
counter = 0

function request()
  counter = counter + 1
  local name = string.format("c-%s-%d-%d", RUN_ID, tid, counter)
  return wrk.format("POST", NAMESPACE_PATH, with_headers({["Content-Type"] = "application/json"}),
                    BODY_PREFIX .. name .. BODY_SUFFIX)
end
