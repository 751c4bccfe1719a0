#!/usr/bin/env bash
# Benchmarks nslua side by side with the tools people would otherwise use,
# in one run, and writes RESULTS.md (and the raw numbers, raw.tsv, and what
# it ran on, meta.txt: `python3 bench/report.py meta.txt raw.tsv` redoes it).
#
#   bench/run.sh [--smoke] [--reps K] [--n N] [--out DIR]      (as root)
#
# Every measured run gets fresh network, mount and pid namespaces (unshare),
# with a private tmpfs on /run/netns and /run/nslua and lo up (bench/fresh.sh),
# so nothing is made in the host's namespace; when a run ends or is stopped
# the kernel removes whatever it left. Methods alternate (A B C A B C).
#
#  star      N hosts (default 250) on one bridge in a namespace of its own,
#            a ring ping (hI pings hI+1, one echo), teardown; the whole run
#            is timed, for nslua, bash (one ip per step), ip -batch,
#            pyroute2 and Mininet (LinuxBridge, no controller). REPS times.
#  scale     nslua's topo.star(N) and topo.star(BIG_N), build and teardown
#            only (bench/scale.lua), alternated, REPS times: how it grows.
#  memory    each method's star-N once more, its process tree sampled for
#            peak RSS/PSS (not timed); nslua also at BIG_N (scale.lua).
#  startup   `lua5.4 -e ''` against `nslua -e ''`, STARTUP_REPS times each.
#  pingall   all pairs at each of PINGALL_SIZES hosts, nslua's net.pingall
#            against Mininet's net.pingAll (Mininet only up to
#            MININET_PINGALL_MAX hosts: it takes 12 minutes at 100),
#            PINGALL_REPS times.
#
# Settings (environment): N REPS METHODS PINGALL_SIZES PINGALL_REPS MININET_PINGALL_MAX
# STARTUP_REPS BIG_N STAR_TIMEOUT PINGALL_TIMEOUT MININET_PINGALL_TIMEOUT
# SETTLE_MAX NSLUA (default .build/release/nslua). --smoke (or SMOKE=1): every method
# once at N=10, pingall at 10, scale at 10 and 20 (BIG_N), written to
# bench/.smoke/.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/bench
ARGS="$*"

die() { echo "bench: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

SMOKE=${SMOKE:-0}
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) SMOKE=1 ;;
    --reps) REPS=${2:?}; shift ;;
    --n) N=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

METHODS=${METHODS:-"nslua bash ipbatch pyroute2 mininet"}
STAR_TIMEOUT=${STAR_TIMEOUT:-300}
PINGALL_TIMEOUT=${PINGALL_TIMEOUT:-300}
MININET_PINGALL_TIMEOUT=${MININET_PINGALL_TIMEOUT:-780}
MININET_PINGALL_MAX=${MININET_PINGALL_MAX:-100}
if [ "$SMOKE" = 1 ]; then
  N=${N:-10} REPS=${REPS:-1} PINGALL_SIZES=${PINGALL_SIZES:-10} PINGALL_REPS=${PINGALL_REPS:-1}
  STARTUP_REPS=${STARTUP_REPS:-10} BIG_N=${BIG_N:-20} OUT=${OUT:-$B/.smoke}
  STAR_TIMEOUT=60 PINGALL_TIMEOUT=60 MININET_PINGALL_TIMEOUT=60 SETTLE_MAX=${SETTLE_MAX:-3}
else
  N=${N:-250} REPS=${REPS:-3} PINGALL_SIZES=${PINGALL_SIZES:-"50 100 250"} PINGALL_REPS=${PINGALL_REPS:-1}
  STARTUP_REPS=${STARTUP_REPS:-200} BIG_N=${BIG_N-1000} OUT=${OUT:-$B}
  SETTLE_MAX=${SETTLE_MAX:-10}
fi
NSLUA=${NSLUA:-$ROOT/.build/release/nslua}

