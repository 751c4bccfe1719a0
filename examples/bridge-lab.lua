-- bridge-lab.lua: the bridge lab of docs/tutorial.md (lesson 6), as a module.
local topo = require "nslua.topo"

local defaults = {hosts = 2, subnet = "192.168.10.0/24", name = "", down = ""}

-- Builds the lab; every parameter is optional. Returns {bridge =, hosts = {...}}
-- and each namespace under its name (lab.net0, lab.net1, ...).
local function build(p)
  p = p or {}
  for k in pairs(p) do
    if defaults[k] == nil then error(("bridge-lab: unknown parameter %q"):format(k), 2) end
  end
  local hosts, subnet = p.hosts or defaults.hosts, p.subnet or defaults.subnet
  local name, down = p.name or defaults.name, p.down or defaults.down
  local lab = {bridge = net.bridge(name .. "br0"):up(), hosts = {}}
  for i = 1, hosts do
    local ns = net.ns(name .. "net" .. (i - 1))
    local port, eth0 = net.veth("veth-" .. ns.name, "eth0", {peer_ns = ns})
    port:master(lab.bridge):up()
    eth0:addr(topo.ipv4_host(subnet, i))
    if ns.name ~= down then eth0:up() end   -- down=net1 replays lesson 7's slip
    lab.hosts[i], lab[ns.name] = ns, ns
  end
  return lab
end

-- Run on its own (nslua examples/bridge-lab.lua hosts=3), not required:
-- build the lab from the command line's key=value arguments, show it, ping.
if ... ~= "bridge-lab" then
  local p = topo.params(arg, defaults)
  local lab = build(p)
  show()
  local m = net.pingall(lab.hosts)
  if m.dropped > 0 and p.down == "" then os.exit(1) end   -- a lab that should work, did not
end
return build
