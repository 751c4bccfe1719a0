#!/usr/bin/env bash
# Runs every tests/test_*.sh, each in a private network + mount namespace with
# its own /run/netns and /run/nslua (so nothing it makes is visible on the
# host, and the host's namespaces are invisible to it), and prints
# "N passed, N failed" at the end.
#
#   tests/run.sh [PATTERN]      NSLUA=path/to/nslua (default: .build/debug/nslua)
set -u
cd "$(dirname "$0")/.."
export NSLUA="${NSLUA:-$PWD/.build/debug/nslua}"
export TESTS_DIR="$PWD/tests"
pattern="${1:-}"
passed=0 failed=0 failed_names=()
before_ns=$(ip netns list 2>/dev/null | sort)
before_links=$(ip -br link 2>/dev/null | awk '{print $1}' | sort)

# The kernel frees a test's namespaces after the test has ended (cleanup_net,
# holding locks the next test needs): before each test, wait until its count
# of network namespaces is back near where it was, or has stopped falling,
# for at most 10 s, so that no test pays for the one before.
netns_count() { awk '$1 == "net_namespace" { print $2 }' /proc/slabinfo 2>/dev/null; }
base=$(netns_count)
settle() {
  [ -n "$base" ] || return 0
  local c prev=999999999 still=0
  for _ in $(seq 100); do
    c=$(netns_count)
    [ "$c" -le $((base + 8)) ] && return 0
    if [ "$c" -lt "$prev" ]; then still=0; else still=$((still + 1)); fi
    [ "$still" -ge 5 ] && return 0
    prev=$c
    sleep 0.1
  done
}

for t in tests/test_*.sh; do
  name=$(basename "$t" .sh)
  [ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
  settle
  log=$(mktemp)
  start=$EPOCHREALTIME
  if [ "${PRIVATE:-1}" = 1 ]; then
    unshare --net --mount --propagation private bash -c '
      mkdir -p /run/netns /run/nslua
      mount -t tmpfs -o mode=0755 nslua-test /run/netns
      mount -t tmpfs -o mode=0700 nslua-test /run/nslua
      ip link set lo up
      exec bash "$0"' "$t" >"$log" 2>&1
  else
    bash "$t" >"$log" 2>&1
  fi
  rc=$?
  secs=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1)); echo "ok   $name (${secs}s)"
    [ -n "${VERBOSE:-}" ] && sed 's/^/     /' "$log"
  else
    failed=$((failed + 1)); failed_names+=("$name"); echo "FAIL $name (${secs}s)"
    grep -F "not ok:" "$log" | sed 's/^/     /'
    echo "     --- last lines of its output:"
    sed 's/^/     /' "$log" | tail -n 40
  fi
  rm -f "$log"
done

# Nothing may be left on the host by any test.
after_ns=$(ip netns list 2>/dev/null | sort)
after_links=$(ip -br link 2>/dev/null | awk '{print $1}' | sort)
if [ "$before_ns" != "$after_ns" ] || [ "$before_links" != "$after_links" ]; then
  echo "FAIL host-leftovers: the host's namespaces or links changed during the tests"
  diff <(echo "$before_ns"; echo "$before_links") <(echo "$after_ns"; echo "$after_links")
  failed=$((failed + 1))
fi

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