[ "$(id -u)" = 0 ] || die "run me as root: every run makes namespaces (in private ones of its own)"
[ -x "$NSLUA" ] || die "no nslua at $NSLUA: build it first (make build), or set NSLUA"
case $NSLUA in /*) ;; *) NSLUA=$ROOT/$NSLUA ;; esac
"$B/setup.sh" || die "installing what the benchmark needs failed"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
RAW=$W/raw.tsv
: >"$RAW"
STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
VERSION=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)   # at the start: what was built
T_START=$EPOCHREALTIME
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Processes not of this benchmark that keep a core busy skew every number:
# those that used half a core or more over their lifetime (ps %CPU).
busy_others() {
  ps -eo pid=,pcpu=,comm= | awk -v me=$$ '$1 != me && $2 >= 50 { printf "%s%s (pid %s, %s%% CPU)", sep, $3, $1, $2; sep = ", " }'
}
BUSY_BEFORE=$(busy_others)
HOST_BEFORE=$(ip netns list 2>/dev/null; ip -br link 2>/dev/null | awk '{print $1}')

# --- waiting for the kernel ------------------------------------------------
# A namespace's teardown ends in the kernel after the process that removed
# it has exited. Before the next run, wait until the kernel's count of
# network namespaces (the net_namespace slab) is back near where it was, or
# has stopped falling for 0.5 s (the last ones may be freed in a deferred
# batch many seconds later, at no cost to anyone), at most SETTLE_MAX
# seconds: so that no run pays for the previous one's cleanup.
# Prints the seconds waited.
netns_count() { awk '$1 == "net_namespace" { print $2 }' /proc/slabinfo 2>/dev/null; }
BASE=$(netns_count)
settle() {
  local t0=$EPOCHREALTIME c=$BASE prev=999999999 still=0
  if [ -z "$BASE" ]; then sleep 1; else
    for _ in $(seq $((SETTLE_MAX * 10))); do
      c=$(netns_count)
      [ "$c" -le $((BASE + 8)) ] && break
      if [ "$c" -lt "$prev" ]; then still=0; else still=$((still + 1)); fi
      [ "$still" -ge 5 ] && break
      prev=$c
      sleep 0.1
    done
    [ "$c" -lt "$BASE" ] && BASE=$c
  fi
  awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }"
}

# --- one run -----------------------------------------------------------------
# run_one SECTION METHOD N REP LIMIT COMMAND... : runs COMMAND in fresh
# namespaces (stopped after LIMIT seconds), appends one line to raw.tsv:
# section method n rep status seconds rss_kb cleanup_s info
SAMPLE=0
run_one() {
  local section=$1 method=$2 n=$3 rep=$4 limit=$5
  shift 5
  local out=$W/$section-$method-$n-$rep
  printf 'bench: %-8s %-9s N=%-5s rep %-2s ' "$section" "$method" "$n" "$rep" >&2
  # Killing unshare kills the run's pid 1 (--kill-child), and with it every
  # process of the run: --foreground, so timeout does not kill us too.
  SAMPLE=$SAMPLE timeout --foreground -s KILL "$limit" \
    unshare --net --mount --propagation private --pid --kill-child --mount-proc \
    bash "$B/fresh.sh" "$out" "$@" </dev/null 2>"$out.unshare"
  local cleanup status secs rc rss info left
  cleanup=$(settle)
  if [ -s "$out.time" ]; then
    read -r rc secs <"$out.time"
    if [ "$rc" = 0 ]; then status=ok; else status="exit-$rc"; fi
  else
    status=timeout secs=$limit
  fi
  local user= sys=
  read -r rss user sys < <(tail -n 1 "$out.rss" 2>/dev/null)
  [[ "$rss" =~ ^[0-9]+$ ]] || rss=-
  info=$(result_info "$section" "$out" "$n" | tr '\n' ' ')
  [[ "$user" =~ ^[0-9.]+$ && "$sys" =~ ^[0-9.]+$ ]] && info="$info user_s=$user sys_s=$sys"
  [[ "$status" = exit-* ]] && info="$info error=$(cat "$out.stderr" "$out.unshare" 2>/dev/null | grep -v '^ *$' | tail -n 1 | tr '\t ' '__' | cut -c1-120)"
  left=$(cat "$out.left" 2>/dev/null | tr '\n' ',' | sed 's/,$//')
  [ -n "$left" ] && info="$info left=$left"
  info=$(sed 's/^ *//; s/  */ /g; s/ *$//' <<<"$info")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$section" "$method" "$n" "$rep" "$status" "$secs" "$rss" "$cleanup" "$info" >>"$RAW"
  echo "$status ${secs}s $info" >&2
}

# The method's own result line, as key=value words.
result_info() {
  local section=$1 out=$2 n=$3
  case $section in
    star) grep '^ring ' "$out.stdout" | tail -n 1 | awk '{ print "ring=" $2, "build_s=" $4, "ping_s=" $6 }' ;;
    scale) grep '^hosts ' "$out.stdout" | tail -n 1 | awk '{ print "build_s=" $4, "teardown_s=" $6 }' ;;
    pingall)
      if grep -q '^pairs ' "$out.stdout"; then
        grep '^pairs ' "$out.stdout" | tail -n 1 | awk '{ printf "pairs=%s received=%s dropped=%s pingall_s=%s", $2, $4, $6, $8
          if (NF >= 12) printf " rounds=%s retried=%s", $10, $12; print "" }'
      else # stopped: how far Mininet's pingall rows (on its stderr) got
        cat "$out.stdout" "$out.stderr" | awk -v n="$n" '
          /^h[0-9]+ -> / { if (NF == n + 1) rows++; for (i = 3; i <= NF; i++) { tried++; if ($i == "X") lost++ } }
          END { printf "rows_done=%d pairs_tried=%d dropped_so_far=%d", rows, tried, lost }'
      fi ;;
    memory) cat "$out.mem" 2>/dev/null; grep -o '^ring [0-9]*/[0-9]*' "$out.stdout" | sed 's/ /=/' ;;
  esac
}

