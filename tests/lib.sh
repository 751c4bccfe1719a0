# Helpers for tests/test_*.sh. Each test runs in its own network and mount
# namespace (tests/run.sh); state is checked with iproute2, ping and tcpdump.
set -u
NSLUA=${NSLUA:?}
FAILS=0
CHECKS=0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "  not ok: $*"; FAILS=$((FAILS + 1)); }
pass() { CHECKS=$((CHECKS + 1)); }

# check DESCRIPTION COMMAND... : the command must succeed.
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then pass; else fail "$what (command: $*)"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
  if [ "$2" == "$3" ]; then pass; else fail "$1: expected [$2], got [$3]"; fi
}

# check_contains DESCRIPTION HAYSTACK NEEDLE
check_contains() {
  if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: [$3] not found in [$2]"; fi
}

check_not_contains() {
  if [[ "$2" != *"$3"* ]]; then pass; else fail "$1: [$3] unexpectedly found in [$2]"; fi
}

# lab NAME <<'EOF' ... EOF : writes a Lua script to $WORK/NAME.lua
lab() { cat >"$WORK/$1.lua"; echo "$WORK/$1.lua"; }

# run_nslua ARGS... : runs nslua, sets OUT, ERR, RC
run_nslua() {
  "$NSLUA" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  OUT=$(cat "$WORK/out"); ERR=$(cat "$WORK/err")
}

# No named namespace and no link but lo left in this private namespace.
check_clean() {
  # The kernel frees a deleted namespace's links asynchronously: give it a moment.
  for _ in $(seq 50); do
    [ -z "$(ip netns list)" ] && [ "$(ip -br link | wc -l)" = 1 ] && break
    sleep 0.05
  done
  check_eq "${1:-} no namespace left" "" "$(ip netns list)"
  check_eq "${1:-} no link left" "lo" "$(ip -br link | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
}

finish() {
  echo "$CHECKS checks passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
