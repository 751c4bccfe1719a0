# Links that leave the machine (vxlan, macvlan, tun/tap), checked with ip -d -j,
# tcpdump -r and a program that opens the tap; and one lab over two simulated
# machines (each its own network and mount namespace, with its own /run/netns,
# joined by an underlay veth), each running the same file with machine=a|b.
. "$TESTS_DIR/lib.sh"
before=$(ip -br link | awk '{print $1}' | sort | tr '\n' ' ')

# --- the primitives, against ip -d -j link ---------------------------------------------------
s=$(lab prims <<'LUA'
local a = net.ns("pa")
local u0, u1 = net.veth("u0", "u1")
u0:addr("192.0.2.1/24"):up()
net.vxlan("vx0", {id = 42, remote = "192.0.2.2", from = "192.0.2.1", dev = u0, port = 4790})
net.vxlan("vx1", {id = 7, group = "239.1.1.1", dev = u0})
net.vxlan("vx2", {id = 16777215, remote = "192.0.2.9", ns = a})
net.macvlan("mv0", u1, {mode = "private"})
net.macvlan("mv1", u1, {ns = a})
net.tap("tap0", {ns = a, user = "nobody"})
net.tun("tun0", {ns = a, user = 0, group = 0})
for _, l in ipairs({"vx0", "mv0"}) do print("SHOW", net.host:link(l)) end
print("SHOWNS", a:link("vx2"), a:link("tap0"))
os.execute("ip -d -j link > " .. arg[1] .. "/host.json; ip -n pa -d -j link > " .. arg[1] .. "/pa.json")
local function err(f, ...) local ok, e = pcall(f, ...) print("ERR", ok, (tostring(e):gsub("^[^:]*:%d+: ", ""))) end
err(net.vxlan, "vx9", {remote = "192.0.2.2"})
err(net.vxlan, "vx9", {id = 5, group = "192.0.2.2", dev = u0})
err(net.vxlan, "vx9", {id = 5, remote = "239.1.1.1"})
err(net.vxlan, "vx9", {id = 5, group = "239.1.1.1"})
err(net.vxlan, "vx9", {id = 5, remote = "192.0.2.2", dev = "nosuch"})
err(net.vxlan, "vx0", {id = 43, remote = "192.0.2.3"})
err(net.macvlan, "mv9", u1, {mode = "bogus"})
err(net.tap, "tap0", {ns = a})
err(net.tap, "tap9", {user = "no-such-user-here"})
LUA
)
run_nslua "$s" "$WORK"
check_eq "primitives: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
q() { jq -r "$2" "$WORK/$1.json"; }
check_eq "vxlan: kind, VNI, remote, local, dev and port as asked" "vxlan 42 192.0.2.2 192.0.2.1 u0 4790" \
  "$(q host '.[] | select(.ifname == "vx0") | .linkinfo | "\(.info_kind) \(.info_data.id) \(.info_data.remote) \(.info_data.local) \(.info_data.link) \(.info_data.port)"')"
check_eq "vxlan: a multicast group on a device, default port 4789" "7 239.1.1.1 u0 4789" \
  "$(q host '.[] | select(.ifname == "vx1") | .linkinfo.info_data | "\(.id) \(.group) \(.link) \(.port)"')"
check_eq "vxlan: made in the namespace asked for" "16777215 192.0.2.9" \
  "$(q pa '.[] | select(.ifname == "vx2") | .linkinfo.info_data | "\(.id) \(.remote)"')"
check_eq "macvlan: its mode and parent" "macvlan private u1" \
  "$(q host '.[] | select(.ifname == "mv0") | "\(.linkinfo.info_kind) \(.linkinfo.info_data.mode) \(.link)"')"
check_eq "macvlan: born in another namespace, bridge mode by default" "macvlan bridge" \
  "$(q pa '.[] | select(.ifname == "mv1") | "\(.linkinfo.info_kind) \(.linkinfo.info_data.mode)"')"
