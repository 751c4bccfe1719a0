# "Removes exactly what the run made": the cases an adversarial review broke
# (issue 13, items 1-8). Checked with ip, never with nslua.
. "$TESTS_DIR/lib.sh"

state() { { ip netns list | awk '{print $1}'; ip -br link | awk '{print $1}'; ls /run/netns; } | sort | tr '\n' ' '; }
before=$(state)
wait_state() {   # the kernel frees namespaces' links asynchronously
  for _ in $(seq 60); do [ "$(state)" == "$1" ] && return 0; sleep 0.05; done
  return 1
}
# start_lab NAME CODE: runs CODE in the background after printing "ready"; sets PID
start_lab() {
  printf '%s\nprint("ready") io.stdout:flush()\n%s\n' "$2" "${3:-net.sleep(60)}" > "$WORK/$1.lua"
  "$NSLUA" "$WORK/$1.lua" > "$WORK/$1.out" 2> "$WORK/$1.err" &
  PID=$!
  for _ in $(seq 200); do grep -q ready "$WORK/$1.out" && return 0; sleep 0.02; done
  fail "$1 did not get ready: $(cat "$WORK/$1.err")"
}
# go NAME: lets a lab waiting on a flag file go on
waiting='while not io.open(arg[0] .. ".go") do net.sleep(0.02) end'
go() { touch "$WORK/$1.lua.go"; }

# --- 1. teardown leaves alone a namespace re-created under its name ------------------
start_lab recreated 'net.ns("x1")' "$waiting"
ip netns del x1; ip netns add x1; ip -n x1 link add theirs type bridge
go recreated; wait $PID
check_eq "1: the run ends normally" 0 "$?"
check "1: the re-created x1 survives the run's teardown" ip -n x1 link show theirs
check_contains "1: teardown says it left it alone" "$(cat "$WORK/recreated.err")" "no longer the namespace this run made"
ip netns del x1
check "1: nothing else left" wait_state "$before"

# --- 2. identities the kernel's reuse of numbers cannot forge --------------------------
# A namespace: the run is killed, its namespace deleted, and a new one made under
# the same name; the kernel hands out the same inode number again at once.
start_lab inode 'net.ns("t")'
old_ino=$(stat -L -c %i /run/netns/t)
kill -KILL $PID; wait $PID 2>/dev/null
reused=no
for _ in $(seq 20); do
  ip netns del t; ip netns add t
  [ "$(stat -L -c %i /run/netns/t)" = "$old_ino" ] && { reused=yes; break; }
done
echo "  (inode $old_ino reused by the new namespace: $reused)"
run_nslua --clean
check "2: --clean leaves the new t alone, same name$( [ $reused = yes ] && echo ' and inode')" test -e /run/netns/t
check_contains "2: and says why" "$OUT" "left alone netns t (re-created since"
ip netns del t
# A link re-created with the same name and ifindex.
start_lab ifindex 'net.bridge("rb")'
idx=$(ip -j link show rb | jq -r '.[0].ifindex')
kill -KILL $PID; wait $PID 2>/dev/null
ip link del rb; ip link add rb index "$idx" type bridge
check_eq "2: the new rb has the old ifindex" "$idx" "$(ip -j link show rb | jq -r '.[0].ifindex')"
run_nslua --clean
check "2: --clean leaves the re-created rb alone" ip link show rb
check_contains "2: and says why" "$OUT" "left alone rb@host (re-created since"
ip link del rb
check "2: nothing else left" wait_state "$before"

# --- 3. SIGKILL in the middle of creating: nothing the journal missed -------------------
for kind in ns bridge veth; do
  case $kind in
    ns) code='for i = 1, 1000 do net.ns("n" .. i) end' ;;
    bridge) code='for i = 1, 150 do net.bridge("b" .. i) end' ;;   # (deleting a bridge in the host costs an RCU grace period)
    veth) code='local n = net.ns("vh") for i = 1, 1000 do net.veth("va" .. i, "vb" .. i, {peer_ns = n}) end' ;;
  esac
  for delay in 0.02 0.05 0.1 0.15 0.25; do
    printf '%s\n' "$code" > "$WORK/kill3.lua"
    "$NSLUA" "$WORK/kill3.lua" > /dev/null 2>&1 &
    pid=$!
    sleep $delay; kill -KILL $pid; wait $pid 2>/dev/null
    "$NSLUA" --clean > "$WORK/clean3.out" 2>&1
    check "3: $kind killed at ${delay}s: --clean leaves nothing (no namespace, no file, no link)" wait_state "$before"
    [ "$(state)" == "$before" ] || { echo "    left: $(state)"; cat "$WORK/clean3.out"; ip netns list | awk '{print $1}' | xargs -r -n1 ip netns del; }
  done
