# Labs never leave junk and never harm the host: every exit path tears
# down exactly what the run made; the journal and --clean; foreign objects
# are safe; concurrent runs; the sandbox and rootless mode.
. "$TESTS_DIR/lib.sh"

# A lab of a few namespaces, veths and a bridge, then whatever $1 says.
make_lab() {
  cat > "$WORK/lab.lua" <<LUA
local br = net.bridge("lbr0"):up()
for i = 1, 3 do
  local ns = net.ns("life" .. i)
  local port, eth = net.veth("lp" .. i, "eth0", {peer_ns = ns})
  port:master(br):up()
  eth:addr("10.30.0." .. i .. "/24"):up()
end
local a, b = net.veth("loose0", "loose1")
print("ready")
io.stdout:flush()
$1
LUA
}

state() { { ip netns list; ip -br link | awk '{print $1}'; } | sort | tr '\n' ' '; }
wait_gone() {   # the kernel frees namespaces' links asynchronously
  for _ in $(seq 60); do [ "$(state)" == "$1" ] && return 0; sleep 0.05; done
  return 1
}

# Something that was here before, made with ip: never touched.
ip netns add keepme
ip link add keepbr type bridge
before=$(state)

# --- every exit path ----------------------------------------------------------------
make_lab ''
run_nslua "$WORK/lab.lua"
check_eq "normal end: exit 0" 0 "$RC"
check "normal end: only what was there before" wait_gone "$before"

make_lab 'error("boom")'
run_nslua "$WORK/lab.lua"
check_eq "Lua error: exit 1" 1 "$RC"
check "Lua error: only what was there before" wait_gone "$before"

make_lab 'os.exit(5)'
run_nslua "$WORK/lab.lua"
check_eq "os.exit(5): exit 5" 5 "$RC"
check "os.exit: only what was there before" wait_gone "$before"

for sig in INT TERM HUP; do
  make_lab 'net.sleep(30)'
  "$NSLUA" "$WORK/lab.lua" > "$WORK/sig.out" 2> "$WORK/sig.err" &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$WORK/sig.out" && break; sleep 0.05; done
  check "SIG$sig: lab is up" bash -c "ip netns list | grep -q life3"
  kill -$sig $pid
  wait $pid; rc=$?
  case $sig in INT) want=1 msg="interrupted!";; TERM) want=143 msg="terminated (SIGTERM)";; HUP) want=129 msg="hangup (SIGHUP)";; esac
  check_eq "SIG$sig: exit status" "$want" "$rc"
  check_contains "SIG$sig: says so" "$(cat "$WORK/sig.err")" "$msg"
  check "SIG$sig: only what was there before" wait_gone "$before"
done

# A busy loop in Lua (no Swift call to return from) is interrupted too.
make_lab 'while true do end'
"$NSLUA" "$WORK/lab.lua" > "$WORK/sig.out" 2> "$WORK/sig.err" &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/sig.out" && break; sleep 0.05; done
kill -TERM $pid; wait $pid
check_eq "SIGTERM in a busy loop: exit 143" 143 "$?"
check_contains "SIGTERM says so" "$(cat "$WORK/sig.err")" "terminated (SIGTERM)"
check "SIGTERM in a busy loop: only what was there before" wait_gone "$before"

# The REPL: Ctrl-D (end of input) and os.exit tear down.
make_lab ''
printf 'print("LIST " .. table.concat(net.list(), ","))\n' | "$NSLUA" -i "$WORK/lab.lua" > "$WORK/repl.out" 2>&1
check_contains "REPL -i sees the lab" "$(cat "$WORK/repl.out")" "LIST keepme,life1,life2,life3"
check "REPL end of input: only what was there before" wait_gone "$before"
printf 'os.exit(3)\nprint("not reached")\n' | "$NSLUA" -i "$WORK/lab.lua" > "$WORK/repl.out" 2>&1
check_eq "REPL os.exit(3)" 3 "$?"
check_not_contains "REPL os.exit stops at once" "$(cat "$WORK/repl.out")" "not reached"
check "REPL os.exit: only what was there before" wait_gone "$before"

# --keep and net.keep() leave the lab, and no journal.
make_lab 'net.keep()'
run_nslua "$WORK/lab.lua"
check "net.keep(): the lab stays" bash -c "ip netns list | grep -q life2 && ip link show lbr0 >/dev/null"
check_eq "net.keep(): no journal left" "" "$(ls /run/nslua)"
for i in 1 2 3; do ip netns del life$i; done; ip link del lbr0; ip link del loose0
check "cleaned by hand" wait_gone "$before"
make_lab ''
"$NSLUA" --keep "$WORK/lab.lua" >/dev/null 2>&1
check "--keep: the lab stays" bash -c "ip netns list | grep -q life1"
for i in 1 2 3; do ip netns del life$i; done; ip link del lbr0; ip link del loose0
check "cleaned by hand again" wait_gone "$before"