check_eq "tap: persistent, no packet info, owned by nobody" "tun tap false true nobody" \
  "$(q pa '.[] | select(.ifname == "tap0") | .linkinfo | "\(.info_kind) \(.info_data.type) \(.info_data.pi) \(.info_data.persist) \(.info_data.user)"')"
check_eq "tun: persistent, user and group" "tun true root root" \
  "$(q pa '.[] | select(.ifname == "tun0") | .linkinfo.info_data | "\(.type) \(.persist) \(.user) \(.group)"')"
check_contains "show() gives the vxlan's settings" "$OUT" "SHOW	vx0@host vxlan DOWN id 42 remote 192.0.2.2 local 192.0.2.1 dstport 4790"
check_contains "show() gives the tap's" "$OUT" "tap0@pa tun DOWN tap persist user $(id -u nobody)"
check_contains "no VNI: a clear error" "$OUT" "ERR	false	bad argument #2 to 'net.vxlan' (option 'id' (the VNI, 1..16777215) is required)"
check_contains "a group that is not multicast" "$OUT" "192.0.2.2 is not a multicast address (for one peer, give remote =)"
check_contains "a remote that is multicast" "$OUT" "239.1.1.1 is a multicast address (give it as group =)"
check_contains "a group without a device" "$OUT" "a multicast group needs dev = (the link to join it on)"
check_contains "an unknown device" "$OUT" "option 'dev': there is no link named nosuch in host"
check_contains "a name taken" "$OUT" "a link named vx0 already exists in host"
check_contains "a bad macvlan mode" "$OUT" "bogus is not a macvlan mode (bridge, passthru, private, source, vepa)"
check_contains "a tap name taken" "$OUT" "a link named tap0 already exists in pa"
check_contains "an unknown user" "$OUT" "there is no user no-such-user-here"
check_eq "primitives: the host's links are as before" "$before" "$(ip -br link | awk '{print $1}' | sort | tr '\n' ' ')"
check_clean "primitives:"

# --- tun/tap: never someone else's device; the name the kernel gave; a VNI clash said as such ---
ip tuntap add dev theirs0 mode tap user 4242
s=$(lab tunedge <<'LUA'
local ok, e = pcall(net.tap, "theirs0")
print("THEIRS", ok, (tostring(e):gsub("^[^:]*:%d+: ", "")))
local t = net.tap("tt%d")
print("PCT", t.name)
net.vxlan("vxa", {id = 77, remote = "192.0.2.9"})
local ok2, e2 = pcall(net.vxlan, "vxb", {id = 77, remote = "192.0.2.8"})
print("VNI", ok2, (tostring(e2):gsub("^[^:]*:%d+: ", "")))
LUA
)
run_nslua "$s"
check_eq "tun edges: the lab runs" 0 "$RC"
check_eq "a tap of that name made outside: refused" "THEIRS	false	net.tap(\"theirs0\"): File exists (a link named theirs0 already exists in host)" "$(grep ^THEIRS <<< "$OUT")"
check_eq "... and left as it was (its owner)" "4242" "$(ip -d -j link show theirs0 | jq -r '.[0].linkinfo.info_data.user')"
check_eq "a name with %d: the one the kernel chose" "PCT	tt0" "$(grep ^PCT <<< "$OUT")"
check_eq "a VNI taken: the kernel's reason, not a name clash" \
  "VNI	false	net.vxlan(\"vxb\", {id = 77, remote = \"192.0.2.8\"}): File exists (A VXLAN device with the specified VNI already exists; making vxb in host)" \
  "$(grep ^VNI <<< "$OUT")"
ip link del theirs0
check_clean "tun edges:"

# --- a tap carries what a program writes into it ---------------------------------------------
cat > "$WORK/writetap.py" <<'PY'
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000))   # TUNSETIFF, IFF_TAP | IFF_NO_PI
frame = bytes.fromhex("ffffffffffff" "020000000001" "88b5") + b"nslua tap test frame".ljust(46, b".")
for _ in range(3):
    os.write(fd, frame)
