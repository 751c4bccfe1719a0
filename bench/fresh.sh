#!/usr/bin/env bash
# One benchmark run, as pid 1 of the fresh network, mount and pid namespaces
# that run.sh makes for it:
#   fresh.sh OUT COMMAND [ARGS...]
# It mounts a private tmpfs on /run/netns and /run/nslua, makes /proc/sys
# read-only (so no tool can change one of the host's global sysctls: Mininet
# tries to raise kernel.pty.max), sets lo up, then runs COMMAND once under
# GNU time and writes
#   OUT.time    exit status and wall seconds
#   OUT.rss     GNU time's %M %U %S: peak RSS (kB) of the largest single
#               process, user and system CPU seconds of the whole tree
#   OUT.stdout, OUT.stderr
#   OUT.left    what the command left behind here (named namespaces, links,
#               processes): the namespaces' end removes it anyway, but a
#               method that does not clean up should show it
#   OUT.mem     with SAMPLE=1: peak RSS and PSS sums of its process tree
set -u
out=$1
shift
mkdir -p /run/netns /run/nslua
mount -t tmpfs -o mode=0755 nslua-bench /run/netns
mount -t tmpfs -o mode=0700 nslua-bench /run/nslua
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
ip link set lo up

t0=$EPOCHREALTIME
if [ "${SAMPLE:-0}" = 1 ]; then
  /usr/bin/time -f '%M %U %S' -o "$out.rss" "$@" >"$out.stdout" 2>"$out.stderr" </dev/null &
  pid=$!
  /usr/bin/python3 "$(dirname "$0")/memsample.py" "$pid" >"$out.mem" &
  wait "$pid"
  rc=$?
  wait
else
  /usr/bin/time -f '%M %U %S' -o "$out.rss" "$@" >"$out.stdout" 2>"$out.stderr" </dev/null
  rc=$?
fi
t1=$EPOCHREALTIME
echo "$rc $(awk "BEGIN { printf \"%.4f\", $t1 - $t0 }")" >"$out.time"

ps -e -o pid=,comm= >"$out.ps" 2>/dev/null  # ps is then our only child
{
  for f in /run/netns/*; do [ -e "$f" ] && echo "netns:${f##*/}"; done
  ip -br link | awk '$1 != "lo" { sub(/@.*/, "", $1); print "link:" $1 }'
  awk -v me=$$ '$1 != me && $2 != "ps" { print "process:" $2 }' "$out.ps"
} >"$out.left" 2>/dev/null