# --- the journal, SIGKILL and --clean ----------------------------------------------
make_lab 'net.sleep(30)'
"$NSLUA" "$WORK/lab.lua" > "$WORK/kill.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/kill.out" && break; sleep 0.05; done
journal=$(ls /run/nslua/*.journal 2>/dev/null)
check "the journal exists while the run is alive" test -f "$journal"
check_eq "the journal directory is root-only" "700" "$(stat -c %a /run/nslua)"
check "the journal is held under a lock while the run lives" bash -c "! flock -n '$journal' true"
check_eq "the journal names the run's pid" "$pid" "$(awk 'NR == 1 {print $4}' "$journal")"
cookie=$(ip netns exec life1 python3 -c 'import socket; print(int.from_bytes(socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8), "little"))')
check_contains "the journal names the namespaces with their cookie" "$(cat "$journal")" " life1 $cookie "
lbr0_mac=$(ip -j link show lbr0 | jq -r '.[0].address')
check_contains "the journal names the links with the MAC they were made with" "$(cat "$journal")" " $lbr0_mac lbr0"
run_nslua --clean
check_contains "--clean leaves a live run alone" "$OUT" "nothing to clean"
kill -KILL $pid; wait $pid 2>/dev/null
check "SIGKILL leaves the lab behind" bash -c "ip netns list | grep -q life1"
run_nslua -e 'print("hi")'
check_contains "a new run warns about the stale journal, with names" "$ERR" "netns life1"
check_contains "the warning says what to do" "$ERR" "nslua --clean"
run_nslua --clean
check_eq "--clean exits 0" 0 "$RC"
check_contains "--clean says what it removed" "$OUT" "removed netns life1, netns life2, netns life3, lbr0@host"
check "--clean: only what was there before" wait_gone "$before"
check_eq "--clean removed the journal" "" "$(ls /run/nslua)"
run_nslua --clean
check_contains "--clean is idempotent" "$OUT" "nothing to clean"

# After net.cleanup() a run may go on: what it makes next is journaled too.
printf 'net.ns("c1"); net.cleanup(); net.ns("c2"); print("ready"); io.stdout:flush(); net.sleep(30)\n' > "$WORK/again.lua"
"$NSLUA" "$WORK/again.lua" > "$WORK/again.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/again.out" && break; sleep 0.05; done
kill -KILL $pid; wait $pid 2>/dev/null
run_nslua --clean
check_contains "objects made after net.cleanup() are journaled" "$OUT" "removed netns c2"
check "after cleanup-then-more: only what was there before" wait_gone "$before"

# A name reused after the crash is not deleted by --clean.
make_lab 'net.sleep(30)'
"$NSLUA" "$WORK/lab.lua" > "$WORK/kill.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/kill.out" && break; sleep 0.05; done
kill -KILL $pid; wait $pid 2>/dev/null
ip netns del life2
ip netns add life2          # someone else's namespace now, same name
ip link del lbr0
ip link add lbr0 type bridge   # someone else's bridge now, same name
run_nslua --clean
check_contains "--clean removes the rest" "$OUT" "removed netns life1, netns life3"
check_contains "--clean reports the re-created namespace" "$OUT" "left alone netns life2 (re-created since"
check_contains "--clean reports the re-created bridge" "$OUT" "left alone lbr0@host"
check "the re-created namespace survives" bash -c "ip netns list | grep -q life2"
check "the re-created bridge survives" ip link show lbr0
ip netns del life2; ip link del lbr0
check "after the reuse test: only what was there before" wait_gone "$before"

# Foreign objects survive a lab that fails midway, and --clean.
cat > "$WORK/foreign.lua" <<'LUA'
local k = net.open("keepme")
local a, b = net.veth("fx0", "fx1", {ns = k})
local br = net.bridge("fbr")
error("midway")
LUA
run_nslua "$WORK/foreign.lua"
check_eq "failing lab on foreign objects: exit 1" 1 "$RC"
run_nslua --clean
check "foreign namespace and bridge survive" bash -c "ip netns list | grep -q keepme && ip link show keepbr >/dev/null"
check_eq "nothing of the lab is left in the foreign namespace" "lo" "$(ip -n keepme -br link | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check "after foreign: only what was there before" wait_gone "$before"
cat > "$WORK/foreign2.lua" <<'LUA'
local ok, err = pcall(function() net.open("keepme"):delete() end)
print(err)
LUA
run_nslua "$WORK/foreign2.lua"
check_contains "deleting a namespace nslua did not make is refused" "$OUT" "was not created by this run"

# --- concurrency ------------------------------------------------------------------------
cat > "$WORK/first.lua" <<'LUA'
net.ns("shared1"); net.bridge("sharedbr"); print("ready"); io.stdout:flush(); net.sleep(30)
LUA
cat > "$WORK/second.lua" <<'LUA'
local mine = net.ns("mine2")
net.bridge("mybr2")
net.ns("shared1")
LUA
"$NSLUA" "$WORK/first.lua" > "$WORK/first.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$WORK/first.out" && break; sleep 0.05; done
run_nslua "$WORK/second.lua"
check_eq "second run fails" 1 "$RC"
check_contains "second run names the conflict" "$ERR" 'net.ns("shared1"): File exists (a namespace named shared1 already exists; net.open("shared1") uses one made outside this run)'
check "second run removed only its own objects" bash -c "! ip netns list | grep -q mine2 && ! ip link show mybr2 2>/dev/null && ip netns list | grep -q shared1 && ip link show sharedbr >/dev/null"
kill -TERM $pid; wait $pid
check "first run cleaned up after itself" wait_gone "$before"

# Two sandboxed runs with the same names do not conflict, and show nothing on the host.
cat > "$WORK/sb.lua" <<'LUA'
local n = net.ns("same"); local a, b = net.veth("s0", "s1", {peer_ns = n})
a:addr("10.40.0.1/24"):up(); b:addr("10.40.0.2/24"):up()
print("ready"); io.stdout:flush()
local r = n:ping("10.40.0.1", {count = 1})
net.sleep(1)
print("ok", r.received)
LUA
"$NSLUA" --sandbox "$WORK/sb.lua" > "$WORK/sb1.out" 2>&1 &
p1=$!
"$NSLUA" --sandbox "$WORK/sb.lua" > "$WORK/sb2.out" 2>&1 &
p2=$!
for _ in $(seq 100); do grep -q ready "$WORK/sb1.out" && grep -q ready "$WORK/sb2.out" && break; sleep 0.05; done
check_eq "sandboxed runs are invisible on the host" "$before" "$(state)"
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "two sandboxed runs with the same names both succeed" "0 0" "$r1 $r2"
check_contains "sandboxed run 1 pinged" "$(cat "$WORK/sb1.out")" "ok	1"
check_contains "sandboxed run 2 pinged" "$(cat "$WORK/sb2.out")" "ok	1"

# SIGKILL of a sandboxed run leaves nothing at all.
"$NSLUA" --sandbox "$WORK/lab.lua" > "$WORK/sb3.out" 2>&1 &
sbpid=$!
for _ in $(seq 200); do grep -q ready "$WORK/sb3.out" 2>/dev/null && break; sleep 0.02; done
check "the sandboxed lab came up before it was killed" grep -q ready "$WORK/sb3.out"
kill -KILL $sbpid; wait $sbpid 2>/dev/null
check_eq "SIGKILLed sandbox leaves nothing" "$before" "$(state)"

# --- rootless: the same lab as nobody, with ping and capture -------------------------
rootless_dir=$(mktemp -d)
chmod 755 "$rootless_dir"
cp "$NSLUA" "$rootless_dir/nslua"
cp -r "$TESTS_DIR/../lua" "$rootless_dir/lua"
cp "$TESTS_DIR/../examples/veth-pair.lua" "$TESTS_DIR/../examples/bridge.lua" "$rootless_dir/"
chmod -R a+rX "$rootless_dir"
out=$(cd "$rootless_dir" && setpriv --reuid=nobody --regid=nogroup --clear-groups ./nslua veth-pair.lua 2>&1)
check_eq "rootless veth-pair: exit 0" 0 "$?"
check_contains "rootless says it uses the sandbox, once" "$out" "not running as root: using a private sandbox"
check_contains "rootless ping works" "$out" "4 packets transmitted, 4 received, 0% packet loss"
check_contains "rootless capture works" "$out" "IP 172.16.1.2 > 172.16.1.1: ICMP echo request"
out=$(cd "$rootless_dir" && setpriv --reuid=nobody --regid=nogroup --clear-groups ./nslua bridge.lua 2>&1)
check_eq "rootless bridge: exit 0" 0 "$?"
out=$(cd "$rootless_dir" && setpriv --reuid=nobody --regid=nogroup --clear-groups ./nslua -e 'print(net.host:exec("id", "-u"))' 2>&1)
check_contains "rootless exec runs as root of the sandbox" "$out" "0	0"
rm -rf "$rootless_dir"
check_eq "rootless runs leave nothing" "$before" "$(state)"

ip netns del keepme; ip link del keepbr
check_clean "lifecycle:"
finish
