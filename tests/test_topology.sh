# The seed's two experiments, built natively by nslua and checked with
# iproute2 (ip -j) and iputils ping — never with nslua itself.
. "$TESTS_DIR/lib.sh"

# --- Experiment 1: two namespaces joined by a veth pair -------------------------
s=$(lab veth <<'LUA'
local ns1, ns2 = net.ns("ns1"), net.ns("ns2")
local a, b = net.veth("veth0", "veth1")
a:into(ns1)
b:into(ns2)
a:addr("172.16.1.1/24"):up()
b:addr("172.16.1.2/24"):up()
net.keep()
LUA
)
run_nslua "$s"
check_eq "veth lab runs" 0 "$RC"
check_eq "ip netns list sees both" "ns1 ns2" "$(ip -j netns list | jq -r '[.[].name] | sort | join(" ")')"
check_eq "ns1 has lo and veth0" "lo veth0" "$(ip -j -n ns1 link | jq -r '[.[].ifname] | join(" ")')"
check_eq "veth0 is a veth" "veth" "$(ip -j -d -n ns1 link show veth0 | jq -r '.[0].linkinfo.info_kind')"
check_eq "veth0 is up" "UP" "$(ip -j -n ns1 link show veth0 | jq -r '.[0].operstate')"
check_eq "ns1 veth0 address" "172.16.1.1/24" "$(ip -j -n ns1 addr show veth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
check_eq "ns2 veth1 address" "172.16.1.2/24" "$(ip -j -n ns2 addr show veth1 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
check_eq "nothing left in the host namespace" "lo" "$(ip -j link | jq -r '[.[].ifname] | join(" ")')"
check "ping ns1 -> ns2" ip netns exec ns1 ping -c 2 -i 0.2 -W 1 172.16.1.2
check "ping ns2 -> ns1" ip netns exec ns2 ping -c 2 -i 0.2 -W 1 172.16.1.1
ip netns del ns1; ip netns del ns2
check_clean "after experiment 1:"

# --- Experiment 2: a bridge with net0 and net1 --------------------------------
s=$(lab bridge <<'LUA'
local br = net.bridge("br0"):up()
for i, name in ipairs({"net0", "net1"}) do
  local ns = net.ns(name)
  local port, eth = net.veth("v-" .. name, "eth0", {peer_ns = ns})
  port:master(br):up()
  eth:addr("192.168.10." .. i .. "/24"):up()
end
net.keep()
LUA
)
run_nslua "$s"
check_eq "bridge lab runs" 0 "$RC"
check_eq "bridge in host" "bridge" "$(ip -j -d link show br0 | jq -r '.[0].linkinfo.info_kind')"
check_eq "ports on br0" "v-net0 v-net1" "$(ip -j link show master br0 | jq -r '[.[].ifname] | sort | join(" ")')"
check_eq "net0 eth0 address" "192.168.10.1/24" "$(ip -j -n net0 addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
check_eq "net1 eth0 address" "192.168.10.2/24" "$(ip -j -n net1 addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
check_eq "net0 eth0 is up" "UP" "$(ip -j -n net0 link show eth0 | jq -r '.[0].operstate')"
# The veth peer in the host: its link-netns is net0 (born there, not moved).
nsid=$(ip -j link show v-net0 | jq -r '.[0].link_netnsid')
check_eq "v-net0's peer lives in net0" "net0" "$(ip -j netns list-id | jq -r --argjson id "$nsid" '.[] | select(.nsid == $id) | .name')"
# Bridge forwarding may need a moment for the ports to leave "listening".
sleep 0.1
check "ping net0 -> net1 across the bridge" ip netns exec net0 ping -c 2 -i 0.2 -W 2 192.168.10.2
check "ping net1 -> net0 across the bridge" ip netns exec net1 ping -c 2 -i 0.2 -W 2 192.168.10.1
ip netns del net0; ip netns del net1; ip link del br0
check_clean "after experiment 2:"

# --- Without net.keep() everything made is removed at the end ------------------
s=$(lab owned <<'LUA'
local br = net.bridge("br9"):up()
local ns = net.ns("tmp1")
local a, b = net.veth("x0", "x1", {peer_ns = ns})
a:master(br)
local c, d = ns:veth("y0", "y1")
LUA
)
run_nslua "$s"
check_eq "owned lab runs" 0 "$RC"
check_clean "after a lab without keep:"

