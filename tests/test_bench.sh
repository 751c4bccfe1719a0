# The benchmark harness in smoke mode (bench/run.sh --smoke): every method
# runs once at N=10 and must give a number, and nothing may be left behind.
# Times are never checked: they are measurements, not tests.
. "$TESTS_DIR/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
out=$WORK/bench

NSLUA=$NSLUA "$ROOT/bench/run.sh" --smoke --out "$out" >"$WORK/bench.log" 2>&1
rc=$?
check_eq "bench/run.sh --smoke exits 0 (log: $(tail -n 3 "$WORK/bench.log" | tr '\n' ' '))" 0 "$rc"
raw=$out/raw.tsv
check "raw.tsv written" test -s "$raw"
check "RESULTS.md written" test -s "$out/RESULTS.md"

# has SECTION METHOD [KEY]: a run of METHOD in SECTION finished (status ok)
# with a positive time, and with a number for KEY in its details if given.
has() {
  awk -F'\t' -v s="$1" -v m="$2" -v key="${3:-}" '
    $1 == s && $2 == m && $5 == "ok" && $6 + 0 > 0 {
      if (key == "") found = 1
      n = split($9, words, " ")
      for (i = 1; i <= n; i++) if (words[i] ~ "^" key "=[0-9.]+(/[0-9]+)?$") found = 1
    }
    END { exit !found }' "$raw"
}
for m in nslua bash ipbatch pyroute2 mininet; do
  check "star: $m gave a time and a ring result" has star "$m" ring
  check "memory: $m gave a tree RSS" has memory "$m" tree_rss_kb
  check "RESULTS.md names $m's star run" grep -q "^| star | $m | 10 | 1 | ok" "$out/RESULTS.md"
done
for m in nslua mininet; do
  check "pingall: $m gave a time" has pingall "$m" pingall_s
  check "pingall: $m counted drops" has pingall "$m" dropped
done
for n in 10 20; do
  check "scale: nslua at $n gave its build and teardown" has scale nslua teardown_s
  check "RESULTS.md names the scale run at $n" grep -q "^| scale | nslua | $n | 1 | ok" "$out/RESULTS.md"
done
check "RESULTS.md gives the growth ratio" grep -q "^star-20 against star-10, median of per-repetition ratios: whole run [0-9.]*×" "$out/RESULTS.md"
check "star runs report their CPU time" has star ipbatch sys_s
for m in nslua lua5.4; do
  check "startup: $m gave times" has startup "$m"
done
check_eq "startup: one line per run and command" 20 "$(awk -F'\t' '$1 == "startup" && $2 != "both"' "$raw" | wc -l)"
check_eq "no run left anything in its namespaces" "" "$(grep -o 'left=[^ ]*' "$raw")"
check_eq "no method ended in error or timeout" "" "$(awk -F'\t' '$5 != "ok"' "$raw")"

# Nothing of ours is still running, and nothing is left here.
check_eq "no benchmark process left" "" "$(pgrep -af "$ROOT/bench/" | grep -v pgrep)"
check_clean "after the benchmark:"
finish
