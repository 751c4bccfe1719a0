# Topology labs (issue 11): topo.build, the generators, spec errors,
# nslua.check, topo.params, pictures. Checked with ip -j, tc -j, iputils
# ping and Graphviz's dot program, never with nslua itself.
. "$TESTS_DIR/lib.sh"

addr_of() { ip -j -n "$1" addr show dev "$2" | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(" ")'; }
gateway_of() { ip -j -n "$1" route show default | jq -r '.[0].gateway // "none"'; }

# --- the two-LAN spec of the issue ---------------------------------------------------------
cat > "$WORK/twolans.lua" <<'LUA'
local topo = require "nslua.topo"
lab = topo.build {
  hosts    = { h1 = "10.0.1.10/24", h2 = "10.0.2.10/24", "h3" },
  routers  = { "r1" },
  switches = { "s1", "s2" },
  links = {
    {"h1", "s1"}, {"h3", "s1"}, {"h2", "s2"},
    {"r1", "s1", addr = "10.0.1.1/24"},
    {"r1", "s2", addr = "10.0.2.1/24", rate = "100mbit"},
  },
}
print("ADDR", lab:addr("h3"))
local names = {}
for _, h in ipairs(lab:hosts()) do names[#names + 1] = h.name end
print("HOSTS", table.concat(names, " "))
print("FIELDS", lab.h1.name, lab.s1.name, lab.r1.name)
net.keep()
LUA
run_nslua "$WORK/twolans.lua"
check_eq "two LANs: built" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "lab:addr of the host without an address" "ADDR	10.0.1.11" "$(grep ^ADDR <<< "$OUT")"
check_eq "lab:hosts() in name order" "HOSTS	h1 h2 h3" "$(grep ^HOSTS <<< "$OUT")"
check_eq "lab.h1 is the namespace, lab.s1 the bridge" "FIELDS	h1	s1	r1" "$(grep ^FIELDS <<< "$OUT")"
check_eq "namespaces: hosts, router, and the switches' own" "h1 h2 h3 r1 switches" "$(ip -j netns list | jq -r '[.[].name] | sort | join(" ")')"
check_eq "nothing added to the host namespace" "lo" "$(ip -j link | jq -r '[.[].ifname] | join(" ")')"
check_eq "the bridges live in the switches' namespace" "s1 s2" "$(ip -j -n switches link show type bridge | jq -r '[.[].ifname] | sort | join(" ")')"
check_eq "the bridges are up" "UP UP" "$(ip -j -n switches link show type bridge | jq -r '[.[].operstate] | join(" ")')"
check_eq "s1 holds the ports of h1, h3 and r1" "3" "$(ip -j -n switches link show master s1 | jq length)"
check_eq "h1's given address" "10.0.1.10/24" "$(addr_of h1 eth0)"
check_eq "h3's chosen address, in its segment's subnet" "10.0.1.11/24" "$(addr_of h3 eth0)"
check_eq "r1's interfaces eth0, eth1 in the order of links" "10.0.1.1/24|10.0.2.1/24" "$(addr_of r1 eth0)|$(addr_of r1 eth1)"
check_eq "hosts default via their segment's router" "10.0.1.1 10.0.1.1 10.0.2.1" "$(gateway_of h1) $(gateway_of h3) $(gateway_of h2)"
check_eq "the router forwards" "1" "$(ip netns exec r1 cat /proc/sys/net/ipv4/ip_forward)"
check_eq "... and answers every ICMP error (no rate limit)" "0" "$(ip netns exec r1 sysctl -n net.ipv4.icmp_ratelimit)"
check_eq "a link's rate is on both ends" "tbf tbf" "$(tc -j -n r1 qdisc show dev eth1 | jq -r '.[0].kind') $(tc -j -n switches qdisc show dev s2-eth2 | jq -r '.[0].kind')"
check_eq "... at 100 Mbit/s" "12500000" "$(tc -j -n r1 qdisc show dev eth1 | jq -r '.[0].options.rate')"
check "iputils: h1 reaches h2 through r1" ip netns exec h1 ping -c 2 -i 0.1 -W 1 10.0.2.10
check "iputils: h3 reaches h2 through r1" ip netns exec h3 ping -c 2 -i 0.1 -W 1 10.0.2.10
ttl=$(ip netns exec h1 ping -c 1 -t 1 -W 1 10.0.2.10 2>&1)
check_contains "iputils: TTL 1 dies at r1" "$ttl" "From 10.0.1.1 icmp_seq=1 Time to live exceeded"
for n in h1 h2 h3 r1 switches; do ip netns del $n; done
check_clean "two LANs:"

# --- the generators, side by side (name prefixes let labs coexist) ----------------------------
cat > "$WORK/gens.lua" <<'LUA'
local topo = require "nslua.topo"
local star = topo.star(4, {name = "S", prefix = "10.1.0.0/16"})
local line = topo.line(3, {name = "L", prefix = "10.2.0.0/16"})
local tree = topo.tree(2, 2, {name = "T", prefix = "10.3.0.0/16", rate = "50mbit"})
local chain = topo.chain(3, {name = "C", prefix = "10.4.0.0/16"})
for _, lab in ipairs({star, line, tree, chain}) do
  print("SPEC", lab.spec ~= nil and lab.spec.links ~= nil, tostring(lab))
end
print("ADDRS", star:addr("h1"), star:addr("h4"), line:addr("h3"), chain:addr("h2"))
net.keep()
LUA
run_nslua "$WORK/gens.lua"
check_eq "generators: built" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "each keeps its spec" "$OUT" "SPEC	true	lab S (4 hosts, 1 switches)"
check_contains "line: 3 hosts, 3 switches" "$OUT" "lab L (3 hosts, 3 switches)"
check_contains "tree(2, 2): 4 hosts, 3 switches" "$OUT" "lab T (4 hosts, 3 switches)"
check_contains "chain(3): 2 hosts, 3 routers" "$OUT" "lab C (2 hosts, 3 routers)"
check_eq "star: hosts from .10 of the first /24 of its prefix" "ADDRS	10.1.0.10	10.1.0.13	10.2.0.12	10.4.0.14" "$(grep ^ADDRS <<< "$OUT")"
check_eq "the four labs coexist" "Ch1 Ch2 Cr1 Cr2 Cr3 Lh1 Lh2 Lh3 Lswitches Sh1 Sh2 Sh3 Sh4 Sswitches Th1 Th2 Th3 Th4 Tswitches" \
  "$(ip -j netns list | jq -r '[.[].name] | sort | join(" ")')"
check_eq "a chain has no switches' namespace... (its links are direct)" "" "$(ip -j -n Cswitches link show type bridge 2>/dev/null | jq -r '.[].ifname' 2>/dev/null)"
check "star: iputils h1 -> h4" ip netns exec Sh1 ping -c 1 -W 1 10.1.0.13
check_eq "star: its bridge is named with the lab's prefix" "Ss1" "$(ip -j -n Sswitches link show type bridge | jq -r '.[0].ifname')"
check "line: h1 reaches h3 across three switches" ip netns exec Lh1 ping -c 1 -W 1 10.2.0.12
check_eq "line: s2 has three ports (s1, s3, h2)" "3" "$(ip -j -n Lswitches link show master Ls2 | jq length)"
check "tree: h1 reaches h4 across the root" ip netns exec Th1 ping -c 1 -W 1 "$(ip -j -n Th4 addr show dev eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')"
check_eq "tree: the lab-wide rate is on its links" "tbf" "$(tc -j -n Th1 qdisc show dev eth0 | jq -r '.[0].kind')"
check_eq "chain: point-to-point /30s" "10.4.0.1/30 10.4.0.14/30" "$(addr_of Ch1 eth0) $(addr_of Ch2 eth0)"
check_eq "chain: r1 routes the far subnet via r2" "10.4.0.6" "$(ip -j -n Cr1 route show 10.4.0.12/30 | jq -r '.[0].gateway')"
check "chain: iputils h1 -> h2 through three routers" ip netns exec Ch1 ping -c 1 -W 1 10.4.0.14
ttl=$(ip netns exec Ch1 ping -c 1 -t 2 -W 1 10.4.0.14 2>&1)
check_contains "chain: TTL 2 dies at r2" "$ttl" "From 10.4.0.6 icmp_seq=1 Time to live exceeded"
for n in $(ip netns list | awk '{print $1}'); do ip netns del "$n"; done
check_clean "generators:"

# --- spec errors: at the caller's line, naming the entry, nothing left ------------------------
spec_error() {
  local name=$1 spec=$2 want=$3 before=${4:-}
  printf 'local topo = require "nslua.topo"\n\ntopo.build(%s)\n' "$spec" > "$WORK/$name.lua"
  run_nslua "$WORK/$name.lua"
  check_eq "$name: exit 1" 1 "$RC"
  check_contains "$name: at the caller's line" "$ERR" "$name.lua:3: topo.build: "
  check_contains "$name: says what is wrong" "$ERR" "$want"
  check_eq "$name: nothing left" "$before" "$(ip netns list | awk '{print $1}' | tr '\n' ' ')"
}
spec_error unknown_node '{hosts = {"h1"}, links = {{"h1", "s9"}}}' 'link #1 {"h1", "s9"}: "s9" is not a host, router or switch of this lab'
spec_error duplicate '{hosts = {"x"}, switches = {"x"}}' '"x" is both a host and a switch'
spec_error twice '{hosts = {"a", "a"}}' 'host "a" is given twice'
spec_error outside '{hosts = {h1 = "10.0.1.10/24", h2 = "10.0.2.10/24"}, switches = {"s1"}, links = {{"h1", "s1"}, {"h2", "s1"}}}' \
  "10.0.2.10/24 of h2 (host h2) is outside segment s1's subnet 10.0.1.0/24 (set by 10.0.1.10/24 of h1)"
spec_error two_routers '{hosts = {"h1"}, routers = {"r1", "r2"}, switches = {"s1"}, links = {{"h1", "s1"}, {"r1", "s1"}, {"r2", "s1"}}}' \
  'host "h1" is on segment s1 with routers r1 and r2: say which is its gateway, e.g. h1 = {gw = "r1"}'
spec_error bad_cidr '{hosts = {h1 = "10.0.0.300/24"}}' 'host "h1": "10.0.0.300/24" is not an IPv4 address with a prefix length'
spec_error unknown_key '{hosts = {"a"}, link = {}}' 'unknown key "link" in the lab spec'
spec_error reserved '{hosts = {"addr"}}' 'host name "addr" is taken by the lab object itself'
spec_error full '{hosts = {"a", "b", "c", "d"}, links = {{"a", "b"}, {"c", "d"}}}, {prefix = "10.0.0.0/30"}' \
  "prefix 10.0.0.0/30 has no room left for a /30 for segment c-d"
spec_error switch_addr '{hosts = {"a"}, switches = {"s"}, links = {{"s", "a", addr = "10.0.0.1/24"}}}' '"s" is a switch and has no address'
# A primitive fails midway (a namespace of that name exists): reported at the caller's line, the rest undone.
ip netns add h2
spec_error midway '{hosts = {"h1", "h2", "h3"}, switches = {"s1"}, links = {{"h1", "s1"}, {"h2", "s1"}, {"h3", "s1"}}}' \
  'topo.build: net.ns("h2"): File exists' "h2 "
ip netns del h2
check_eq "midway: its kind is kept (exists)" "exists" "$(printf 'ip=1\n' >/dev/null; "$NSLUA" -e 'local topo = require "nslua.topo"; net.ns("h2"); local ok, e = pcall(topo.build, {hosts = {"h2"}}); print(e.kind)')"
check_clean "spec errors:"

# --- nslua.check: passes on a correct lab, fails with a message on a broken one ----------------
cat > "$WORK/checks.lua" <<'LUA'
local topo = require "nslua.topo"
local check = require "nslua.check"
local lab = topo.chain(2)
check.reachable(lab.h1, lab.h2)
check.reachable(lab.h1, lab:addr("h2"))
check.path(lab.h1, lab.h2, {lab.r1, lab.r2})
check.path(lab.h1, lab.h2, {"r1", "r2"})
check.route(lab.h1, "default", {via = "10.0.0.2", dev = "eth0"})
check.unreachable(lab.h1, "10.99.0.1")
print("GOOD")
local function expect(f, ...)
  local ok, err = pcall(f, ...)
  print("BAD", ok, (tostring(err):gsub("\n.*", "")))
end
expect(check.path, lab.h1, lab.h2, {lab.r2, lab.r1})
expect(check.route, lab.h1, "default", {via = "10.0.0.9"})
expect(check.unreachable, lab.h1, lab.h2)
lab.r2:forward(false)   -- r2 drops what it should forward, silently
expect(check.reachable, lab.h1, lab.h2)
expect(check.path, lab.h1, lab.h2, {lab.r1, lab.r2})
lab.r2:forward(true)
lab.r1:delroute("10.0.0.8/30")   -- r1 says it has no route
expect(check.reachable, lab.h1, lab.h2)
check.reachable(lab.h1, lab.h2)   -- uncaught: the script fails here
LUA
run_nslua "$WORK/checks.lua"
check_contains "checks pass on a correct lab" "$OUT" "GOOD"
check_contains "check.path: a wrong order fails, naming the hop" "$OUT" "check.path(h1, h2 (10.0.0.10)): hop 1 should be r2, but 10.0.0.2 answered (it is not one of r2's addresses)"
check_contains "check.route: a wrong gateway fails, saying what it saw" "$OUT" "check.route(h1, \"default\"): expected via 10.0.0.9, got default via 10.0.0.2 dev eth0"
check_contains "check.unreachable fails when it is reachable" "$OUT" "check.unreachable(h1, h2 (10.0.0.10)): expected no reply, got"
check_eq "check.reachable fails on a lab that drops, with ping's hint" "BAD	false	check.reachable(h1, h2 (10.0.0.10)): expected replies, got none (3 sent, 0 received; no reply from 10.0.0.10 within 1 s after the last request (sent on eth0 to gateway 10.0.0.2), and no error came back: something on the way drops the requests or the replies (a router not forwarding, a filter, no route back to h1); ping with ttl = 1, 2, ... or a capture shows how far they get)" \
  "$(grep -F 'BAD	false	check.reachable' <<< "$OUT" | head -1)"
check_contains "check.path fails at the router that drops" "$OUT" "check.path(h1, h2 (10.0.0.10)): hop 2 should be r2 (Time to live exceeded from it); got no answer (after r1 (10.0.0.2))"
check_contains "check.reachable fails with the kernel's answer and ping's hint" "$OUT" "check.reachable(h1, h2 (10.0.0.10)): expected replies, got none (3 sent, 0 received; From 10.0.0.2 icmp_seq=1 Destination Net Unreachable; 10.0.0.2 has no route to 10.0.0.10)"
check_eq "an uncaught failed check ends the script with status 1" 1 "$RC"
line=$(grep -n 'uncaught: the script fails here' "$WORK/checks.lua" | cut -d: -f1)
check_contains "... at the script's own line" "$ERR" "checks.lua:$line: check.reachable(h1, h2"
check_clean "checks:"

# --- topo.params ------------------------------------------------------------------------------
cat > "$WORK/params.lua" <<'LUA'
local topo = require "nslua.topo"
local p = topo.params(arg, {hosts = 10, ratio = 0.5, name = "lab", verbose = false})
print("P", p.hosts, math.type(p.hosts), p.ratio, p.name, p.verbose)
LUA
run_nslua "$WORK/params.lua" hosts=100 ratio=2.5 name=big verbose=true
check_eq "params typed by their defaults" "P	100	integer	2.5	big	true" "$OUT"
run_nslua "$WORK/params.lua"
check_eq "defaults when not given" "P	10	integer	0.5	lab	false" "$OUT"
run_nslua "$WORK/params.lua" hosts=many
check_eq "a value of the wrong type: exit 1" 1 "$RC"
check_contains "... saying what it must be, listing the keys" "$ERR" "params.lua:2: parameter hosts=many: must be an integer (known: hosts, name, ratio, verbose)"
run_nslua "$WORK/params.lua" hots=5
check_contains "an unknown key lists the known ones" "$ERR" 'unknown parameter "hots" (known: hosts, name, ratio, verbose)'
run_nslua "$WORK/params.lua" 5
check_contains "a bare value is not key=value" "$ERR" 'argument 1 ("5") is not key=value'
run_nslua "$WORK/params.lua" hosts=2.5
check_contains "2.5 is not an integer" "$ERR" "parameter hosts=2.5: must be an integer"

# --- pictures: net.graph(), lab:graph() and --graph ---------------------------------------------
run_nslua --graph "$WORK/lab.dot" "$WORK/twolans.lua"
check_eq "--graph .dot: the lab ran" 0 "$RC"
for n in h1 h2 h3 r1 switches; do ip netns del $n; done
check "dot parses the DOT" dot -Tcanon -o "$WORK/canon.dot" "$WORK/lab.dot"
check_eq "one box per namespace (not the host: nothing of the lab is there)" "5" "$(grep -c 'subgraph' "$WORK/canon.dot")"
check_eq "one edge per veth pair" "5" "$(grep -c -- ' -- ' "$WORK/canon.dot")"
check_contains "interfaces with their addresses" "$(cat "$WORK/lab.dot")" '"h3/eth0" [label="eth0\n10.0.1.11/24"]'
check_contains "bridges as nodes" "$(cat "$WORK/lab.dot")" '"switches/s1" [label="s1\nbridge"'
check_contains "impairments as edge labels" "$(cat "$WORK/lab.dot")" 'rate 100mbit'
run_nslua --graph "$WORK/lab.svg" "$WORK/twolans.lua"
for n in h1 h2 h3 r1 switches; do ip netns del $n; done
check "--graph .svg: an SVG document" bash -c "head -c 200 '$WORK/lab.svg' | grep -q '<?xml' && grep -q '<svg' '$WORK/lab.svg' && grep -q '</svg>' '$WORK/lab.svg'"
check "... with the addresses in it" grep -q '10.0.1.11/24' "$WORK/lab.svg"
run_nslua --graph "$WORK/lab.png" "$WORK/twolans.lua"
for n in h1 h2 h3 r1 switches; do ip netns del $n; done
check_eq "--graph .png: a PNG image" "89504e470d0a1a0a" "$(head -c 8 "$WORK/lab.png" | od -An -tx1 | tr -d ' \n')"
run_nslua --graph "$WORK/lab.gif" -e 'net.ns("g1")'
check_eq "--graph with an unknown format: exit 1" 1 "$RC"
check_contains "... saying which formats there are" "$ERR" 'unknown graph format "gif"'
out=$("$NSLUA" -e 'local topo = require "nslua.topo"; local a = topo.star(2, {name = "a"}); local b = topo.star(2, {name = "b"}); io.write(a:graph())')
check_eq "lab:graph() draws one lab only" "0" "$(grep -c '"bh' <<< "$out")"
check "lab:graph() parses" bash -c "dot -Tcanon > /dev/null <<< '$out'"
check_clean "pictures:"

# --- the examples ---------------------------------------------------------------------------------
for ex in "two-lans" "chain" "chain routers=5" "impaired" "star hosts=100"; do
  set -- $ex
  run_nslua "$TESTS_DIR/../examples/$1.lua" "${@:2}"
  check_eq "example $ex passes" 0 "$RC"
  [ "$RC" = 0 ] || echo "$OUT $ERR"
  check_clean "example $ex:"
done

finish
