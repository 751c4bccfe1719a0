# ping, pingall, exec and capture, checked against iputils ping, tcpdump -r
# and iproute2.
. "$TESTS_DIR/lib.sh"

setup='
local ns1, ns2 = net.ns("ns1"), net.ns("ns2")
local a, b = net.veth("veth0", "veth1", {ns = ns1, peer_ns = ns2})
a:addr("172.16.1.1/24"):addr("fd00::1/64", {nodad = true}):up()
b:addr("172.16.1.2/24"):addr("fd00::2/64", {nodad = true}):up()
'

# --- ping against iputils ping on the same path ----------------------------------
s=$(lab ping <<LUA
$setup
-- Both sides resolve each other first (ARP), so that nslua and iputils time the same warm path.
ns2:ping("172.16.1.1", {count = 1})
local r = ns2:ping("172.16.1.1", {count = 5, interval = 0.05})
print("NSLUA", r.sent, r.received, r.loss, r.avg, #r.rtts, #r.errors)
print(r)
os.execute("ip netns exec ns2 ping -n -q -c 5 -i 0.05 -W 1 172.16.1.1 > $WORK/iputils.txt")
-- IPv6: global, and link-local through a device (before any link goes down:
-- the kernel drops IPv6 addresses of a link that goes down).
net.sleep(0.1)
local g = ns2:ping("fd00::1", {count = 3, interval = 0.05})
print("V6", g.received, g.loss)
local ll
for _, addr in ipairs(a:addrs()) do if addr:find("^fe80") then ll = addr:match("^[^/]+") end end
local l = ns2:ping(ll .. "%veth1", {count = 2, interval = 0.05, timeout = 3})
print("LL", l.received, l.loss)
local l2 = ns2:ping(ll, {count = 1, from = "veth1", timeout = 3})
print("LLFROM", l2.received)
print("LLNOSCOPE", pcall(ns2.ping, ns2, ll))
-- Far end down: 100% loss. Until the kernel has processed the carrier change
-- (linkwatch, asynchronous) the veth drops each request and sendmsg says so
-- (ENOBUFS), to iputils as to nslua; after it, requests vanish silently.
a:down()
local d = ns2:ping("172.16.1.1", {count = 2, interval = 0.1, timeout = 0.3})
print("FARDOWN", d.sent, d.received, d.loss, #d.errors, d.errors[1])
os.execute("ip netns exec ns2 ping -n -q -c 2 -i 0.1 -W 1 172.16.1.1 > $WORK/iputils-fardown.txt 2>&1")
a:up()
-- Near end down: no route, the error says so.
b:down()
local n = ns2:ping("172.16.1.1", {count = 2, interval = 0.1})
print("NEARDOWN", n.sent, n.received, n.loss, n.errors[1])
os.execute("ip netns exec ns2 ping -n -c 1 -W 1 172.16.1.1 > $WORK/iputils-neardown.txt 2>&1")
b:up()
-- An address with no route at all.
local u = ns2:ping("10.99.0.1", {count = 1})
print("NOROUTE", u.loss, u.errors[1])
-- Two pings at once in one namespace: iputils in the background, nslua in front.
os.execute("ip netns exec ns2 ping -n -q -c 20 -i 0.02 172.16.1.1 > $WORK/iputils-concurrent.txt &")
local c = ns2:ping("172.16.1.1", {count = 20, interval = 0.02})
net.sleep(0.3)
print("CONCURRENT", c.received, c.duplicates)
-- ttl and size reach the wire (seen by tcpdump on the other side).
local cap = ns1:capture("veth0", {filter = "icmp"})
ns2:ping("172.16.1.1", {count = 1, size = 200, ttl = 7})
cap:stop()
cap:save("$WORK/ttl.pcap")
LUA
)
run_nslua "$s"
check_eq "ping lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
line=$(echo "$OUT" | grep '^NSLUA')
check_eq "nslua: 5 sent, 5 received, 0% loss, 5 rtts, no errors" "5 5 0.0 5 0" "$(echo "$line" | awk '{print $2, $3, $4, $6, $7}')"
check_contains "iputils: same loss on the same path" "$(cat "$WORK/iputils.txt")" "5 packets transmitted, 5 received, 0% packet loss"
nslua_avg=$(echo "$line" | awk '{print $5}')
iputils_avg=$(grep -o 'rtt min/avg/max/mdev = [0-9./]*' "$WORK/iputils.txt" | cut -d/ -f5)
check "RTTs of the same order as iputils ($nslua_avg vs $iputils_avg ms)" awk -v a="$nslua_avg" -v b="$iputils_avg" 'BEGIN { exit !(a < 50 && b < 50 && a > 0 && a < 10 * b + 1) }'
check_contains "tostring is the iputils summary" "$OUT" "5 packets transmitted, 5 received, 0% packet loss, time "
check_contains "tostring has the rtt line" "$OUT" "rtt min/avg/max/mdev = "
check "far end down: 100% loss; errors, if any, are iputils' sendmsg line ($(echo "$OUT" | grep '^FARDOWN' | tr '\t' ' '))" \
  grep -qE '^FARDOWN	2	0	100.0	(0	nil|[12]	ping: sendmsg: No buffer space available)$' <<< "$OUT"
check "far end down: iputils prints nothing else" bash -c "! grep -v -e '^ping: sendmsg: No buffer space available$' -e '^PING' -e '^---' -e 'packets transmitted' -e '^$' '$WORK/iputils-fardown.txt'"
check_contains "iputils agrees (far end down)" "$(cat "$WORK/iputils-fardown.txt")" "100% packet loss"
check_eq "near end down: the error" "NEARDOWN 1 0 100.0 ping: connect: Network is unreachable" "$(echo "$OUT" | grep '^NEARDOWN' | tr '\t' ' ')"
check_contains "iputils says the same (near end down)" "$(cat "$WORK/iputils-neardown.txt")" "ping: connect: Network is unreachable"
check_eq "no route" "NOROUTE 100.0 ping: connect: Network is unreachable" "$(echo "$OUT" | grep '^NOROUTE' | tr '\t' ' ')"
check_eq "IPv6 global" "V6 3 0.0" "$(echo "$OUT" | grep '^V6' | tr '\t' ' ')"
check_eq "IPv6 link-local with %dev" "LL 2 0.0" "$(echo "$OUT" | grep '^LL	' | tr '\t' ' ')"
check_eq "IPv6 link-local with from = dev" "LLFROM 1" "$(echo "$OUT" | grep '^LLFROM' | tr '\t' ' ')"
check_contains "IPv6 link-local without a scope is a clear error" "$(echo "$OUT" | grep '^LLNOSCOPE')" "is link-local: say which link"
check_eq "concurrent: nslua got all its replies, no foreign ones" "CONCURRENT 20 0" "$(echo "$OUT" | grep '^CONCURRENT' | tr '\t' ' ')"
check_contains "concurrent: iputils got all its replies" "$(cat "$WORK/iputils-concurrent.txt")" "20 packets transmitted, 20 received, 0% packet loss"
ttl=$(tcpdump -n -v -r "$WORK/ttl.pcap" 2>/dev/null | grep -m1 'ttl')
check_contains "ttl on the wire (tcpdump -v)" "$ttl" "ttl 7"
check_contains "size on the wire (tcpdump -v)" "$(tcpdump -n -r "$WORK/ttl.pcap" 2>/dev/null | head -1)" "length 208"
check_clean "ping:"

# --- bad ping input ---------------------------------------------------------------
for bad in 'ns2:ping("nonsense")' 'ns2:ping("172.16.1.1", {count = 0})' 'ns2:ping("172.16.1.1", {size = -1})' \
           'ns2:ping("172.16.1.1", {interval = 0/0})' 'ns2:ping("172.16.1.1", {ttl = 300})' \
           'ns2:ping("172.16.1.1", {cnt = 1})' 'ns2:ping("172.16.1.1", {from = "nosuchdev"})'; do
  printf '%s\n%s\n' "$setup" "$bad" > "$WORK/badping.lua"
  run_nslua "$WORK/badping.lua"
  check_eq "bad ping input fails: $bad" 1 "$RC"
  check_contains "bad ping input names the call: $bad" "$ERR" "ping"
done
check_clean "bad ping:"

# --- a ping that says why: iputils' lines, and a hint, next to iputils run in the same place ---
s=$(lab why <<'LUA'
local W = arg[1]
local a, b, c = net.ns("wa"), net.ns("wb"), net.ns("wc")
local x, y = net.veth("x", "y", {ns = a, peer_ns = b})
x:addr("172.16.9.1/24"):up() y:addr("172.16.9.2/24"):up()
local function both(tag, ns, dst, opts, flags)
  local out = {}
  opts.verbose = true
  local r = ns:ping(dst, opts)
  print(tag .. "-HINT", r.hint or "-")
  print(tag .. "-ERR", r.errors[1] or "-")
  os.execute("ip netns exec " .. ns.name .. " ping " .. flags .. " " .. dst .. " > " .. W .. "/" .. tag .. ".iputils 2>&1")
end
-- Replies, verbose: line for line what iputils prints (times aside).
both("OK", b, "172.16.9.1", {count = 3, interval = 0.2}, "-c 3 -i 0.2")
-- Nobody has the address: ARP fails, the kernel says Destination Host Unreachable.
both("ARP", b, "172.16.9.77", {count = 4, interval = 1}, "-c 4 -i 1")
-- No route at all.
both("NOROUTE", b, "10.99.0.1", {count = 1}, "-c 1 -W 1")
-- The link with no address: no route either, and the hint says why.
local z = net.veth("z0", "z1", {ns = c, peer_ns = a})
z:up()
both("NOADDR", c, "172.16.9.1", {count = 1}, "-c 1 -W 1")
-- Near end down.
y:down()
both("DOWN", b, "172.16.9.1", {count = 1}, "-c 1 -W 1")
y:up()
-- Far end (the veth's peer) down: no carrier here.
x:down()
both("PEER", b, "172.16.9.1", {count = 2, timeout = 0.5}, "-c 2 -W 1")
print(b:show())
LUA
)
run_nslua "$s" "$WORK"
check_eq "why lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
# nslua's verbose lines (its stdout) against iputils', numbers that vary masked.
norm() { sed -E 's/time=[0-9.]+ ms/time=T ms/; s/time [0-9]+ms/time Tms/; s/= [0-9.\/]+ ms/= R ms/; /^pipe [0-9]+$/d'; }
nslua_block() { awk -v d="$1" '$0 ~ "^PING " d " " {p=1} p {print} p && /packets transmitted/ {exit}' "$WORK/out" | grep -v '^rtt\|^hint:' ; }
iputils_block() { grep -v '^rtt' "$WORK/$1.iputils"; }
check_eq "verbose ping: the same lines as iputils (replies)" "$(iputils_block OK | norm)" "$(nslua_block 172.16.9.1 | norm)"
check_contains "verbose ping: a reply line as iputils writes it" "$OUT" "64 bytes from 172.16.9.1: icmp_seq=1 ttl=64 time="
check_eq "unanswered ARP: the same lines as iputils" "$(iputils_block ARP | norm)" "$(nslua_block 172.16.9.77 | norm)"
check_contains "unanswered ARP: iputils says Destination Host Unreachable" "$(cat "$WORK/ARP.iputils")" "From 172.16.9.2 icmp_seq=1 Destination Host Unreachable"
check_eq "unanswered ARP: the hint" "ARP-HINT	172.16.9.77 does not answer ARP on y (is it up, on this link, with that address?)" "$(grep ^ARP-HINT <<< "$OUT")"
for t in NOROUTE NOADDR DOWN; do
  check_eq "$t: the error is iputils' own line" "$(head -1 "$WORK/$t.iputils")" "$(grep "^$t-ERR" <<< "$OUT" | cut -f2)"
done
check_eq "no route: iputils says" "ping: connect: Network is unreachable" "$(head -1 "$WORK/NOROUTE.iputils")"
check_eq "no route: the hint lists the routes there are" "NOROUTE-HINT	no route to 10.99.0.1 in wb (its routes: 172.16.9.0/24 dev y proto kernel scope link src 172.16.9.2); wb:route(...) adds one" "$(grep ^NOROUTE-HINT <<< "$OUT")"
check_eq "no address: the hint" "NOADDR-HINT	no route to 172.16.9.1: z0 has no IPv4 address (z0:addr(...) gives it one)" "$(grep ^NOADDR-HINT <<< "$OUT")"
check_eq "link down: the hint" "DOWN-HINT	y is down (y:up() brings it up), so no route leads to 172.16.9.1" "$(grep ^DOWN-HINT <<< "$OUT")"
check_eq "peer down: the hint" "PEER-HINT	y is up but has no carrier: its peer x@wa is down (x:up() brings it up)" "$(grep ^PEER-HINT <<< "$OUT")"
check_contains "peer down: iputils gets nothing back either" "$(cat "$WORK/PEER.iputils")" "100% packet loss"
check_contains "show() marks the link without carrier" "$OUT" "y        veth     NO-CARRIER 172.16.9.2/24 peer x@wa"
check_clean "why:"

# --- a ping that fails because the kernel's ARP table (one for every namespace) is full ---
# fb answers ARP for all of 10.78.0.0/16 (a local route); fa sends a datagram to
# 3300 of those addresses, so the table fills with fresh REACHABLE entries that
# the kernel may not evict for 5 s. Both pings to fb's own address then fail;
# the lab is deleted at once, which frees the entries.
s=$(lab full <<'LUA'
local W = arg[1]
local a, b = net.ns("fa"), net.ns("fb")
local x, y = net.veth("x", "y", {ns = a, peer_ns = b})
x:addr("10.77.0.1/16"):up() y:addr("10.77.0.2/16"):up()
assert(os.execute("ip -n fb route add local 10.78.0.0/16 dev lo && ip -n fa route add 10.78.0.0/16 dev x"))
local code, out, err = a:exec{"python3", "-c", [[
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3300):
    try: s.sendto(b"x", ("10.78.%d.%d" % (i // 250 % 5, 1 + i % 250), 9))
    except OSError: pass
]]}
assert(code == 0, err)
local r = a:ping("10.77.0.2", {count = 1, timeout = 1})
print("FULL-HINT", r.hint or "-")
print("FULL-ERR", r.errors[1] or "-")
print("FULL-STAT", tostring(r):match("[^\n]*packets transmitted[^\n]*") or "-")
os.execute("ip -s -j ntable show name arp_cache > " .. W .. "/ntable.json; ip netns exec fa ping -c 1 -W 0.2 10.77.0.2 > " .. W .. "/FULL.iputils 2>&1")
net.cleanup()
LUA
)
run_nslua "$s" "$WORK"
check_eq "full ARP table lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "full ARP table: iputils fails to send too" "$(cat "$WORK/FULL.iputils")" "ping: sendmsg: No buffer space available"
check_eq "full ARP table: ip -s ntable shows it at its limit" "1024 1024" "$(jq -r '[.[] | select(.entries != null)][0] | "\(.entries) \(.thresh3)"' "$WORK/ntable.json" 2>/dev/null)"
check_eq "full ARP table: nslua's error is iputils' line" "FULL-ERR	ping: sendmsg: No buffer space available" "$(grep ^FULL-ERR <<< "$OUT")"
check_eq "full ARP table: statistics as iputils counts them (no +1 errors)" "$(grep 'packets transmitted' "$WORK/FULL.iputils" | sed 's/time [0-9]*ms//')" "$(grep ^FULL-STAT <<< "$OUT" | cut -f2 | sed 's/time [0-9]*ms//')"
check_contains "full ARP table: the hint says so" "$(grep ^FULL-HINT <<< "$OUT")" "the kernel's ARP table is full (10"
check_contains "full ARP table: the hint names the next hop and what to do" "$(grep ^FULL-HINT <<< "$OUT")" "no entry for 10.77.0.2 could be made, and entries used in the last 5 s are never evicted; let fewer hosts talk at once, or use net.pingall"
check_clean "full ARP table:"

# --- the table nearly full but not refusing: the lab's own fault is still named ---
# 1012 permanent entries (counted, but never in the way of new ones) bring the
# table's count near its limit; the address pinged is on a link that is down.
s=$(lab nearfull <<'LUA'
local W = arg[1]
local a, b, c = net.ns("na"), net.ns("nb"), net.ns("nc")
local x0, x1 = net.veth("x0", "x1", {ns = a, peer_ns = b})
x0:addr("10.9.0.1/24"):up() x1:addr("10.9.0.2/24"):up()
local y0 = net.veth("y0", "y1", {ns = c, peer_ns = c})
y0:addr("10.9.0.3/24")                     -- left down
local f = assert(io.open(W .. "/neigh.batch", "w"))
for i = 0, 1011 do f:write(string.format("neigh add 10.60.%d.%d lladdr 02:00:00:00:%02x:%02x dev x1 nud permanent\n", i // 250, 1 + i % 250, i // 256, i % 256)) end
f:close()
assert(os.execute("ip -n nb -batch " .. W .. "/neigh.batch"))
local r = a:ping("10.9.0.3", {count = 1, timeout = 1})
print("NEAR-HINT", r.hint or "-")
os.execute("ip -s -j ntable show name arp_cache > " .. W .. "/ntable2.json")
net.cleanup()
LUA
)
run_nslua "$s" "$WORK"
check_eq "nearly full table lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check "nearly full table: ip -s ntable counts at least 1008 entries" test "$(jq -r '.[0].entries' "$WORK/ntable2.json")" -ge 1008
check_eq "nearly full table: the hint names the link that is down" "NEAR-HINT	10.9.0.3 is on y0@nc, which is down (y0:up() brings it up)" "$(grep ^NEAR-HINT <<< "$OUT")"
check_clean "nearly full table:"

# --- pingall on a bridge of 10 namespaces -------------------------------------------
s=$(lab pingall <<'LUA'
local topo = require "nslua.topo"
local hosts = topo.star(10, {prefix = "10.0.0.0/24"}):hosts()
local all = net.pingall(hosts)
print("ALL", all.sent, all.received, all.dropped)
-- One host's link down: exactly its pairs drop (9 to it, 9 from it).
hosts[4]:link("eth0"):down()
local some = net.pingall(hosts, {quiet = true})
print("SOME", some.sent, some.received, some.dropped)
print(some)
-- A host with no address is reported, not counted: only pairs tried count.
local bare = net.ns("bare")
local withbare = net.pingall({hosts[1], hosts[2], bare}, {quiet = true})
print("BARE", withbare.sent, withbare.received, withbare.dropped, table.concat(withbare.unaddressed, ","))
print(withbare)
-- Families mixed: an IPv6-only host among IPv4 ones; its pairs fail, nothing breaks.
local six = net.ns("six")
local s6, s6p = net.veth("s6", "s6p", {ns = six, peer_ns = hosts[1]})
s6:addr("fd07::6/64", {nodad = true}):up() s6p:up()
local mixed = net.pingall({hosts[1], hosts[2], six}, {quiet = true})
print("MIXED", mixed.sent, mixed.received, mixed.dropped)
LUA
)
run_nslua "$s"
check_eq "pingall lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "10 hosts all-pairs: 0% dropped" "ALL 90 90 0" "$(echo "$OUT" | grep '^ALL' | tr '\t' ' ')"
check_contains "matrix printed" "$OUT" "*** Results: 0% dropped (90/90 received)"
check_contains "matrix row" "$OUT" "h1 -> h2 h3 h4 h5 h6 h7 h8 h9 h10"
check_eq "one host down: exactly its 18 pairs dropped" "SOME 90 72 18" "$(echo "$OUT" | grep '^SOME' | tr '\t' ' ')"
check_contains "its row is all X" "$OUT" "h4 -> X X X X X X X X X"
check_contains "others cannot reach it" "$OUT" "h1 -> h2 h3 X h5"
check_eq "a host with no address is not counted as drops" "BARE 2 2 0 bare" "$(echo "$OUT" | grep '^BARE' | tr '\t' ' ')"
check_contains "it is reported" "$OUT" "bare -> (no address: not tried)"
check_eq "IPv4 and IPv6 hosts mixed: the cross pairs fail, the rest answer" "MIXED 6 2 4" "$(grep '^MIXED' <<< "$OUT" | tr '\t' ' ')"
check_clean "pingall:"

# --- pingall past the kernel's neighbour table: 100 hosts, 9,900 pairs --------------------
# The table (one for every namespace, gc_thresh3 = 1024, fixed inside a private namespace)
# holds far fewer entries than 9,900 pairs make: pingall works in rounds and removes what
# each round made, never an entry that was there before.
s=$(lab pingall100 <<'LUA'
local topo = require "nslua.topo"
local lab = topo.star(100, {name = "P", prefix = "10.50.0.0/16"})
local W = arg[1]
os.execute("ip -n Ph1 neigh add 10.50.9.9 lladdr 02:00:00:00:09:09 dev eth0 nud permanent")
os.execute("ip netns exec Ph2 ping -c 1 -W 1 " .. lab:addr("h3") .. " > /dev/null")
os.execute("ip -n Ph1 -j neigh > " .. W .. "/before-h1.json; ip -n Ph2 -j neigh > " .. W .. "/before-h2.json")
local m = lab:pingall({quiet = true})
print("BIG", m.sent, m.received, m.dropped, m.rounds > 1)
os.execute("ip -n Ph1 -j neigh > " .. W .. "/after-h1.json; ip -n Ph2 -j neigh > " .. W .. "/after-h2.json; ip -n Ph50 -j neigh > " .. W .. "/after-h50.json")
LUA
)
run_nslua "$s" "$WORK"
check_eq "100 hosts: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "100 hosts: 9,900 pairs, 0 dropped, in several rounds" "BIG 9900 9900 0 true" "$(grep '^BIG' <<< "$OUT" | tr '\t' ' ')"
check_eq "the permanent entry that was there before is still there" "02:00:00:00:09:09 PERMANENT" \
  "$(jq -r '.[] | select(.dst == "10.50.9.9") | "\(.lladdr) \(.state[0])"' "$WORK/after-h1.json")"
check_eq "h1's table is as it was before pingall (one entry)" 1 "$(jq length "$WORK/before-h1.json")"
check_eq "h1's table is as it was before pingall" "$(jq -c '[.[] | .dst] | sort' "$WORK/before-h1.json")" "$(jq -c '[.[] | .dst] | sort' "$WORK/after-h1.json")"
check_eq "h2 knew h3 before pingall" 1 "$(jq length "$WORK/before-h2.json")"
check_eq "h2 still knows h3, as before (an entry pingall did not make)" "$(jq -c '[.[] | .dst] | sort' "$WORK/before-h2.json")" "$(jq -c '[.[] | .dst] | sort' "$WORK/after-h2.json")"
check_eq "a host nobody had pinged before has no entry left" "[]" "$(jq -c '[.[] | .dst]' "$WORK/after-h50.json")"
check_clean "pingall100:"

# --- exec ---------------------------------------------------------------------------
s=$(lab exec <<LUA
$setup
local code, out, err = ns1:exec("ip", "-br", "addr")
print("CODE", code)
io.write(out)
print("FALSE", ns1:exec("false"))
print("CODE7", ns1:exec("sh", "-c", "echo out; echo err >&2; exit 7"))
print("STDIN", ns1:exec{"cat", stdin = "fed through stdin"})
print("ARGV", ns1:exec("printf", "%s|", "a b", "\$HOME", "*"))
print("MISSING", pcall(ns1.exec, ns1, "no-such-program-xyz"))
local t0 = os.time()
print("TIMEOUT", pcall(ns1.exec, ns1, {"sleep", "10", timeout = 0.5}))
print("TOOK", os.time() - t0 < 5)
print("SIGNAL", ns1:exec("sh", "-c", "kill -TERM \$\$"))
local _, sysfs = ns1:exec("ls", "/sys/class/net")
print("SYSFS", (sysfs:gsub("%s+", " ")))
LUA
)
run_nslua "$s"
check_eq "exec lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "exit code 0" "$OUT" "CODE	0"
check_contains "ip -br addr inside shows ns1's veth0" "$OUT" "172.16.1.1/24"
check_not_contains "ip -br addr inside does not show ns2's veth1" "$OUT" "veth1 "
check_contains "false exits 1" "$OUT" "FALSE	1		"
check_contains "stdout and stderr apart, code 7" "$OUT" "CODE7	7	out
	err"
check_contains "stdin fed" "$OUT" "STDIN	0	fed through stdin"
check_contains "argv, never a shell" "$OUT" 'ARGV	0	a b|$HOME|*|'
check_contains "missing program is a clear error" "$OUT" 'MISSING	false	'
check_contains "missing program message" "$OUT" 'ns1:exec("no-such-program-xyz"): No such file or directory (there is no program no-such-program-xyz'
check_contains "timeout is a clear error" "$OUT" 'timed out (sleep ran longer than 0.5 s and was killed)'
check_contains "timeout does not hang" "$OUT" "TOOK	true"
check_contains "killed by a signal: 128+n" "$OUT" "SIGNAL	143"
check_contains "fresh /sys shows the namespace's links" "$OUT" "SYSFS	lo veth0 "
check_clean "exec:"

# exec binds /etc/netns/NAME/* over /etc/* as ip netns exec does. The test's
# own private mount namespace gets a copy of /etc, so the host's is untouched.
mkdir -p "$WORK/etc"
cp -a /etc/. "$WORK/etc/" 2>/dev/null
mount --bind "$WORK/etc" /etc
mkdir -p /etc/netns/ens1
echo "10.99.99.99 only-in-ens1" > /etc/netns/ens1/hosts
s=$(lab etcnetns <<'LUA'
local n = net.ns("ens1")
local m = net.ns("ens2")
local _, inside = n:exec("cat", "/etc/hosts")
local _, outside = m:exec("cat", "/etc/hosts")
io.write("IN\t", inside)
print("OUT", outside:find("only-in-ens1") == nil)
LUA
)
run_nslua "$s"
check_contains "/etc/netns/NAME/hosts is bound over /etc/hosts" "$OUT" "IN	10.99.99.99 only-in-ens1"
check_contains "other namespaces keep /etc/hosts" "$OUT" "OUT	true"
check_eq "ip netns exec agrees" "$(ip netns add ens1 && ip netns exec ens1 cat /etc/hosts; ip netns del ens1)" "10.99.99.99 only-in-ens1"
umount /etc
check_clean "etc/netns:"

# --- capture ------------------------------------------------------------------------
s=$(lab capture <<LUA
$setup
local cap = ns1:capture("veth0", {filter = "icmp"})
local none = ns1:capture("veth0", {filter = "not icmp"})
local counted = ns1:capture("veth0", {filter = "icmp", count = 2})
local hostcap = net.host:capture("any", {filter = "icmp"})
ns2:ping("172.16.1.1", {count = 3, interval = 0.05})
local pk = cap:stop()
print("COUNT", #pk)
for _, p in ipairs(pk) do print("SUM", p.summary) end
print("LEN", pk[1].len, math.type(pk[1].len), pk[1].time > 1e9)
cap:save("$WORK/cap.pcap")
local echoes = 0
for _, p in ipairs(none:stop()) do if p.summary:find("ICMP echo") then echoes = echoes + 1 end end
print("NONE", echoes)
counted:wait(2)
print("COUNTED", #counted:stop())
print("HOST", #hostcap:stop())
print("BADFILTER", pcall(ns1.capture, ns1, "veth0", {filter = "icmp and and"}))
print("NODEV", pcall(ns1.capture, ns1, "nosuch0"))
print("TOSTRING", tostring(cap))
LUA
)
run_nslua "$s"
check_eq "capture lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "6 packets: 3 requests, 3 replies" "$OUT" "COUNT	6"
check_eq "tcpdump -r reads nslua's pcap" "6" "$(tcpdump -n -r "$WORK/cap.pcap" 2>/dev/null | wc -l)"
# The summaries match what tcpdump -n -r prints for the same file (minus the timestamp).
tcpdump -n -r "$WORK/cap.pcap" 2>/dev/null | cut -d' ' -f2- > "$WORK/tcpdump.txt"
echo "$OUT" | grep '^SUM' | cut -f2- > "$WORK/nslua.txt"
check_eq "summaries match tcpdump -n -r" "$(cat "$WORK/tcpdump.txt")" "$(cat "$WORK/nslua.txt")"
check_contains "echo request summary" "$OUT" "IP 172.16.1.2 > 172.16.1.1: ICMP echo request, id "
check_contains "len and time" "$OUT" "LEN	98	integer	true"
check_contains "a filter that excludes ICMP captures none of it" "$OUT" "NONE	0"
check_contains "count stops after N" "$OUT" "COUNTED	2"
check_contains "the host namespace sees nothing of the namespaces' pings" "$OUT" "HOST	0"
check_contains "bad filter is a clear error" "$OUT" "invalid capture filter"
check_contains "missing device is a clear error" "$OUT" 'ns1:capture("nosuch0"): No such device (there is no link named nosuch0 in ns1)'
check_contains "tostring(capture)" "$OUT" "capture on veth0@ns1 'icmp': 6 packets"
check_clean "capture:"

# ARP and IPv6 summaries against tcpdump too.
s=$(lab capture2 <<LUA
$setup
local cap = ns1:capture("veth0")
ns2:ping("172.16.1.1", {count = 1})
ns2:ping("fd00::1", {count = 1})
cap:stop()
cap:save("$WORK/cap2.pcap")
for _, p in ipairs(cap:packets()) do print(p.summary) end
LUA
)
run_nslua "$s"
check_eq "capture2 lab runs" 0 "$RC"
check "tcpdump reads its file" tcpdump -n -r "$WORK/cap2.pcap"
tcpdump -n -r "$WORK/cap2.pcap" 2>/dev/null | cut -d' ' -f2- | grep -E '^(ARP|IP |IP6 .*echo|IP6 .*neighbor)' > "$WORK/tcpdump2.txt"
echo "$OUT" | grep -E '^(ARP|IP |IP6 .*echo|IP6 .*neighbor)' > "$WORK/nslua2.txt"
check_eq "ARP, IPv4 and ICMPv6 summaries match tcpdump" "$(cat "$WORK/tcpdump2.txt")" "$(cat "$WORK/nslua2.txt")"
check_contains "ARP seen" "$OUT" "ARP, Request who-has 172.16.1.1 tell 172.16.1.2, length 28"
check_contains "ICMPv6 echo seen" "$OUT" "IP6 fd00::2 > fd00::1: ICMP6, echo request, id "
check_clean "capture2:"

# --- the examples --------------------------------------------------------------------
for ex in veth-pair bridge router hello isolation bridge-arp bridge-slip bridge-lab; do
  run_nslua "$TESTS_DIR/../examples/$ex.lua"
  check_eq "example $ex passes" 0 "$RC"
  [ "$RC" = 0 ] || echo "$OUT $ERR"
  check_clean "example $ex:"
done

finish
