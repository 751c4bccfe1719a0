import Netlink

/// A link as `ip -d link show` describes it.
public struct LinkInfo: Sendable, CustomStringConvertible {
    public var name: String
    public var index: Int32
    /// "veth", "bridge", "vxlan", "macvlan", "tun", "loopback", or "device" (a plain device).
    public var kind: String
    /// Its kind's settings as `ip -d link` gives them ("id 42 remote 192.0.2.2 dstport 4789").
    public var details: String?
    /// Administratively up (`ip link set DEV up`).
    public var isUp: Bool
    /// The lower layer is up (IFF_LOWER_UP): for a veth, its peer is up too.
    public var hasCarrier: Bool
    /// "UP", "DOWN", "LOWERLAYERDOWN", "UNKNOWN", ...
    public var operState: String
    public var mtu: Int?
    public var mac: String?
    /// The bridge it is a port of, and the other end of a veth ("veth1@ns2").
    public var master: String?
    public var peer: String?
    /// `ip -br link`'s "veth0@veth1" / "veth0@if7" part after the name.
    var linkSuffix: String?
    var flags: [String]
    /// rx_packets, tx_packets, rx_bytes, ... (struct rtnl_link_stats64).
    public var counters: [(name: String, value: UInt64)] = []

    init(_ m: LinkMessage, peerName: String? = nil) {
        name = m.name
        index = m.index
        kind = m.kind ?? (m.flags & IFF.LOOPBACK != 0 ? "loopback" : "device")
        details = m.details
        isUp = m.isUp
        hasCarrier = m.flags & IFF.LOWER_UP != 0
        operState = operstateName(m.operstate)
        mtu = m.mtu.map(Int.init)
        mac = m.mac?.description
        if let l = m.link, l > 0, l != m.index { linkSuffix = m.linkNetnsID == nil ? (peerName ?? "if\(l)") : "if\(l)" }
        var f: [String] = []
        if m.isUp && !hasCarrier { f.append("NO-CARRIER") }
        if m.flags & IFF.LOOPBACK != 0 { f.append("LOOPBACK") } else { f += ["BROADCAST", "MULTICAST"] }
        if m.isUp { f.append("UP") }
        if hasCarrier { f.append("LOWER_UP") }
        flags = f
        if let s = m.stats {
            counters = [("rx_packets", s.rxPackets), ("tx_packets", s.txPackets), ("rx_bytes", s.rxBytes),
                        ("tx_bytes", s.txBytes), ("rx_errors", s.rxErrors), ("tx_errors", s.txErrors),
                        ("rx_dropped", s.rxDropped), ("tx_dropped", s.txDropped), ("multicast", s.multicast),
                        ("collisions", s.collisions)]
        }
    }

    /// The state as a person reads it: "UP", "DOWN", or "NO-CARRIER" for a
    /// link that is up while the other side of its cable is not.
    public var state: String { isUp && !hasCarrier ? "NO-CARRIER" : (operState == "UNKNOWN" && isUp ? "UP" : operState) }

    /// One line as `ip -br link` prints it.
    public var description: String {
        let shownName = name + (linkSuffix.map { "@\($0)" } ?? "")
        return shownName.padded(16) + " " + operState.padded(14) + " " + (mac ?? "") + " <" + flags.joined(separator: ",") + ">"
    }
}

/// A route as `ip route` describes it.
public struct Route: Sendable, CustomStringConvertible {
    public var isIPv6: Bool
    /// "default" or a CIDR.
    public var destination: String
    public var gateway: String?
    public var device: String?
    /// "kernel", "boot", "static", ... (`proto`).
    public var protocolName: String
    /// "global", "link", "host" (`scope`).
    public var scope: String
    public var source: String?
    public var metric: Int?
    var preference: String?

    init(_ r: RouteMessage, names: [Int32: String]) {
        isIPv6 = r.family == AF.INET6
        destination = r.destination.map(\.description) ?? "default"
        gateway = r.gateway?.description
        device = r.outputIndex.flatMap { names[$0] }
        protocolName = Route.protocolName(r.protocolID)
        scope = Route.scopeName(r.scope)
        source = r.preferredSource?.description
        metric = r.priority.map(Int.init)
        preference = r.preference.map { ["medium", "high", "?", "low"][Int($0 & 3)] }
    }

    /// One line as `ip route` (or `ip -6 route`) prints it.
    public var description: String {
        var s = destination
        if let gateway { s += " via \(gateway)" }
        if let device { s += " dev \(device)" }
        if protocolName != "boot" { s += " proto \(protocolName)" }
        if scope != "global" { s += " scope \(scope)" }
        if let source { s += " src \(source)" }
        if let metric { s += " metric \(metric)" }
        if let preference { s += " pref \(preference)" }
        return s
    }

    static func protocolName(_ p: UInt8) -> String {
        switch p {
        case RTA.PROT_KERNEL: return "kernel"
        case RTA.PROT_BOOT: return "boot"
        case RTA.PROT_STATIC: return "static"
        case 16: return "dhcp"
        case 186: return "bgp"
        default: return String(p)
        }
    }

    static func scopeName(_ s: UInt8) -> String {
        switch s {
        case RTA.SCOPE_UNIVERSE: return "global"
        case RTA.SCOPE_LINK: return "link"
        case RTA.SCOPE_HOST: return "host"
        default: return String(s)
        }
    }
}

