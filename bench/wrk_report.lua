-- Shared by bench/wrk_*.lua: report(batch) returns wrk's done() hook, which prints one line
-- "JSON {...}" (label from $BENCH_LABEL, requests, rps, latency percentiles in ms, errors) that
-- bench/run.sh collects, in the shape of the peer's wrk_post.lua.
function report(batch)
  return function(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
      'JSON {"label":"%s","batch":%d,"requests":%d,"duration_s":%.2f,"rps":%.1f,' ..
      '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
      os.getenv("BENCH_LABEL") or "", batch, summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.mean / 1000, latency.max / 1000,
      e.connect, e.read, e.write, e.status, e.timeout))
  end
end
