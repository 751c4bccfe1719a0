# nslua and iproute2 share named namespaces both ways; nslua never removes
# what it did not make; no primitive spawns `ip` (checked with strace).
. "$TESTS_DIR/lib.sh"

# A namespace made by `ip netns add` is opened and used by nslua, and survives.
ip netns add foreign
ip -n foreign link add brf type bridge
s=$(lab open <<'LUA'
local f = net.open("foreign")
assert(not f.owned)
assert(f:link("brf") ~= nil and not f:link("brf").owned)
local a, b = net.veth("in0", "out0", {ns = f})
a:addr("10.7.0.1/24"):up()
b:addr("10.7.0.2/24"):up()
os.execute("ip -br -n foreign addr show in0")
LUA
)
run_nslua "$s"
check_eq "lab on a foreign namespace runs" 0 "$RC"
check_contains "ip sees nslua's veth inside the foreign namespace" "$OUT" "10.7.0.1/24"
check_eq "foreign namespace survives" "foreign" "$(ip -j netns list | jq -r '.[].name')"
check_eq "its own bridge survives" "brf" "$(ip -j -n foreign link show type bridge | jq -r '.[0].ifname')"
check_eq "nslua's veth end inside it is gone" "brf lo" "$(ip -j -n foreign link | jq -r '[.[].ifname] | sort | join(" ")')"
ip netns del foreign

# A namespace made by nslua is used by `ip netns exec`.
s=$(lab made <<'LUA'
local n = net.ns("mine")
local a, b = n:veth("m0", "m1")
a:addr("10.8.0.1/24"):up()
net.keep()
LUA
)
run_nslua "$s"
out=$(ip netns exec mine ip -br addr show m0)
check_contains "ip netns exec runs in nslua's namespace" "$out" "10.8.0.1/24"
out=$(ip netns exec mine cat /sys/class/net/m0/mtu)
check_eq "ip netns exec sees its sysfs" "1500" "$out"
ip netns del mine
check_clean "interop:"

# No primitive spawns a process: strace shows the one execve of nslua itself.
s=$(lab nospawn <<'LUA'
local ns1, ns2 = net.ns("s1"), net.ns("s2")
local a, b = net.veth("veth0", "veth1", {ns = ns1, peer_ns = ns2})
a:addr("172.16.1.1/24"):up(); b:addr("172.16.1.2/24"):up()
local br = net.bridge("br0"):up()
local p, e = net.veth("p0", "eth0", {peer_ns = ns1})
p:master(br):up(); e:mtu(1400):up()
ns1:route("default", {via = "172.16.1.2"})
ns1:forward(true)
local _ = ns1:routes(), ns1:neighbors(), a:stats(), a:peer(), tostring(a)
show()
LUA
)
# glibc forks with clone(), and threads are clone()s too: every process
# creation is a fork/vfork/clone/clone3 without CLONE_THREAD.
strace -f -qq -e trace=execve,fork,vfork,clone,clone3 -o "$WORK/strace" "$NSLUA" "$s" >/dev/null 2>&1
check_eq "strace: the lab ran" 0 "$?"
check_eq "strace: exactly one execve (nslua itself)" "1" "$(grep -c 'execve(' "$WORK/strace")"
check "strace: the filter sees nslua's threads being made (clone with CLONE_THREAD)" grep -qE 'clone3?\(.*CLONE_THREAD' "$WORK/strace"
check_eq "strace: no process made (no fork, no clone without CLONE_THREAD)" "0" "$(grep -E 'fork\(|clone3?\(' "$WORK/strace" | grep -vc CLONE_THREAD)"
# The same filter does see a process being made: exec forks one.
printf 'net.host:exec("true")\n' > "$WORK/forks.lua"
strace -f -qq -e trace=execve,fork,vfork,clone,clone3 -o "$WORK/strace2" "$NSLUA" "$WORK/forks.lua" >/dev/null 2>&1
check "strace: ... and would see one (exec forks)" test "$(grep -E 'fork\(|clone3?\(' "$WORK/strace2" | grep -vc CLONE_THREAD)" -ge 1
check_clean "strace:"

finish