PY
s=$(lab tap <<'LUA'
local a = net.ns("tp")
local t = net.tap("tap0", {ns = a})
t:up()
local c = a:capture("tap0", {filter = "ether proto 0x88b5"})
local code, _, err = a:exec("python3", arg[1] .. "/writetap.py", "tap0")
print("WRITER", code, err)
net.sleep(0.2)
c:stop()
c:save(arg[1] .. "/tap.pcap")
print("SEEN", #c:packets())
LUA
)
run_nslua "$s" "$WORK"
check_eq "tap: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "tap: the program opened it and wrote" "WRITER	0	" "$(grep ^WRITER <<< "$OUT")"
check_eq "tap: the capture on it saw the three frames" "SEEN	3" "$(grep ^SEEN <<< "$OUT")"
check_eq "tap: tcpdump reads them from the saved file, from the program's MAC" "3" \
  "$(tcpdump -n -e -r "$WORK/tap.pcap" 2>/dev/null | grep -c '02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype Unknown (0x88b5)')"
check_clean "tap:"

# --- SIGKILL, then --clean: what it made in the host namespace goes -------------------------
printf 'local u0 = net.veth("k0", "k1")\nnet.vxlan("kvx", {id = 9, remote = "192.0.2.2"})\nnet.tap("ktap")\nnet.tun("kt%%d")\nnet.macvlan("kmv", u0)\nprint("ready") io.stdout:flush()\nnet.sleep(30)\n' > "$WORK/kill.lua"
"$NSLUA" "$WORK/kill.lua" > "$WORK/kill.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/kill.out" && break; sleep 0.05; done
check_eq "killed: its links are there" "k0 k1 kmv kt0 ktap kvx" "$(ip -br link | awk '{print $1}' | sed 's/@.*//' | grep '^k' | sort | tr '\n' ' ' | sed 's/ $//')"
kill -KILL $pid; wait $pid 2>/dev/null
"$NSLUA" --clean > "$WORK/clean.out" 2>&1
check_contains "--clean names the tap it removed" "$(cat "$WORK/clean.out")" "ktap@host"
check_contains "--clean names the vxlan it removed" "$(cat "$WORK/clean.out")" "kvx@host"
check_contains "--clean names the tun (no MAC: its kind and name) it removed" "$(cat "$WORK/clean.out")" "kt0@host"
check_clean "after --clean:"

# --- one lab, two machines ------------------------------------------------------------------
ip netns add mA; ip netns add mB
ip link add ua type veth peer name ub netns mB
ip link set ua netns mA
ip -n mA addr add 192.0.2.1/24 dev ua; ip -n mA link set ua up; ip -n mA link set lo up
ip -n mB addr add 192.0.2.2/24 dev ub; ip -n mB link set ub up; ip -n mB link set lo up
machine() {   # machine A|B ARGS...: nslua in that machine, with its own /run/netns and /run/nslua
  local m=$1; shift
  ip netns exec "m$m" unshare --mount --propagation private sh -c \
    'mount -t tmpfs -o mode=0755 m /run/netns && mkdir -p /run/nslua && mount -t tmpfs -o mode=0700 m /run/nslua && exec "$@"' _ "$@"
}
lab2="$TESTS_DIR/../examples/two-machines.lua"
machine A "$NSLUA" "$lab2" machine=a hold=30 > "$WORK/a.out" 2>&1 &
pa=$!
machine B "$NSLUA" "$lab2" machine=b hold=30 > "$WORK/b.out" 2>&1 &
pb=$!
for _ in $(seq 200); do grep -q reaches "$WORK/a.out" && grep -q reaches "$WORK/b.out" && break; sleep 0.05; done
check_contains "machine a: h1 reaches h2 through the tunnel" "$(cat "$WORK/a.out")" "h1 reaches h2 (10.20.0.2) on the other machine through the tunnel"
check_contains "machine b: h2 reaches h1" "$(cat "$WORK/b.out")" "h2 reaches h1 (10.20.0.1) on the other machine through the tunnel"
check_contains "machine a: nodes say where they live" "$(cat "$WORK/a.out")" "h2  host   on machine b"
# Inside each machine (its nslua's mount namespace: its /run/netns).
inside() { local pid; pid=$(pgrep -P "$1" -x nslua || echo "$1"); nsenter -t "$pid" -m -n "${@:2}"; }
nslua_pid() { pgrep -f -n "nslua $lab2 machine=$1"; }
pidA=$(nslua_pid a); pidB=$(nslua_pid b)
check_eq "machine a built h1 and its switches, not h2" "h1 switches" "$(inside "$pidA" ip netns list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "machine b built h2 and its switches, not h1" "h2 switches" "$(inside "$pidB" ip netns list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
vx() { inside "$1" ip -n switches -d -j link show type vxlan | jq -r '.[0] | "\(.ifname) \(.linkinfo.info_data.id) \(.linkinfo.info_data.remote) \(.linkinfo.info_data.local) \(.linkinfo.info_data.port) \(.master)"'; }
vxa=$(vx "$pidA"); vxb=$(vx "$pidB")
check_eq "machine a: the tunnel is a port of s1, towards b's underlay" "192.0.2.2 192.0.2.1 4789 s1" "$(cut -d' ' -f3- <<< "$vxa")"
check_eq "machine b: the tunnel is a port of s2, towards a's" "192.0.2.1 192.0.2.2 4789 s2" "$(cut -d' ' -f3- <<< "$vxb")"
check_eq "both sides use the same VNI" "$(cut -d' ' -f2 <<< "$vxa")" "$(cut -d' ' -f2 <<< "$vxb")"
check "the VNI is a number in range" test "$(cut -d' ' -f2 <<< "$vxa")" -ge 1
check_eq "the tunnelled segment's hosts leave room for VXLAN (MTU 1450)" "1450" "$(inside "$pidA" ip -n h1 -j link show eth0 | jq '.[0].mtu')"
check "iputils ping from h1 to h2 across machines" inside "$pidA" ip netns exec h1 ping -c 1 -W 2 10.20.0.2
# Machine a ends: its part goes, b's stays.
kill -TERM "$pidA"; wait $pa
check_eq "machine a ended cleanly" 143 "$?"
check_eq "machine a: nothing left in it" "lo ua" "$(ip -n mA -br link | awk '{print $1}' | sed 's/@.*//' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "machine b: its part is still there" "h2 switches" "$(inside "$pidB" ip netns list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "machine b: its tunnel too" "$vxb" "$(vx "$pidB")"
kill -TERM "$pidB"; wait $pb
check_eq "machine b: nothing left in it" "lo ub" "$(ip -n mB -br link | awk '{print $1}' | sed 's/@.*//' | sort | tr '\n' ' ' | sed 's/ $//')"
ip netns del mA; ip netns del mB
check_clean "two machines:"

# --- a spec over machines: errors -----------------------------------------------------------
spec_err() {
  printf 'local topo = require "nslua.topo"\ntopo.build(%s, %s)\n' "$2" "$3" > "$WORK/$1.lua"
  run_nslua "$WORK/$1.lua"
  check_eq "$1: exit 1" 1 "$RC"
  check_contains "$1: says what is wrong" "$ERR" "$4"
  check_clean "$1:"
}
spec_err nomachine '{machines = {a = "192.0.2.1", b = "192.0.2.2"}, hosts = {h1 = {machine = "a"}}}' 'nil' \
  'this lab spans machines a, b: say which one this is, e.g. topo.build(spec, {machine = "a"})'
spec_err unknown '{machines = {a = "192.0.2.1"}, hosts = {h1 = {machine = "c"}}}' '{machine = "a"}' 'host "h1": machine "c" is not one of the spec'"'"'s machines'
spec_err which '{machines = {a = "192.0.2.1"}, hosts = {"h1"}}' '{machine = "a"}' 'host "h1": which machine? give it machine = (the spec has machines)'
spec_err underlay '{machines = {a = "here"}, hosts = {h1 = {machine = "a"}}}' '{machine = "a"}' 'machine "a": its underlay address must be an IPv4 address'

finish
