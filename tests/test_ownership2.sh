# "Removes exactly what the run made, puts back what it changed": the holes a
# second adversarial review found (links of others moved, renamed, re-MACed or
# impaired; ifindex reuse in a namespace the run opened; kills in the middle
# of a move or a deletion; a full or growing journal). State is checked with
# ip -j and tc -j, never with nslua.
. "$TESTS_DIR/lib.sh"

state() { { ip netns list 2>/dev/null | awk '{print $1}'; ip -br link | awk '{print $1}'; ls /run/netns /run/nslua; } | sort | tr '\n' ' '; }
before=$(state)
wait_state() {   # the kernel frees namespaces' links asynchronously
  for _ in $(seq 60); do [ "$(state)" == "$1" ] && return 0; sleep 0.05; done
  return 1
}
# reset SECTION: checks nothing is left, then removes whatever is (so that one
# failing section does not fail the next ones).
reset() {
  echo "    ($1: ${SECONDS}s since the start)"
  check "$1: nothing left (no namespace, link or journal)" wait_state "$before"
  [ "$(state)" == "$before" ] || echo "    left: $(state)"
  ip netns list | awk '{print $1}' | xargs -r -n1 ip netns del
  ip -br link | awk '$1 != "lo" {sub("@.*", "", $1); print $1}' | xargs -r -n1 ip link del 2>/dev/null
  rm -f /run/nslua/*
}
# start_lab NAME CODE [AFTER]: runs CODE, prints "ready", then AFTER (default:
# sleeps a minute); sets PID once "ready" is seen.
start_lab() {
  printf '%s\nprint("ready") io.stdout:flush()\n%s\n' "$2" "${3:-net.sleep(60)}" > "$WORK/$1.lua"
  "$NSLUA" "$WORK/$1.lua" > "$WORK/$1.out" 2> "$WORK/$1.err" &
  PID=$!
  for _ in $(seq 300); do grep -q ready "$WORK/$1.out" && return 0; sleep 0.02; done
  fail "$1 did not get ready: $(cat "$WORK/$1.err")"
}
waiting='while not io.open(arg[0] .. ".go") do net.sleep(0.02) end'
go() { touch "$WORK/$1.lua.go"; }
killed() { kill -KILL "$PID"; wait "$PID" 2>/dev/null; }
clean() { run_nslua --clean; echo "$OUT" | sed 's/^/    /'; }

# ip's view of links: mac NS DEV, name_of NS MAC, kind NS DEV, names NS
mac() { ip -j -n "$1" link show "$2" 2>/dev/null | jq -r '.[0].address'; }
name_of() { ip -j -n "$1" link | jq -r --arg m "$2" '[.[] | select(.address == $m) | .ifname] | join(" ")'; }
kind() { ip -j -d -n "$1" link show "$2" 2>/dev/null | jq -r '.[0].linkinfo.info_kind // "none"'; }
names() { ip -j -n "$1" link | jq -r '[.[].ifname] | sort | join(" ")'; }
index_of() { ip -j -n "$1" link show "$2" | jq -r '.[0].ifindex'; }
# root qdisc of NS DEV as "kind handle"
rootq() { tc -j -n "$1" qdisc show dev "$2" | jq -r '[.[] | select(.root == true) | "\(.kind) \(.handle)"] | join(",")'; }

# --- 1. SIGKILL while a link of others is in the run's namespace ------------------------
# fo1 and its veth xo1/xo2 are not the run's; the run moves xo1 into mv1 (as eth0).
setup1() {
  ip netns del fo1 2>/dev/null; ip netns del mv1 2>/dev/null   # (a failure before may have left them)
  ip netns add fo1
  ip -n fo1 link add xo1 type veth peer name xo2
  m1=$(mac fo1 xo1)
}
# where xo1 (known by its MAC) is: "fo1:NAME mv1:NAME"
where1() { for n in fo1 mv1; do [ -e /run/netns/$n ] && echo "$n:$(name_of $n "$m1" 2>/dev/null)"; done | tr '\n' ' ' | sed 's/ $//'; }
one='local f = net.open("fo1") f:link("xo1"):into(net.ns("mv1"), "eth0")'
setup1
start_lab move1 "$one"
check_eq "1: the run moved xo1 into mv1 as eth0" "fo1: mv1:eth0" "$(where1)"
killed
clean
check_eq "1: --clean puts xo1 back in fo1 under its name (same MAC)" "xo1" "$(name_of fo1 "$m1")"
check_eq "1: its veth peer xo2 is still there (the pair was not destroyed)" "veth" "$(kind fo1 xo2)"
check_eq "1: --clean deletes the run's namespace mv1, not fo1" "fo1" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_contains "1: and says it put xo1 back" "$OUT" "put back xo1@fo1"
ip netns del fo1
reset "1 (kill)"

# The same, killed at exact points (strace fault injection, deterministic: the
# n-th call of a system call by nslua's main thread). A traced run that ends
# normally tells which call is which: a move is the RTM_NEWLINK carrying
# IFLA_NET_NS_FD (attribute 28: \x08\x00\x1c\x00), the recvfrom after it its reply.
setup1
printf '%s\n' "$one" > "$WORK/move1s.lua"
strace -f -qq -s 256 -e trace=sendto,recvfrom -o "$WORK/move1.trace" "$NSLUA" "$WORK/move1s.lua" > /dev/null 2>&1
main=$(head -n1 "$WORK/move1.trace" | awk '{print $1}')
grep "^$main " "$WORK/move1.trace" > "$WORK/move1.main"
# one line per move: its sendto's number among sendtos, its reply's among recvfroms
mapfile -t points < <(awk '/ sendto\(/ { s++; if (index($0, "\\x08\\x00\\x1c\\x00")) { print s, r + 1 } } / recvfrom\(/ { r++ }' "$WORK/move1.main")
check_eq "1: the traced run moved xo1 there and back (two moves seen by strace)" 2 "${#points[@]}"
check_eq "1: ... and put it back (in fo1 as xo1, mv1 gone)" "fo1:xo1" "$(where1)"
p0=${points[0]:-} p1=${points[1]:-}
for point in "sendto ${p0% *} fo1:xo1+mv1: before the move into mv1 reaches the kernel" \
             "recvfrom ${p0#* } mv1:eth0 after the move into mv1, before it is journalled as done" \
             "recvfrom ${p1#* } fo1:xo1+mv1: after the move back into fo1, before it is journalled as done"; do
  read -r call n expect what <<< "$point"
  [ -n "$n" ] || { fail "1: no strace point for: $what"; continue; }
  setup1
  strace -f -qq -o /dev/null -e trace=sendto,recvfrom -e inject=$call:signal=SIGKILL:when=$n "$NSLUA" "$WORK/move1s.lua" > /dev/null 2>&1
  check_eq "1: killed $what (exit status)" 137 "$?"
  case $expect in
    fo1:xo1+mv1:) check_eq "1: killed $what: xo1 is still in fo1, mv1 exists" "fo1:xo1 mv1:" "$(where1)" ;;
    mv1:eth0) check_eq "1: killed $what: xo1 is in mv1 as eth0" "fo1: mv1:eth0" "$(where1)" ;;
  esac
  clean
  check_eq "1: killed $what: --clean puts xo1 back in fo1 under its name" "fo1:xo1" "$(where1)"
  check_eq "1: killed $what: its peer xo2 is still there" "veth" "$(kind fo1 xo2)"
  check_eq "1: killed $what: mv1 is deleted, fo1 is not" "fo1" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
  check_eq "1: killed $what: no journal left" "" "$(ls /run/nslua)"
done
ip netns del fo1
reset 1

# --- 2. the name is taken when the link goes back ----------------------------------------
ip netns add fo2
ip -n fo2 link add xo1 type veth peer name xo2
m2=$(mac fo2 xo1)
start_lab clash 'local f = net.open("fo2") f:link("xo1"):into(net.ns("mv2"))' "$waiting"
ip -n fo2 link add xo1 type bridge
go clash; wait $PID
check_eq "2: the run ends normally" 0 "$?"
check_eq "2: the veth went back to fo2 under a free name" "xo1-1" "$(name_of fo2 "$m2")"
check_eq "2: the bridge that took its name is untouched" "bridge" "$(kind fo2 xo1)"
check_eq "2: the veth pair is whole (xo2 is a veth)" "veth" "$(kind fo2 xo2)"
check_eq "2: mv2 is gone" "fo2" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_contains "2: stderr says it went back under another name" "$(cat "$WORK/clash.err")" "went back as xo1-1"
ip netns del fo2
reset "2 (exit)"
# Moved under another name (eth0): the name xo1 is free in mv2, taken in fo2.
ip netns add fo2
ip -n fo2 link add xo1 type veth peer name xo2
m2=$(mac fo2 xo1)
start_lab clash2 'local f = net.open("fo2") f:link("xo1"):into(net.ns("mv2"), "eth0")' "$waiting"
ip -n fo2 link add xo1 type bridge
go clash2; wait $PID
check_eq "2: (moved as eth0) the run ends normally" 0 "$?"
check_eq "2: (moved as eth0) the veth went back to fo2 under a free name" "xo1-1" "$(name_of fo2 "$m2")"
check_eq "2: (moved as eth0) the bridge that took its name is untouched" "bridge" "$(kind fo2 xo1)"
check_eq "2: (moved as eth0) mv2 is gone" "fo2" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_contains "2: (moved as eth0) stderr says it went back under another name" "$(cat "$WORK/clash2.err")" "went back as xo1-1"
ip netns del fo2
reset "2 (exit, moved as eth0)"
# The same through --clean after a SIGKILL.
ip netns add fo2
ip -n fo2 link add xo1 type veth peer name xo2
m2=$(mac fo2 xo1)
start_lab clashkill 'local f = net.open("fo2") f:link("xo1"):into(net.ns("mv2"))'
ip -n fo2 link add xo1 type bridge
killed
clean
check_eq "2: --clean: the veth went back to fo2 under a free name" "xo1-1" "$(name_of fo2 "$m2")"
check_eq "2: --clean: the bridge that took its name is untouched" "bridge" "$(kind fo2 xo1)"
check_eq "2: --clean: the veth pair is whole" "veth" "$(kind fo2 xo2)"
check_eq "2: --clean: mv2 is gone" "fo2" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_contains "2: --clean says it went back under another name" "$OUT" "went back as xo1-1"
ip netns del fo2
reset 2

# --- 3. a link of others renamed and re-MACed in place -----------------------------------
ip netns add fo3
ip -n fo3 link add xr1 type veth peer name xr2
ip -n fo3 link set xr1 up; ip -n fo3 link set xr2 up
m3=$(mac fo3 xr1)
three='local l = net.open("fo3"):link("xr1") l:down() l:rename("other") l:mac("02:00:00:00:03:01") l:up()'
start_lab inplace "$three" "$waiting"
check_eq "3: the run renamed and re-MACed it" "other" "$(name_of fo3 02:00:00:00:03:01)"
go inplace; wait $PID
check_eq "3: the run ends normally" 0 "$?"
check_eq "3: at exit its name and MAC are back" "xr1" "$(name_of fo3 "$m3")"
check_eq "3: no link is left named other or with the run's MAC" "lo xr1 xr2" "$(names fo3)"
check_contains "3: and it is up, as the run left it" "$(ip -j -n fo3 link show xr1 2>/dev/null | jq -r '.[0].flags | join(",")')" "UP"
ip netns del fo3
reset "3 (exit)"
ip netns add fo3
ip -n fo3 link add xr1 type veth peer name xr2
ip -n fo3 link set xr1 up; ip -n fo3 link set xr2 up
m3=$(mac fo3 xr1)
start_lab inplacekill "$three"
check_eq "3: (kill) the run renamed and re-MACed it" "other" "$(name_of fo3 02:00:00:00:03:01)"
killed
clean
check_eq "3: --clean puts its name and MAC back" "xr1" "$(name_of fo3 "$m3")"
check_eq "3: --clean: no link is left named other" "lo xr1 xr2" "$(names fo3)"
check_contains "3: --clean says so" "$OUT" "put back xr1@fo3"
ip netns del fo3
reset 3

# --- 4. the kernel gives a deleted link's ifindex to another ------------------------------
ip netns add fo4
start_lab reuse 'net.veth("a1", "b1", {ns = net.open("fo4")})' "$waiting"
ia=$(index_of fo4 a1); ib=$(index_of fo4 b1)
ip -n fo4 link del a1
ip -n fo4 link add victim index "$ia" type bridge
ip -n fo4 link add victim2 index "$ib" type bridge
check_eq "4: victim has a1's old ifindex" "$ia" "$(index_of fo4 victim)"
go reuse; wait $PID
check_eq "4: the run ends normally" 0 "$?"
check_eq "4: teardown does not delete victim (a1's ifindex) nor victim2 (b1's)" "bridge bridge" "$(kind fo4 victim) $(kind fo4 victim2)"
check_contains "4: and says it left it alone" "$(cat "$WORK/reuse.err")" "ifindex $ia is now victim, not the link this run made; left alone"
ip -n fo4 link del victim; ip -n fo4 link del victim2
start_lab reusekill 'net.veth("a1", "b1", {ns = net.open("fo4")})'
ia=$(index_of fo4 a1); ib=$(index_of fo4 b1)
killed
ip -n fo4 link del a1
ip -n fo4 link add victim index "$ia" type bridge
# b1's ifindex to a link of its old name: the name and ifindex are both the old ones
ip -n fo4 link add b1 index "$ib" type bridge
clean
check_eq "4: --clean does not delete victim (a1's ifindex)" "bridge" "$(kind fo4 victim)"
check_eq "4: --clean does not delete the new b1 (b1's name and ifindex)" "bridge" "$(kind fo4 b1)"
check_not_contains "4: --clean does not claim to have removed them" "$OUT" "removed victim"
ip netns del fo4
reset 4

# --- 5. SIGKILL during a namespace deletion: --clean finishes it -------------------------
five='local d1, d2 = net.ns("d1"), net.ns("d2")
net.veth("dv1", "dv2", {ns = d1, peer_ns = d2})
d2:bridge("dbr")
net.bridge("dhb")
d1:delete()'
start_lab nsdel "$five"
check_eq "5: d1 is deleted, d2 is there" "d2" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
killed
clean
reset "5: killed after ns:delete(): --clean:"
printf '%s\n' "$five" > "$WORK/nsdel2.lua"
# Killed as it unmounts d1 (before), and as it removes /run/netns/d1 (after the unmount).
for call in umount2 unlink; do
  strace -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=SIGKILL:when=1 "$NSLUA" "$WORK/nsdel2.lua" > /dev/null 2>&1
  check_eq "5: killed at its first $call (exit status)" 137 "$?"
  echo "    left by the kill at $call: $(state)"
  clean
  reset "5: killed at $call in ns:delete(): --clean:"
done

# --- 6. the journal on a full disk -----------------------------------------------------
mount -t tmpfs -o size=8k,mode=0700 nslua-full /run/nslua
dd if=/dev/zero of=/run/nslua/fill bs=1k count=64 > /dev/null 2>&1
run_nslua -e 'local n = net.ns("fd1") n:bridge("fdb") net.bridge("fdh") print("made")'
check_eq "6: a run on a full disk still runs" "0 made" "$RC $OUT"
check_contains "6: it warns that it has no crash journal" "$ERR" "crash journal"
check_contains "6: and why" "$ERR" "No space left on device"
check_eq "6: and still removes everything at exit (only the filler is left)" "fill" "$(ls /run/nslua | tr '\n' ' ' | sed 's/ $//')"
check "6: nothing of the run is left" bash -c "[ -z \"\$(ip netns list)\" ] && ! ip link show fdh 2>/dev/null"
rm /run/nslua/fill
# The disk fills while the run goes on.
start_lab full 'local n = net.ns("fd2") local b = n:bridge("fdb")' \
  "$waiting"' for i = 1, 2000 do b:mac(string.format("02:00:00:00:%02x:%02x", i >> 8, i & 255)) end
net.ns("fd3") net.bridge("fdh") print("done")'
check_eq "6: the journal is written while there is room" 1 "$(ls /run/nslua/*.journal 2>/dev/null | wc -l)"
dd if=/dev/zero of=/run/nslua/fill bs=1k count=64 > /dev/null 2>&1
go full; wait $PID
check_eq "6: the run goes on when the disk fills" "0 ready done" "$? $(cat "$WORK/full.out" | tr '\n' ' ' | sed 's/ $//')"
check_contains "6: it warns that the journal could not be written" "$(cat "$WORK/full.err")" "journal"
check_contains "6: and why" "$(cat "$WORK/full.err")" "No space left on device"
check_eq "6: it warns once" 1 "$(grep -c journal "$WORK/full.err")"
check "6: what it made before and after the disk filled is removed at exit" \
  bash -c "[ -z \"\$(ip netns list)\" ] && ! ip link show fdh 2>/dev/null"
check_eq "6: its journal is gone too (only the filler is left)" "fill" "$(ls /run/nslua | tr '\n' ' ' | sed 's/ $//')"
umount /run/nslua
reset 6

# --- 7. a long run's journal stays bounded ---------------------------------------------
# 40000 MAC changes of an owned bridge would journal some 2.4 MB; compaction
# (rewriting the journal from the live state) keeps it near 1 MB. The MAC
# alternates between two values so that --clean's cost stays linear here
# (distinct MACs: see the end of this section).
seven='local n = net.ns("cmp7") local b = net.bridge("cb7") n:veth("cv1", "cv2")'
loop='for i = 1, 40000 do b:mac(i % 2 == 0 and "02:00:00:00:07:02" or "02:00:00:00:07:01") end
print("done") io.stdout:flush() net.sleep(60)'
start_lab compact "$seven" "$loop"
biggest=0 shrank=no last=0
for _ in $(seq 1500); do
  size=$(stat -c %s /run/nslua/*.journal 2>/dev/null | sort -n | tail -n1)
  size=${size:-0}
  [ "$size" -gt "$biggest" ] && biggest=$size
  [ "$size" -lt "$last" ] && shrank=yes
  last=$size
  grep -q done "$WORK/compact.out" && break
  sleep 0.01
done
echo "    journal: at most $biggest bytes seen, compacted: $shrank, at the end $last bytes"
check "7: the loop ran to its end" grep -q done "$WORK/compact.out"
check "7: the journal never grew past 2 MB (largest seen: $biggest bytes)" test "$biggest" -lt 2000000
check "7: the journal shrank at least once while the loop ran (compaction)" test "$shrank" = yes
check_eq "7: the bridge has the loop's last MAC" "02:00:00:00:07:02" "$(ip -j link show cb7 | jq -r '.[0].address')"
killed
clean
reset "7: after a SIGKILL at the end of the loop, --clean removes the namespace and the re-MACed bridge:"
# Killed in the middle of the loop.
start_lab compactkill "$seven" "$loop"
sleep 0.5
killed
clean
reset "7: killed 0.5s into the loop: --clean:"
# Killed in the middle of a compaction: the compacted journal is written
# (.journal.next) but not yet renamed over the journal (strace: the second
# renameat, the first being the journal's own creation).
printf '%s\n%s\n' "$seven" "${loop% net.sleep(60)}" > "$WORK/compact2.lua"
strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:signal=SIGKILL:when=2 "$NSLUA" "$WORK/compact2.lua" > /dev/null 2>&1
check_eq "7: killed as it compacts its journal (exit status)" 137 "$?"
echo "    left by the kill while compacting: $(ls -l /run/nslua | tail -n +2 | awk '{print $5, $9}' | tr '\n' ' ')"
check "7: (killed while compacting) the compacted journal was left beside the old one" bash -c "ls /run/nslua/*.journal.next"
clean
reset "7: killed while compacting: --clean:"
# --clean's cost with distinct MACs: 8000 changes (about 470 KB, half the
# compaction threshold) must not take seconds to read back.
start_lab macs "$seven" 'for i = 1, 8000 do b:mac(string.format("02:00:00:00:%02x:%02x", i >> 8, i & 255)) end
print("done") io.stdout:flush() net.sleep(60)'
for _ in $(seq 500); do grep -q done "$WORK/macs.out" && break; sleep 0.01; done
killed
t0=$EPOCHREALTIME
clean
secs=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }")
check "7: --clean of a journal of 8000 MAC changes takes under 3 s (took ${secs}s)" awk -v s="$secs" 'BEGIN { exit !(s < 3) }'
reset "7: after 8000 distinct MACs, --clean:"

# --- 8. impairments on links of others ---------------------------------------------------
ip netns add fo8
ip -n fo8 link add xq type veth peer name xq2
tc -n fo8 qdisc add dev xq root handle 5: htb
s=$(lab foreignq <<'LUA'
local l = net.open("fo8"):link("xq")
local ok, err = pcall(l.rate, l, "1mbit")
print("RATE", ok, err)
LUA
)
run_nslua "$s"
check_eq "8: the run ends normally" 0 "$RC"
check_contains "8: rate on a link with someone's htb fails" "$OUT" "RATE	false"
check_contains "8: the error names the htb" "$OUT" "htb"
check_contains "8: and says nslua did not set it" "$OUT" "nslua did not set"
check_eq "8: the htb is still the root qdisc" "htb 5:" "$(rootq fo8 xq)"
# A link of others with the default qdisc: a rate works, and is removed at exit.
dq=$(rootq fo8 xq2)
start_lab defq 'net.open("fo8"):link("xq2"):rate("1mbit")' "$waiting"
check_eq "8: rate on a link of others with the default qdisc: tc sees a tbf" "tbf" "$(rootq fo8 xq2 | cut -d' ' -f1)"
go defq; wait $PID
check_eq "8: the run ends normally" 0 "$?"
check_eq "8: at exit the tbf is gone (the default qdisc is back)" "$dq" "$(rootq fo8 xq2)"
start_lab defqkill 'net.open("fo8"):link("xq2"):rate("1mbit")'
check_eq "8: (kill) tc sees a tbf" "tbf" "$(rootq fo8 xq2 | cut -d' ' -f1)"
killed
clean
check_eq "8: after a SIGKILL, --clean removes the tbf" "$dq" "$(rootq fo8 xq2)"
check_contains "8: --clean says so" "$OUT" "impairment removed"
check_eq "8: the htb is still there at the end" "htb 5:" "$(rootq fo8 xq)"
ip netns del fo8
reset 8

# --- 9. a MAC a script chose is no identity: --clean of a dead run leaves a live run's link ---
printf 'local a, b = net.veth("va9", "vb9")\na:mac("02:00:00:00:00:01")\nprint("ready") io.stdout:flush()\nnet.sleep(30)\n' > "$WORK/mc.lua"
"$NSLUA" "$WORK/mc.lua" > "$WORK/mcA.out" 2>&1 &
pidA=$!
for _ in $(seq 100); do grep -q ready "$WORK/mcA.out" && break; sleep 0.05; done
kill -KILL $pidA; wait $pidA 2>/dev/null
ip link del va9                                   # tidied by hand: the dead run's pair is gone
"$NSLUA" "$WORK/mc.lua" > "$WORK/mcB.out" 2>&1 &   # another run, the same script, the same chosen MAC
pidB=$!
for _ in $(seq 100); do grep -q ready "$WORK/mcB.out" && break; sleep 0.05; done
"$NSLUA" --clean > "$WORK/mc.clean" 2>&1
check_eq "9: the live run's link with the same chosen MAC is still there" "02:00:00:00:00:01" "$(ip -j link show va9 | jq -r '.[0].address')"
check_contains "9: --clean says it is someone else's now" "$(cat "$WORK/mc.clean")" "left alone va9@host (re-created since: not the one that run made)"
kill -TERM $pidB; wait $pidB 2>/dev/null

# --- 10. killed in the middle of a teardown: namespaces are unmounted on several
# threads and released together; a namespace is journalled as gone only once
# it is unmounted, so --clean finishes whatever the kill interrupted ---------------
for delay in 0 0.01 0.03 0.06 0.1; do
  start_lab td 'local topo = require "nslua.topo"; topo.star(300)' 'do end'
  sleep $delay; killed
  clean
  check "10: SIGKILL ${delay}s into the teardown of 300 namespaces: --clean leaves nothing" wait_state "$before"
  [ "$(state)" == "$before" ] || { echo "    left: $(state)"; reset "10 ($delay)"; }
done
for delay in 0 0.02; do
  start_lab td 'local topo = require "nslua.topo"; topo.star(300)' 'do end'
  sleep $delay; kill -TERM "$PID"; wait "$PID" 2>/dev/null
  check "10: SIGTERM ${delay}s into the teardown: the run itself leaves nothing" wait_state "$before"
  [ "$(state)" == "$before" ] || { echo "    left: $(state)"; reset "10 term ($delay)"; }
done
check_eq "10: no mount of a namespace file is left" "" "$(grep ' /run/netns/' /proc/self/mountinfo)"

# --- 11. a namespace that cannot be unmounted: "not deleted", and the journal stays ---
start_lab um 'net.ns("um1") net.ns("um2")' "$waiting"
mount --bind /run/netns/um1 /run/netns/um1      # a second mount on it: unmounting one is not enough
go um; wait "$PID"; rc=$?
err=$(cat "$WORK/um.err")
check_contains "11: teardown says the namespace was not deleted" "$err" "namespace um1 not deleted"
check_contains "11: ... and that the journal keeps it for --clean" "$err" "nslua --clean tries again"
check "11: um1 is still there" test -e /run/netns/um1
check "11: um2 is gone" bash -c "! test -e /run/netns/um2"
check_eq "11: one journal kept" 1 "$(ls /run/nslua | grep -c '\.journal$')"
clean
check_contains "11: --clean removes it" "$OUT" "netns um1"
reset 11
# The same through ns:delete() in the middle of the run.
start_lab um3 'local n = net.ns("um3")' "$waiting"' print(pcall(n.delete, n))'
mount --bind /run/netns/um3 /run/netns/um3
go um3; wait "$PID"
check_contains "11: ns:delete() says not deleted" "$(cat "$WORK/um3.out")" "namespace um3 not deleted"
check_contains "11: ... and at the end the journal is kept" "$(cat "$WORK/um3.err")" "nslua --clean tries again"
check_eq "11: ... one journal" 1 "$(ls /run/nslua | grep -c '\.journal$')"
clean
check_contains "11: --clean removes um3" "$OUT" "netns um3"
reset 11b

# --- 12. SIGTERM during a long net.cleanup(): the watchdog's teardown waits for it ---
# (before, both tore down at once: the same links deleted twice, now and then a crash)
code='local topo = require "nslua.topo"
topo.star(50)
for i = 1, 500 do net.veth("c" .. i, "d" .. i) end'
printf '%s\nprint("ready") io.stdout:flush()\nlocal t = net.now() pcall(net.cleanup) io.stderr:write("CLEANUP ", net.now() - t, "\\n") net.sleep(60)\n' "$code" > "$WORK/tc.lua"
"$NSLUA" --trace "$WORK/tc.lua" > "$WORK/tc.out" 2> "$WORK/tc.err" &
PID=$!
for _ in $(seq 500); do grep -q ready "$WORK/tc.out" && break; sleep 0.02; done
sleep 0.3
kill -TERM "$PID"; wait "$PID"; rc=$?
grep -E "^nslua:|^CLEANUP" "$WORK/tc.err" | sed 's/^/    /' 
check_eq "12: SIGTERM during net.cleanup(): exit 143, no crash" 143 "$rc"
check_eq "12: no link was deleted twice" "" "$(grep '^+ ip link del' "$WORK/tc.err" | sort | uniq -d | head -3)"
check "12: nothing left" wait_state "$before"
[ "$(state)" == "$before" ] || reset 12

check_clean "ownership2:"
finish
