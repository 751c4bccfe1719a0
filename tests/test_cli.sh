# The binary: exit codes, arg, -e, -l, -i with piped input, stdin scripts,
# error output format, package.path.
. "$TESTS_DIR/lib.sh"

run_nslua -e 'print(1 + 1)'
check_eq "-e runs code" "2" "$OUT"; check_eq "-e exit 0" 0 "$RC"

s=$(lab args <<'LUA'
print(#arg, arg[0]:match("[^/]*$"), arg[1], arg[2], arg[-1] ~= nil, select("#", ...), ...)
LUA
)
run_nslua "$s" a "b c"
check_eq "arg table and ..." "2	args.lua	a	b c	true	2	a	b c" "$OUT"
echo 'print(arg[-1], arg[-2], arg[-3] ~= nil, arg[-4])' > "$WORK/neg.lua"
out=$("$NSLUA" -e 'x=1' "$WORK/neg.lua")
check_eq "arg[-n] holds the interpreter and options" "x=1	-e	true	nil" "$out"

s=$(lab fails <<'LUA'
local x = 1
error("boom")
LUA
)
run_nslua "$s"
check_eq "a raising script exits 1" 1 "$RC"
check_contains "error names script:line" "$ERR" "nslua: $s:2: boom"
check_contains "error has a traceback" "$ERR" "stack traceback:"

run_nslua -x
check_eq "unknown option exits 2" 2 "$RC"
check_contains "usage on stderr" "$ERR" "usage: nslua"
run_nslua -e
check_eq "-e without code exits 2" 2 "$RC"
run_nslua --help
check_contains "--help prints usage" "$OUT" "usage: nslua"; check_eq "--help exits 0" 0 "$RC"
run_nslua -v
check_contains "-v prints the version" "$OUT" "nslua 0."
check_contains "-v names Lua" "$OUT" "Lua 5.4"
run_nslua /nonexistent/lab.lua
check_eq "missing script exits 1" 1 "$RC"
check_contains "missing script says so" "$ERR" "cannot open /nonexistent/lab.lua"
s=$(lab syntax <<'LUA'
x = = 1
LUA
)
run_nslua "$s"
check_eq "syntax error exits 1" 1 "$RC"
check_contains "syntax error position" "$ERR" "syntax.lua:1:"

# Scripts from stdin: "-" and no argument with stdin not a terminal.
out=$(echo 'print("from stdin", ...)' | "$NSLUA" - x y)
check_eq "nslua - reads stdin with args" "from stdin	x	y" "$out"
out=$(echo 'print(2 * 21)' | "$NSLUA")
check_eq "piped stdin runs as a script" "42" "$out"
echo 'error("piped")' | "$NSLUA" 2>/dev/null; check_eq "piped error exits 1" 1 "$?"

# -i with piped input: the REPL reads statements and prints expressions.
out=$(printf 'x = 20\nx + 1\nfor i = 1, 2 do\nprint(i)\nend\n{1, 2, k = "v"}\n' | "$NSLUA" -i -e 'y = 1')
check_eq "-i REPL on piped input" "21
1
2
{ 1, 2, k = \"v\" }" "$out"
out=$(printf 'error("oops")\nprint("still alive")\n' | "$NSLUA" -i 2>&1)
check_contains "REPL reports errors" "$out" "stdin:1: oops"
check_contains "REPL goes on after an error" "$out" "still alive"

# -l and package.path: the script's folder, NSLUA_PATH, the bundled lua/.
mkdir -p "$WORK/lib" "$WORK/sub"
echo 'return { answer = 42 }' > "$WORK/lib/mymod.lua"
echo 'return { near = true }' > "$WORK/sub/neighbour.lua"
out=$(NSLUA_PATH="$WORK/lib" "$NSLUA" -l mymod -e 'print(mymod.answer)')
check_eq "-l NAME with NSLUA_PATH" "42" "$out"
out=$(NSLUA_PATH="$WORK/lib" "$NSLUA" -l m=mymod -e 'print(m.answer)')
check_eq "-l g=mod" "42" "$out"
echo 'print(require("neighbour").near)' > "$WORK/sub/main.lua"
out=$(cd / && "$NSLUA" "$WORK/sub/main.lua")
check_eq "package.path has the script's folder" "true" "$out"
out=$(cd / && "$NSLUA" -e 'print(require("nslua.topo") ~= nil, require("nslua") == net)')
check_eq "package.path has the bundled lua/" "true	true" "$out"
out=$("$NSLUA" -e 'print(package.path)')
check_contains "package.path keeps ./?.lua" "$out" "./?.lua"

# os.exit codes.
"$NSLUA" -e 'os.exit(7)'; check_eq "os.exit(7)" 7 "$?"
"$NSLUA" -e 'os.exit(false)'; check_eq "os.exit(false)" 1 "$?"
"$NSLUA" -e 'os.exit(true)'; check_eq "os.exit(true)" 0 "$?"

# A #! line is skipped, line numbers kept.
printf '#!/usr/bin/env nslua\nerror("line2")\n' > "$WORK/shebang.lua"
run_nslua "$WORK/shebang.lua"
check_contains "shebang skipped, line kept" "$ERR" "shebang.lua:2: line2"

# --tutorial: where the tutorials are, in the source tree and once installed (make install-files
# with this build as BIN), where the bundled library is found too.
repo=$(cd "$TESTS_DIR/.." && pwd)
run_nslua --tutorial
check_eq "--tutorial in the source tree" "$repo/docs/tutorial.md
$repo/docs/tutorial.zh.md" "$OUT"
make -s -C "$repo" install-files BIN="$NSLUA" DESTDIR="$WORK/inst" PREFIX=/usr > /dev/null
run_nslua_inst() { "$WORK/inst/usr/bin/nslua" "$@"; }
check_eq "--tutorial once installed" "$WORK/inst/usr/share/nslua/docs/tutorial.md
$WORK/inst/usr/share/nslua/docs/tutorial.zh.md" "$(run_nslua_inst --tutorial)"
check "installed: the tutorials are files there" test -s "$WORK/inst/usr/share/nslua/docs/tutorial.zh.md"
check_eq "installed: the library is found beside it" "table" "$(run_nslua_inst -e 'print(type(require "nslua.topo"))')"
mv "$WORK/inst/usr/share/nslua/docs" "$WORK/docs.away"
check_eq "no tutorial installed: exit 2" 2 "$(run_nslua_inst --tutorial > /dev/null 2>&1; echo $?)"
check_contains "... saying so" "$(run_nslua_inst --tutorial 2>&1)" "the tutorial is not installed beside this nslua"

finish
