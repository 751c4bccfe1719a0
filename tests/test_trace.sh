# --trace prints every change as an iproute2 or tc command that runs as
# written: replayed by bash in a clean namespace, the trace gives the same
# state as the script (compared with ip -j and tc -j).
. "$TESTS_DIR/lib.sh"

cat > "$WORK/traced.lua" <<'LUA'
local a, b = net.ns("ta"), net.ns("tb(1)")               -- a name that needs quoting
local x, y = net.veth("x0", "y0", {ns = a, peer_ns = b})
x:addr("10.5.0.1/24"):addr("fd05::1/64", {nodad = true}):up()
y:addr("10.5.0.2/24"):up()
x:addr("10.5.9.1/24"):deladdr("10.5.9.1/24")
x:mtu(1400):mac("02:00:00:00:05:01")
local h, e = net.veth("hv0", "eth0", {peer_ns = a})     -- one end in the host
h:addr("10.6.0.1/24"):up()
e:addr("10.6.0.2/24"):up()
local br = a:bridge("br5"):up()
local p, q = a:veth("p0", "q0")
p:master(br):up()
q:down()
local m, n = net.veth()                                  -- names the kernel chooses
n:into(a, "fromhost")
local z = a:veth("z0", "z1")
z:into(net.host, "back0")                                -- to the host: netns $$
z:rename("back1")
a:route("default", {via = "10.5.0.2"})
a:route("10.70.0.0/16", {dev = e, metric = 20})
a:route("fd06::/64", {via = "fd05::2"})
a:route("10.80.0.0/16", {dev = "eth0"}):delroute("10.80.0.0/16")
b:forward(true)
a:sysctl("net.ipv4.conf.all.rp_filter", 2)
x:rate("10mbit", {burst = "32kb"})
local gone = a:bridge("gone0")
gone:delete()
local tmp = net.ns("tgone")
tmp:delete()
a:exec("true")
a:ping("10.5.0.2", {count = 1})
local cap = a:capture("x0", {filter = "icmp"})
cap:stop()
net.vxlan("vx5", {id = 5005, remote = "10.6.0.9", from = "10.6.0.1", dev = h, port = 4790})
net.macvlan("mv5", h, {mode = "private", ns = a})
net.tap("tap5", {ns = a, user = "nobody"})
net.tun("tun5")
net.keep()
LUA

# The state, as ip and tc see it: links (kind, master, mtu, admin state, MACs
# the script set), addresses, routes, qdiscs, forwarding. Not what the kernel
# picks at random (link-local addresses, other MACs) nor ifindexes.
snapshot() {
  for ns in "" $(ip -j netns list | jq -r '.[].name' | sort); do
    n=${ns:+-n "$ns"}
    echo "== ${ns:-host}"
    ip $n -j -d link show | jq -r --arg set "02:00:00:00:05:01" '.[] | "link \(.ifname) \(.linkinfo.info_kind // "-") master=\(.master // "-") mtu=\(.mtu) up=\(.flags | index("UP") != null) \(if .address == $set then .address else "" end) \(.linkinfo.info_data | if . == null then "" else [.id, .remote, .local, .link, .port, .mode, .type, .user, .persist] | map(select(. != null)) | map(tostring) | join(",") end)"' | sort
    ip $n -j addr show | jq -r '.[] | .ifname as $i | .addr_info[] | select(.scope != "link") | "addr \($i) \(.local)/\(.prefixlen)"' | sort
    { ip $n -j route show; ip $n -j -6 route show; } | jq -r '.[] | select((.dst | startswith("fe80")) | not) | "route \(.dst) via=\(.gateway // "-") dev=\(.dev) metric=\(.metric // "-") proto=\(.protocol // "boot")"' | sort
    for l in $(ip $n -j link show | jq -r '.[].ifname'); do
      tc $n -j qdisc show dev "$l" | jq -r --arg l "$l" '.[] | select(.kind != "noqueue") | "qdisc \($l) \(.kind) \(.options.rate // "") \(.options.burst // "")"'
    done
    if [ -n "$ns" ]; then
      echo "forward $(ip netns exec "$ns" cat /proc/sys/net/ipv4/ip_forward) rp_filter $(ip netns exec "$ns" cat /proc/sys/net/ipv4/conf/all/rp_filter)"
    fi
  done
}
wipe() {
  pkill -x tcpdump 2>/dev/null   # the trace's background captures (this test's own namespace only)
  for ns in $(ip -j netns list | jq -r '.[].name'); do ip netns del "$ns"; done
  for l in $(ip -j link show | jq -r '.[] | select(.ifname != "lo") | .ifname'); do ip link del "$l" 2>/dev/null; done
  for _ in $(seq 50); do [ "$(ip -br link | wc -l)" = 1 ] && break; sleep 0.05; done
}

run_nslua --trace "$WORK/traced.lua"
check_eq "the traced lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
snapshot > "$WORK/by-nslua.txt"
grep '^+ ' <<< "$ERR" | sed 's/^+ //' > "$WORK/trace.sh"
wipe

# Every line runs as written, in order.
(set -e; cd "$WORK"; . "$WORK/trace.sh") > "$WORK/replay.out" 2> "$WORK/replay.err"
check_eq "bash runs the whole trace without an error" 0 "$?"
[ -s "$WORK/replay.err" ] && sed 's/^/    /' "$WORK/replay.err" | head
snapshot > "$WORK/by-trace.txt"
wipe
check_eq "replaying the trace gives the same state as the script" "$(cat "$WORK/by-nslua.txt")" "$(cat "$WORK/by-trace.txt")"
check "the state compared is not empty" grep -q "route default via=10.5.0.2" "$WORK/by-nslua.txt"

# What the old trace got wrong, and what it left out.
trace=$(cat "$WORK/trace.sh")
check_contains "lo up in the namespaces it makes" "$trace" "ip -n ta link set dev lo up"
check_contains "names that need it are quoted" "$trace" "ip netns add 'tb(1)'"
check_contains "exec is ip netns exec" "$trace" "ip netns exec ta true"
check_contains "a capture is tcpdump inside the namespace, in the background" "$trace" "ip netns exec ta tcpdump -n -i x0 icmp &"
check_contains "sysctl inside the namespace" "$trace" "ip netns exec ta sysctl -q -w net.ipv4.conf.all.rp_filter=2"
check_contains "moving to the host names the shell's namespace" "$trace" "ip -n ta link set dev z0 netns \$\$ name back0"
check_not_contains "never a namespace called host" "$trace" "netns host"
check_not_contains "never 'ip exec'" "$trace" "ip exec"
check_contains "kernel-chosen veth names" "$trace" "ip link add type veth"
check_clean "trace:"
finish
