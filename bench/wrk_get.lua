-- wrk script: GET $BENCH_PATH (default /health) -- the HTTP floor of a server on this machine (no
-- request body, no store access). done() prints one line "JSON {...}" like wrk_post.lua.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/health"

done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'JSON {"label":"%s","batch":0,"requests":%d,"duration_s":%.2f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    os.getenv("BENCH_LABEL") or "", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
