# help() and the README's API section come from one source
# (lua/nslua/help.lua), and that source names every primitive there is.
. "$TESTS_DIR/lib.sh"
cd "$TESTS_DIR/.."

cat > "$WORK/coverage.lua" <<'LUA'
local help = require "nslua.help"
local topo, check = require "nslua.topo", require "nslua.check"
local registry = debug.getregistry()
local missing, stale = {}, {}
local function want(name) if not help.entries[name] then missing[#missing + 1] = name end end
for k, v in pairs(net) do if type(v) == "function" then want("net." .. k) end end
for k, v in pairs(topo) do if type(v) == "function" then want("topo." .. k) end end
for k, v in pairs(check) do if type(v) == "function" then want("check." .. k) end end
for prefix, class in pairs({ns = "Namespace", link = "Link", cap = "Capture"}) do
  for k in pairs(registry[class].__methods) do want(prefix .. ":" .. k) end
end
-- and every entry that is a call names something that exists
for name, e in pairs(help.entries) do
  if e.sig:find("%(") then
    local where, key = name:match("^(%a+)[.:]([%w_]+)$")
    local t = ({net = net, topo = topo, check = check})[where]
    local class = ({ns = "Namespace", link = "Link", cap = "Capture"})[where]
    local exists = (t and type(t[key]) == "function") or (class and registry[class].__methods[key]) or name == "show"
    if not exists then stale[#stale + 1] = name end
  end
end
table.sort(missing) table.sort(stale)
print("MISSING", table.concat(missing, " "))
print("STALE", table.concat(stale, " "))
LUA
run_nslua "$WORK/coverage.lua"
check_eq "every primitive has a help entry" "MISSING	" "$(grep ^MISSING <<< "$OUT")"
check_eq "every help entry names a primitive" "STALE	" "$(grep ^STALE <<< "$OUT")"
run_nslua tools/api.lua --check README.md
check_eq "the README's API section is generated from help" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR"
# ... and the check can fail: a README with one word changed.
sed 's/Makes a veth pair, each end/Makes a veth pair, every end/' README.md > "$WORK/README.md"
run_nslua tools/api.lua --check "$WORK/README.md"
check_eq "a README out of step is caught" 1 "$RC"

run_nslua -e 'help()'
check_contains "help() lists by topic" "$OUT" "Namespaces"
check_contains "help() lists every primitive" "$OUT" "net.veth([a, b], {ns =, peer_ns =})"
check_contains "help() says how to find the tutorial" "$OUT" "`nslua --tutorial` says where the tutorial is"
run_nslua -e 'help(net.veth)'
check_contains "help(net.veth): the signature" "$OUT" "net.veth([a, b], {ns =, peer_ns =})"
check_contains "... its options, types and defaults" "$OUT" "peer_ns =  Namespace or name    default ns"
check_contains "... what it returns" "$OUT" "returns Link, Link"
check_contains "... the command it stands for" "$OUT" "like    ip link add A type veth peer name B netns NS"
run_nslua -e 'help("veth")'
check_contains "help(\"veth\"): net.veth" "$OUT" "net.veth("
check_contains "help(\"veth\"): and ns:veth" "$OUT" "ns:veth("
run_nslua -e 'local a, b = net.veth("hv0", "hv1") help(a) help(net.host.route) help(io.write)'
check_contains "help(link): its methods" "$OUT" "link:master(bridge | nil)"
check_contains "help(link): its fields" "$OUT" "link.name link.ns link.index link.kind link.state link.isup link.carrier"
check_contains "help(a method)" "$OUT" "ns:route(dst, {via =, dev =, metric =})"
check_contains "help of something else says so" "$OUT" "no help for function"
check_clean "help:"
finish