star_command() {  # star_command METHOD N : sets CMD
  case $1 in
    nslua) CMD=("$NSLUA" "$B/star.lua" "$2") ;;
    bash) CMD=(bash "$B/star_bash.sh" "$2") ;;
    ipbatch) CMD=(bash "$B/star_ipbatch.sh" "$2") ;;
    pyroute2) CMD=("$B/.venv/bin/python" "$B/star_pyroute2.py" "$2") ;;
    mininet) CMD=(/usr/bin/python3 "$B/star_mininet.py" "$2") ;;
    *) die "unknown method $1" ;;
  esac
}

# --- the sections ------------------------------------------------------------
settle >/dev/null

for rep in $(seq "$REPS"); do
  for m in $METHODS; do
    star_command "$m" "$N"
    run_one star "$m" "$N" "$rep" "$STAR_TIMEOUT" "${CMD[@]}"
  done
done

if [ -n "$BIG_N" ] && [[ " $METHODS " == *" nslua "* ]]; then
  for rep in $(seq "$REPS"); do
    for n in "$N" "$BIG_N"; do
      run_one scale nslua "$n" "$rep" "$STAR_TIMEOUT" "$NSLUA" "$B/scale.lua" "$n"
    done
  done
fi

SAMPLE=1
for m in $METHODS; do
  star_command "$m" "$N"
  run_one memory "$m" "$N" 1 "$STAR_TIMEOUT" "${CMD[@]}"
done
if [ -n "$BIG_N" ] && [[ " $METHODS " == *" nslua "* ]]; then
  run_one memory nslua "$BIG_N" 1 "$STAR_TIMEOUT" "$NSLUA" "$B/scale.lua" "$BIG_N"
fi
SAMPLE=0

run_one startup both 0 1 600 "$B/startup.sh" "$STARTUP_REPS" "$NSLUA"
awk -v OFS='\t' '{ print "startup", $1, 0, $2, "ok", $3, "-", "-", "" }' "$W/startup-both-0-1.stdout" >>"$RAW"

for n in $PINGALL_SIZES; do
  for rep in $(seq "$PINGALL_REPS"); do
    for m in $METHODS; do
      case $m in
        nslua) run_one pingall nslua "$n" "$rep" "$PINGALL_TIMEOUT" "$NSLUA" "$B/pingall.lua" "$n" ;;
        mininet) [ "$n" -le "$MININET_PINGALL_MAX" ] || continue
                 run_one pingall mininet "$n" "$rep" "$MININET_PINGALL_TIMEOUT" \
                   /usr/bin/python3 -u "$B/pingall_mininet.py" "$n" ;;
      esac
    done
  done
done

# --- nothing left on the host; the report --------------------------------------
BUSY_AFTER=$(busy_others)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
HOST_AFTER=$(ip netns list 2>/dev/null; ip -br link 2>/dev/null | awk '{print $1}')
HOST_CLEAN=yes
if [ "$HOST_BEFORE" != "$HOST_AFTER" ]; then
  HOST_CLEAN=no
  echo "bench: the host's namespaces or links changed during the run:" >&2
  diff <(echo "$HOST_BEFORE") <(echo "$HOST_AFTER") >&2
fi

version() { "$@" 2>&1 | head -n 1; }
{
  echo "command=bench/run.sh $ARGS"
  echo "started=$STARTED"
  echo "load=$LOAD_BEFORE"
  echo "load_end=$LOAD_AFTER"
  echo "busy_start=${BUSY_BEFORE:-none}"
  echo "busy_end=${BUSY_AFTER:-none}"
  echo "duration_s=$(awk "BEGIN { printf \"%.0f\", $EPOCHREALTIME - $T_START }")"
  echo "kernel=$(uname -r)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "nslua=$VERSION ($NSLUA)"
  echo "iproute2=$(version ip -V)"
  echo "iputils=$(version ping -V)"
  echo "lua=$(version lua5.4 -v)"
  echo "python=$(version /usr/bin/python3 --version)"
  echo "pyroute2=$("$B/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pyroute2"))')"
  echo "mininet=$(dpkg-query -W -f '${Version}' mininet)"
  echo "smoke=$SMOKE"
  echo "n=$N"
  echo "reps=$REPS"
  echo "methods=$METHODS"
  echo "pingall_sizes=$PINGALL_SIZES"
  echo "pingall_reps=$PINGALL_REPS"
  echo "startup_reps=$STARTUP_REPS"
  echo "big_n=$BIG_N"
  echo "star_timeout=$STAR_TIMEOUT"
  echo "pingall_timeout=$PINGALL_TIMEOUT"
  echo "mininet_pingall_timeout=$MININET_PINGALL_TIMEOUT"
  echo "mininet_pingall_max=$MININET_PINGALL_MAX"
  echo "host_clean=$HOST_CLEAN"
} >"$W/meta"

mkdir -p "$OUT"
cp "$RAW" "$OUT/raw.tsv"
cp "$W/meta" "$OUT/meta.txt"
/usr/bin/python3 "$B/report.py" "$OUT/meta.txt" "$OUT/raw.tsv" >"$OUT/RESULTS.md" || die "report failed"
echo "bench: wrote $OUT/RESULTS.md, $OUT/raw.tsv and $OUT/meta.txt" >&2
[ "$HOST_CLEAN" = yes ]
