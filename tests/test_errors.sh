# Every error path of the topology primitives: the message names the
# position, the call, the object and the reason; nothing is left behind.
. "$TESTS_DIR/lib.sh"

# expect_error NAME LUA EXPECTED-SUBSTRING : the script fails with exit 1 and
# stderr contains the text, and the namespace is clean afterwards.
expect_error() {
  local name=$1 code=$2 want=$3 rc=${4:-1}
  printf '%s\n' "$code" > "$WORK/$name.lua"
  run_nslua "$WORK/$name.lua"
  check_eq "$name: exit status" "$rc" "$RC"
  check_contains "$name: message" "$ERR" "$want"
  check_contains "$name: position" "$ERR" "$name.lua:"
  check_clean "$name:"
}

expect_error dup_veth 'net.veth("veth0", "veth1")
net.veth("veth0", "veth1")' \
  'net.veth("veth0", "veth1"): File exists (a link named veth0 already exists in host)'
expect_error dup_peer 'local n = net.ns("d1")
net.veth("a", "b", {peer_ns = n})
net.veth("c", "b", {peer_ns = n})' \
  'File exists (a link named b already exists in d1)'
expect_error long_name 'net.veth("abcdefghijklmnop", "x")' \
  "net.veth(\"abcdefghijklmnop\", \"x\"): invalid interface name ('abcdefghijklmnop' is 16 bytes; at most 15)"
expect_error slash_name 'net.bridge("a/b")' "invalid interface name ('a/b' contains '/')"
expect_error space_name 'net.bridge("a b")' "invalid interface name ('a b' contains whitespace)"
expect_error empty_name 'net.bridge("")' "invalid interface name (it is empty)"
expect_error dot_name 'net.bridge("..")' "invalid interface name ('..' is reserved)"
expect_error bad_type 'net.veth({}, "x")' "bad argument #1 to 'veth' (string expected, got table)"
expect_error bad_type2 'net.veth("x", {})' "bad argument #2 to 'veth' (string expected, got table)"
expect_error bad_opt 'net.veth("x", "y", {peerns = 1})' "bad argument #3 to 'veth' (unknown option \"peerns\""
expect_error extra_arg 'net.ns("a", "b")' "bad argument #2 to 'ns' (no value expected)"
expect_error bad_cidr 'local a = net.veth("a0", "b0"); a:addr("10.0.0.300/24")' \
  'a0:addr("10.0.0.300/24"): invalid address ('"'"'10.0.0.300/24'"'"': not an address with a prefix length'
expect_error bad_prefix 'local a = net.veth("a0", "b0"); a:addr("10.0.0.1/33")' "invalid address ('10.0.0.1/33': the prefix length must be 0 to 32)"
expect_error no_prefix 'local a = net.veth("a0", "b0"); a:addr("10.0.0.1")' "invalid address ('10.0.0.1': no prefix length (expected e.g. 10.0.0.1/24))"
expect_error dup_addr 'local a = net.veth("a0", "b0"); a:addr("10.0.0.1/24"); a:addr("10.0.0.1/24")' \
  'a0:addr("10.0.0.1/24"): File exists (a0@host already has 10.0.0.1/24)'
expect_error bad_mac 'local a = net.veth("a0", "b0"); a:mac("zz:00:00:00:00:01")' "invalid MAC address ('zz:00:00:00:00:01'"
expect_error mcast_mac 'local a = net.veth("a0", "b0"); a:mac("01:00:00:00:00:01")' "invalid MAC address (01:00:00:00:00:01 is a multicast address)"
expect_error bad_mtu 'local a = net.veth("a0", "b0"); a:mtu(10)' "invalid MTU (10 is outside 68..65535)"
expect_error float_mtu 'local a = net.veth("a0", "b0"); a:mtu(1500.5)' "bad argument #1 to 'mtu' (number has no integer representation)"
expect_error missing_ns 'net.open("nope")' 'net.open("nope"): No such namespace (there is no namespace named nope (ip netns list))'
expect_error dup_ns 'net.ns("twice"); net.ns("twice")' 'net.ns("twice"): File exists (a namespace named twice already exists)'
expect_error bad_ns_name 'net.ns("a/b")' "invalid namespace name ('a/b' contains '/')"
expect_error bad_self 'local a = net.veth("a0", "b0"); a.up(42)' "bad argument #1 to 'up' (Link expected, got number; call methods with ':', as obj:up(...))"
expect_error bad_self2 'local a = net.veth("a0", "b0"); local ns = net.ns("bs1"); ns.link(a, "x")' "bad argument #1 to 'link' (Namespace expected, got Link; call methods with ':', as obj:link(...))"
expect_error gone_link 'local a = net.veth("a0", "b0"); a:delete(); a:up()' "a0:up(): No such device (link a0@host has been deleted)"
expect_error gone_ns 'local n = net.ns("g1"); n:delete(); n:bridge("x")' 'g1:bridge("x"): No such namespace (namespace g1 has been deleted)'
expect_error master_other_ns 'local n = net.ns("m1"); local br = n:bridge("br0"); local a = net.veth("a0", "b0"); a:master(br)' \
  "Invalid argument (br0@m1 is in another namespace than a0@host)"
