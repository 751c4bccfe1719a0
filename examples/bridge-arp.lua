-- bridge-arp.lua: what a bridge does with ARP (docs/tutorial.md, lesson 6).
--
-- net0, net1 and a witness, net2, on one bridge. net0 pings net1 while we
-- capture on net1's and net2's eth0. The ARP request is a broadcast: the
-- bridge floods it to every port, so the witness sees it too. Everything
-- after it (the ARP reply, the ICMP echoes) is unicast to MAC addresses the
-- bridge has learned, and goes only between net0's and net1's ports.
--
--   sudo nslua examples/bridge-arp.lua       (or: nslua --sandbox ...)

-- ip link add br0 type bridge ; ip link set br0 up
local br0 = net.bridge("br0"):up()

-- For each namespace:
--   ip netns add NAME
--   ip link add veth-NAME type veth peer name eth0 netns NAME
--   ip link set veth-NAME master br0 ; ip link set veth-NAME up
--   ip netns exec NAME ip addr add CIDR dev eth0 ; ip netns exec NAME ip link set eth0 up
local function attach(name, cidr)
  local ns = net.ns(name)
  local port, eth0 = net.veth("veth-" .. name, "eth0", {peer_ns = ns})
  port:master(br0):up()
  eth0:addr(cidr):up()
  return ns
end

local net0 = attach("net0", "192.168.10.1/24")
local net1 = attach("net1", "192.168.10.2/24")
local net2 = attach("net2", "192.168.10.3/24")   -- the witness
show()

-- ip netns exec net1 tcpdump -n -i eth0 'arp or icmp'   (and the same in net2)
local at_net1 = net1:capture("eth0", {filter = "arp or icmp"})
local at_net2 = net2:capture("eth0", {filter = "arp or icmp"})

-- ip netns exec net0 ping -c 2 192.168.10.2
print("\nnet0$ ping -c 2 192.168.10.2")
local r = net0:ping("192.168.10.2", {count = 2})
print(r)

local function report(who, packets)
  print("\n" .. who .. " saw:")
  local arp, icmp = 0, 0
  for _, p in ipairs(packets) do
    print("  " .. p.summary)
    if p.summary:find("^ARP") then arp = arp + 1 end
    if p.summary:find("ICMP") then icmp = icmp + 1 end
  end
  return arp, icmp
end
local arp1, icmp1 = report("net1 (the one pinged)", at_net1:stop())
local arp2, icmp2 = report("net2 (the witness)", at_net2:stop())

-- The witness got the flooded broadcast only: one ARP request, no reply, no ICMP.
local ok = r.received == 2 and arp1 == 2 and icmp1 == 4 and arp2 == 1 and icmp2 == 0
print(ok and "\nOK: the bridge flooded the ARP request and delivered the rest to net1 alone."
          or "\nFAILED: the bridge did not flood and forward as expected.")
if not ok then os.exit(1) end
