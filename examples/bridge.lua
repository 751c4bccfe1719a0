-- bridge.lua: several namespaces on one bridge.
--
-- A Linux bridge is a virtual switch. Each namespace gets an eth0 whose veth
-- peer is plugged into the bridge; they then share one Ethernet segment.
-- We ping across the bridge and watch the ARP and ICMP packets from inside
-- a namespace.
--
--   sudo nslua examples/bridge.lua       (or: nslua --sandbox ...)

-- ip link add br0 type bridge ; ip link set br0 up
local br0 = net.bridge("br0"):up()

local hosts = {}
for i, name in ipairs({"net0", "net1"}) do
  -- ip netns add netN
  local ns = net.ns(name)
  -- ip link add veth-netN type veth peer name eth0 netns netN
  -- (the eth0 end is born inside netN: no need to create, then move)
  local port, eth0 = net.veth("veth-" .. name, "eth0", {peer_ns = ns})
  -- ip link set veth-netN master br0 ; ip link set veth-netN up
  port:master(br0):up()
  -- ip -n netN addr add 192.168.10.N/24 dev eth0 ; ip -n netN link set eth0 up
  eth0:addr("192.168.10." .. i .. "/24"):up()
  hosts[i] = ns
end
local net0, net1 = hosts[1], hosts[2]

print("The lab:")
show()

-- ip netns exec net1 tcpdump -i eth0 'arp or icmp'   (in the background)
local cap = net1:capture("eth0", {filter = "arp or icmp"})

print("\nnet0$ ping -c 3 192.168.10.2")
local r = net0:ping("192.168.10.2", {count = 3, timeout = 2})
print(r)

local packets = cap:stop()
print("\nWhat eth0 saw inside net1 (tcpdump -i eth0 'arp or icmp'):")
local saw_arp, requests = false, 0
for _, p in ipairs(packets) do
  print("  " .. p.summary)
  if p.summary:find("^ARP") then saw_arp = true end
  if p.summary:find("192.168.10.1 > 192.168.10.2: ICMP echo request", 1, true) then requests = requests + 1 end
end

print("\nnet1's neighbour table (ip -n net1 neigh):")
for _, n in ipairs(net1:neighbors()) do print("  " .. n.addr .. " lladdr " .. (n.mac or "?") .. " " .. n.state) end

print("\nEvery pair, as Mininet's pingall:")
local all = net.pingall({net0, net1})

local ok = r.received == 3 and requests == 3 and all.dropped == 0
print(ok and "\nOK: net0 and net1 talk across br0." or "\nFAILED: the bridge did not carry the traffic as expected.")
if not ok then os.exit(1) end
