# The REPL in a real terminal (tmux): continuation, results, Ctrl-C,
# completion, history; and -i keeping a lab up until Ctrl-D.
. "$TESTS_DIR/lib.sh"

SOCK="nslua-test-$$"
T="tmux -L $SOCK"
export HOME="$WORK/home"
mkdir -p "$HOME"
cleanup_tmux() { $T kill-server 2>/dev/null; }
trap 'cleanup_tmux; rm -rf "$WORK"' EXIT

screen() { $T capture-pane -p -t repl | sed '/^$/d'; }
# the screen and what scrolled off it
scrolled() { $T capture-pane -p -S -500 -t repl | sed '/^$/d'; }
wait_scrolled() {
  for _ in $(seq 100); do scrolled | grep -qF -- "$1" && return 0; sleep 0.05; done
  return 1
}
# type TEXT : types literally, then Enter
type_line() { $T send-keys -t repl -l "$1"; $T send-keys -t repl Enter; }
# wait_for TEXT : until the screen shows TEXT (up to 5 s)
wait_for() {
  for _ in $(seq 100); do screen | grep -qF -- "$1" && return 0; sleep 0.05; done
  return 1
}

$T new-session -d -s repl -x 150 -y 40 "$NSLUA"
check "prompt appears" wait_for "nslua>"

type_line "1234 + 4321"
check "expression printed" wait_for "5555"
type_line "for i = 1, 3 do"
check "continuation prompt" wait_for ">>"
type_line "io.write(i, ',')"
type_line "end"
check "multi-line statement ran" wait_for "1,2,3,"
type_line '{3, 1, b = 2, a = "x"}'
check "tables shown sorted and shallow" wait_for '{ 3, 1, a = "x", b = 2 }'
type_line "net.host"
check "objects shown with tostring" wait_for "namespace host"

type_line "while true do end"
sleep 0.3
$T send-keys -t repl C-c
check "Ctrl-C interrupts the loop" wait_for "interrupted!"
type_line "print('alive' .. 'again')"
check "prompt is live after Ctrl-C" wait_for "aliveagain"

$T send-keys -t repl -l "if x then"
$T send-keys -t repl Enter
$T send-keys -t repl C-c
type_line "print('dropped' .. 'ok')"
check "Ctrl-C drops an unfinished statement" wait_for "droppedok"

$T send-keys -t repl -l "string.fo"
$T send-keys -t repl Tab
sleep 0.2
$T send-keys -t repl -l '("%d", 7)'
$T send-keys -t repl Enter
check "completion of table fields" wait_for 'string.format("%d", 7)'
$T send-keys -t repl -l "net.ho"
$T send-keys -t repl Tab
sleep 0.2
$T send-keys -t repl -l ":sys"
$T send-keys -t repl Tab
sleep 0.2
check "completion of methods of userdata" wait_for "net.host:sysctl"
$T send-keys -t repl C-c

$T send-keys -t repl C-d
for _ in $(seq 50); do $T has-session -t repl 2>/dev/null || break; sleep 0.05; done
check "Ctrl-D leaves" bash -c "! $T has-session -t repl 2>/dev/null"
check "history written" grep -q "aliveagain\\|alive.*again" "$HOME/.nslua_history"
check_eq "history is private" "600" "$(stat -c %a "$HOME/.nslua_history")"

# help at the prompt: the index by topic, one entry in full, an object's methods.
$T new-session -d -s repl -x 150 -y 60 "$NSLUA"
check "help: prompt" wait_for "nslua>"
type_line 'help()'
check "help(): the index, by topic" wait_scrolled "Namespaces"
check "help(): a primitive and what it does" wait_scrolled "net.ns(name)                                 Makes a named network namespace"
$T send-keys -t repl C-l
type_line 'help("veth")'
check "help(\"veth\"): the signature" wait_for "net.veth([a, b], {ns =, peer_ns =})"
check "help(\"veth\"): the iproute2 command it stands for" wait_for "like    ip link add A type veth peer name B netns NS"
type_line 'help(net.host)'
check "help(obj): its methods" wait_scrolled "ns:veth("
# A ping typed at the prompt prints as iputils does, as it goes; pingall's matrix once.
type_line 'net.host:ping("127.0.0.1", {count = 2})'
check "REPL ping is verbose: iputils' reply lines" wait_for "64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time="
check "... and its statistics" wait_for "--- 127.0.0.1 ping statistics ---"
$T send-keys -t repl C-l
$T clear-history -t repl
type_line 'net.pingall({net.host})'
check "pingall at the prompt" wait_for "*** Results"
check_eq "pingall's matrix is shown once" 1 "$(scrolled | grep -c 'Ping: testing ping reachability')"
$T send-keys -t repl C-d
for _ in $(seq 50); do $T has-session -t repl 2>/dev/null || break; sleep 0.05; done

