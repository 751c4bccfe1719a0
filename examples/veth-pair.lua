-- veth-pair.lua: two network namespaces joined by a veth pair.
--
-- The classic first experiment: make two namespaces, a virtual cable (a veth
-- pair) between them, give each end an address, and ping across. Then look
-- at the packets from inside a namespace, where tcpdump would see them.
--
--   sudo nslua examples/veth-pair.lua       (or: nslua --sandbox ...)

-- ip netns add ns1 ; ip netns add ns2
local ns1 = net.ns("ns1")
local ns2 = net.ns("ns2")

-- ip link add veth0 type veth peer name veth1
local veth0, veth1 = net.veth("veth0", "veth1")

-- ip link set veth0 netns ns1 ; ip link set veth1 netns ns2
veth0:into(ns1)
veth1:into(ns2)

-- ip -n ns1 addr add 172.16.1.1/24 dev veth0 ; ip -n ns1 link set veth0 up (and the same in ns2)
veth0:addr("172.16.1.1/24"):up()
veth1:addr("172.16.1.2/24"):up()

print("The lab:")
show()

-- ip netns exec ns1 tcpdump -i veth0 icmp   (in the background)
local cap = ns1:capture("veth0", {filter = "icmp"})

-- ip netns exec ns2 ping -c 4 172.16.1.1
print("\nns2$ ping -c 4 172.16.1.1")
local r = ns2:ping("172.16.1.1", {count = 4})
print(r)

-- And back the other way.
print("\nns1$ ping -c 2 172.16.1.2")
local back = ns1:ping("172.16.1.2", {count = 2})
print(back)

local packets = cap:stop()
print("\nWhat veth0 saw inside ns1 (tcpdump -i veth0 icmp):")
for _, p in ipairs(packets) do print("  " .. p.summary) end

-- The host namespace sees none of this: its own interfaces carry no such traffic.
local requests = 0
for _, p in ipairs(packets) do
  if p.summary:find("172.16.1.2 > 172.16.1.1: ICMP echo request", 1, true) then requests = requests + 1 end
end

local ok = r.received == 4 and back.received == 2 and requests == 4
print(ok and "\nOK: ns1 and ns2 reach each other over the veth pair."
          or "\nFAILED: the namespaces did not reach each other as expected.")
if not ok then os.exit(1) end
-- Everything made here is removed when the script ends (run with --keep to look around).
