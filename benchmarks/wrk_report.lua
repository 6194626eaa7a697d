-- wrk script of the end-to-end benchmark (benchmarks/end_to_end.py).
--
-- The credential comes from the environment, not from `-H` on the command
-- line: a process's command line is readable by every local user
-- (/proc/<pid>/cmdline), its environment only by its owner.
--
-- With AUTHHYGIENE_BENCH_PATHS (comma-separated) the requests cycle over
-- those paths: used for warm-up only, since a Lua `request()` costs wrk time
-- on every request. Timed runs leave it unset, so wrk sends one prebuilt
-- request.
--
-- done() prints one machine-readable line, so the benchmark never parses
-- wrk's human output (whose format changes between versions).

local authorization = os.getenv("AUTHHYGIENE_BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
   wrk.headers["Authorization"] = authorization
end

local paths = os.getenv("AUTHHYGIENE_BENCH_PATHS")
if paths and paths ~= "" then
   local list = {}
   for path in string.gmatch(paths, "[^,]+") do
      list[#list + 1] = path
   end
   local index = 0
   request = function()
      index = index % #list + 1
      return wrk.format(nil, list[index])
   end
end

done = function(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      "AUTHHYGIENE_WRK {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, "
         .. "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, "
         .. "\"timeouts\": %d, \"non_2xx_3xx\": %d, \"latency_mean_us\": %.1f, "
         .. "\"latency_p50_us\": %d, \"latency_p90_us\": %d, \"latency_p99_us\": %d, "
         .. "\"latency_max_us\": %d}\n",
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.timeout, errors.status,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max))
end
