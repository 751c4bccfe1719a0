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
