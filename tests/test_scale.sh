# Past the kernel's limits: a Linux bridge holds 1023 ports (BR_MAX_PORTS = 1024, port 0 reserved), and
# topo.star spreads more hosts over several bridges joined into one segment.
. "$TESTS_DIR/lib.sh"

s=$(lab ports <<'LUA'
local ns = net.ns("big")
local br = ns:bridge("br0")
for i = 1, 1023 do ns:veth("p" .. i, "q" .. i):master(br) end
local extra = ns:veth("p1024", "q1024")
local ok, e = pcall(extra.master, extra, br)
print("PORT1024", ok, e.kind, (tostring(e):gsub("^[^:]*:%d+: ", "")))
os.execute("ip -n big -j link show master br0 > " .. arg[1] .. "/ports.json")
LUA
)
run_nslua "$s" "$WORK"
check_eq "1024 ports: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "the 1024th port fails with the kernel's reason and the limit explained" \
  "PORT1024	false	kernel	p1024:master(br0): Exchange full (br0@big has 1023 ports, the most a Linux bridge can hold (BR_MAX_PORTS is 1024, and port number 0 is reserved); spread the hosts over several bridges)" \
  "$(grep ^PORT1024 <<< "$OUT")"
check_eq "the bridge has 1023 ports" 1023 "$(jq length "$WORK/ports.json")"
check_clean "1024 ports:"

s=$(lab star1001 <<'LUA'
local topo = require "nslua.topo"
local lab = topo.star(1001, {name = "B"})
print("LAB", tostring(lab), lab:addr("h1"), lab:addr("h1001"))
os.execute("ip -n Bswitches -j link show type bridge > " .. arg[1] .. "/bridges.json")
os.execute("ip -n Bswitches -j link show master Bs1 > " .. arg[1] .. "/s1.json")
os.execute("ip -n Bswitches -j link show master Bs0 > " .. arg[1] .. "/s0.json")
os.execute("ip netns exec Bh1 ping -c 1 -W 2 " .. lab:addr("h1001") .. " > " .. arg[1] .. "/ping.txt")
LUA
)
run_nslua "$s" "$WORK"
check_eq "1001 hosts: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "1001 hosts: one segment (a /22), the hosts from .10" "LAB	lab B (1001 hosts, 3 switches)	10.0.0.10	10.0.3.242" "$(grep ^LAB <<< "$OUT")"
check_eq "three bridges: s0 joining s1 and s2" "Bs0 Bs1 Bs2" "$(jq -r '[.[].ifname] | sort | join(" ")' "$WORK/bridges.json")"
check_eq "s1 holds 1000 hosts and its link to s0" 1001 "$(jq length "$WORK/s1.json")"
check_eq "s0 holds the links to s1 and s2" 2 "$(jq length "$WORK/s0.json")"
check_contains "iputils: h1 on s1 reaches h1001 on s2" "$(cat "$WORK/ping.txt")" "1 packets transmitted, 1 received"
check_clean "1001 hosts:"
finish
