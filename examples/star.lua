-- star.lua: N hosts on one switch, and a ping between every pair.
--
-- The classic scale test. Past 1000 hosts, topo.star spreads them over
-- several bridges joined into one segment (a Linux bridge holds 1023 ports).
--
--   sudo nslua examples/star.lua hosts=100
local topo = require "nslua.topo"
local p = topo.params(arg, {hosts = 10, prefix = "10.0.0.0/16"})

local t0 = net.now()
local lab = topo.star(p.hosts, {prefix = p.prefix})
local built = net.now() - t0
print(string.format("%s built in %.2f s", tostring(lab), built))

local m = lab:pingall({quiet = p.hosts > 20})
if p.hosts > 20 then print(string.format("pingall: %d of %d pairs answered", m.received, m.sent)) end
if m.dropped > 0 then os.exit(1) end
