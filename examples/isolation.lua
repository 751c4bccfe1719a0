-- isolation.lua: what a network namespace keeps to itself (docs/tutorial.md, lesson 5).
--
-- Two namespaces joined by a veth pair, and a third with no cable at all.
-- Each sees only its own interfaces, routes and neighbours; the veth pair is
-- the only way between ns1 and ns2, and ns3 reaches nothing.
--
--   sudo nslua examples/isolation.lua       (or: nslua --sandbox ...)

-- ip netns add ns1 ; ip netns add ns2
local ns1, ns2 = net.ns("ns1"), net.ns("ns2")
-- ip link add veth0 type veth peer name veth1 ; ip link set veth0 netns ns1 ; ip link set veth1 netns ns2
local veth0, veth1 = net.veth("veth0", "veth1")
veth0:into(ns1)
veth1:into(ns2)
-- ip netns exec ns1 ip addr add 172.16.1.1/24 dev veth0 ; ip netns exec ns1 ip link set veth0 up (and in ns2)
veth0:addr("172.16.1.1/24"):up()
veth1:addr("172.16.1.2/24"):up()

-- ip netns exec ns1 ip link ; ip netns exec ns2 ip link
-- (veth0@if2: "my peer is interface 2", of a namespace whose names ns1 cannot see)
print("ns1$ ip -br link")
print(ns1:links())
print("\nns2$ ip -br link")
print(ns2:links())

-- A link lives in exactly one namespace: ns1 cannot find veth1 by name.
print("\nns1:link(\"veth1\") -> " .. tostring(ns1:link("veth1")))
print("ns2:link(\"veth1\") -> " .. tostring(ns2:link("veth1")))

-- ip netns exec ns1 ip route ; ip netns exec ns2 ip route
print("\nns1$ ip route")
print(ns1:routes())
print("\nns2$ ip route")
print(ns2:routes())

-- Each has its own lo and its own 127.0.0.1.
local lo1 = ns1:ping("127.0.0.1", {count = 1})
local lo2 = ns2:ping("127.0.0.1", {count = 1})

-- ip netns exec ns1 ping -c 1 172.16.1.2 ; ip netns exec ns1 ip neigh
local across = ns1:ping("172.16.1.2", {count = 1})
print("\nns1$ ip neigh   (after pinging ns2)")
print(ns1:neighbors())

-- ip netns add ns3 ; ip netns exec ns3 ping -c 1 172.16.1.1
-- ns3 has no cable: nothing to send through, whatever its routes.
local ns3 = net.ns("ns3")
print("\nns3$ ping -c 1 172.16.1.1")
local lost = ns3:ping("172.16.1.1", {count = 1})
print(lost)

local ok = ns1:link("veth1") == nil and lo1.received == 1 and lo2.received == 1
           and across.received == 1 and lost.received == 0
print(ok and "\nOK: each namespace sees only its own; the veth pair is the only way between ns1 and ns2."
          or "\nFAILED: the namespaces were not isolated as expected.")
if not ok then os.exit(1) end
