#!/usr/bin/env bash
# Startup time: `lua5.4 -e ''` and `nslua -e ''`, alternated, REPS times
# each. Prints "METHOD REP SECONDS" per run (bash's clock around each run).
#   startup.sh REPS NSLUA
set -u
reps=$1 nslua=$2
for r in $(seq "$reps"); do
  t0=$EPOCHREALTIME; lua5.4 -e '' || exit 1; t1=$EPOCHREALTIME
  echo "lua5.4 $r $(awk "BEGIN { printf \"%.6f\", $t1 - $t0 }")"
  t0=$EPOCHREALTIME; "$nslua" -e '' || exit 1; t1=$EPOCHREALTIME
  echo "nslua $r $(awk "BEGIN { printf \"%.6f\", $t1 - $t0 }")"
done
