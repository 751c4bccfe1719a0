# exec, signals, crashes, errors and exit statuses, and links ready the
# moment up() returns (issue 13, items 9-15).
. "$TESTS_DIR/lib.sh"

state() { { ip netns list | awk '{print $1}'; ip -br link | awk '{print $1}'; } | sort | tr '\n' ' '; }
before=$(state)
wait_state() { for _ in $(seq 60); do [ "$(state)" == "$1" ] && return 0; sleep 0.05; done; return 1; }
running() { pgrep -f -x "$1" > /dev/null; }          # a process with exactly this command line
gone() { for _ in $(seq 40); do running "$1" || return 0; sleep 0.05; done; return 1; }
wait_running() { for _ in $(seq 100); do running "$1" && return 0; sleep 0.05; done; return 1; }
wait_out() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done; return 1; }

# --- 9. nothing exec started outlives a SIGKILLed nslua -----------------------------------
printf 'local n = net.ns("e1")\nn:exec("sleep", "31.5")\n' > "$WORK/x9.lua"
"$NSLUA" "$WORK/x9.lua" > /dev/null 2>&1 &
pid=$!
check "9: the program runs" wait_running "sleep 31.5"
kill -KILL $pid; wait $pid 2>/dev/null
check "9: SIGKILL of nslua ends the program it was running" gone "sleep 31.5"
"$NSLUA" --clean > /dev/null
# In the sandbox, everything it started goes, background processes included.
printf 'net.host:exec("sh", "-c", "sleep 32.5 & exec sleep 33.5")\n' > "$WORK/x9s.lua"
"$NSLUA" --sandbox "$WORK/x9s.lua" > /dev/null 2>&1 &
pid=$!
check "9: sandbox: both run" bash -c "$(declare -f running wait_running); wait_running 'sleep 32.5' && wait_running 'sleep 33.5'"
kill -KILL $pid; wait $pid 2>/dev/null
check "9: sandbox: SIGKILL ends the program" gone "sleep 33.5"
check "9: sandbox: and what it left in the background" gone "sleep 32.5"
# Rootless: the same (the user namespace does not live on).
rootless_dir=$(mktemp -d); chmod 755 "$rootless_dir"
cp "$NSLUA" "$rootless_dir/nslua"; cp "$WORK/x9s.lua" "$rootless_dir/"; chmod -R a+rX "$rootless_dir"
(cd "$rootless_dir" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups ./nslua x9s.lua > /dev/null 2>&1) &
pid=$!
check "9: rootless: both run" bash -c "$(declare -f running wait_running); wait_running 'sleep 32.5' && wait_running 'sleep 33.5'"
kill -KILL $pid; wait $pid 2>/dev/null
check "9: rootless: SIGKILL ends the program" gone "sleep 33.5"
check "9: rootless: and what it left in the background" gone "sleep 32.5"
rm -rf "$rootless_dir"