expect_error bad_gateway 'local n = net.ns("r1"); n:route("default", {via = "10.0.0.1"})' \
  'r1:route("default", {via = "10.0.0.1"}): Network is unreachable'
expect_error extack 'local n = net.ns("x1"); local br = n:bridge("br0"); br:master(br)' \
  "br0:master(br0): Too many levels of symbolic links (Can not enslave a bridge to a bridge"
expect_error route_dev_down 'local n = net.ns("x2"); local a = n:veth("a0", "b0"); a:addr("10.9.0.1/24"); n:route("10.0.0.0/8", {via = "10.9.0.254", dev = a})' \
  "Network is unreachable (a0@x2 is down)"
expect_error bad_route_dst 'local n = net.ns("r2"); n:route("10.0.0.0/99", {dev = "lo"})' "invalid destination"
expect_error no_route_target 'local n = net.ns("r3"); n:route("10.0.0.0/8")' "give a gateway (via) or a device (dev)"
expect_error host_sysctl 'net.host:sysctl("kernel.hostname", "x")' "only per-namespace net.* keys can be used"
expect_error dotdot_sysctl 'net.host:sysctl("net/../kernel/hostname")' "invalid sysctl key"
expect_error unknown_sysctl 'local n = net.ns("s1"); n:sysctl("net.ipv4.nonexistent")' "No such file or directory"
expect_error move_dup 'local n = net.ns("mv1"); local a, b = n:veth("x0", "x1"); local c = net.veth("x0", "y0"); c:into(n)' \
  'x0:into(mv1): File exists (a link named x0 already exists in mv1)'
expect_error readonly_field 'local a = net.veth("a0", "b0"); a.name = "z"' "cannot set field 'name' of Link"

# Half-made work is undone: an error midway leaves nothing.
expect_error midway 'local n = net.ns("mid1")
local br = net.bridge("brmid"):up()
local a, b = net.veth("m0", "m1", {peer_ns = n})
a:master(br)
error("midway failure")' "midway failure"

# Errors are catchable with pcall, and the lab goes on.
s=$(lab pcall <<'LUA'
local ok, err = pcall(net.veth, "toolongname-1234", "x")
print(ok, err)
local a = net.veth("ok0", "ok1")
print(a.name)
LUA
)
run_nslua "$s"
check_eq "pcall: exit 0" 0 "$RC"
check_contains "pcall: caught" "$OUT" "false	"
check_contains "pcall: message" "$OUT" "invalid interface name"
check_contains "pcall: goes on" "$OUT" "ok0"
check_clean "pcall:"

# Missing privilege: without CAP_SYS_ADMIN the error says what to do, exit 3.
printf 'net.ns("priv1")\n' > "$WORK/priv.lua"
setpriv --inh-caps=-all --bounding-set=-all "$NSLUA" "$WORK/priv.lua" >"$WORK/out" 2>"$WORK/err"
check_eq "no privilege: exit 3" 3 "$?"
check_contains "no privilege: says what to do" "$(cat "$WORK/err")" "run it as root, or with --sandbox"
check_contains "no privilege: names the call" "$(cat "$WORK/err")" 'net.ns("priv1"): Operation not permitted'
check_clean "no privilege:"
# A privilege error that the script caught does not decide the exit status of a later, unrelated error.
printf 'pcall(net.ns, "priv2")\nerror("unrelated")\n' > "$WORK/priv2.lua"
setpriv --inh-caps=-all --bounding-set=-all "$NSLUA" "$WORK/priv2.lua" >/dev/null 2>&1
check_eq "caught privilege error, then another error: exit 1" 1 "$?"

finish
