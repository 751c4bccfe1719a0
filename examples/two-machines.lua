-- two-machines.lua: one lab over two machines, joined by a VXLAN tunnel.
--
-- Run the same file on each machine, saying which one it is:
--
--   machine-a$ sudo nslua examples/two-machines.lua machine=a
--   machine-b$ sudo nslua examples/two-machines.lua machine=b
--
-- Each builds only its own half: h1 and switch s1 on a, h2 and s2 on b. The
-- link s1-s2 crosses machines, so it becomes a VXLAN between the underlay
-- addresses below (UDP 4789 must pass between them); both sides derive the
-- same VNI from the link. Then each side pings the other's host until it
-- answers (or `wait` seconds pass), and keeps its half up for `hold` seconds.
local topo = require "nslua.topo"
local check = require "nslua.check"
local p = topo.params(arg, {machine = "a", a = "192.0.2.1", b = "192.0.2.2", wait = 20, hold = 0})

local lab = topo.build({
  machines = {a = p.a, b = p.b},
  hosts = {
    h1 = {addr = "10.20.0.1/24", machine = "a"},
    h2 = {addr = "10.20.0.2/24", machine = "b"},
  },
  switches = {s1 = {machine = "a"}, s2 = {machine = "b"}},
  links = {{"h1", "s1"}, {"h2", "s2"}, {"s1", "s2"}},
}, {machine = p.machine})

for _, n in ipairs(lab:nodes()) do
  print(string.format("%-3s %-6s on machine %s%s", n.name, n.kind, n.machine, n.here and " (here)" or ""))
end

local me, other = p.machine == "a" and "h1" or "h2", p.machine == "a" and "h2" or "h1"
local deadline = net.now() + p.wait
local r
repeat
  r = lab[me]:ping(lab:addr(other), {count = 1, timeout = 0.5})
until r.received > 0 or net.now() > deadline
check.reachable(lab[me], lab:addr(other))
print(string.format("%s reaches %s (%s) on the other machine through the tunnel", me, other, lab:addr(other)))
net.sleep(p.hold)
