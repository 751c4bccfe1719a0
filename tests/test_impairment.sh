# Link impairment: tbf rate limits checked with tc -j and with iputils ping
# through the limited link; netem checked the same way where the kernel has
# sch_netem, and for its clear error where it does not (as on CI's kernel).
. "$TESTS_DIR/lib.sh"

s=$(lab rate <<'LUA'
local n1, n2 = net.ns("r1"), net.ns("r2")
local a, b = net.veth("a0", "b0", {ns = n1, peer_ns = n2})
a:addr("10.3.0.1/24"):up(); b:addr("10.3.0.2/24"):up()
a:rate("1mbit", {burst = "4kb"})
os.execute("tc -j -n r1 qdisc show dev a0 > " .. arg[1] .. "/tbf.json")
-- 1400-byte pings every 5 ms offer ~2.3 Mbit/s to a 1 Mbit/s link: they queue.
os.execute("ip netns exec r1 ping -q -s 1400 -i 0.005 -c 60 -W 2 10.3.0.2 > " .. arg[1] .. "/limited.txt")
a:rate(nil)
os.execute("tc -j -n r1 qdisc show dev a0 > " .. arg[1] .. "/none.json")
os.execute("ip netns exec r1 ping -q -s 1400 -i 0.005 -c 60 -W 2 10.3.0.2 > " .. arg[1] .. "/free.txt")
print("BADRATE", pcall(a.rate, a, "10 furlongs"))
print("BADBURST", pcall(a.rate, a, "1mbit", {burst = "x"}))
LUA
)
run_nslua "$s" "$WORK"
check_eq "rate lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "tc sees a tbf at the root" "tbf 1: true" "$(jq -r '.[0] | "\(.kind) \(.handle) \(.root)"' "$WORK/tbf.json")"
check_eq "tbf rate is 1 Mbit/s (125000 B/s)" "125000" "$(jq -r '.[0].options.rate' "$WORK/tbf.json")"
check_eq "tbf burst as asked" "4096" "$(jq -r '.[0].options.burst' "$WORK/tbf.json")"
check_eq "rate(nil) removes it" "noqueue" "$(jq -r '.[0].kind' "$WORK/none.json")"
limited=$(grep -o 'rtt min/avg/max/mdev = [0-9./]*' "$WORK/limited.txt" | cut -d/ -f5)
free=$(grep -o 'rtt min/avg/max/mdev = [0-9./]*' "$WORK/free.txt" | cut -d/ -f5)
check "iputils ping queues behind the limit (avg ${limited} ms limited vs ${free} ms free)" \
  awk -v l="${limited:-0}" -v f="${free:-0}" 'BEGIN { exit !(l > 5 && l > 10 * f) }'
check_contains "bad rate" "$OUT" "BADRATE	false	a0:rate(\"10 furlongs\"): invalid rate"
check_contains "bad burst" "$OUT" "invalid size ('x'"
check_clean "rate:"

# netem: does this kernel have it? (asked in a throwaway namespace, with tc)
if unshare --net bash -c 'tc qdisc add dev lo root netem delay 1ms' 2>/dev/null; then
  s=$(lab netem <<'LUA'
local n1, n2 = net.ns("e1"), net.ns("e2")
local a, b = net.veth("a0", "b0", {ns = n1, peer_ns = n2})
a:addr("10.4.0.1/24"):up(); b:addr("10.4.0.2/24"):up()
a:netem{delay = "30ms"}:rate("10mbit")
os.execute("tc -j -n e1 qdisc show dev a0 > " .. arg[1] .. "/netem.json")
os.execute("ip netns exec e1 ping -q -c 5 -i 0.05 10.4.0.2 > " .. arg[1] .. "/delayed.txt")
a:netem(nil)
os.execute("ip netns exec e1 ping -q -c 5 -i 0.05 10.4.0.2 > " .. arg[1] .. "/undelayed.txt")
LUA
)
  run_nslua "$s" "$WORK"
  check_eq "netem lab runs" 0 "$RC"
  check_eq "netem at the root, tbf under it" "netem tbf" "$(jq -r '[.[].kind] | join(" ")' "$WORK/netem.json")"
  delayed=$(grep -o 'rtt min/avg/max/mdev = [0-9./]*' "$WORK/delayed.txt" | cut -d/ -f4)
  check "iputils sees the 30 ms delay (min ${delayed} ms)" awk -v d="${delayed:-0}" 'BEGIN { exit !(d >= 29 && d < 60) }'
  check "netem(nil) removes the delay" bash -c "grep -q ' 0% packet loss' '$WORK/undelayed.txt'"
else
  s=$(lab nonetem <<'LUA'
local n = net.ns("e1")
local a, b = n:veth("a0", "b0")
a:rate("10mbit")
print("CAUGHT", pcall(a.netem, a, {delay = "20ms", jitter = "5ms", loss = "1%"}))
os.execute("tc -j -n e1 qdisc show dev a0 > " .. arg[1] .. "/after.json")
a:netem{delay = "20ms"}
LUA
)
  run_nslua "$s" "$WORK"
  check_eq "no sch_netem: exit 3 (kernel support)" 3 "$RC"
  check_contains "no sch_netem: a clear error" "$OUT" 'a0:netem({delay = "20ms", jitter = "5ms", loss = "1%"}): netem is not available (this kernel has no sch_netem'
  check_contains "no sch_netem: says what to do" "$OUT" "modprobe sch_netem"
  check_eq "the failed netem left the rate limit in place" "tbf" "$(jq -r '.[0].kind' "$WORK/after.json")"
fi
check_clean "netem:"

# An impairment on a link nslua did not make is taken off at the end.
ip netns add foreign
ip -n foreign link add fbr type bridge
printf 'net.open("foreign"):link("fbr"):rate("5mbit")\nos.execute("tc -n foreign qdisc show dev fbr")\n' > "$WORK/foreign.lua"
run_nslua "$WORK/foreign.lua"
check_contains "rate on a foreign link applied" "$OUT" "qdisc tbf 1: root"
tc -j -n foreign qdisc show dev fbr > "$WORK/after-foreign.json"
check_eq "tc reads the foreign link's qdiscs after the run" 0 "$?"
check_eq "and the tbf was removed at teardown" "0" "$(jq '[.[] | select(.kind == "tbf")] | length' "$WORK/after-foreign.json")"
check "the foreign link itself stays" ip -n foreign link show fbr
ip netns del foreign

# Bad impairment input.
for bad in 'a:netem{delay = "abc"}' 'a:netem{jitter = "5ms"}' 'a:netem{loss = "120%"}' 'a:netem{lost = 1}' \
           'a:netem(5)' 'a:rate({})' 'a:rate(-1)' 'a:rate("1mbit", {latency = -5})'; do
  printf 'local a = net.veth("a0", "b0")\n%s\n' "$bad" > "$WORK/bad.lua"
  run_nslua "$WORK/bad.lua"
  check_eq "bad input fails: $bad" 1 "$RC"
  check_contains "bad input names the call: $bad" "$ERR" "$(echo "$bad" | sed 's/^a:\([a-z]*\).*/\1/')"
done
check_clean "bad impairment:"
finish
