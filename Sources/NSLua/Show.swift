import LuaKit
import NetLab
import Netlink

/// One-line summaries (`tostring`) and the lab tree (`show()`).
enum Show {
    /// `veth0@ns1 veth UP 172.16.1.1/24 peer veth1@ns2`
    static func summary(_ l: Link) -> String {
        guard let m = try? l.info() else { return "\(l.label) (deleted)" }
        var parts = ["\(m.name)@\(l.namespace.displayName)", m.kind ?? "device", operstateName(m.operstate)]
        if let addrs = try? l.addresses() { parts += addrs.filter { !$0.address.isLinkLocalV6 }.map(\.description) }
        if let master = m.master, master > 0, let mm = try? l.namespace.linkMessage(index: master) {
            parts.append("master \(mm.name)")
        }
        if let peer = try? l.peer(of: m) { parts.append("peer \(peer.label)") }
        parts += impairment(l)
        return parts.joined(separator: " ")
    }

    /// "netem delay 20ms jitter 5ms loss 1%", "rate 10mbit": what this run put on the link.
    static func impairment(_ l: Link) -> [String] {
        var parts: [String] = []
        if let n = l.netem {
            var s = "netem"
            if n.delayNS > 0 { s += " delay \(milliseconds(n.delayNS))" }
            if n.jitterNS > 0 { s += " jitter \(milliseconds(n.jitterNS))" }
            if n.lossPercent > 0 { s += " loss \(n.lossPercent == n.lossPercent.rounded() ? String(Int(n.lossPercent)) : String(n.lossPercent))%" }
            parts.append(s)
        }
        if let r = l.rateLimit { parts.append("rate \(bits(r.bytesPerSecond * 8))") }
        return parts
    }

    static func milliseconds(_ ns: UInt64) -> String {
        ns % 1_000_000 == 0 ? "\(ns / 1_000_000)ms" : "\(Double(ns) / 1e6)ms"
    }

    static func bits(_ b: UInt64) -> String {
        for (unit, scale) in [("gbit", UInt64(1_000_000_000)), ("mbit", 1_000_000), ("kbit", 1000)] where b >= scale && b % scale == 0 {
            return "\(b / scale)\(unit)"
        }
        return "\(b)bit"
    }

    /// `namespace ns1: lo eth0`
    static func summary(_ ns: Namespace) -> String {
        if ns.isDeleted { return "namespace \(ns.displayName) (deleted)" }
        let links = (try? ns.linkMessages().map(\.name)) ?? []
        return "namespace \(ns.displayName)\(ns.owned ? "" : " (not owned)"): " + links.joined(separator: " ")
    }

    /// Routes as tables {dst=, via=, dev=, proto=, scope=, metric=, src=, family=}.
    static func routes(_ ns: Namespace) throws -> [LuaTable] {
        let names = Dictionary((try ns.linkMessages()).map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        return try ns.routeMessages().map { r in
            var t = LuaTable()
            t["dst"] = .string(r.destination.map(\.description) ?? "default")
            t["via"] = r.gateway.map { .string($0.description) } ?? .nil
            t["dev"] = r.outputIndex.flatMap { names[$0] }.map(LuaValue.string) ?? .nil
            t["proto"] = .string(protocolName(r.protocolID))
            t["scope"] = .string(scopeName(r.scope))
            t["metric"] = r.priority.map { .integer(Int64($0)) } ?? .nil
            t["src"] = r.preferredSource.map { .string($0.description) } ?? .nil
            t["family"] = .string(r.family == AF.INET6 ? "inet6" : "inet")
            return t
        }
    }

    static func routeLine(_ t: LuaTable) -> String {
        var s = t["dst"].stringValue ?? "?"
        if let via = t["via"].stringValue { s += " via \(via)" }
        if let dev = t["dev"].stringValue { s += " dev \(dev)" }
        if let p = t["proto"].stringValue, p != "boot" { s += " proto \(p)" }
        if let sc = t["scope"].stringValue, sc != "global" { s += " scope \(sc)" }
        if let src = t["src"].stringValue { s += " src \(src)" }
        if case .integer(let m) = t["metric"] { s += " metric \(m)" }
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

    /// One block: the namespace, its links (kind, state, addresses, master,
    /// peer) and its routes. For the host, only links of the lab (`lab` set).
    static func namespace(_ ns: Namespace, lab: Lab?) throws -> String {
        var out = ns.displayName + (ns.owned || ns.name == nil ? "" : " (opened, not owned)") + "\n"
        var links = try ns.linkMessages()
        if let lab {
            let mine = Set(lab.ownedLinks.filter { $0.namespace === ns && !$0.isDeleted }.map(\.index))
            links = links.filter { mine.contains($0.index) }
        }
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        let addrs = Dictionary(grouping: try ns.addressMessages(), by: \.index)
        let width = max(8, links.map(\.name.count).max() ?? 0)
        for m in links {
            var line = "  " + m.name.padding(width) + " " + (m.kind ?? (m.name == "lo" ? "loopback" : "device")).padding(7)
                + " " + operstateName(m.operstate).padding(5)
            let a = (addrs[UInt32(bitPattern: m.index)] ?? []).map(\.prefix).filter { !$0.address.isLinkLocalV6 }
            if !a.isEmpty { line += " " + a.map(\.description).joined(separator: " ") }
            if let master = m.master, master > 0 {
                line += " master " + (names[master] ?? (try? ns.linkMessage(index: master)?.name) ?? "#\(master)")
            }
            if let lab = ns.lab {
                let link = lab.link(in: ns, message: m)
                if let peer = try? link.peer(of: m) { line += " peer \(peer.label)" }
                let imp = impairment(link)
                if !imp.isEmpty { line += " " + imp.joined(separator: " ") }
            }
            out += line + "\n"
        }
        if lab == nil {
            let routes = try Show.routes(ns).filter { $0["dst"].stringValue?.hasPrefix("fe80") != true }
            if !routes.isEmpty {
                out += "  routes:\n"
                for r in routes { out += "    " + routeLine(r) + "\n" }
            }
        }
        return out
    }

    static func lab(_ lab: Lab) throws -> String {
        var out = try namespace(lab.host, lab: lab)
        for ns in lab.namespaces where !ns.isDeleted { out += try namespace(ns, lab: nil) }
        return out
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