# Completion with one match must not ring the bell (libedit reads [replacement, match]
# as ambiguous): the raw terminal output must hold no BEL.
cat > "$WORK/bell.py" <<'PY'
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1]])
def read_for(t):
    out, end = b"", time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return out
read_for(1.0)
os.write(fd, b"net.ho\t")
got = read_for(0.6)
os.write(fd, b"\x15print(\"ab\" .. \"cd\")\r")
got2 = read_for(0.6)
os.write(fd, b"\x04")
read_for(0.3)
print("BELL" if b"\x07" in got else "NOBELL", "COMPLETED" if b"net.host" in got else "NOTCOMPLETED", "LIVE" if b"abcd" in got2 else "DEAD")
PY
check_eq "completion with one match: completed, no bell" "NOBELL COMPLETED LIVE" "$(python3 "$WORK/bell.py" "$NSLUA")"

# UTF-8 typed at the prompt reaches Lua whole (libedit takes one character per read),
# whatever the locale the REPL was started in.
cat > "$WORK/utf8.py" <<'PY'
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("LANG", None); os.environ.pop("LC_ALL", None)
    os.execv(sys.argv[1], [sys.argv[1]])
def read_for(t):
    out, end = b"", time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return out
read_for(1.0)
os.write(fd, 'print(#"é中", "é中" == "\\195\\169\\228\\184\\173")\r'.encode())
got = read_for(0.8).decode(errors="replace")
os.write(fd, b"\x04")
read_for(0.3)
print("RESULT", "5\ttrue" in got, "\x07" in got)
PY
check_eq "UTF-8 at the prompt: whole, no bell" "RESULT True False" "$(TERM=xterm python3 "$WORK/utf8.py" "$NSLUA")"

# -i: the lab's namespaces and bridges are globals, and the banner lists them; ns:shell()
# hands the terminal to a shell inside the namespace and the REPL comes back intact.
printf 'local n = net.ns("kept2")\nlocal br = net.bridge("br9", {ns = n})\n' > "$WORK/lab2.lua"
$T new-session -d -s repl -x 150 -y 40 "$NSLUA -i $WORK/lab2.lua"
check "-i: prompt" wait_for "nslua>"
check "-i: the banner names the lab's namespaces and bridges" wait_for "kept2"
check_contains "-i: ... the bridge too" "$(screen)" "br9"
type_line 'print(kept2.name .. "," .. br9.kind .. "," .. br9.ns.name)'
check "-i: locals of the script are globals under their names" wait_for "kept2,bridge,kept2"
type_line 'kept2:shell("/bin/sh")'
check "shell: a prompt saying where it runs" wait_for "[kept2] $"
type_line 'echo "in=$NSLUA_NS"; ip -br link | cut -d" " -f1 | sort | tr "\n" ","; echo'
check "shell: NSLUA_NS names the namespace" wait_for "in=kept2"
check "shell: it sees the namespace's links" wait_for "br9,lo,"
type_line 'sleep 30'
sleep 0.3
$T send-keys -t repl C-c
type_line 'echo after-ctrl-c'
check "shell: Ctrl-C goes to the shell's program, not to nslua" wait_for "after-ctrl-c"
type_line 'exit'
check "shell: back at nslua's prompt" bash -c "$(declare -f screen wait_for); T='$T'; wait_for 'nslua> '"
$T send-keys -t repl C-l
$T send-keys -t repl -l 'print(45)'
$T send-keys -t repl Left
$T send-keys -t repl -l '6'
$T send-keys -t repl Enter
check "shell: line editing intact afterwards (a cursor move and an insert)" wait_for "456"
$T send-keys -t repl C-d
for _ in $(seq 50); do $T has-session -t repl 2>/dev/null || break; sleep 0.05; done
check_clean "after the shell:"

# -i keeps the lab up in the REPL; Ctrl-D tears it down.
printf 'local n = net.ns("kept1")\nlab_ns = n\n' > "$WORK/lab.lua"
$T new-session -d -s repl -x 150 -y 40 "$NSLUA -i $WORK/lab.lua"
check "-i prompt" wait_for "nslua>"
check_eq "lab is up while in the REPL" "kept1" "$(ip netns list | awk '{print $1}')"
type_line "lab_ns.name"
check "script's globals are there" wait_for "kept1"
$T send-keys -t repl C-d
for _ in $(seq 50); do $T has-session -t repl 2>/dev/null || break; sleep 0.05; done
check_clean "after Ctrl-D in -i:"

finish
