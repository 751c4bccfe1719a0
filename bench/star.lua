-- star-N with nslua: hosts h1..hN, each with an eth0 whose peer is a port of
-- one bridge in namespace "sw"; a ring ping (hi -> hi+1, one echo each);
-- teardown is nslua's own, at exit. Prints "ring OK/N build S ping S" (the
-- seconds the build and the ring ping took; the rest is start and teardown).
--   nslua bench/star.lua N
local n = assert(tonumber(arg[1]), "usage: star.lua N")
local function ip(i) return string.format("10.0.%d.%d", i // 250, i % 250 + 1) end

local t0 = net.now()
local sw = net.ns("sw")
local br = net.bridge("br0", {ns = sw}):up()
local hosts = {}
for i = 1, n do
  local h = net.ns("h" .. i)
  local port, eth = net.veth("p" .. i, "eth0", {ns = sw, peer_ns = h})
  port:master(br):up()
  eth:addr(ip(i) .. "/16"):up()
  hosts[i] = h
end

local t1 = net.now()
local ok = 0
for i = 1, n do
  if hosts[i]:ping(ip(i % n + 1), {count = 1, timeout = 1}).received > 0 then ok = ok + 1 end
end
print(string.format("ring %d/%d build %.3f ping %.3f", ok, n, t1 - t0, net.now() - t1))