done

# --- 4. renames are journalled; a rename behind the run's back is reported ---------------
start_lab rename 'net.bridge("rb0"):rename("rb9")'
kill -KILL $PID; wait $PID 2>/dev/null
run_nslua --clean
check_contains "4: --clean removes the renamed bridge" "$OUT" "rb9@host"
check "4: rb9 is gone" bash -c "! ip link show rb9 2>/dev/null"
start_lab renamed 'net.bridge("rb1")' "$waiting"
ip link set rb1 name zz1
go renamed; wait $PID
check "4: a link the run made, renamed by someone else, is still removed" bash -c "! ip link show zz1 2>/dev/null"
check_contains "4: and that is reported" "$(cat "$WORK/renamed.err")" "zz1@host was renamed outside this run (made as rb1)"
check "4: nothing else left" wait_state "$before"

# --- 5. links the run did not make go back where they came from --------------------------
ip link add fv0 type veth peer name fv1
fv0_mac=$(ip -j link show fv0 | jq -r '.[0].address')
s=$(lab foreign <<'LUA'
local tmp = net.ns("tmp1")
net.host:link("fv0"):into(tmp, "eth0")
local ok, err = pcall(function() tmp:link("eth0"):delete() end)
print("DELETE", ok, err.kind)
LUA
)
run_nslua "$s"
check_eq "5: the run ends normally" 0 "$RC"
check_eq "5: fv0 is back in the host, under its own name" "$fv0_mac" "$(ip -j link show fv0 | jq -r '.[0].address')"
check_contains "5: deleting a link the run did not make is refused" "$OUT" "DELETE	false	invalid"
# The same after a SIGKILL: --clean puts it back before it deletes the namespace.
start_lab foreignkill 'net.host:link("fv0"):into(net.ns("tmp2"), "eth0")'
kill -KILL $PID; wait $PID 2>/dev/null
run_nslua --clean
check_contains "5: --clean puts it back" "$OUT" "put back fv0@host"
check_eq "5: fv0 is back in the host after --clean" "$fv0_mac" "$(ip -j link show fv0 | jq -r '.[0].address')"
ip link del fv0
check "5: nothing else left" wait_state "$before"

# --- 6. runs in other PID namespaces (both pid 1) keep their own journals ----------------
printf 'net.bridge("%s") print("ready") io.stdout:flush() net.sleep(60)\n' pa > "$WORK/pa.lua"
printf 'net.bridge("%s") print("ready") io.stdout:flush() net.sleep(60)\n' pb > "$WORK/pb.lua"
unshare --pid --fork --mount-proc "$NSLUA" "$WORK/pa.lua" > "$WORK/pa.out" 2>&1 &
pa=$!
unshare --pid --fork --mount-proc "$NSLUA" "$WORK/pb.lua" > "$WORK/pb.out" 2>&1 &
pb=$!
for _ in $(seq 200); do grep -q ready "$WORK/pa.out" && grep -q ready "$WORK/pb.out" && break; sleep 0.02; done
check_eq "6: two runs, both pid 1, have two journals" "2" "$(ls /run/nslua/*.journal | wc -l)"
check_eq "6: each names pid 1" "1 1" "$(awk 'FNR == 1 {print $4}' /run/nslua/*.journal | tr '\n' ' ' | sed 's/ $//')"
run_nslua --clean
check_contains "6: --clean from outside leaves both live runs alone" "$OUT" "nothing to clean"
check "6: their bridges are there" bash -c "ip link show pa && ip link show pb"
kill -TERM $pa $pb; wait $pa $pb
check "6: nothing else left" wait_state "$before"

