-- nslua.help: what every primitive does, in one place. help() prints it at
-- the REPL; the README's API section is generated from it (`make api`), and a
-- test checks that both agree with each other and with the code.
--
-- An entry: name (as called), sig, does (one line), opts ({name, type,
-- default, what}), returns, ip (the iproute2/tc command it stands for).
local help = {}

local topics = {
  {"Namespaces", {
    {name = "net.ns", sig = "net.ns(name)", does = "Makes a named network namespace, owned by this run (its lo is up).",
     returns = "Namespace", ip = "ip netns add NAME"},
    {name = "net.open", sig = "net.open(name)", does = "Opens a named namespace made outside this run; nslua never removes it.",
     returns = "Namespace", ip = "ip netns exec NAME ..."},
    {name = "net.host", sig = "net.host", does = "The namespace nslua started in (in --sandbox: the sandbox's own).",
     returns = "Namespace"},
    {name = "net.list", sig = "net.list()", does = "The names of the named namespaces; prints as ip netns list.",
     returns = "list of names", ip = "ip netns list"},
    {name = "net.namespaces", sig = "net.namespaces()", does = "The namespaces this run made or opened.",
     returns = "list of Namespace"},
    {name = "ns:delete", sig = "ns:delete()", does = "Deletes a namespace this run made (links it moved in go back first).",
     ip = "ip netns del NAME"},
    {name = "ns:sysctl", sig = "ns:sysctl(key [, value])", does = "Reads, or sets, a per-namespace net.* sysctl.",
     returns = "value (read) or the namespace (set)", ip = "ip netns exec NAME sysctl -w KEY=VALUE"},
    {name = "ns:forward", sig = "ns:forward([on])", does = "Turns IPv4 and IPv6 forwarding on (or off): a router.",
     returns = "the namespace", ip = "ip netns exec NAME sysctl -w net.ipv4.ip_forward=1"},
    {name = "ns:show", sig = "ns:show()", does = "Prints the namespace: its links, addresses, masters, peers and routes."},
  }},
  {"Links", {
    {name = "net.veth", sig = "net.veth([a, b], {ns =, peer_ns =})",
     does = "Makes a veth pair, each end born in its namespace (no names: the kernel chooses veth0, veth1...).",
     opts = {{"ns", "Namespace or name", "host", "where the first end is made"},
             {"peer_ns", "Namespace or name", "ns", "where the other end is made"}},
     returns = "Link, Link", ip = "ip link add A type veth peer name B netns NS"},
    {name = "ns:veth", sig = "ns:veth([a, b], {peer_ns =})", does = "Makes a veth pair whose first end is born in ns (as net.veth).",
     opts = {{"peer_ns", "Namespace or name", "ns", "where the other end is made"}},
     returns = "Link, Link", ip = "ip -n NS link add A type veth peer name B"},
    {name = "net.bridge", sig = "net.bridge(name, {ns =})", does = "Makes a Linux bridge (a virtual switch).",
     opts = {{"ns", "Namespace or name", "host", "where it is made"}},
     returns = "Link", ip = "ip link add NAME type bridge"},
    {name = "ns:bridge", sig = "ns:bridge(name)", does = "Makes a bridge inside ns (as net.bridge).", returns = "Link",
     ip = "ip -n NS link add NAME type bridge"},
    {name = "ns:link", sig = "ns:link(name)", does = "The link of that name in ns, or nil (not owned unless this run made it).",
     returns = "Link or nil", ip = "ip -n NS link show NAME"},
    {name = "ns:links", sig = "ns:links()", does = "Every link in ns; prints as ip -br link.",
     returns = "list of Link", ip = "ip -n NS -br link"},
    {name = "link:into", sig = "link:into(ns [, newname])", does = "Moves the link into another namespace (and renames it).",
     returns = "the link", ip = "ip link set DEV netns NS [name NEW]"},
    {name = "link:up", sig = "link:up()", does = "Brings the link up; traffic flows the moment it returns.",
     returns = "the link", ip = "ip link set DEV up"},
    {name = "link:down", sig = "link:down()", does = "Brings the link down.", returns = "the link", ip = "ip link set DEV down"},
    {name = "link:master", sig = "link:master(bridge | nil)", does = "Makes the link a port of a bridge (nil: of none).",
     returns = "the link", ip = "ip link set DEV master BR"},
    {name = "link:mtu", sig = "link:mtu([n])", does = "Sets the MTU; without n, returns it.",
     returns = "the link, or the MTU", ip = "ip link set DEV mtu N"},
    {name = "link:mac", sig = "link:mac([mac])", does = "Sets the MAC address; without one, returns it.",
     returns = "the link, or the MAC", ip = "ip link set DEV address MAC"},
    {name = "link:rename", sig = "link:rename(name)", does = "Renames the link (it must be down).",
     returns = "the link", ip = "ip link set DEV name NEW"},
    {name = "link:delete", sig = "link:delete()", does = "Deletes a link this run made (a veth takes its peer with it).",
     ip = "ip link del DEV"},
    {name = "link:peer", sig = "link:peer()", does = "The other end of a veth, wherever it lives now.", returns = "Link or nil"},
    {name = "link:stats", sig = "link:stats()", does = "Its counters: rx_packets, tx_packets, rx_bytes, tx_bytes, *_errors, *_dropped...",
     returns = "table", ip = "ip -s link show DEV"},
    {name = "link:info", sig = "link:info()", does = "Everything at once: name, index, kind, state, isup, carrier, mtu, mac, master, peer, ns.",
     returns = "table", ip = "ip -d link show DEV"},
    {name = "link fields", sig = "link.name link.ns link.index link.kind link.state link.isup link.carrier link.owned",
     does = "Read live from the kernel; state is UP, DOWN or NO-CARRIER (up, but the other end of the cable is not)."},
  }},
  {"Addresses and routes", {
    {name = "link:addr", sig = "link:addr(cidr, {nodad =})", does = "Adds an IPv4 or IPv6 address.",
     opts = {{"nodad", "boolean", "false", "an IPv6 address usable at once (no duplicate address detection)"}},
     returns = "the link", ip = "ip addr add CIDR dev DEV"},
    {name = "link:deladdr", sig = "link:deladdr(cidr)", does = "Removes an address.", returns = "the link",
     ip = "ip addr del CIDR dev DEV"},
    {name = "link:addrs", sig = "link:addrs()", does = "Its addresses, IPv4 first.", returns = "list of CIDR strings",
     ip = "ip addr show dev DEV"},
    {name = "ns:route", sig = "ns:route(dst, {via =, dev =, metric =})",
     does = "Adds a route; dst is \"default\", \"default6\", a CIDR or an address.",
     opts = {{"via", "address", "-", "the gateway"}, {"dev", "Link or name", "-", "the device"},
             {"metric", "integer", "-", "its priority"}},
     returns = "the namespace", ip = "ip -n NS route add DST via GW dev DEV"},
    {name = "ns:delroute", sig = "ns:delroute(dst, {via =, dev =, metric =})", does = "Removes a route.",
     returns = "the namespace", ip = "ip -n NS route del DST"},
    {name = "ns:routes", sig = "ns:routes()", does = "The main table, {dst =, via =, dev =, proto =, scope =, metric =, src =, family =} each; prints as ip route.",
     returns = "list of tables", ip = "ip -n NS route; ip -n NS -6 route"},
    {name = "ns:neighbors", sig = "ns:neighbors()", does = "The ARP/NDP table, {addr =, mac =, dev =, state =} each; prints as ip neigh.",
     returns = "list of tables", ip = "ip -n NS neigh"},
  }},
  {"Traffic", {
    {name = "ns:ping", sig = "ns:ping(dst, {count =, interval =, timeout =, size =, ttl =, from =, verbose =})",
     does = "Pings from ns (an ICMP socket, no ping program); dst may be \"fe80::1%eth0\". When nothing comes back, says why.",
     opts = {{"count", "integer", "3", "echo requests"}, {"interval", "seconds", "0.2", "between them"},
             {"timeout", "seconds", "1", "to wait for the last reply"}, {"size", "bytes", "56", "payload"},
             {"ttl", "integer", "64", "hops"}, {"from", "address or device", "-", "source"},
             {"verbose", "boolean", "at the REPL", "print each reply as it comes, as ping does"}},
     returns = "PingResult", ip = "ip netns exec NS ping -c COUNT DST"},
    {name = "PingResult", sig = "r.sent r.received r.loss r.min r.avg r.max r.mdev r.time r.rtts r.errors r.hint r.duplicates r.destination",
     does = "Times in ms; rtts is a list (for _, t in ipairs(r.rtts)); errors are as ping prints them; hint says why nothing came back; tostring(r) is ping's summary."},
    {name = "net.pingall", sig = "net.pingall([namespaces], {count =, timeout =, quiet =})",
     does = "Pings every pair, in rounds that fit in the kernel's shared neighbour table (removing the entries each round made); pairs that failed while the kernel dropped packets are tried again; prints a Mininet-style matrix.",
     opts = {{"count", "integer", "5", "requests per pair, until one is answered"}, {"timeout", "seconds", "1", "to wait after the last"},
             {"quiet", "boolean", "false", "do not print the matrix"}},
     returns = "PingMatrix (m.sent, m.received, m.dropped, m.reachable[a][b], m.names, m.unaddressed, m.rounds, m.retried)"},
    {name = "ns:exec", sig = "ns:exec(prog, args...)  ns:exec{prog, args..., stdin =, timeout =, max_output =}",
     does = "Runs a program inside ns, never through a shell, and waits for it.",
     opts = {{"stdin", "string", "\"\"", "fed to it"}, {"timeout", "seconds", "none", "then its process group is killed"},
             {"max_output", "bytes", "16 MiB", "most output kept"}},
     returns = "code, stdout, stderr", ip = "ip netns exec NS PROG ARGS..."},
    {name = "ns:shell", sig = "ns:shell([program, args...])",
     does = "An interactive $SHELL (or the program) inside ns, with the terminal; NSLUA_NS names ns for a prompt.",
     returns = "its exit status", ip = "ip netns exec NS bash"},
    {name = "ns:capture", sig = "ns:capture(dev, {filter =, count =, limit =, print =})",
     does = "Captures packets on a device inside ns (libpcap), in the background.",
     opts = {{"filter", "pcap filter", "-", "e.g. \"icmp or arp\""}, {"count", "integer", "-", "stop after this many"},
             {"limit", "integer", "100000", "most packets kept"},
             {"print", "boolean", "false", "print each packet as it comes, as tcpdump does"}},
     returns = "Capture", ip = "ip netns exec NS tcpdump -i DEV FILTER"},
    {name = "cap:stop", sig = "cap:stop()", does = "Stops capturing; its packets, {time =, len =, summary =} each, print as tcpdump lines.",
     returns = "list of tables"},
    {name = "cap:packets", sig = "cap:packets()", does = "The packets so far (the capture goes on).", returns = "list of tables"},
    {name = "cap:wait", sig = "cap:wait([seconds])", does = "Waits until count packets have come (or seconds, default 5, pass).",
     returns = "the capture"},
    {name = "cap:save", sig = "cap:save(path, {overwrite =})", does = "Writes a pcap file (\"-\": standard output) for tcpdump -r or Wireshark.",
     opts = {{"overwrite", "boolean", "false", "replace an existing file"}}, returns = "the capture", ip = "tcpdump -w PATH"},
  }},
  {"Links that leave the machine", {
    {name = "net.vxlan", sig = "net.vxlan(name, {id =, remote =, group =, from =, dev =, port =, ns =})",
     does = "Makes a VXLAN tunnel: a layer-2 segment carried over UDP to another machine. Make it where the underlay is; move it into the lab with link:into.",
     opts = {{"id", "integer", "required", "the VNI, 1..16777215"}, {"remote", "address", "-", "the other end (unicast)"},
             {"group", "address", "-", "a multicast group instead (needs dev)"}, {"from", "address", "-", "the local address (ip's 'local')"},
             {"dev", "Link or name", "-", "the underlay link"}, {"port", "integer", "4789", "UDP destination port"},
             {"ns", "Namespace or name", "host", "where it is made (its socket stays there)"}},
     returns = "Link", ip = "ip link add NAME type vxlan id ID remote R local L dev D dstport P"},
    {name = "net.macvlan", sig = "net.macvlan(name, parent, {mode =, ns =})",
     does = "Makes a link with a MAC of its own on a parent link (a physical NIC, or any link).",
     opts = {{"mode", "string", "\"bridge\"", "private, vepa, bridge, passthru or source"},
             {"ns", "Namespace or name", "the parent's", "where it is born"}},
     returns = "Link", ip = "ip link add link PARENT name NAME netns NS type macvlan mode MODE"},
    {name = "net.tap", sig = "net.tap(name, {ns =, user =, group =})",
     does = "Makes a persistent tap device (Ethernet frames) that a VM or a program opens by name through /dev/net/tun.",
     opts = {{"ns", "Namespace or name", "host", "where it is made"}, {"user", "name or uid", "-", "who may open it"},
             {"group", "name or gid", "-", "which group may open it"}},
     returns = "Link", ip = "ip tuntap add dev NAME mode tap user U"},
    {name = "net.tun", sig = "net.tun(name, {ns =, user =, group =})", does = "The same for a tun device (IP packets, no MAC).",
     returns = "Link", ip = "ip tuntap add dev NAME mode tun"},
  }},
  {"Impairment", {
    {name = "link:netem", sig = "link:netem{delay =, jitter =, loss =, limit =}  link:netem(nil)",
     does = "Delays, jitters and drops what the link sends (needs the kernel's sch_netem); nil takes it off.",
     opts = {{"delay", "time", "0", "\"20ms\" or ms"}, {"jitter", "time", "0", "needs a delay"},
             {"loss", "percent", "0", "\"1%\" or 1"}, {"limit", "packets", "1000", "queue"}},
     returns = "the link", ip = "tc qdisc add dev DEV root netem delay D jitter J loss L"},
    {name = "link:rate", sig = "link:rate(rate, {burst =, latency =})  link:rate(nil)",
     does = "Limits what the link sends to a rate (a token bucket); nil takes it off.",
     opts = {{"burst", "size", "20 ms of traffic", "\"32kbit\" or bytes"}, {"latency", "time", "50ms", "queue length"}},
     returns = "the link", ip = "tc qdisc add dev DEV root tbf rate R burst B limit L"},
  }},
  {"The lab", {
    {name = "show", sig = "show()", does = "Prints the whole lab as a tree, per namespace."},
    {name = "net.show", sig = "net.show()", does = "The same as show()."},
    {name = "net.graph", sig = "net.graph([namespaces])", does = "The lab as Graphviz DOT (see --graph).", returns = "string"},
    {name = "net.keep", sig = "net.keep([on])", does = "Leaves what this run made in place at exit."},
    {name = "net.cleanup", sig = "net.cleanup()", does = "Removes what this run made, now (the run may go on)."},
    {name = "net.sleep", sig = "net.sleep(seconds)", does = "Sleeps (Ctrl-C interrupts it)."},
    {name = "net.now", sig = "net.now()", does = "Seconds on a monotonic clock.", returns = "number"},
    {name = "errors", sig = "err.kind err.errno err.call err.reason err.detail err.message",
     does = "Errors are objects that print as text; kind is invalid, notfound, exists, kernel, privilege, unsupported, timeout, argument or interrupted."},
  }},
  {"Topologies (require \"nslua.topo\")", {
    {name = "topo.build", sig = "topo.build(spec, {name =, prefix =, netem =, rate =, machine =})",
     does = "Builds a lab from a table: hosts, routers, switches, links (and machines); addresses, routes and forwarding chosen for it.",
     opts = {{"name", "string", "\"\"", "prefixes every namespace and bridge"},
             {"prefix", "CIDR", "10.0.0.0/16", "where subnets are taken from"},
             {"netem", "table", "-", "on every link"}, {"rate", "rate", "-", "on every link"},
             {"machine", "string", "-", "which of spec.machines this is: only its nodes are built"}},
     returns = "lab: lab.h1, lab:hosts(), lab:routers(), lab:switches(), lab:nodes(), lab:addr(name), lab:pingall(), lab:graph(), lab:delete()"},
    {name = "topo.star", sig = "topo.star(n, {name =, prefix =, netem =, rate =})", does = "n hosts on one switch.", returns = "lab"},
    {name = "topo.line", sig = "topo.line(n, {...})", does = "n switches in a chain, one host each.", returns = "lab"},
    {name = "topo.tree", sig = "topo.tree(depth, fanout, {...})", does = "A tree of switches, hosts at the leaves.", returns = "lab"},
    {name = "topo.chain", sig = "topo.chain(n, {...})", does = "Two hosts through n routers in a row.", returns = "lab"},
    {name = "topo.params", sig = "topo.params(arg, defaults)", does = "Reads key=value arguments, typed by the defaults.",
     returns = "table"},
    {name = "topo.ipv4_host", sig = "topo.ipv4_host(prefix, n)", does = "The n-th host address of a prefix: (\"10.0.0.0/24\", 5) gives \"10.0.0.5/24\".",
     returns = "string"},
  }},
  {"Checks (require \"nslua.check\")", {
    {name = "check.reachable", sig = "check.reachable(a, b)", does = "a reaches b (a namespace or an address), or the script fails here."},
    {name = "check.unreachable", sig = "check.unreachable(a, b)", does = "a does not reach b."},
    {name = "check.path", sig = "check.path(a, b, {routers...})", does = "The way from a to b goes through these routers, in order (TTL by TTL)."},
    {name = "check.route", sig = "check.route(ns, dst, {via =, dev =})", does = "ns has a route to dst, with that gateway and device."},
  }},
}
help.topics = topics

