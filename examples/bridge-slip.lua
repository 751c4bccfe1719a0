-- bridge-slip.lua: a link left down, and how to find it (docs/tutorial.md, lesson 7).
--
-- The bridge lab typed line for line as the tutorial nslua was written for
-- has it, slip included: net1's eth0 gets its address but is never brought
-- up. The ping from net0 fails; nslua's ping says why, the neighbour table
-- shows the unanswered ARP question, and show() marks the link that is down
-- (and the bridge port facing it, NO-CARRIER). Then the missing line, and
-- the ping works.
--
--   sudo nslua examples/bridge-slip.lua       (or: nslua --sandbox ...)
--   sudo nslua --trace examples/bridge-slip.lua   (the ip commands, missing line included)

-- ip netns add net0 ; ip netns add net1
local net0 = net.ns("net0")
local net1 = net.ns("net1")
-- ip link add br0 type bridge ; ip link set br0 up
local br0 = net.bridge("br0"):up()

-- ip link add veth0 type veth peer name veth1
-- ip link set veth0 netns net0 ; ip netns exec net0 ip link set veth0 name eth0
-- ip netns exec net0 ip addr add 192.168.10.1/24 dev eth0 ; ip netns exec net0 ip link set eth0 up
-- ip link set veth1 master br0 ; ip link set veth1 up
local veth0, veth1 = net.veth("veth0", "veth1")
veth0:into(net0, "eth0")
veth0:addr("192.168.10.1/24"):up()
veth1:master(br0):up()

-- ip link add veth2 type veth peer name veth3
-- ip link set veth2 netns net1 ; ip netns exec net1 ip link set veth2 name eth0
-- ip netns exec net1 ip addr add 192.168.10.2/24 dev eth0
--   (the slip: no "ip netns exec net1 ip link set eth0 up")
-- ip link set veth3 master br0 ; ip link set veth3 up
local veth2, veth3 = net.veth("veth2", "veth3")
veth2:into(net1, "eth0")
veth2:addr("192.168.10.2/24")
veth3:master(br0):up()

-- ip netns exec net0 ping -c 3 192.168.10.2
print("net0$ ping -c 3 192.168.10.2")
local before = net0:ping("192.168.10.2")
print(before)

-- ip netns exec net0 ip neigh
print("\nnet0$ ip neigh")
print(net0:neighbors())

-- ip link show master br0 ; ip netns exec net1 ip link show eth0 ; ip netns exec net1 ip route
print("\nThe lab (eth0 in net1 is DOWN, the bridge port facing it NO-CARRIER, net1 has no route):")
show()

-- The missing line: ip netns exec net1 ip link set eth0 up
print("\nnet1$ ip link set eth0 up")
veth2:up()
print(veth3)

-- net0's ARP question from the failed ping may still be pending (INCOMPLETE):
-- the kernel asks once a second, three times, then gives up (FAILED). Pings
-- queued behind it meanwhile would fail with "Destination Host Unreachable",
-- link up or not. A person typing never sees it; a script waits it out.
local function asking()
  for _, n in ipairs(net0:neighbors()) do
    if n.state == "INCOMPLETE" then return true end
  end
  return false
end
while asking() do net.sleep(0.1) end

-- ip netns exec net0 ping -c 3 192.168.10.2
print("\nnet0$ ping -c 3 192.168.10.2")
local after = net0:ping("192.168.10.2")
print(after)

local ok = before.received == 0 and before.hint ~= nil and veth3.state == "UP" and after.received == 3
print(ok and "\nOK: the slip is found and fixed."
          or "\nFAILED: the slip did not show, or the fix did not work, as expected.")
if not ok then os.exit(1) end
