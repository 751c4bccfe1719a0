-- The star the nslua benchmarks build, as the other methods build it: hosts
-- h1..hN, each with an eth0 whose peer is a port of bridge br0 in namespace
-- "sw", addresses in 10.0.0.0/16, everything up (the bridge first, as a
-- script written by hand would). Returns the hosts and their addresses.
--   local hosts, ip = require("starlab")(n)
return function(n)
  local function ip(i) return string.format("10.0.%d.%d", i // 250, i % 250 + 1) end
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
  return hosts, ip
end