-- Entries by name.
local byname = {}
for _, t in ipairs(topics) do
  for _, e in ipairs(t[2]) do
    e.topic = t[1]
    byname[e.name] = e
  end
end
help.entries = byname

local function short(name) return name:match("[.:]([%w_]+)$") or name end

-- The entries for a value: a function (found by identity among the
-- primitives), a name ("veth": net.veth and ns:veth), or an object (its
-- methods and fields).
local function find(x)
  local out = {}
  if type(x) == "string" then
    for _, t in ipairs(topics) do
      for _, e in ipairs(t[2]) do
        if e.name == x or short(e.name) == x then out[#out + 1] = e end
      end
    end
    return out
  end
  if type(x) == "function" then
    local function scan(prefix, tbl)
      if type(tbl) ~= "table" then return end
      for k, v in pairs(tbl) do
        if v == x and byname[prefix .. k] then out[#out + 1] = byname[prefix .. k] end
      end
    end
    scan("net.", rawget(_G, "net"))
    scan("topo.", package.loaded["nslua.topo"])
    scan("check.", package.loaded["nslua.check"])
    if x == rawget(_G, "show") then out[#out + 1] = byname.show end
    -- Methods: the functions each class's metatable lists in __methods.
    local registry = debug.getregistry()
    for prefix, class in pairs({ns = "Namespace", link = "Link", cap = "Capture"}) do
      local mt = registry[class]
      scan(prefix .. ":", type(mt) == "table" and rawget(mt, "__methods") or nil)
    end
  end
  return out
end

--- The entries of an object's class: "ns", "link" or "cap".
function help.methods(prefix)
  local out = {}
  for _, t in ipairs(topics) do
    for _, e in ipairs(t[2]) do
      if e.name:sub(1, #prefix + 1) == prefix .. ":" or e.name == prefix .. " fields" then out[#out + 1] = e end
    end
  end
  return out
end

local function entry_text(e)
  local lines = {e.sig, "  " .. e.does}
  for _, o in ipairs(e.opts or {}) do
    lines[#lines + 1] = string.format("    %-10s %-20s default %-10s %s", o[1] .. " =", o[2], o[3], o[4])
  end
  if e.returns then lines[#lines + 1] = "  returns " .. e.returns end
  if e.ip then lines[#lines + 1] = "  like    " .. e.ip end
  return table.concat(lines, "\n")
end

local function class_of(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  local name = mt and mt.__name
  return ({Namespace = "ns", Link = "link", Capture = "cap", PingResult = "PingResult", PingMatrix = "net.pingall"})[name], name
end

--- help(), help(net.veth), help("veth"), help(ns1): what is there and how to use it.
function help.text(x)
  if x == nil then
    local out = {"nslua primitives (help(net.veth), help(\"veth\") or help(obj) for one; "
                 .. "`nslua --tutorial` says where the tutorial is)"}
    for _, t in ipairs(topics) do
      out[#out + 1] = "\n" .. t[1]
      for _, e in ipairs(t[2]) do out[#out + 1] = string.format("  %-44s %s", #e.sig > 44 and e.sig:sub(1, 43) .. "…" or e.sig, e.does) end
    end
    return table.concat(out, "\n")
  end
  local prefix, cls = class_of(x)
  if prefix then
    local list = (prefix == "PingResult" or prefix == "net.pingall") and {byname[prefix]} or help.methods(prefix)
    local out = {string.format("%s: %s", cls, tostring(x))}
    for _, e in ipairs(list) do out[#out + 1] = entry_text(e) end
    return table.concat(out, "\n\n")
  end
  local found = find(x)
  if #found == 0 then
    return string.format("no help for %s; help() lists everything", type(x) == "string" and string.format("%q", x) or tostring(x))
  end
  local out = {}
  for _, e in ipairs(found) do out[#out + 1] = entry_text(e) end
  return table.concat(out, "\n\n")
end

--- The README's API section, in Markdown.
function help.markdown()
  local out = {}
  for _, t in ipairs(topics) do
    out[#out + 1] = "### " .. t[1] .. "\n"
    out[#out + 1] = "| call | what it does | like |"
    out[#out + 1] = "| --- | --- | --- |"
    for _, e in ipairs(t[2]) do
      local does = e.does
      if e.opts then
        local o = {}
        for _, opt in ipairs(e.opts) do o[#o + 1] = string.format("`%s` (%s, default %s): %s", opt[1], opt[2], opt[3], opt[4]) end
        does = does .. " Options: " .. table.concat(o, "; ") .. "."
      end
      if e.returns then does = does .. " Returns " .. e.returns .. "." end
      out[#out + 1] = string.format("| `%s` | %s | %s |", e.sig:gsub("|", "\\|"), (does:gsub("|", "\\|")),
                                    e.ip and ("`" .. e.ip .. "`") or "")
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

return help
