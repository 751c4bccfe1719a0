import Netlink

extension Lab {
    /// The lab as Graphviz DOT: each namespace a box holding its interfaces
    /// (with addresses) and bridges, each veth pair an edge (a bridge port's
    /// edge ends at its bridge), impairments as edge labels. With
    /// `namespaces` nil: the host's lab links and every namespace of the lab.
    public func dot(namespaces only: [Namespace]? = nil) throws(LabError) -> String {
        let namespaces = only ?? allNamespaces
        var out = "graph lab {\n"
        out += "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, nodesep=0.3];\n"
        out += "  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=white];\n"
        out += "  edge [fontname=\"Helvetica\", fontsize=9];\n"
        // Every link drawn, by namespace and ifindex, and where its edge ends.
        var endpoint: [String: String] = [:]
        var edges: [(Link, LinkMessage)] = []
        var outside: [String] = []
        for (n, ns) in namespaces.enumerated() where !ns.isDeleted {
            var messages = try ns.linkMessages().filter { $0.flags & IFF.LOOPBACK == 0 }
            if ns.name == nil {
                let mine = Set(ownedLinks.filter { $0.namespace === ns && !$0.isDeleted }.map(\.index))
                messages = messages.filter { mine.contains($0.index) }
            }
            if messages.isEmpty && ns.name == nil { continue }
            let addrs = Dictionary(grouping: try ns.addressMessages(), by: \.index)
            out += "  subgraph \(dotID("cluster_\(n)")) {\n"
            out += "    label=\(dotID(ns.displayName)); style=\"rounded,filled\"; fillcolor=\"#f4f6fb\"; color=\"#8090b0\";\n"
            for m in messages {
                let id = "\(ns.displayName)/\(m.name)"
                if m.kind == "bridge" {
                    out += "    \(dotID(id)) [label=\(dotID(m.name + "\nbridge")), shape=ellipse, fillcolor=\"#fff4d6\"];\n"
                    endpoint[key(ns, m.index)] = id
                    continue
                }
                let a = (addrs[UInt32(bitPattern: m.index)] ?? []).map(\.prefix).filter { !$0.address.isLinkLocalV6 }
                let state = LinkInfo(m).state
                var label = ([m.name + (state == "UP" ? "" : " (\(state.lowercased()))")] + a.map(\.description)).joined(separator: "\n")
                // Links that leave the lab: a node of their own, dashed, with their
                // settings; a tunnel's far end outside every namespace.
                if let kind = m.kind, ["vxlan", "macvlan", "tun"].contains(kind) {
                    label += "\n" + (kind == "tun" ? m.details ?? kind : kind + (m.details.map { " " + $0 } ?? ""))
                    out += "    \(dotID(id)) [label=\(dotID(label)), style=\"rounded,dashed,filled\"];\n"
                    endpoint[key(ns, m.index)] = id
                    if let master = m.master, master > 0, let bridge = messages.first(where: { $0.index == master }) {
                        outside.append("  \(dotID("\(ns.displayName)/\(bridge.name)")) -- \(dotID(id));\n")
                    }
                    if kind == "macvlan", let p = m.link, p > 0, m.linkNetnsID == nil, let parent = messages.first(where: { $0.index == p }) {
                        outside.append("  \(dotID(id)) -- \(dotID("\(ns.displayName)/\(parent.name)")) [style=dashed, label=\"on\"];\n")
                    }
                    let words = (m.details ?? "").split(separator: " ").map(String.init)
                    if kind == "vxlan", let r = words.firstIndex(where: { $0 == "remote" || $0 == "group" }), r + 1 < words.count {
                        let far = words[r] + " " + words[r + 1]
                        out += "  }\n  \(dotID("far/" + far)) [label=\(dotID(far)), shape=plaintext, style=\"\"];\n  subgraph \(dotID("cluster_\(n)")) {\n"
                        outside.append("  \(dotID(id)) -- \(dotID("far/" + far)) [style=dashed, label=\"udp\"];\n")
                    }
                    continue
                }
                if let master = m.master, master > 0 {
                    endpoint[key(ns, m.index)] = "\(ns.displayName)/" + (messages.first { $0.index == master }?.name ?? "#\(master)")
                } else {
                    out += "    \(dotID(id)) [label=\(dotID(label))];\n"
                    endpoint[key(ns, m.index)] = id
                }
                if m.kind == "veth" { edges.append((link(in: ns, message: m), m)) }
            }
            out += "  }\n"
        }
        var drawn: Set<String> = []
        for (l, m) in edges {
            guard let peer = try? l.peer(of: m), let here = endpoint[key(l.namespace, l.index)],
                  let there = endpoint[key(peer.namespace, peer.index)] else { continue }
            let pair = [key(l.namespace, l.index), key(peer.namespace, peer.index)].sorted().joined(separator: "|")
            guard drawn.insert(pair).inserted else { continue }
            var labels: [String] = []
            for end in [l, peer] {
                if let master = (try? end.message())?.master, master > 0 { labels.append(end.lastName) }
                labels += end.impairment
            }
            var attrs = labels.isEmpty ? "" : " [label=\(dotID(Array(uniqueInOrder(labels)).joined(separator: "\n")))]"
            if here == there { attrs = "" }
            out += "  \(dotID(here)) -- \(dotID(there))\(attrs);\n"
        }
        return out + outside.joined() + "}\n"
    }

    private func key(_ ns: Namespace, _ index: Int32) -> String { "\(ObjectIdentifier(ns).hashValue)/\(index)" }
}

/// Strings in first-seen order without repeats.
private func uniqueInOrder(_ items: [String]) -> [String] {
    var seen: Set<String> = []
    return items.filter { seen.insert($0).inserted }
}

/// A DOT identifier: always quoted, with quotes and backslashes escaped.
func dotID(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.append(c)
        }
    }
    return out + "\""
}
