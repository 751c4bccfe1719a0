# Bad input, generated: at least 10,000 calls of every net function and
# method with wrong arguments. Zero crashes, every error names its function,
# and nothing is left behind afterwards (checked with ip).
. "$TESTS_DIR/lib.sh"
# Generated calls include cap:save(<any string>): run where stray files cannot land in the repository.
repo_state() { (cd "$TESTS_DIR/.." && git status --porcelain --untracked-files=all 2>/dev/null); }
repo_before=$(repo_state)
cd "$WORK"

for run in "10000 1" "4000 2"; do
  set -- $run
  want=$1 seed=$2
  "$NSLUA" "$TESTS_DIR/lua/bad_input.lua" "$want" "$seed" > "$WORK/out" 2> "$WORK/err"
  rc=$?
  check_eq "seed $seed: nslua exits 0 (no crash, every message named)" 0 "$rc"
  [ "$rc" = 0 ] || tail -25 "$WORK/err"
  line=$(grep '^CALLS' "$WORK/out")
  calls=$(echo "$line" | awk '{print $2}')
  check "seed $seed: at least $want calls made in one run ($calls)" test "${calls:-0}" -ge "$want"
  check_contains "seed $seed: no unnamed messages" "$line" "UNNAMED	0"
  check_clean "seed $seed:"
done
check_eq "no journal left" "" "$(ls /run/nslua)"
check_eq "nothing written into the repository" "$repo_before" "$(repo_state)"
finish
