-- wrk script: GET $BENCH_PATH (default /health) -- the HTTP floor of a server on this machine (no
-- request body, no store access). done() prints one line "JSON {...}" like wrk_post.lua.
-- report() comes from bench/wrk_report.lua, next to this script
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*/)") or "./") .. "wrk_report.lua")
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/health"

done = report(0)