# --- 7. a finalizer at exit cannot leave objects behind ----------------------------------
s=$(lab late <<'LUA'
setmetatable({}, {__gc = function() net.ns("late") net.bridge("lbr") end})
local co = coroutine.wrap(function() setmetatable({}, {__gc = function() net.ns("late2") end}) end)
co()
LUA
)
run_nslua "$s"
check_eq "7: the run ends normally" 0 "$RC"
check "7: what finalizers made at exit is gone" wait_state "$before"
check_eq "7: and so is the journal" "" "$(ls /run/nslua)"

# --- 8. the journal cannot be turned against the machine ----------------------------------
boot=$(cat /proc/sys/kernel/random/boot_id)
hostcookie=$(python3 -c 'import socket; print(int.from_bytes(socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8), "little"))')
echo "precious" > "$WORK/victim"
mkdir -p /run/netns/mnt1 && mount -t tmpfs none /run/netns/mnt1
read -r mdev mino < <(stat -c '%d %i' /run/netns/mnt1)
cat > /run/nslua/hostile.journal <<EOF
nslua-journal 2 $boot 99999
host $hostcookie 1 1
ns 1 ../../..$WORK/victim 0 1 2
ns 2 mnt1 0 $mdev $mino
ns 3 mnt1 12345 $mdev $mino
ns? 4 ../../..$WORK/victim
EOF
run_nslua --clean
check_eq "8: a hostile path in a journal is never followed" "precious" "$(cat "$WORK/victim")"
check "8: a mount point a journal claims, even with its device and inode, is never unmounted" mountpoint -q /run/netns/mnt1
check_eq "8: the hostile journal is gone after --clean" "" "$(ls /run/nslua)"
umount /run/netns/mnt1; rmdir /run/netns/mnt1
# FIFOs, empty and garbled journals: reported, never a hang.
mkfifo /run/nslua/fifo.journal
: > /run/nslua/empty.journal
echo "garbage" > /run/nslua/garbled.journal
timeout 10 "$NSLUA" -e 'print("ran")' > "$WORK/fifo.out" 2> "$WORK/fifo.err"
check_eq "8: a FIFO named *.journal does not hang a run" "0 ran" "$? $(cat "$WORK/fifo.out")"
check_contains "8: it is reported" "$(cat "$WORK/fifo.err")" "fifo.journal: not a regular file"
check_contains "8: an empty journal is reported" "$(cat "$WORK/fifo.err")" "empty.journal: empty"
check_contains "8: a garbled journal is reported" "$(cat "$WORK/fifo.err")" "garbled.journal: not an nslua journal"
timeout 10 "$NSLUA" --clean > "$WORK/clean8.out" 2>&1
check_eq "8: --clean does not hang on them either" 0 "$?"
check "8: --clean removes the empty one (its run made nothing)" bash -c "! test -e /run/nslua/empty.journal"
check "8: and leaves the others for a person to look at" bash -c "test -p /run/nslua/fifo.journal && test -f /run/nslua/garbled.journal"
rm -f /run/nslua/fifo.journal /run/nslua/garbled.journal
# The journal directory: a symlink, or someone else's, is refused, not repaired.
# (A tmpfs of this test's own over /run, so that nothing here is the machine's /run.)
mount -t tmpfs -o mode=0755 nslua-run /run
mkdir /run/netns "$WORK/elsewhere"
ln -s "$WORK/elsewhere" /run/nslua
run_nslua -e 'net.bridge("jb")'
check_contains "8: /run/nslua as a symlink is refused" "$ERR" "no crash journal (unsafe journal directory"
check_eq "8: nothing is written through the symlink" "" "$(ls "$WORK/elsewhere")"
rm /run/nslua
mkdir -m 0777 /run/nslua
run_nslua -e 'net.bridge("jb")'
check_contains "8: a journal directory others can write to is refused" "$ERR" "writable by it alone"
check_eq "8: and left as it was (not chmod-ed)" "777" "$(stat -c %a /run/nslua)"
chmod 0700 /run/nslua; chown nobody /run/nslua
run_nslua -e 'net.bridge("jb")'
check_contains "8: a journal directory owned by someone else is refused" "$ERR" "must be owned by uid 0"
umount /run
check "8: nothing else left" wait_state "$before"

check_clean "ownership:"
finish
