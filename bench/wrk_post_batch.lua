-- wrk script: POST /get-online-features for BENCH_BATCH (default 100) random existing driver ids
-- (1001..1000+E, E from $BENCH_E, default 100000), all 10 features by reference -- the batch version
-- of ../shared/peer/feast-0.67/wrk_post.lua. To keep the load generator's CPU out of the way (it
-- shares the machine with the server), a pool of 1024 bodies is built once (seeded) and cycled.
-- done() prints one line "JSON {...}" (latencies in ms), the same fields as wrk_post.lua.
-- report() comes from bench/wrk_report.lua, next to this script
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*/)") or "./") .. "wrk_report.lua")
math.randomseed(4242)
local first = 1001
local n = tonumber(os.getenv("BENCH_E") or "100000")
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local feats = '["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate",' ..
  '"driver_hourly_stats:avg_daily_trips","driver_hourly_stats:rating",' ..
  '"driver_hourly_stats:earnings","driver_hourly_stats:distance_km",' ..
  '"driver_hourly_stats:trips_today","driver_hourly_stats:cancellations",' ..
  '"driver_hourly_stats:speed_avg","driver_hourly_stats:city"]'
local headers = {["Content-Type"] = "application/json"}

local pool = {}
for p = 1, 1024 do
  local ids = {}
  for i = 1, batch do ids[i] = tostring(math.random(first, first + n - 1)) end
  local body = '{"features":' .. feats .. ',"entities":{"driver_id":[' .. table.concat(ids, ",") .. ']}}'
  pool[p] = wrk.format("POST", "/get-online-features", headers, body)
end
local k = 0

request = function()
  k = k % #pool + 1
  return pool[k]
end

done = report(batch)
