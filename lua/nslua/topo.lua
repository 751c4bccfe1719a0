-- nslua.topo: topologies built from the net primitives.
--
--   local topo = require "nslua.topo"
--   local hosts, br = topo.star(10, {prefix = "10.0.0.0/24"})
local topo = {}

--- The n-th host address of an IPv4 prefix: ipv4_host("10.0.0.0/24", 5) --> "10.0.0.5/24".
function topo.ipv4_host(prefix, n)
  local a, b, c, d, len = prefix:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  assert(a, "topo: prefix must be an IPv4 CIDR such as 10.0.0.0/24")
  local base = ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
  local size = 1 << (32 - tonumber(len))
  assert(n >= 1 and n < size - 1, "topo: prefix " .. prefix .. " has no room for host " .. n)
  local addr = base + n
  return string.format("%d.%d.%d.%d/%s", addr >> 24 & 255, addr >> 16 & 255, addr >> 8 & 255, addr & 255, len)
end

--- n namespaces h1..hn, each with an eth0 on one bridge, addressed from
--- opts.prefix (default 10.0.0.0/24). The bridge lives in the host, or in a
--- namespace of its own when opts.switch_ns names one. Returns hosts, bridge.
function topo.star(n, opts)
  opts = opts or {}
  local prefix = opts.prefix or "10.0.0.0/24"
  local name = opts.name or "h"
  local sw = opts.switch_ns and net.ns(opts.switch_ns) or nil
  local br = net.bridge(opts.bridge or "br0", {ns = sw}):up()
  local hosts = {}
  for i = 1, n do
    local h = net.ns(name .. i)
    local port, eth = net.veth(name .. i .. "p", "eth0", {ns = sw, peer_ns = h})
    port:master(br):up()
    eth:addr(topo.ipv4_host(prefix, i)):up()
    hosts[i] = h
  end
  return hosts, br
end

return topo
