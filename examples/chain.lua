-- chain.lua: two hosts joined through three routers in a row.
--
--   h1 --- r1 --- r2 --- r3 --- h2
--
-- Each link is its own point-to-point subnet (a /30); each router forwards
-- and knows routes to every subnet along the chain. A ping with TTL k dies
-- at the k-th router, which says so ("Time to live exceeded"): the trick
-- traceroute is built on, and what check.path checks hop by hop.
--
--   sudo nslua examples/chain.lua routers=5
local topo = require "nslua.topo"
local check = require "nslua.check"
local p = topo.params(arg, {routers = 3})

local lab = topo.chain(p.routers)
show()

print("\nTTL by TTL from h1 to h2 (" .. lab:addr("h2") .. "):")
for ttl = 1, p.routers + 1 do
  local r = lab.h1:ping(lab:addr("h2"), {count = 1, ttl = ttl})
  print(string.format("  ttl %d: %s", ttl, r.received > 0 and ("reply from " .. lab:addr("h2")) or r.errors[1]))
end

local routers = lab:routers()
local hops = check.path(lab.h1, lab.h2, routers)
print("\nOK: the path is h1 -> " .. table.concat(hops, " -> ") .. " -> h2")
