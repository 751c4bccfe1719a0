-- nslua.topo: labs as data.
--
--   local topo = require "nslua.topo"
--   local lab = topo.build {
--     hosts    = { h1 = "10.0.1.10/24", h2 = "10.0.2.10/24", "h3" },
--     routers  = { "r1" },
--     switches = { "s1", "s2" },
--     links = {
--       {"h1", "s1"}, {"h3", "s1"}, {"h2", "s2"},
--       {"r1", "s1", addr = "10.0.1.1/24"},
--       {"r1", "s2", addr = "10.0.2.1/24", netem = {delay = "10ms"}, rate = "100mbit"},
--     },
--   }
--   lab.h1, lab.s1, lab:hosts(), lab:addr("h3"), lab:pingall(), lab:graph()
--
-- Hosts and routers are namespaces; switches are Linux bridges, kept in a
-- namespace of the lab's own (a lab never adds anything to the host
-- namespace). Each layer-2 segment (a switch with what is attached to it, or a
-- direct link) gets a subnet; routers forward and get routes to every segment
-- along shortest paths; hosts get a default route via their segment's router.
--
-- A lab can span machines: `machines = {a = "192.0.2.1", b = "192.0.2.2"}`
-- (underlay addresses), each node given `machine =`, and each machine runs
-- the same file with topo.build(spec, {machine = "a"}): it builds its own
-- nodes only, and a link between two machines becomes a VXLAN tunnel whose
-- VNI both sides derive from the link.
local net = net or require "nslua"
local topo = {}

-- ---------------------------------------------------------------------------
-- IPv4 arithmetic

local function parse_cidr(text)
  if type(text) ~= "string" then return nil end
  local a, b, c, d, len = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  if not a then return nil end
  a, b, c, d, len = tonumber(a), tonumber(b), tonumber(c), tonumber(d), tonumber(len)
  if a > 255 or b > 255 or c > 255 or d > 255 or len > 32 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d, len
end

local function ip_string(v)
  return string.format("%d.%d.%d.%d", v >> 24 & 255, v >> 16 & 255, v >> 8 & 255, v & 255)
end

local function mask(len) return len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff end
local function network(v, len) return v & mask(len) end
local function size(len) return 1 << (32 - len) end

local function overlaps(n1, l1, n2, l2)
  local l = math.min(l1, l2)
  return network(n1, l) == network(n2, l)
end

--- The n-th host address of an IPv4 prefix: ipv4_host("10.0.0.0/24", 5) --> "10.0.0.5/24".
function topo.ipv4_host(prefix, n)
  local base, len = parse_cidr(prefix)
  assert(base, "topo: prefix must be an IPv4 CIDR such as 10.0.0.0/24")
  assert(n >= 1 and n < size(len) - 1, "topo: prefix " .. prefix .. " has no room for host " .. n)
  return ip_string(network(base, len) + n) .. "/" .. len
end

-- ---------------------------------------------------------------------------
-- Errors: raised at the caller's line, naming the entry

local Fail = {}   -- marker for spec errors raised inside build

local function fail(fmt, ...)
  error(setmetatable({text = string.format(fmt, ...)}, Fail), 0)
end

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- ---------------------------------------------------------------------------
-- Reading a spec

local reserved = {}
for _, k in ipairs({"spec", "hosts", "routers", "switches", "nodes", "namespaces", "addr", "pingall", "graph",
                    "delete", "name"}) do reserved[k] = true end

local function check_name(name, what)
  if type(name) ~= "string" or not name:match("^[%w_.%-]+$") then
    fail("%s name %s must be a non-empty string of letters, digits, '_', '-' or '.'", what, describe(name))
  end
  if reserved[name] or name:sub(1, 1) == "_" then
    fail("%s name %q is taken by the lab object itself (lab.%s); choose another", what, name, name)
  end
end

