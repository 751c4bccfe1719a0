-- two-lans.lua: two LANs joined by a router, as a spec.
--
--   h1, h3 --- s1 --- r1 --- s2 --- h2
--
-- topo.build turns the table below into namespaces (hosts, the router),
-- bridges (the switches, in a namespace of their own), veth pairs (the
-- links), subnets and addresses (h3 gets one chosen for it), forwarding on
-- the router, and default routes on the hosts. nslua.check then makes the
-- lab a test: the script fails if the lab does not behave.
--
--   sudo nslua examples/two-lans.lua              (or: nslua --sandbox ...)
--   sudo nslua --graph two-lans.svg examples/two-lans.lua
local topo = require "nslua.topo"
local check = require "nslua.check"

local lab = topo.build {
  hosts    = { h1 = "10.0.1.10/24", h2 = "10.0.2.10/24", "h3" },   -- "h3": address chosen by topo
  routers  = { "r1" },
  switches = { "s1", "s2" },
  links = {
    {"h1", "s1"}, {"h3", "s1"}, {"h2", "s2"},
    {"r1", "s1", addr = "10.0.1.1/24"},
    {"r1", "s2", addr = "10.0.2.1/24", rate = "100mbit"},
  },
}

print(lab)
print("h3 got " .. lab:addr("h3"))
show()

print("\nEvery pair of hosts:")
lab:pingall()

-- The lab as a test.
check.reachable(lab.h1, lab.h2)
check.reachable(lab.h3, lab.h2)
check.path(lab.h1, lab.h2, {lab.r1})
check.route(lab.h2, "default", {via = "10.0.2.1", dev = "eth0"})
check.unreachable(lab.h1, "10.0.9.9")
print("\nOK: both LANs reach each other through r1.")
