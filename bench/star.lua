-- star-N with nslua: hosts h1..hN, each with an eth0 whose peer is a port of
-- one bridge in namespace "sw"; a ring ping (hi -> hi+1, one echo each);
-- teardown is nslua's own, at exit. Prints "ring OK/N build S ping S" (the
-- seconds the build and the ring ping took; the rest is start and teardown).
--   nslua bench/star.lua N
local n = assert(tonumber(arg[1]), "usage: star.lua N")
local t0 = net.now()
local hosts, ip = require("starlab")(n)

local t1 = net.now()
local ok = 0
for i = 1, n do
  if hosts[i]:ping(ip(i % n + 1), {count = 1, timeout = 1}).received > 0 then ok = ok + 1 end
end
print(string.format("ring %d/%d build %.3f ping %.3f", ok, n, t1 - t0, net.now() - t1))
