-- Calls every net function and method with generated wrong arguments, many
-- thousands of times. Every call must either succeed or raise a Lua error
-- whose message names the function; nslua must never crash. The test that
-- runs this checks afterwards (with ip) that nothing was left behind.
local calls = tonumber(arg[1]) or 10000
math.randomseed(tonumber(arg[2]) or 42)

local fixtures = {}
local serial = 0
local function fresh()
  serial = serial + 1
  local f = {}
  f.ns = net.ns("fz" .. serial)
  f.other = net.ns("fzo" .. serial)
  f.a, f.b = net.veth("fa" .. serial, "fb" .. serial, {ns = f.ns, peer_ns = f.other})
  f.br = f.ns:bridge("fbr" .. serial)
  local gone = net.ns("fzg" .. serial)
  f.deadlink = gone:bridge("dead" .. serial)
  gone:delete()
  f.deadns = gone
  local x = net.veth("fd" .. serial, "fe" .. serial)
  x:delete()
  f.deletedlink = x
  f.cap = f.ns:capture("lo", {count = 1})
  fixtures = f
end
fresh()

local function pool()
  local f = fixtures
  return table.pack(
    nil, true, false, 0, -1, 1.5, 2^31, 2^63 - 1, math.mininteger, math.huge, -math.huge, 0/0, 1e308,
    "", "x", string.rep("x", 15), string.rep("y", 16), string.rep("z", 300), "a/b", "a b", "a\0b", "..", ".",
    "tab\tname", "10.0.0.1/33", "10.0.0.300/24", "fd00::1/129", "1.2.3.4", "::1", "zz:zz:zz:zz:zz:zz",
    "01:00:00:00:00:01", "default", "net.bogus.key", "kernel.hostname", "icmp and and", "\255\254",
    {}, {1, 2}, {bogus = 1}, {ns = 5}, {peer_ns = "nonexistent-ns"}, {count = -1}, {filter = {}},
    {via = "x"}, {dev = {}}, {"ls", stdin = 5}, {timeout = 0/0},
    print, coroutine.create(function() end), io.stdout,
    f.ns, f.other, f.a, f.b, f.br, f.deadlink, f.deadns, f.deletedlink, f.cap, net.host
  )
end

local net_functions = {"ns", "open", "list", "namespaces", "veth", "bridge", "sleep", "pingall", "show", "keep"}
local ns_methods = {"veth", "bridge", "link", "links", "route", "delroute", "routes", "neighbors", "sysctl",
                    "forward", "delete", "show", "ping", "exec", "capture"}
local link_methods = {"into", "addr", "deladdr", "addrs", "up", "down", "master", "mtu", "mac", "rename",
                      "delete", "peer", "stats", "info", "netem", "rate"}
local cap_methods = {"stop", "packets", "wait", "save"}

local function pick(t) return t[math.random(t.n or #t)] end
local function args(n)
  local p, out = pool(), {}
  for i = 1, n do out[i] = p[math.random(p.n)] end   -- every entry, nils (holes) included
  return out
end

local made, failed, unnamed = 0, 0, {}
local slow = {}
local function try(name, f, ...)
  made = made + 1
  local t0 = net.now()
  local ok, err = pcall(f, ...)
  slow[name] = (slow[name] or 0) + (net.now() - t0)
  if not ok then
    failed = failed + 1
    local msg = tostring(err)
    -- Named: the call quoted ("net.veth(", "a0:addr(") or lauxlib's "to 'veth'" / "to 'net.keep'".
    if not msg:find("[%.':]" .. name .. "['(]") then
      unnamed[#unnamed + 1] = name .. ": " .. msg
    end
  end
end

for i = 1, calls do
  if i % 250 == 0 then fresh() end
  local n = math.random(0, 4)
  local a = args(n)
  local kind = math.random(4)
  if kind == 1 then
    local name = pick(net_functions)
    if name == "sleep" then
      -- Only non-sleeping values: wrong types and out-of-range numbers.
      local v = pick({nil, "x", {}, -1, 0/0, math.huge, 1e9, true, 0})
      try(name, net.sleep, v)
    else
      try(name, net[name], table.unpack(a, 1, n))
    end
  else
    local obj = kind == 2 and pick({fixtures.ns, fixtures.other, fixtures.deadns, net.host})
             or kind == 3 and pick({fixtures.a, fixtures.b, fixtures.br, fixtures.deadlink, fixtures.deletedlink})
             or fixtures.cap
    local methods = kind == 2 and ns_methods or kind == 3 and link_methods or cap_methods
    local name = pick(methods)
    local fn = obj[name]
    if name == "wait" then a = {pick({-1, "x", 0/0, math.huge, 0, {}})} n = 1 end  -- never a real wait
    if math.random(8) == 1 then
      try(name, fn, pick(pool()), table.unpack(a, 1, n))      -- a wrong self
    else
      try(name, fn, obj, table.unpack(a, 1, n))
    end
  end
end
net.keep(false)

io.stderr:write(string.format("bad-input: %d calls, %d raised, %d messages without the function's name\n",
  made, failed, #unnamed))
for i = 1, math.min(#unnamed, 20) do io.stderr:write("  " .. unnamed[i] .. "\n") end
if os.getenv("BAD_INPUT_PROFILE") then
  for k, v in pairs(slow) do if v > 0.5 then io.stderr:write(string.format("  %-10s %.1fs\n", k, v)) end end
end
print("CALLS", made, "RAISED", failed, "UNNAMED", #unnamed)
if #unnamed > 0 then os.exit(1) end
