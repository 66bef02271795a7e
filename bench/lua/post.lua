-- POST the same body to wrk's URL on every request (BODY is filled in by bench/wrk.py).
wrk.method = "POST"
wrk.body = BODY
wrk.headers["Content-Type"] = "application/json"