/// A neighbour (ARP/NDP) entry as `ip neigh` describes it.
public struct Neighbor: Sendable, CustomStringConvertible {
    public var address: String
    public var mac: String?
    public var device: String?
    /// "REACHABLE", "STALE", "FAILED", ...
    public var state: String

    init(_ n: NeighborMessage, names: [Int32: String]) {
        address = n.address?.description ?? "?"
        mac = n.mac?.description
        device = names[n.index]
        state = n.stateName
    }

    /// One line as `ip neigh` prints it.
    public var description: String {
        var s = address
        if let device { s += " dev \(device)" }
        if let mac { s += " lladdr \(mac)" }
        return s + " \(state)"
    }
}

extension Namespace {
    /// Equivalent to `ip route` and `ip -6 route` (the main table).
    public func routes() throws(LabError) -> [Route] {
        let names = try linkNames()
        return try routeMessages().map { Route($0, names: names) }
    }

    /// Equivalent to `ip neigh`.
    public func neighbors() throws(LabError) -> [Neighbor] {
        let names = try linkNames()
        return try neighborMessages().map { Neighbor($0, names: names) }
    }

    /// Equivalent to `ip -br link`, as values.
    public func linkInfos() throws(LabError) -> [LinkInfo] {
        let messages = try linkMessages()
        let names = Namespace.names(of: messages)
        return messages.map { LinkInfo($0, peerName: $0.link.flatMap { names[$0] }) }
    }

    /// `namespace ns1: lo eth0`
    public var summary: String {
        if isDeleted { return "namespace \(displayName) (deleted)" }
        let links = (try? linkMessages().map(\.name)) ?? []
        return "namespace \(displayName)\(owned || name == nil ? "" : " (not owned)"): " + links.joined(separator: " ")
    }

    /// One block of `show()`: the namespace, its links (kind, state,
    /// addresses, master, peer, impairment) and its routes. For the host,
    /// only the links of the lab.
    public func showText() throws(LabError) -> String {
        let isHost = name == nil
        var out = displayName + (owned || isHost ? "" : " (opened, not owned)") + "\n"
        let all = try linkMessages()
        let names = Namespace.names(of: all)
        var links = all
        if isHost, let lab {
            let mine = Set(lab.ownedLinks.filter { $0.namespace === self && !$0.isDeleted }.map(\.index))
            links = links.filter { mine.contains($0.index) }
        }
        let addrs = Dictionary(grouping: try addressMessages(), by: \.index)
        let width = max(8, links.map(\.name.count).max() ?? 0)
        for m in links {
            let info = LinkInfo(m)
            var line = "  " + m.name.padded(width) + " " + info.kind.padded(8) + " " + info.state.padded(5)
            let a = (addrs[UInt32(bitPattern: m.index)] ?? []).map(\.prefix).filter { !$0.address.isLinkLocalV6 }
            if !a.isEmpty { line += " " + a.map(\.description).joined(separator: " ") }
            if let master = m.master, master > 0 { line += " master " + (names[master] ?? "#\(master)") }
            if let d = m.details, !d.isEmpty { line += " " + d }
            if m.kind == "macvlan", let p = m.link, p > 0 { line += " on " + (m.linkNetnsID == nil ? names[p] ?? "#\(p)" : "if\(p)") }
            if let lab {
                let link = lab.link(in: self, message: m)
                if let peer = try? link.peer(of: m) { line += " peer \(peer.label)" }
                let imp = link.impairment
                if !imp.isEmpty { line += " " + imp.joined(separator: " ") }
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        if !isHost {
            let routes = try self.routes().filter { !$0.destination.hasPrefix("fe80") }
            if !routes.isEmpty {
                out += "  routes:\n"
                for r in routes { out += "    \(r)\n" }
            }
        }
        return out
    }
}

extension Link {
    /// `veth0@ns1 veth UP 172.16.1.1/24 peer veth1@ns2`
    public var summary: String {
        guard let m = try? message() else { return "\(label) (deleted)" }
        let info = LinkInfo(m)
        var parts = ["\(m.name)@\(namespace.displayName)", info.kind, info.state]
        if let addrs = try? addresses(linkLocal: false) { parts += addrs }
        if let master = m.master, master > 0, let mm = try? namespace.linkMessage(index: master) {
            parts.append("master \(mm.name)")
        }
        if let d = m.details, !d.isEmpty { parts.append(d) }
        if let peer = try? peer(of: m) { parts.append("peer \(peer.label)") }
        return (parts + impairment).joined(separator: " ")
    }

    /// "netem delay 20ms jitter 5ms loss 1%", "rate 10mbit": what this run put on the link.
    public var impairment: [String] {
        var parts: [String] = []
        if let n = netem {
            var s = "netem"
            if n.delayNS > 0 { s += " delay \(TCUnits.describe(nanoseconds: n.delayNS))" }
            if n.jitterNS > 0 { s += " jitter \(TCUnits.describe(nanoseconds: n.jitterNS))" }
            if n.lossPercent > 0 { s += " loss \(formatPercent(n.lossPercent))%" }
            parts.append(s)
        }
        if let r = rateLimit { parts.append("rate \(TCUnits.describe(bitsPerSecond: r.bytesPerSecond * 8))") }
        return parts
    }
}

extension Lab {
    /// `show()`: every namespace of the lab as a tree, the host's lab links first.
    public func showText() throws(LabError) -> String {
        var out = try host.showText()
        for ns in namespaces { out += try ns.showText() }
        return out
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
