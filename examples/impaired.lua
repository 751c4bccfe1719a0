-- impaired.lua: a slow link and a lossy, late one.
--
-- link:rate("1mbit") puts a token bucket (tc's tbf) on a link: big pings
-- queue behind it. link:netem{delay =, loss =} delays and drops packets
-- (tc's netem); kernels without sch_netem say so clearly, and the lab goes
-- on without it.
--
--   sudo nslua examples/impaired.lua rate=1mbit delay=40ms
local topo = require "nslua.topo"
local p = topo.params(arg, {rate = "1mbit", delay = "40ms", loss = "10%"})

local lab = topo.build {
  hosts = { "a", "b" },
  links = { {"a", "b"} },
}
local ab = lab.a:link("eth0")
local dst = lab:addr("b")

-- 1400-byte pings every 5 ms offer about 2.2 Mbit/s.
local free = lab.a:ping(dst, {count = 30, interval = 0.005, size = 1400})
print("free link:      " .. tostring(free):match("rtt[^\n]*"))

ab:rate(p.rate)
local limited = lab.a:ping(dst, {count = 30, interval = 0.005, size = 1400, timeout = 2})
print(string.format("rate %-8s    %s", p.rate .. ":", tostring(limited):match("rtt[^\n]*")))
assert(limited.avg > 5 * free.avg, "the rate limit should make big pings queue")
ab:rate(nil)

local ok, err = pcall(ab.netem, ab, {delay = p.delay, loss = p.loss})
if ok then
  local late = lab.a:ping(dst, {count = 20, interval = 0.05})
  print(string.format("netem %s %s: %d%% lost, min rtt %.1f ms", p.delay, p.loss, math.floor(late.loss), late.min or 0))
else
  print(err)   -- an error object: err.kind is "unsupported"
  assert(err.kind == "unsupported", "only a missing sch_netem is expected here")
  print("(the rate limit above works everywhere)")
end
