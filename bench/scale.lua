-- How build and teardown grow with the lab: topo.star(N) (N hosts on one
-- bridge in a namespace of its own, each with an address, everything up),
-- then net.cleanup(). No traffic (a ring of 1000 hosts needs more neighbour
-- entries than the kernel's shared table holds). Prints
-- "hosts N build S teardown S".
--   nslua bench/scale.lua N
local topo = require "nslua.topo"
local n = assert(tonumber(arg[1]), "usage: scale.lua N")

local t0 = net.now()
topo.star(n)
local t1 = net.now()
net.cleanup()
print(string.format("hosts %d build %.3f teardown %.3f", n, t1 - t0, net.now() - t1))