# --- 10. exec never hangs ------------------------------------------------------------------
s=$(lab exec10 <<'LUA'
local n = net.ns("e10")
local t0 = net.now()
local ok, err = pcall(n.exec, n, {"sh", "-c", "sleep 20.7 & echo started; exec sleep 24.7", timeout = 1})
print("TIMEOUT", ok, err.kind, net.now() - t0 < 3)
t0 = net.now()
local code, out = n:exec("sh", "-c", "sleep 21.7 & echo started")
print("BACKGROUND", code, out:gsub("\n", ""), net.now() - t0 < 1)
os.execute("pgrep -f -x 'sleep 21.7' > /dev/null && echo STILL-RUNNING")
local big = string.rep("x", 300000)
t0 = net.now()
local _, cat = n:exec{"cat", stdin = big}
print("STDIN", #cat, cat == big, net.now() - t0 < 3)
t0 = net.now()
local ok2, err2 = pcall(n.exec, n, "sh", "-c", "yes | head -c 200000000")
local hwm
for line in io.lines("/proc/self/status") do hwm = hwm or line:match("^VmHWM:%s*(%d+)") end
print("CAP", ok2, tostring(err2):match("output too large") ~= nil, net.now() - t0 < 5, tonumber(hwm) < 120000)
local _, small = n:exec{"sh", "-c", "head -c 1000 /dev/zero", max_output = 2000}
print("SMALL", #small)
LUA
)
run_nslua "$s"
check_eq "10: the lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_eq "10: a timeout kills the whole group at once, grandchild holding stdout or not" "TIMEOUT	false	timeout	true" "$(grep ^TIMEOUT <<< "$OUT")"
check_eq "10: exec returns when the program exits, not when its background child does" "BACKGROUND	0	started	true" "$(grep ^BACKGROUND <<< "$OUT")"
check_contains "10: the background child runs on while the lab does" "$OUT" "STILL-RUNNING"
check "10: and is ended by teardown" gone "sleep 21.7"
check "10: the timed-out grandchild is gone too" gone "sleep 20.7"
check_eq "10: 300 kB of stdin while stdout fills: no deadlock" "STDIN	300000	true	true" "$(grep ^STDIN <<< "$OUT")"
check_eq "10: output is capped, with a clear error, in bounded memory" "CAP	false	true	true	true" "$(grep ^CAP <<< "$OUT")"
check_eq "10: max_output raises the cap" "SMALL	1000" "$(grep ^SMALL <<< "$OUT")"
# SIGTERM while exec waits: nslua ends at once and so does the program.
printf 'local n = net.ns("e11")\nprint("ready") io.stdout:flush()\nn:exec("sh", "-c", "sleep 22.7; echo")\n' > "$WORK/x10.lua"
"$NSLUA" "$WORK/x10.lua" > "$WORK/x10.out" 2>&1 &
pid=$!
wait_running "sleep 22.7"
kill -TERM $pid; wait $pid
check_eq "10: SIGTERM during exec: exit 143" 143 "$?"
check "10: SIGTERM during exec: the program is gone" gone "sleep 22.7"
check "10: nothing left" wait_state "$before"

# --- 11. signals ----------------------------------------------------------------------------
for sig in TERM INT; do
  printf 'net.ns("c11")\nprint("ready") io.stdout:flush()\ncoroutine.wrap(function() while true do end end)()\n' > "$WORK/x11.lua"
  "$NSLUA" "$WORK/x11.lua" > "$WORK/x11.out" 2> "$WORK/x11.err" &
  pid=$!
  wait_out "$WORK/x11.out" ready; sleep 0.2
  kill -$sig $pid
  for _ in $(seq 60); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  if kill -0 $pid 2>/dev/null; then fail "11: SIG$sig in a busy coroutine is ignored"; kill -KILL $pid; fi
  wait $pid; rc=$?
  check_eq "11: SIG$sig stops a busy coroutine" "$([ $sig = TERM ] && echo 143 || echo 1)" "$rc"
  check "11: SIG$sig in a coroutine: torn down" wait_state "$before"
done
# A caught Ctrl-C is gone once caught: sleeps sleep again, and the next one is handled the same way.
cat > "$WORK/x11b.lua" <<'LUA'
net.ns("c11b")
print("ready") io.stdout:flush()
local ok, e = pcall(net.sleep, 10)
print("caught", ok, e.kind) io.stdout:flush()
local t0 = net.now()
net.sleep(0.5)
print("slept", net.now() - t0 >= 0.45) io.stdout:flush()
net.sleep(10)
LUA
"$NSLUA" "$WORK/x11b.lua" > "$WORK/x11b.out" 2> "$WORK/x11b.err" &
pid=$!
wait_out "$WORK/x11b.out" ready; sleep 0.1
kill -INT $pid
wait_out "$WORK/x11b.out" slept
check_contains "11: the interrupt was caught" "$(cat "$WORK/x11b.out")" "caught	false	interrupted"
check_contains "11: after a caught interrupt, net.sleep sleeps" "$(cat "$WORK/x11b.out")" "slept	true"
kill -INT $pid; wait $pid
check_eq "11: a second Ctrl-C interrupts again (exit 1, not killed)" 1 "$?"
check_contains "11: with its message" "$(cat "$WORK/x11b.err")" "interrupted!"
check "11: and the lab was torn down" wait_state "$before"
# Threads nslua starts (capture, pingall, namespace jobs) never take the signals.
printf 'local n = net.ns("c11c")\nlocal c = n:capture("lo")\nprint("ready") io.stdout:flush()\nnet.sleep(10)\n' > "$WORK/x11c.lua"
"$NSLUA" "$WORK/x11c.lua" > "$WORK/x11c.out" 2>&1 &
pid=$!
wait_out "$WORK/x11c.out" ready
masks=""
for t in /proc/$pid/task/*; do
  [ "$(basename "$t")" = "$pid" ] && continue
  masks="$masks $(awk '/^SigBlk/ {print $2}' "$t/status")"
done
blocked=yes
for m in $masks; do [ $((16#$m & 16#4003)) -eq $((16#4003)) ] || blocked=no; done
check "11: nslua has helper threads here" test -n "$masks"
check_eq "11: every helper thread blocks SIGHUP, SIGINT and SIGTERM (SigBlk:$masks)" yes "$blocked"
kill -TERM $pid; wait $pid
check "11: nothing left" wait_state "$before"

# SIGTERM cannot be swallowed: a pcall loop ends at once, a script that removed the hook
# within the watchdog's 5 s, and a finalizer that loops does not delay teardown.
term_case() {
  local name=$1 body=$2 limit=$3
  printf 'net.ns("%s")\nprint("ready") io.stdout:flush()\n%s\n' "$name" "$body" > "$WORK/$name.lua"
  "$NSLUA" "$WORK/$name.lua" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$! start
  wait_out "$WORK/$name.out" ready; sleep 0.2
  start=$EPOCHREALTIME
  kill -TERM $pid
  for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  if kill -0 $pid 2>/dev/null; then kill -KILL $pid; fi
  wait $pid; local rc=$?
  local took; took=$(awk "BEGIN { print $EPOCHREALTIME - $start }")
  check_eq "11: $name: SIGTERM ends it with 143" 143 "$rc"
  check "11: $name: within $limit s (took $took s)" awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t < l) }'
  check "11: $name: torn down" wait_state "$before"
}
term_case pcall_loop 'while true do pcall(function() for i = 1, 1e7 do end end) end' 1.5
term_case pcall_sleep 'while true do pcall(net.sleep, 1) end' 1.5
term_case nohook 'debug.sethook() while true do end' 7
check_contains "11: nohook: the watchdog says what it did" "$(cat "$WORK/nohook.err")" "the script did not end after SIGTERM; tearing down and exiting"
# A finalizer that never returns, run when Lua closes: the lab is gone before it runs,
# and a signal then ends nslua at once.
printf 'net.ns("gc11")\nsetmetatable({}, {__gc = function() while true do end end})\nprint("ready") io.stdout:flush()\n' > "$WORK/gc11.lua"
"$NSLUA" "$WORK/gc11.lua" > "$WORK/gc11.out" 2>&1 &
pid=$!
wait_out "$WORK/gc11.out" ready
check "11: a looping finalizer at exit: the lab is torn down all the same" wait_state "$before"
check "11: ... while the finalizer runs" kill -0 $pid
kill -TERM $pid
for _ in $(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
check "11: ... and SIGTERM ends nslua at once" bash -c "! kill -0 $pid 2>/dev/null"
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null

# Programs that leave their process group (setsid, setpriv's own session) are ended by
# teardown all the same; a background process that never stops writing does not keep
# exec from returning.
s=$(lab escape <<'LUA'
local n = net.ns("esc11")
n:exec("sh", "-c", "setsid sleep 41.7 < /dev/null > /dev/null 2>&1 &")
n:exec("sh", "-c", "setsid sh -c 'setsid sleep 42.7 & sleep 43.7' < /dev/null > /dev/null 2>&1 &")
local t0 = net.now()
local code, out = n:exec("sh", "-c", "(while :; do echo x; done) & echo started")
print("CHATTY", code, out:find("started", 1, true) ~= nil, net.now() - t0 < 2.5)
t0 = net.now()
local ok, err = pcall(n.exec, n, {"sh", "-c", "(while :; do echo x; done) & exit 0", timeout = 0.3})
print("CHATTYTIMEOUT", net.now() - t0 < 1.5)
os.execute("sleep 0.3; pgrep -f -x 'sleep 41.7' > /dev/null && pgrep -f -x 'sleep 42.7' > /dev/null && echo DETACHED-RUNNING")
local _, procs = n:exec("sh", "-c", "echo $$ $(ps -o pid= -p $$); sleep 31.3 & pgrep -f -x 'sleep 31.3' > /dev/null && pkill -f -x 'sleep 31.3' && echo PKILLED")
print("PROC", (procs:gsub("%s+", " ")))
LUA
)
run_nslua "$s"
check_eq "10: the escape lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "10: the detached programs ran during the lab" "$OUT" "DETACHED-RUNNING"
check "10: a program that called setsid is ended by teardown" gone "sleep 41.7"
check "10: and one two sessions away" gone "sleep 42.7"
check "10: and its parent" gone "sleep 43.7"
check_eq "10: a background process writing without end: exec returns" "CHATTY	0	true	true" "$(grep ^CHATTY <<< "$OUT" | head -1)"
check_eq "10: ... and within its timeout" "CHATTYTIMEOUT	true" "$(grep ^CHATTYTIMEOUT <<< "$OUT")"
pid_line=$(grep ^PROC <<< "$OUT")
check "10: exec's /proc is its PID namespace's: \$\$ and ps agree ($pid_line)" bash -c "set -- $(cut -f2 <<< "$pid_line"); [ \"\$1\" = \"\$2\" ]"
check_contains "10: pgrep and pkill work inside" "$pid_line" "PKILLED"

# --- 12. crashes and blow-ups ---------------------------------------------------------------
echo 'print(#arg, select("#", ...))' > "$WORK/args.lua"
for n in 50 100 300 5000; do
  out=$(timeout 10 "$NSLUA" "$WORK/args.lua" $(seq 1 $n) 2>&1)
  check_eq "12: a script with $n arguments" "$n	$n" "$out"
done
run_nslua -e 'debug.setmetatable(io.stdout, debug.getmetatable(net.host)); print(pcall(tostring, io.stdout)); print(pcall(function() return io.stdout.name end))'
check_eq "12: a foreign userdata given an nslua metatable: an error, not a crash" 0 "$RC"
check_contains "12: it is refused as not a Namespace" "$OUT" "Namespace expected"
s=$(lab deep <<'LUA'
local t = {}
for i = 1, 40 do t = {t, t} end
local t0 = net.now()
print("OPTS", pcall(net.veth, "a", "b", t))
local n = net.ns("d12")
print("DEV", pcall(n.route, n, "default", {via = "10.0.0.1", dev = t}))
print("EXEC", pcall(n.exec, n, t))
print("FAST", net.now() - t0 < 2)
local hwm
for line in io.lines("/proc/self/status") do hwm = hwm or line:match("^VmHWM:%s*(%d+)") end
print("SMALL", tonumber(hwm) < 100000)
LUA
)
run_nslua "$s"
check_eq "12: tables sharing sub-tables 40 deep: errors, not exponential copies" "FAST	true" "$(grep ^FAST <<< "$OUT")"
check_eq "12: in bounded memory" "SMALL	true" "$(grep ^SMALL <<< "$OUT")"
check_contains "12: as options, refused at once" "$(grep ^OPTS <<< "$OUT")" "options must be named"
check_contains "12: as an option's value, refused" "$(grep ^DEV <<< "$OUT")" "too large to convert"
check "12: nothing left" wait_state "$before"

# --- 13. argument numbers in option errors ---------------------------------------------------
s=$(lab argnum <<'LUA'
local a = net.veth("an0", "an1")
print(pcall(a.netem, a, {loss = true}))
print(pcall(function() a:netem{loss = true} end))
print(pcall(function() a:rate("1mbit", {burst = {}}) end))
print(pcall(function() net.veth("x", "y", {ns = 5}) end))
LUA
)
run_nslua "$s"
check_contains "13: an option of a method's first argument is #1, not 'bad self'" "$OUT" "bad argument #1 to 'netem' (option 'loss' must be a percentage"
check_contains "13: rate's burst is its second argument" "$OUT" "bad argument #2 to 'rate' (option 'burst' must be a size"
check_contains "13: net.veth's options are its third" "$OUT" "bad argument #3 to 'veth' (option 'ns' must be a Namespace"
check_not_contains "13: never 'bad self' for an option" "$OUT" "bad self"

# --- 14. errors and exit statuses ------------------------------------------------------------
printf '#!/bin/sh\n' > "$WORK/notexec"; chmod 644 "$WORK/notexec"
printf 'net.host:exec("%s")\n' "$WORK/notexec" > "$WORK/eacces.lua"
run_nslua "$WORK/eacces.lua"
check_eq "14: EACCES as root (a program that cannot run) is exit 1, not 3" 1 "$RC"
check_contains "14: it says what is wrong" "$ERR" "Permission denied ($WORK/notexec is not an executable program)"
check_not_contains "14: and does not tell root to run as root" "$ERR" "run it as root"
mkdir -p "$WORK/ro" && mount -t tmpfs -o ro none "$WORK/ro"
printf 'local c = net.host:capture("lo")\nc:stop()\nc:save("%s/x.pcap")\n' "$WORK/ro" > "$WORK/rofs.lua"
run_nslua "$WORK/rofs.lua"
check_eq "14: saving where it cannot write is exit 1" 1 "$RC"
check_contains "14: and says why" "$ERR" "Read-only file system"
umount "$WORK/ro"
for case in 'local a, b = net.veth("m0", "m1") a:master(b)' 'net.host:link("lo"):delete()'; do
  printf '%s\n' "$case" > "$WORK/x14.lua"
  run_nslua "$WORK/x14.lua"
  check_eq "14: exit 1 for: $case" 1 "$RC"
done
s=$(lab save14 <<LUA
local n = net.ns("s14")
local c = n:capture("lo")
n:ping("127.0.0.1", {count = 2, interval = 0.02})
c:stop()
print("FULL", pcall(c.save, c, "/dev/full"))
io.stdout:flush()
c:save("-")
print()
print("AFTER-STDOUT")
io.open("$WORK/exists.pcap", "w"):close()
print("EXISTS", pcall(c.save, c, "$WORK/exists.pcap"))
print("OVERWRITE", pcall(c.save, c, "$WORK/exists.pcap", {overwrite = true}))
os.execute("ln -s $WORK/target.pcap $WORK/link.pcap")
print("SYMLINK", pcall(c.save, c, "$WORK/link.pcap", {overwrite = true}))
local ok, e = pcall(net.ns, string.rep("x", 1000000))
print("LONG", #tostring(e) < 400)
local lim = n:capture("lo", {limit = 5})
n:ping("127.0.0.1", {count = 10, interval = 0.01})
local kept = lim:stop()
print("LIMIT", #kept, lim.dropped > 0, tostring(lim):match("limit of 5 reached") ~= nil)
LUA
)
run_nslua "$s"
check_eq "14: the save lab runs" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
check_contains "14: a write error is reported" "$(grep ^FULL <<< "$OUT")" "false	"
check_contains "14: ... as the kernel says" "$(grep ^FULL <<< "$OUT")" "No space left on device"
check_contains "14: save('-') writes the pcap to stdout" "$(od -An -tx1 "$WORK/out" | tr -d ' \n')" "d4c3b2a1"
check_contains "14: and stdout is still open after it" "$OUT" "AFTER-STDOUT"
check_contains "14: an existing file is not overwritten unless asked" "$(grep ^EXISTS <<< "$OUT")" "overwrite = true"
check_eq "14: when asked, it is" "OVERWRITE	true" "$(grep ^OVERWRITE <<< "$OUT" | cut -f1,2)"
check_eq "14: the pcap written is one tcpdump reads" "4" "$(tcpdump -r "$WORK/exists.pcap" 2>/dev/null | wc -l)"
check_contains "14: a symlink is never followed" "$(grep ^SYMLINK <<< "$OUT")" "is a symlink"
check "14: ... so nothing was written through it" bash -c "! test -e '$WORK/target.pcap'"
check_eq "14: a 1 MB bad argument is not echoed whole" "LONG	true" "$(grep ^LONG <<< "$OUT")"
check_eq "14: a capture keeps at most its limit, and says so" "LIMIT	5	true	true" "$(grep ^LIMIT <<< "$OUT")"
check "14: nothing left" wait_state "$before"

# --- 15. a link is ready for traffic the moment up() returns ---------------------------------
s=$(lab ready <<'LUA'
local slow = 0
for i = 1, 20 do
  local a, b = net.ns("v6a" .. i), net.ns("v6b" .. i)
  local x, y = net.veth("x6", "y6", {ns = a, peer_ns = b})
  x:addr("fd00::1/64", {nodad = true}):addr("10.6.0.1/24"):up()
  y:addr("fd00::2/64", {nodad = true}):addr("10.6.0.2/24"):up()
  -- and addresses added to links already up
  x:addr("fd01::1/64", {nodad = true}) y:addr("fd01::2/64", {nodad = true})
  local r6 = a:ping("fd00::2", {count = 1, timeout = 3})
  local r4 = b:ping("10.6.0.1", {count = 1, timeout = 3})
  local r6b = b:ping("fd01::1", {count = 1, timeout = 3})
  local worst = math.max(r6.max or 1e9, r4.max or 1e9, r6b.max or 1e9)
  if worst >= 100 then
    slow = slow + 1
    print("SLOW", i, r6.max, r4.max, r6b.max, r6.errors[1], r4.errors[1], r6b.errors[1], r6.hint, r4.hint, r6b.hint)
  end
  a:delete() b:delete()
end
print("SLOWRUNS", slow)
LUA
)
run_nslua "$s"
check_eq "15: the first ping right after up() answers in milliseconds, 20 runs out of 20" "SLOWRUNS	0" "$(grep ^SLOWRUNS <<< "$OUT")"
grep '^SLOW	' <<< "$OUT" | sed 's/^/    /'   # which, and why
[ "$RC" = 0 ] || echo "$ERR"

check_clean "robustness:"
finish