-- Names in natural order: h2 before h10.
local function natural_less(a, b)
  local function key(s)
    local parts = {}
    for text, digits in s:gmatch("(%D*)(%d*)") do
      if text ~= "" then parts[#parts + 1] = text end
      if digits ~= "" then parts[#parts + 1] = tonumber(digits) end
    end
    return parts
  end
  local ka, kb = key(a), key(b)
  for i = 1, math.max(#ka, #kb) do
    local x, y = ka[i], kb[i]
    if x == nil then return true end
    if y == nil then return false end
    if type(x) ~= type(y) then return type(x) == "number" end
    if x ~= y then return x < y end
  end
  return a < b
end

-- Entries of hosts/routers/switches: a list of names and/or name = value pairs.
local function entries(t, what)
  if t == nil then return {}, {} end
  if type(t) ~= "table" then fail("'%s' must be a table of names (got %s)", what, type(t)) end
  local out, order = {}, {}
  for k, v in pairs(t) do
    local name, value
    if math.type(k) == "integer" then name, value = v, nil else name, value = k, v end
    check_name(name, what:sub(1, -2))
    if out[name] ~= nil then fail("%s %q is given twice", what:sub(1, -2), name) end
    if value == nil then value = false end
    out[name] = value
    order[#order + 1] = name
  end
  table.sort(order, natural_less)
  return out, order
end

-- ---------------------------------------------------------------------------
-- Planning: interfaces, segments, subnets, addresses, routes

local function plan(spec, opts)
  if type(spec) ~= "table" then fail("a lab spec must be a table (got %s)", type(spec)) end
  for k in pairs(spec) do
    if not ({hosts = true, routers = true, switches = true, links = true, machines = true})[k] then
      fail("unknown key %s in the lab spec (known: hosts, routers, switches, links, machines)", describe(k))
    end
  end
  local hosts, host_order = entries(spec.hosts, "hosts")
  local routers, router_order = entries(spec.routers, "routers")
  local switches, switch_order = entries(spec.switches, "switches")
  local kind = {}
  for _, group in ipairs({{hosts, "host"}, {routers, "router"}, {switches, "switch"}}) do
    for name in pairs(group[1]) do
      if kind[name] then fail("%q is both a %s and a %s", name, kind[name], group[2]) end
      kind[name] = group[2]
    end
  end

  -- Machines: name -> underlay address; each node on one of them.
  local machines, machine_of = nil, {}
  if spec.machines ~= nil then
    if type(spec.machines) ~= "table" then fail("'machines' must be a table such as {a = \"192.0.2.1\", b = \"192.0.2.2\"}") end
    machines = {}
    for m, addr in pairs(spec.machines) do
      check_name(m, "machine")
      if type(addr) ~= "string" or not addr:match("^%d+%.%d+%.%d+%.%d+$") then
        fail("machine %q: its underlay address must be an IPv4 address such as \"192.0.2.1\" (got %s)", m, describe(addr))
      end
      machines[m] = addr
    end
  end
  for _, group in ipairs({{hosts, "host"}, {routers, "router"}, {switches, "switch"}}) do
    for name, v in pairs(group[1]) do
      local m = type(v) == "table" and v.machine or nil
      if type(v) == "table" then
        for k in pairs(v) do
          if group[2] ~= "host" and k ~= "machine" then fail("%s %q: unknown key %s (known: machine)", group[2], name, describe(k)) end
        end
      end
      if m ~= nil then
        if not machines then fail("%s %q is on machine %s, but the spec has no 'machines'", group[2], name, describe(m)) end
        if not machines[m] then fail("%s %q: machine %s is not one of the spec's machines", group[2], name, describe(m)) end
      elseif machines then
        fail("%s %q: which machine? give it machine = (the spec has machines)", group[2], name)
      end
      machine_of[name] = m
    end
  end

  -- Host entries: "cidr", or {addr =, gw =}.
  local host_addr, host_gw = {}, {}
  for name, v in pairs(hosts) do
    if type(v) == "string" then host_addr[name] = v
    elseif type(v) == "table" then
      for k in pairs(v) do
        if k ~= "addr" and k ~= "gw" and k ~= "machine" then fail("host %q: unknown key %s (known: addr, gw)", name, describe(k)) end
      end
      host_addr[name], host_gw[name] = v.addr, v.gw
    elseif v ~= false then fail("host %q must be a name, name = \"cidr\" or name = {addr =, gw =} (got %s)", name, type(v)) end
    if host_addr[name] ~= nil and not parse_cidr(host_addr[name]) then
      fail("host %q: %s is not an IPv4 address with a prefix length, such as 10.0.1.10/24", name, describe(host_addr[name]))
    end
  end

  -- Links and interfaces (eth0, eth1, ... in the order of links).
  local links = spec.links or {}
  if type(links) ~= "table" then fail("'links' must be a list of {a, b, ...}") end
  local ifcount, ports = {}, {}
  local ifaces = {}     -- node -> list of interface records
  local planned = {}
  local parent = {}     -- union-find over switches
  local function find(s) while parent[s] and parent[s] ~= s do s = parent[s] end return s end
  for _, s in ipairs(switch_order) do parent[s] = s end
  for i, l in ipairs(links) do
    if type(l) ~= "table" then fail("link #%d must be a table such as {\"h1\", \"s1\"}", i) end
    local a, b = l[1], l[2]
    for k in pairs(l) do
      if not (k == 1 or k == 2 or k == "addr" or k == "netem" or k == "rate") then
        fail("link #%d {%s, %s}: unknown key %s (known: addr, netem, rate)", i, describe(a), describe(b), describe(k))
      end
    end
    for _, n in ipairs({a, b}) do
      if not kind[n] then fail("link #%d {%s, %s}: %s is not a host, router or switch of this lab", i, describe(a), describe(b), describe(n)) end
    end
    if a == b then fail("link #%d connects %q to itself", i, a) end
    local rec = {index = i, a = a, b = b, netem = l.netem, rate = l.rate or opts.rate, ends = {}}
    if rec.netem == nil then rec.netem = opts.netem end
    local addrs = l.addr
    if type(addrs) == "string" then addrs = {addrs} end
    if addrs ~= nil and type(addrs) ~= "table" then fail("link #%d {%q, %q}: addr must be a CIDR or a list of two", i, a, b) end
    for e, n in ipairs({a, b}) do
      local rec_end = {node = n, kind = kind[n]}
      local given = addrs and addrs[e]
      if kind[n] == "switch" then
        if given then fail("link #%d {%q, %q}: %q is a switch and has no address", i, a, b, n) end
        ports[n] = (ports[n] or 0) + 1
        rec_end.ifname = n .. "-eth" .. ports[n]
        if #rec_end.ifname > 15 then rec_end.ifname = "p" .. i .. "-" .. e end
      else
        ifcount[n] = (ifcount[n] or 0) + 1
        rec_end.ifname = "eth" .. (ifcount[n] - 1)
        if given then
          if not parse_cidr(given) then fail("link #%d {%q, %q}: %s is not an IPv4 address with a prefix length", i, a, b, describe(given)) end
          rec_end.addr = given
          rec_end.explicit = "link #" .. i
        end
        ifaces[n] = ifaces[n] or {}
        table.insert(ifaces[n], rec_end)
      end
      rec.ends[e] = rec_end
    end
    if kind[a] == "switch" and kind[b] == "switch" then parent[find(a)] = find(b) end
    planned[i] = rec
  end
  -- A host's own address is that of its first interface.
  for name, addr in pairs(host_addr) do
    local first = ifaces[name] and ifaces[name][1]
    if not first then fail("host %q has an address but no link", name) end
    if first.addr and first.addr ~= addr then
      fail("host %q: address %s, and %s on %s by %s", name, addr, first.addr, first.ifname, first.explicit)
    end
    first.addr, first.explicit = addr, first.explicit or ("host " .. name)
  end

  -- Segments: one per group of joined switches, one per direct link.
  local segments, seg_of_switch = {}, {}
  for _, s in ipairs(switch_order) do
    local root = find(s)
    if not seg_of_switch[root] then
      local seg = {name = root, switches = {}, members = {}}
      segments[#segments + 1] = seg
      seg_of_switch[root] = seg
    end
    table.insert(seg_of_switch[root].switches, s)
  end
  for _, s in ipairs(switch_order) do seg_of_switch[s] = seg_of_switch[find(s)] end
  for _, rec in ipairs(planned) do
    local ea, eb = rec.ends[1], rec.ends[2]
    if ea.kind == "switch" and eb.kind ~= "switch" then table.insert(seg_of_switch[ea.node].members, eb); eb.segment = seg_of_switch[ea.node]
    elseif eb.kind == "switch" and ea.kind ~= "switch" then table.insert(seg_of_switch[eb.node].members, ea); ea.segment = seg_of_switch[eb.node]
    elseif ea.kind ~= "switch" then
      local seg = {name = ea.node .. "-" .. eb.node, members = {ea, eb}, p2p = true}
      segments[#segments + 1] = seg
      ea.segment, eb.segment = seg, seg
    end
  end
  for _, seg in ipairs(segments) do
    seg.routers, seg.hosts = {}, {}
    for _, m in ipairs(seg.members) do
      table.insert(m.kind == "router" and seg.routers or seg.hosts, m)
    end
  end

  -- Subnets: the one explicit addresses imply, else the next free one from the prefix.
  local pool, pool_len = parse_cidr(opts.prefix or spec.prefix or "10.0.0.0/16")
  if not pool then fail("prefix %s is not an IPv4 CIDR such as 10.0.0.0/16", describe(opts.prefix)) end
  pool = network(pool, pool_len)
  local taken = {}
  for _, seg in ipairs(segments) do
    for _, m in ipairs(seg.members) do
      if m.addr then
        local v, len = parse_cidr(m.addr)
        local net_v = network(v, len)
        if not seg.net then
          seg.net, seg.len, seg.by = net_v, len, string.format("%s of %s", m.addr, m.node)
        elseif seg.net ~= net_v or seg.len ~= len then
          fail("%s of %s (%s) is outside segment %s's subnet %s/%d (set by %s)", m.addr, m.node, m.explicit,
               seg.name, ip_string(seg.net), seg.len, seg.by)
        end
      end
    end
    if seg.net then taken[#taken + 1] = {seg.net, seg.len} end
  end
  local cursor = pool
  for _, seg in ipairs(segments) do
    if not seg.net then
      local len
      if seg.p2p then len = 30 else
        local need = math.max(#seg.routers, 9) + #seg.hosts + 2
        len = 24
        while size(len) < need and len > 8 do len = len - 1 end
      end
      local n = (cursor + size(len) - 1) // size(len) * size(len)
      while true do
        if len < pool_len or n + size(len) > pool + size(pool_len) then
          fail("prefix %s/%d has no room left for a /%d for segment %s", ip_string(pool), pool_len, len, seg.name)
        end
        local clash = false
        for _, t in ipairs(taken) do if overlaps(n, len, t[1], t[2]) then clash = true break end end
        if not clash then break end
        n = n + size(len)
      end
      seg.net, seg.len = n, len
      taken[#taken + 1] = {n, len}
      cursor = n + size(len)
    end
  end

  -- Addresses: routers the lowest free ones, hosts from .10 (point-to-point: in order).
  for _, seg in ipairs(segments) do
    local used = {}
    for _, m in ipairs(seg.members) do
      if m.addr then
        local v = parse_cidr(m.addr)
        if v == seg.net or v == seg.net + size(seg.len) - 1 then
          fail("%s of %s is the network or broadcast address of %s/%d", m.addr, m.node, ip_string(seg.net), seg.len)
        end
        if used[v] then fail("%s is given twice on segment %s (%s and %s)", m.addr, seg.name, used[v], m.node) end
        used[v] = m.node
      end
    end
    local function next_free(from)
      local v = seg.net + from
      while used[v] do v = v + 1 end
      if v >= seg.net + size(seg.len) - 1 then fail("segment %s (%s/%d) is full", seg.name, ip_string(seg.net), seg.len) end
      return v
    end
    local lists = seg.p2p and {{seg.members, 1}} or {{seg.routers, 1}, {seg.hosts, seg.len <= 28 and 10 or 1}}
    for _, l in ipairs(lists) do
      for _, m in ipairs(l[1]) do
        if not m.addr then
          local v = next_free(l[2])
          used[v] = m.node
          m.addr = ip_string(v) .. "/" .. seg.len
        end
      end
    end
  end

  -- Routes: routers reach every segment along shortest paths (BFS over
  -- routers and segments); hosts go via their segment's router.
  local router_segments = {}
  for _, seg in ipairs(segments) do
    for _, r in ipairs(seg.routers) do
      router_segments[r.node] = router_segments[r.node] or {}
      table.insert(router_segments[r.node], {seg = seg, iface = r})
    end
  end
  local routes = {}   -- node -> list of {dst =, via =}
  for _, r in ipairs(router_order) do
    routes[r] = {}
    local dist, first_hop = {}, {}
    local mine = {}
    for _, rs in ipairs(router_segments[r] or {}) do mine[rs.seg] = true; dist[rs.seg] = 0 end
    local queue = {}
    for _, rs in ipairs(router_segments[r] or {}) do queue[#queue + 1] = rs.seg end
    local head = 1
    while head <= #queue do
      local seg = queue[head]; head = head + 1
      for _, nr in ipairs(seg.routers) do
        if nr.node ~= r then
          for _, rs in ipairs(router_segments[nr.node]) do
            if dist[rs.seg] == nil then
              dist[rs.seg] = dist[seg] + 1
              -- the first hop: the neighbour's address on a segment of r's own
              first_hop[rs.seg] = first_hop[seg] or nr.addr:match("^[^/]+")
              queue[#queue + 1] = rs.seg
            end
          end
        end
      end
    end
    for _, seg in ipairs(segments) do
      if not mine[seg] and first_hop[seg] then
        table.insert(routes[r], {dst = ip_string(seg.net) .. "/" .. seg.len, via = first_hop[seg]})
      end
    end
  end
  for _, h in ipairs(host_order) do
    local gw = host_gw[h]
    local via
    for _, m in ipairs(ifaces[h] or {}) do
      local seg = m.segment
      if gw then
        if kind[gw] == "router" then
          for _, r in ipairs(seg.routers) do if r.node == gw then via = r.addr:match("^[^/]+") end end
        elseif type(gw) == "string" and gw:match("^%d+%.%d+%.%d+%.%d+$") then
          via = gw
        else
          fail("host %q: gw %s is neither a router of this lab nor an IPv4 address", h, describe(gw))
        end
      elseif #seg.routers == 1 then
        via = seg.routers[1].addr:match("^[^/]+")
      elseif #seg.routers > 1 then
        local names = {}
        for _, r in ipairs(seg.routers) do names[#names + 1] = r.node end
        fail("host %q is on segment %s with routers %s: say which is its gateway, e.g. %s = {gw = %q}",
             h, seg.name, table.concat(names, " and "), h, names[1])
      end
      if via then break end
    end
    if gw and not via then fail("host %q: gw %s is not on any of its segments", h, describe(gw)) end
    if via then routes[h] = {{dst = "default", via = via}} end
  end

  -- Links between machines: a VXLAN each, with a VNI both sides derive from
  -- the link (FNV-1a of the lab's name and the two ends); their segments get
  -- an MTU that leaves room for VXLAN's 50 bytes.
  local vnis, pairs_seen = {}, {}
  for _, rec in ipairs(planned) do
    if machines and machine_of[rec.a] ~= machine_of[rec.b] then
      -- a second link between the same two nodes gets its own VNI
      local pair = rec.a < rec.b and rec.a .. "|" .. rec.b or rec.b .. "|" .. rec.a
      pairs_seen[pair] = (pairs_seen[pair] or 0) + 1
      local h = 2166136261
      for c in ((opts.name or "") .. "|" .. rec.a .. "|" .. rec.b .. (pairs_seen[pair] > 1 and "|" .. pairs_seen[pair] or "")):gmatch(".") do
        h = ((h ~ c:byte()) * 16777619) & 0xffffffff
      end
      rec.vni = h % 16777214 + 1
      if vnis[rec.vni] then fail("links %s and #%d get the same VNI %d: rename a node", vnis[rec.vni], rec.index, rec.vni) end
      vnis[rec.vni] = "#" .. rec.index
      for _, e in ipairs(rec.ends) do
        local seg = e.segment or (e.kind == "switch" and seg_of_switch[e.node])
        if seg then seg.tunnelled = true end
      end
    end
  end

  return {kind = kind, hosts = host_order, routers = router_order, switches = switch_order,
          links = planned, segments = segments, ifaces = ifaces, routes = routes,
          machines = machines, machine_of = machine_of}
end

-- ---------------------------------------------------------------------------
-- The lab object

local Lab = {}
Lab.__index = Lab

local function sorted_nodes(lab, list)
  local out = {}
  for _, name in ipairs(list) do out[#out + 1] = rawget(lab, name) end
  return out
end

--- The host namespaces, in name order.
function Lab:hosts() return sorted_nodes(self, self._plan.hosts) end
--- The router namespaces, in name order.
function Lab:routers() return sorted_nodes(self, self._plan.routers) end
--- The switches (bridges), in name order.
function Lab:switches() return sorted_nodes(self, self._plan.switches) end

--- Every node: {name =, kind =, machine =, here =, ns = or link =}, in name
--- order (ns and link only for the nodes built here: on this machine).
function Lab:nodes()
  local out = {}
  for _, kind in ipairs({"hosts", "routers", "switches"}) do
    for _, name in ipairs(self._plan[kind]) do
      local v = rawget(self, name)
      out[#out + 1] = {name = name, kind = ({hosts = "host", routers = "router", switches = "switch"})[kind], machine = self._plan.machine_of[name],
                       here = v ~= nil, ns = kind ~= "switches" and v or nil, link = kind == "switches" and v or nil}
    end
  end
  table.sort(out, function(a, b) return natural_less(a.name, b.name) end)
  return out
end

--- Every namespace the lab made (hosts, routers, and the switches' one).
function Lab:namespaces()
  local out = {}
  for _, ns in ipairs(self._made) do out[#out + 1] = ns end
  return out
end

--- The node's first IPv4 address, without the prefix length: "10.0.1.11".
function Lab:addr(name)
  local ifs = self._plan.ifaces[name]
  if not ifs or not ifs[1] then error(string.format("lab:addr(%s): no such host or router with an interface", describe(name)), 2) end
  return (ifs[1].addr:match("^[^/]+"))
end

--- As net.pingall over the hosts.
function Lab:pingall(opts) return net.pingall(self:hosts(), opts) end

--- The lab as Graphviz DOT (namespaces as boxes with their interfaces and
--- addresses, bridges as nodes, veth pairs as edges, impairments as labels).
function Lab:graph() return net.graph(self:namespaces()) end

--- Removes the lab's namespaces (and so everything in them).
function Lab:delete()
  for i = #self._made, 1, -1 do
    local ns = self._made[i]
    pcall(ns.delete, ns)
  end
  self._made = {}
end

function Lab:__tostring()
  local parts = {}
  for _, kind in ipairs({"hosts", "routers", "switches"}) do
    if #self._plan[kind] > 0 then parts[#parts + 1] = #self._plan[kind] .. " " .. kind end
  end
  return "lab " .. (self._name ~= "" and self._name .. " " or "") .. "(" .. table.concat(parts, ", ") .. ")"
end

-- ---------------------------------------------------------------------------
-- Building

local function build(spec, opts)
  opts = opts or {}
  if type(opts) ~= "table" then fail("options must be a table such as {name = \"a\", prefix = \"10.9.0.0/16\"}") end
  for k in pairs(opts) do
    if not ({name = true, prefix = true, netem = true, rate = true, machine = true})[k] then
      fail("unknown option %s (known: name, prefix, netem, rate, machine)", describe(k))
    end
  end
  local name = opts.name or ""
  if type(name) ~= "string" then fail("option 'name' must be a string") end
  local p = plan(spec, opts)
  local here = opts.machine
  if p.machines then
    local names = {}
    for m in pairs(p.machines) do names[#names + 1] = m end
    table.sort(names)
    if here == nil then
      fail("this lab spans machines %s: say which one this is, e.g. topo.build(spec, {machine = %q})", table.concat(names, ", "), names[1])
    end
    if not p.machines[here] then fail("machine %s is not one of the spec's machines (%s)", describe(here), table.concat(names, ", ")) end
  elseif here ~= nil then
    fail("option 'machine' = %s, but the spec has no 'machines'", describe(here))
  end
  local function local_node(n) return here == nil or p.machine_of[n] == here end
  local lab = setmetatable({spec = spec, _plan = p, _made = {}, _name = name, _machine = here}, Lab)

  local ok, err = pcall(function()
    -- Switches first (bridges down until their ports are up: a carrier change
    -- on a running bridge costs as many steps as it has ports).
    local swns
    local my_switches = {}
    for _, s in ipairs(p.switches) do if local_node(s) then my_switches[#my_switches + 1] = s end end
    if #my_switches > 0 then
      swns = net.ns(name .. "switches")
      table.insert(lab._made, swns)
      for _, s in ipairs(my_switches) do lab[s] = swns:bridge(name .. s) end
    end
    for _, group in ipairs({p.hosts, p.routers}) do
      for _, n in ipairs(group) do
        if local_node(n) then
          lab[n] = net.ns(name .. n)
          table.insert(lab._made, lab[n])
        end
      end
    end
    local ups, ports = {}, {}
    for _, l in ipairs(p.links) do
      local ea, eb = l.ends[1], l.ends[2]
      local links = {}
      if local_node(ea.node) and local_node(eb.node) then
        local nsa = ea.kind == "switch" and swns or lab[ea.node]
        local nsb = eb.kind == "switch" and swns or lab[eb.node]
        links[1], links[2] = nsa:veth(ea.ifname, eb.ifname, {peer_ns = nsb})
      elseif local_node(ea.node) or local_node(eb.node) then
        -- To another machine: a VXLAN made where the underlay is (its socket
        -- stays there), then moved to the node under the interface's name.
        local e = local_node(ea.node) and 1 or 2
        local mine, theirs = l.ends[e], l.ends[3 - e]
        local vx = net.vxlan("vx" .. l.vni, {id = l.vni, remote = p.machines[p.machine_of[theirs.node]],
                                            from = p.machines[here], port = 4789})
        vx:into(mine.kind == "switch" and swns or lab[mine.node], mine.ifname)
        links[e] = vx
      end
      for e, link in pairs(links) do
        local rec = l.ends[e]
        local seg = rec.segment or (rec.kind == "switch" and nil)
        if rec.kind == "switch" then
          link:master(lab[rec.node])
          ports[#ports + 1] = link
        else
          if seg and seg.tunnelled then link:mtu(1450) end
          link:addr(rec.addr)
          ups[#ups + 1] = link
        end
        if l.vni and rec.kind == "switch" then link:mtu(1450) end
        if l.netem then link:netem(l.netem) end
        if l.rate then link:rate(l.rate) end
      end
    end
    for _, link in ipairs(ups) do link:up() end
    for _, link in ipairs(ports) do link:up() end
    for _, s in ipairs(my_switches) do lab[s]:up() end
    -- Routers forward, and answer every ICMP error: the kernel's default
    -- (one a second per destination, after a burst of six) would make
    -- TTL-by-TTL path checks depend on what was sent before.
    for _, r in ipairs(p.routers) do
      if not lab[r] then goto next_router end
      lab[r]:forward(true)
      lab[r]:sysctl("net.ipv4.icmp_ratelimit", 0)
      lab[r]:sysctl("net.ipv6.icmp.ratelimit", 0)
      ::next_router::
    end
    for node, list in pairs(p.routes) do
      if lab[node] then
        for _, route in ipairs(list) do lab[node]:route(route.dst, {via = route.via}) end
      end
    end
  end)
  if not ok then
    lab:delete()
    error(err, 0)
  end
  return lab
end

--- Builds a lab from a spec (see the top of this file). Errors in the spec,
--- and errors of the primitives, are raised at the caller's line; nothing
--- half-built is left.
function topo.build(spec, opts)
  local ok, lab = pcall(build, spec, opts)
  if ok then return lab end
  local err = lab
  if getmetatable(err) == Fail then error("topo.build: " .. err.text, 2) end
  -- A primitive's error object: its position becomes the caller's.
  if type(err) == "table" and err.message then
    local where = debug.getinfo(2, "Sl")
    local pos = where and where.currentline > 0 and (where.short_src .. ":" .. where.currentline .. ": ") or ""
    err.message = pos .. "topo.build: " .. tostring(err.message):gsub("^[^:]*:%d+: ", "")
    error(err, 0)
  end
  error(err, 0)   -- a bug here: keep where it happened
end

-- ---------------------------------------------------------------------------
-- Generators: each returns a lab, with its spec in lab.spec

local function generator_opts(opts, extra)
  opts = opts or {}
  local o = {}
  for _, k in ipairs({"name", "prefix", "netem", "rate"}) do o[k] = opts[k] end
  for k in pairs(opts) do
    if not ({name = true, prefix = true, netem = true, rate = true})[k] and not (extra and extra[k]) then
      error(string.format("unknown option %s (known: name, prefix, netem, rate)", describe(k)), 3)
    end
  end
  return o
end

local function count(n, what)
  if math.type(n) ~= "integer" or n < 1 then error(string.format("%s must be a positive integer (got %s)", what, describe(n)), 3) end
  return n
end

--- n hosts h1..hn on one switch; past 1000 hosts, several bridges joined into
--- one segment (a Linux bridge holds at most 1023 ports).
function topo.star(n, opts)
  n = count(n, "topo.star: the number of hosts")
  local spec = {hosts = {}, switches = {}, links = {}}
  local per = 1000
  local bridges = (n + per - 1) // per
  if bridges == 1 then spec.switches = {"s1"} else
    spec.switches = {"s0"}
    for b = 1, bridges do
      spec.switches[#spec.switches + 1] = "s" .. b
      spec.links[#spec.links + 1] = {"s" .. b, "s0"}
    end
  end
  for i = 1, n do
    spec.hosts[#spec.hosts + 1] = "h" .. i
    spec.links[#spec.links + 1] = {"h" .. i, "s" .. ((i - 1) // per + 1)}
  end
  return topo.build(spec, generator_opts(opts))
end

--- n switches in a chain, one host each (as Mininet's LinearTopo).
function topo.line(n, opts)
  n = count(n, "topo.line: the number of switches")
  local spec = {hosts = {}, switches = {}, links = {}}
  for i = 1, n do
    spec.hosts[i], spec.switches[i] = "h" .. i, "s" .. i
    spec.links[#spec.links + 1] = {"h" .. i, "s" .. i}
    if i > 1 then spec.links[#spec.links + 1] = {"s" .. (i - 1), "s" .. i} end
  end
  return topo.build(spec, generator_opts(opts))
end

--- A tree of switches `depth` levels deep, `fanout` children each, with
--- hosts at the leaves (as Mininet's TreeTopo).
function topo.tree(depth, fanout, opts)
  depth = count(depth, "topo.tree: depth")
  fanout = count(fanout, "topo.tree: fanout")
  local spec = {hosts = {}, switches = {}, links = {}}
  local sw, h = 0, 0
  local function add(level)
    sw = sw + 1
    local me = "s" .. sw
    spec.switches[#spec.switches + 1] = me
    for _ = 1, fanout do
      local child
      if level == depth then
        h = h + 1
        child = "h" .. h
        spec.hosts[#spec.hosts + 1] = child
      else
        child = add(level + 1)
      end
      spec.links[#spec.links + 1] = {me, child}
    end
    return me
  end
  add(1)
  return topo.build(spec, generator_opts(opts))
end

--- Two hosts h1 and h2 joined through n routers r1..rn in a row (for TTL and
--- path experiments).
function topo.chain(n, opts)
  n = count(n, "topo.chain: the number of routers")
  local spec = {hosts = {"h1", "h2"}, routers = {}, links = {}}
  local prev = "h1"
  for i = 1, n do
    spec.routers[i] = "r" .. i
    spec.links[#spec.links + 1] = {prev, "r" .. i}
    prev = "r" .. i
  end
  spec.links[#spec.links + 1] = {prev, "h2"}
  return topo.build(spec, generator_opts(opts))
end

-- ---------------------------------------------------------------------------
-- Parameters: `nslua star.lua hosts=100 delay=5ms`

--- Reads key=value arguments (arg, or any list), typed by `defaults`
--- (integer, number, boolean, string). An unknown key or a value of the
--- wrong type is an error that lists the known keys.
function topo.params(args, defaults)
  defaults = defaults or {}
  local out, known = {}, {}
  for k, v in pairs(defaults) do out[k] = v; known[#known + 1] = k end
  table.sort(known)
  local list = table.concat(known, ", ")
  for i = 1, #(args or {}) do
    local a = args[i]
    local k, v = tostring(a):match("^([%w_]+)=(.*)$")
    if not k then error(string.format("argument %d (%s) is not key=value (known keys: %s)", i, describe(a), list), 2) end
    local d = defaults[k]
    if d == nil then error(string.format("unknown parameter %q (known: %s)", k, list), 2) end
    local value
    if math.type(d) == "integer" then value = math.tointeger(tonumber(v))
    elseif type(d) == "number" then value = tonumber(v)
    elseif type(d) == "boolean" then
      value = ({["true"] = true, ["yes"] = true, ["1"] = true, ["on"] = true,
                ["false"] = false, ["no"] = false, ["0"] = false, ["off"] = false})[v]
    else value = v end
    if value == nil then
      local want = math.type(d) == "integer" and "an integer" or type(d) == "number" and "a number"
                   or type(d) == "boolean" and "true or false" or "a string"
      error(string.format("parameter %s=%s: must be %s (known: %s)", k, v, want, list), 2)
    end
    out[k] = value
  end
  -- Named keys too (a module called with a table: build{hosts = 3}), typed
  -- as given: each must be known and of its default's type.
  for k, v in pairs(args or {}) do
    if math.type(k) ~= "integer" and k ~= 0 then
      local d = defaults[k]
      if d == nil then error(string.format("unknown parameter %s (known: %s)", describe(k), list), 2) end
      local ok = type(v) == type(d) and (math.type(d) ~= "integer" or math.type(v) == "integer")
      if not ok then
        local want = math.type(d) == "integer" and "an integer" or type(d) == "number" and "a number"
                     or type(d) == "boolean" and "true or false" or "a string"
        error(string.format("parameter %s = %s: must be %s (known: %s)", tostring(k), describe(v), want, list), 2)
      end
      out[k] = v
    end
  end
  return out
end

return topo
