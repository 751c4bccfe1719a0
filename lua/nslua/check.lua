-- nslua.check: a lab script as a test. Each check raises an error at the
-- caller's line saying what was expected and what was seen, so
-- `nslua lab.lua` exits 1 when the lab is wrong.
--
--   local check = require "nslua.check"
--   check.reachable(lab.h1, lab.h2)             -- or an address: "10.0.2.10"
--   check.unreachable(lab.h1, "10.9.9.9")
--   check.path(lab.h1, lab.h2, {"r1", "r2"})    -- the routers on the way, in order
--   check.route(lab.h1, "default", {via = "10.0.1.1", dev = "eth0"})
local net = net or require "nslua"
local check = {}

local function name_of(ns) return type(ns) == "string" and ns or (ns and ns.name) or tostring(ns) end

local function namespace(v, what)
  if type(v) == "string" then return net.open(v) end
  local mt = type(v) == "userdata" and getmetatable(v)
  if mt and mt.__name == "Namespace" then return v end
  error(string.format("check: %s must be a namespace or a namespace name (got %s)", what, type(v)), 3)
end

-- Every address of a namespace ("10.0.1.1"), and its first IPv4 one.
local function addresses(ns)
  local all, first = {}, nil
  for _, link in ipairs(ns:links()) do
    for _, a in ipairs(link:addrs()) do
      local ip = a:match("^[^/]+")
      if not ip:match("^fe80") and ip ~= "127.0.0.1" and ip ~= "::1" then
        all[ip] = true
        if not first and ip:match("^%d+%.%d+%.%d+%.%d+$") then first = ip end
      end
    end
  end
  return all, first
end

local function target(b)
  if type(b) == "string" and (b:match("^[%d.]+$") or b:match(":")) then return b, b end
  local ns = namespace(b, "the destination")
  local _, first = addresses(ns)
  if not first then error(string.format("check: %s has no IPv4 address to aim at", name_of(ns)), 3) end
  return first, name_of(ns) .. " (" .. first .. ")"
end

local function fail(fmt, ...) error(string.format(fmt, ...), 3) end

-- The first ICMP error and ping's hint ("10.0.0.2 has no route to ..."), if any.
local function why(r)
  local parts = {}
  if #r.errors > 0 then parts[#parts + 1] = r.errors[1] end
  if r.hint then parts[#parts + 1] = r.hint end
  if #parts == 0 then return "" end
  return "; " .. table.concat(parts, "; ")
end

--- `a` reaches `b` (a namespace or an address): at least one of 3 pings answered.
function check.reachable(a, b, opts)
  local src = namespace(a, "the source")
  local addr, shown = target(b)
  local r = src:ping(addr, {count = opts and opts.count or 3, interval = 0.1, timeout = opts and opts.timeout or 1})
  if r.received == 0 then
    fail("check.reachable(%s, %s): expected replies, got none (%d sent, 0 received%s)", name_of(src), shown, r.sent, why(r))
  end
  return r
end

--- `a` does not reach `b`: none of 3 pings answered.
function check.unreachable(a, b, opts)
  local src = namespace(a, "the source")
  local addr, shown = target(b)
  local r = src:ping(addr, {count = opts and opts.count or 3, interval = 0.1, timeout = opts and opts.timeout or 0.5})
  if r.received > 0 then
    fail("check.unreachable(%s, %s): expected no reply, got %d of %d", name_of(src), shown, r.received, r.sent)
  end
  return r
end

--- The path from `a` to `b` goes through `routers`, in order: the ping with
--- TTL k dies at the k-th router ("Time to live exceeded" from one of its
--- addresses), and the one with TTL n+1 reaches `b`.
function check.path(a, b, routers)
  local src = namespace(a, "the source")
  local addr, shown = target(b)
  if type(routers) ~= "table" then fail("check.path: routers must be a list of namespaces or names") end
  local seen = {}
  for k, rv in ipairs(routers) do
    local router = namespace(rv, "router #" .. k)
    local mine = addresses(router)
    local r = src:ping(addr, {count = 1, ttl = k, timeout = 1})
    local from = r.errors[1] and r.errors[1]:match("^From (%S+) icmp_seq=%d+ Time to live exceeded")
    if not from then
      local got = r.received > 0 and ("a reply from " .. addr) or (r.errors[1] or "no answer")
      fail("check.path(%s, %s): hop %d should be %s (Time to live exceeded from it); got %s%s",
           name_of(src), shown, k, name_of(router), got, #seen > 0 and (" (after " .. table.concat(seen, ", ") .. ")") or "")
    end
    if not mine[from] then
      fail("check.path(%s, %s): hop %d should be %s, but %s answered (it is not one of %s's addresses)",
           name_of(src), shown, k, name_of(router), from, name_of(router))
    end
    seen[#seen + 1] = name_of(router) .. " (" .. from .. ")"
  end
  local last = src:ping(addr, {count = 2, interval = 0.1, ttl = #routers + 1, timeout = 1})
  if last.received == 0 then
    fail("check.path(%s, %s): after %s, expected a reply with TTL %d; got none%s",
         name_of(src), shown, table.concat(seen, ", "), #routers + 1, why(last))
  end
  return seen
end

--- `ns` has a route to `dst` ("default" or a CIDR), with `via` and `dev` if given.
function check.route(nsv, dst, want)
  local ns = namespace(nsv, "the namespace")
  want = want or {}
  local found
  for _, r in ipairs(ns:routes()) do
    if r.dst == dst then found = r break end
  end
  if not found then
    fail("check.route(%s, %q): expected a route to %s; its routes are:\n%s", name_of(ns), dst, dst, tostring(ns:routes()))
  end
  if want.via and found.via ~= want.via then
    fail("check.route(%s, %q): expected via %s, got %s", name_of(ns), dst, want.via, tostring(found))
  end
  if want.dev and found.dev ~= want.dev then
    fail("check.route(%s, %q): expected dev %s, got %s", name_of(ns), dst, want.dev, tostring(found))
  end
  return found
end

return check
