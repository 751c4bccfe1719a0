#!/usr/bin/env bash
# Benchmarks: nslua against iproute2 (and iputils) doing the same work, in the
# same run, inside a private network + mount namespace. Prints times and
# ratios; never fails on a number (these are measurements, not tests).
#
#   make bench            (or: NSLUA=.build/release/nslua bench/run.sh [N])
set -u
cd "$(dirname "$0")/.."
export NSLUA="${NSLUA:-$PWD/.build/release/nslua}"
export N="${1:-50}"
exec unshare --net --mount --propagation private bash -c '
set -u
mkdir -p /run/netns /run/nslua
mount -t tmpfs nslua-bench /run/netns
mount -t tmpfs nslua-bench /run/nslua
ip link set lo up
W=$(mktemp -d); trap "rm -rf $W" EXIT
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.3f\", $2 - $1 }"; }
ratio() { awk "BEGIN { printf \"%.1f\", $1 / $2 }"; }

echo "== 1. one namespace + veth pair + address + up, x$N =="
t0=$(now)
for i in $(seq $N); do
  ip netns add b$i
  ip link add v$i type veth peer name eth0 netns b$i
  ip -n b$i addr add 10.1.$((i / 250)).$((i % 250 + 1))/16 dev eth0
  ip -n b$i link set eth0 up
  ip link set v$i up
done
t1=$(now)
for i in $(seq $N); do ip netns del b$i; done
sleep 1
cat > $W/one.lua <<LUA
local t0 = net.now()
for i = 1, $N do
  local ns = net.ns("b" .. i)
  local v, e = net.veth("v" .. i, "eth0", {peer_ns = ns})
  e:addr(string.format("10.1.%d.%d/16", i // 250, i % 250 + 1)):up()
  v:up()
end
io.stderr:write(string.format("%.3f\\n", net.now() - t0))
LUA
t2=$(now)
build_s=$("$NSLUA" $W/one.lua 2>&1)
t3=$(now)
ip_s=$(secs $t0 $t1); ns_s=$(secs $t2 $t3)
echo "iproute2 (5 ip commands each): ${ip_s}s   nslua building the same: ${build_s}s   ip/nslua = $(ratio $ip_s $build_s)x"
echo "nslua whole process (start, build, teardown): ${ns_s}s"
echo "per namespace: iproute2 $(awk "BEGIN{printf \"%.2f\", $ip_s*1000/$N}") ms, nslua $(awk "BEGIN{printf \"%.2f\", $build_s*1000/$N}") ms"
sleep 1

echo
echo "== 2. a veth end born in its namespace vs created then moved, x$N (inside nslua) =="
cat > $W/move.lua <<LUA
local ns = net.ns("mv")
local t0 = net.now()
for i = 1, $N do net.veth("a" .. i, "b" .. i, {peer_ns = ns}) end
local t1 = net.now()
for i = 1, $N do local x, y = net.veth("c" .. i, "d" .. i); y:into(ns) end
local t2 = net.now()
print(string.format("born in place: %.2f ms each   created then moved: %.2f ms each   ratio %.1fx",
  (t1 - t0) * 1000 / $N, (t2 - t1) * 1000 / $N, (t2 - t1) / (t1 - t0)))
LUA
"$NSLUA" $W/move.lua
sleep 1

echo
echo "== 3. a 200-host star lab: build, pingall, teardown, memory =="
cat > $W/star.lua <<LUA
local topo = require "nslua.topo"
local t0 = net.now()
local hosts = topo.star(200, {prefix = "10.50.0.0/16"})
local t1 = net.now()
local pair = hosts[1]:ping("10.50.0.200", {count = 3, interval = 0.05})
local t2 = net.now()
local some = {}
for i = 1, 30 do some[i] = hosts[i] end
local m = net.pingall(some, {quiet = true})
local t3 = net.now()
local rss
for line in io.lines("/proc/self/status") do rss = rss or line:match("^VmHWM:%s*(%d+)") end
print(string.format("build 200 hosts: %.2fs   ping h1->h200: %d/3   pingall 30 hosts (870 pairs): %.2fs, %d dropped   peak RSS %d MB",
  t1 - t0, pair.received, t3 - t2, m.dropped, tonumber(rss) // 1024))
io.stdout:flush()
LUA
t0=$(now)
"$NSLUA" $W/star.lua
t1=$(now)
echo "whole run including teardown: $(secs $t0 $t1)s"
sleep 1

echo
echo "== 4. ping: nslua vs iputils on the same veth, 20 echoes 10 ms apart =="
ip netns add p1; ip netns add p2
ip link add x1 netns p1 type veth peer name x2 netns p2
ip -n p1 addr add 10.9.0.1/24 dev x1; ip -n p2 addr add 10.9.0.2/24 dev x2
ip -n p1 link set x1 up; ip -n p2 link set x2 up
ip netns exec p1 ping -c 20 -i 0.01 -q 10.9.0.2 | tail -1 | sed "s/^/iputils: /"
cat > $W/ping.lua <<LUA
local r = net.open("p1"):ping("10.9.0.2", {count = 20, interval = 0.01})
print("nslua:   " .. tostring(r):match("rtt.*"))
LUA
"$NSLUA" $W/ping.lua
ip netns del p1; ip netns del p2
'