# --- Each primitive, checked with ip -j ------------------------------------------
s=$(lab prims <<'LUA'
local ns = net.ns("p1")
local a, b = ns:veth("a0", "b0")
a:mtu(1400):mac("02:00:00:00:00:01"):up()
b:rename("b1"):up()
a:addr("10.9.0.1/24"):addr("fd00::1/64")
a:addr("10.9.1.1/24"):deladdr("10.9.1.1/24")
ns:route("default", {via = "10.9.0.254"})
ns:route("10.50.0.0/16", {dev = a})
ns:route("fd00:1::/64", {via = "fd00::2"})
ns:route("10.60.0.0/16", {dev = "a0"}):delroute("10.60.0.0/16")
ns:sysctl("net.ipv4.ip_forward", 1)
ns:sysctl("net.ipv6.conf.all.forwarding", "1")
assert(ns:sysctl("net.ipv4.ip_forward") == "1")
local br = ns:bridge("brx")
b:master(br)
assert(a:mtu() == 1400 and a:mac() == "02:00:00:00:00:01", "getters")
assert(a.name == "a0" and a.kind == "veth" and a.ns == ns and a.index > 1, "fields")
assert(a:peer() == b, "peer in the same namespace")
assert(b:peer():peer() == b, "peer of peer")
local addrs = table.concat(a:addrs(), " ")
assert(addrs:find("10.9.0.1/24", 1, true) and addrs:find("fd00::1/64", 1, true), addrs)
local routes = {}
for _, r in ipairs(ns:routes()) do routes[#routes + 1] = r.dst .. (r.via and (" via " .. r.via) or "") end
print(table.concat(routes, ","))
print(tostring(a))
local names = {}
for _, l in ipairs(ns:links()) do names[#names + 1] = l.name end
table.sort(names) print(table.concat(names, " "))
assert(ns:link("nope") == nil)
assert(ns:link("a0") == a, "the same object")
print(#net.list(), net.list()[1])
net.keep()
LUA
)
host_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
run_nslua "$s"
check_eq "primitives lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "mtu" "1400" "$(ip -j -n p1 link show a0 | jq -r '.[0].mtu')"
check_eq "mac" "02:00:00:00:00:01" "$(ip -j -n p1 link show a0 | jq -r '.[0].address')"
check_eq "renamed" "b1" "$(ip -j -n p1 link show b1 | jq -r '.[0].ifname')"
check_eq "master" "brx" "$(ip -j -n p1 link show b1 | jq -r '.[0].master')"
check_eq "addresses" "10.9.0.1/24 fd00::1/64" "$(ip -j -n p1 addr show a0 | jq -r '[.[0].addr_info[] | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | join(" ")')"
check_eq "default route" "10.9.0.254" "$(ip -j -n p1 route show default | jq -r '.[0].gateway')"
check_eq "dev route" "a0" "$(ip -j -n p1 route show 10.50.0.0/16 | jq -r '.[0].dev')"
check_eq "deleted route" "0" "$(ip -j -n p1 route show 10.60.0.0/16 | jq 'length')"
check_eq "v6 route" "fd00::2" "$(ip -j -n p1 -6 route show fd00:1::/64 | jq -r '.[0].gateway')"
check_eq "sysctl ip_forward" "1" "$(ip netns exec p1 cat /proc/sys/net/ipv4/ip_forward)"
check_eq "ip_forward of the namespace nslua started in is untouched" "$host_forward_before" "$(cat /proc/sys/net/ipv4/ip_forward)"
check_eq "ip_forward of p1 is set" "1" "$(ip netns exec p1 sysctl -n net.ipv4.ip_forward)"
check_contains "routes() lists the default" "$OUT" "default via 10.9.0.254"
check_contains "routes() lists v6" "$OUT" "fd00:1::/64 via fd00::2"
check_contains "tostring(link)" "$OUT" "a0@p1 veth UP 10.9.0.1/24 fd00::1/64 peer b1@p1"
check_contains "links()" "$OUT" "a0 b1 brx lo"
check_contains "net.list()" "$OUT" "1	p1"
ip netns del p1
check_clean "after primitives:"

# --- neighbours: the ARP entry after a ping, as ip neigh shows it ----------------
s=$(lab neigh <<'LUA'
local a, b = net.ns("n1"), net.ns("n2")
local x, y = net.veth("e0", "e0", {ns = a, peer_ns = b})
x:addr("10.1.1.1/24"):up(); y:addr("10.1.1.2/24"):up()
os.execute("ip netns exec n1 ping -c1 -W1 10.1.1.2 >/dev/null")
for _, n in ipairs(a:neighbors()) do
  if n.addr == "10.1.1.2" then print(n.addr, n.mac, n.dev, n.state) end
end
net.keep()
LUA
)
run_nslua "$s"
check_eq "neighbour lab runs" 0 "$RC"
mac=$(ip -j -n n2 link show e0 | jq -r '.[0].address')
state=$(ip -j -n n1 neigh show 10.1.1.2 | jq -r '.[0].state[0]')
check_eq "neighbors() agrees with ip neigh and ip link" "10.1.1.2	$mac	e0	$state" "$OUT"
ip netns del n1; ip netns del n2
check_clean "after neighbours:"

# --- --trace prints each primitive as the iproute2 command it stands for ---------------
s=$(lab trace <<'LUA'
local n = net.ns("t1")
local a, b = net.veth("v0", "eth0", {peer_ns = n})
b:addr("10.5.0.2/24"):up()
n:route("default", {via = "10.5.0.1"})
LUA
)
run_nslua --trace "$s"
check_eq "--trace lab runs" 0 "$RC"
check_contains "--trace: netns add" "$ERR" "+ ip netns add t1"
check_contains "--trace: veth" "$ERR" "+ ip link add v0 type veth peer name eth0 netns t1"
check_contains "--trace: addr in the namespace" "$ERR" "+ ip -n t1 addr add 10.5.0.2/24 dev eth0"
check_contains "--trace: route" "$ERR" "+ ip -n t1 route add default via 10.5.0.1"
check_contains "--trace: teardown" "$ERR" "+ ip netns del t1"
check_clean "--trace:"

finish
