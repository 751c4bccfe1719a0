import LuaKit
import NetLab

extension NetModule {
    func defineNamespace() {
        let cls = namespaceClass
        cls.field("name") { ns in ns.name.map(LuaValue.string) ?? .nil }
        cls.field("owned") { ns in .bool(ns.owned) }
        cls.field("id") { ns in .integer(Int64(ns.id.inode)) }
        cls.tostring { ns in ns.summary }
        cls.literal { ns in ns.displayName }
        cls.equals { a, b in a.id == b.id }

        method("veth", on: cls) { [unowned self] ns, call in
            let a = try call.optionalString(2), b = try call.optionalString(3)
            let opts = try call.options(4, known: ["peer_ns"])
            try call.noMoreThan(4)
            let peer = try namespaceOption(opts, "peer_ns") ?? ns
            let (x, y) = try lab.createVeth(a, b, in: ns, peerIn: peer)
            return [.object(x), .object(y)]
        }
        method("bridge", on: cls) { [unowned self] ns, call in
            let name = try call.string(2)
            try call.noMoreThan(2)
            return [.object(try lab.createBridge(name, in: ns))]
        }
        method("link", on: cls) { [unowned self] ns, call in
            let name = try call.string(2)
            try call.noMoreThan(2)
            return [try lab.link(named: name, in: ns).map { .object($0) } ?? .nil]
        }
        method("links", on: cls) { [unowned self] ns, call in
            try call.noMoreThan(1)
            let infos = try ns.linkInfos()
            let links = try lab.links(in: ns)
            return [records(links.map { .object($0) }, lines: infos.map(\.description))]
        }
        method("route", on: cls) { [unowned self] ns, call in
            try routeCall(ns, call, add: true)
            return [.object(ns)]
        }
        method("delroute", on: cls) { [unowned self] ns, call in
            try routeCall(ns, call, add: false)
            return [.object(ns)]
        }
        method("routes", on: cls) { [unowned self] ns, call in
            try call.noMoreThan(1)
            let routes = try ns.routes()
            return [records(routes.map { r in
                var t = LuaTable()
                t["dst"] = .string(r.destination)
                t["via"] = r.gateway.map(LuaValue.string) ?? .nil
                t["dev"] = r.device.map(LuaValue.string) ?? .nil
                t["proto"] = .string(r.protocolName)
                t["scope"] = .string(r.scope)
                t["metric"] = r.metric.map { .integer(Int64($0)) } ?? .nil
                t["src"] = r.source.map(LuaValue.string) ?? .nil
                t["family"] = .string(r.isIPv6 ? "inet6" : "inet")
                return .table(t)
            }, lines: routes.map(\.description))]
        }
        method("neighbors", on: cls) { [unowned self] ns, call in
            try call.noMoreThan(1)
            let neighbors = try ns.neighbors()
            return [records(neighbors.map { n in
                var t = LuaTable()
                t["addr"] = .string(n.address)
                t["mac"] = n.mac.map(LuaValue.string) ?? .nil
                t["dev"] = n.device.map(LuaValue.string) ?? .nil
                t["state"] = .string(n.state)
                return .table(t)
            }, lines: neighbors.map(\.description))]
        }
        method("sysctl", on: cls) { ns, call in
            let key = try call.string(2)
            try call.noMoreThan(3)
            if call.isNoneOrNil(3) { return [.string(try ns.sysctl(key))] }
            let value: String
            switch try call.value(3) {
            case .bool(let b): value = b ? "1" : "0"
            case .integer(let i): value = String(i)
            case .string(let s): value = s
            default: throw call.typeError(3, "string, integer or boolean")
            }
            try ns.setSysctl(key, value)
            return [.object(ns)]
        }
        method("forward", on: cls) { ns, call in
            try call.noMoreThan(2)
            let on = call.count < 2 ? true : call.boolean(2)
            try ns.setSysctl("net.ipv4.ip_forward", on ? "1" : "0")
            try ns.setSysctl("net.ipv6.conf.all.forwarding", on ? "1" : "0")
            return [.object(ns)]
        }
        method("delete", on: cls) { [unowned self] ns, call in
            try call.noMoreThan(1)
            try lab.deleteNamespace(ns)
            return []
        }
        method("show", on: cls) { ns, call in
            try call.noMoreThan(1)
            print(try ns.showText(), terminator: "")
            return []
        }
    }

    /// ns:route(dst, {via =, dev =, metric =}) and ns:delroute(dst, {...}).
    private func routeCall(_ ns: Namespace, _ call: LuaCall, add: Bool) throws {
        let dst = try call.string(2)
        let opts = try call.options(3, known: ["via", "dev", "metric"])
        try call.noMoreThan(3)
        let via = try opts.string("via", "an address string")
        var dev: Link?
        switch try opts.value("dev") {
        case .nil: dev = nil
        case .object(let l as Link): dev = l
        case .string(let name):
            guard let l = try lab.link(named: name, in: ns) else {
                throw LabError(.notFound, "No such device", "there is no link named \(Validate.shown(name)) in \(ns.displayName)")
            }
            dev = l
        default: throw opts.error("option 'dev' must be a Link or a link name (got \(opts.literal("dev")))")
        }
        let metric = try opts.integer("metric", in: 0...Int64(UInt32.max)).map(UInt32.init)
        try lab.route(add: add, in: ns, destination: dst, via: via, device: dev, metric: metric)
    }

    func defineLink() {
        let cls = linkClass
        cls.field("name") { l in .string(try l.info().name) }
        cls.field("ns") { l in .object(l.namespace) }
        cls.field("index") { l in .integer(Int64(l.index)) }
        cls.field("kind") { l in .string(try l.info().kind) }
        cls.field("state") { l in .string(try l.info().state) }
        cls.field("isup") { l in .bool(try l.info().isUp) }
        cls.field("carrier") { l in .bool(try l.info().hasCarrier) }
        cls.field("owned") { l in .bool(l.owned) }
        cls.tostring { l in l.summary }
        cls.literal { l in l.lastName }
        cls.equals { a, b in a.namespace.id == b.namespace.id && a.index == b.index }

        method("into", on: cls) { [unowned self] l, call in
            let target: Namespace
            if let ns = call.optionalObject(2, Namespace.self) { target = ns }
            else if call.isString(2) { target = try lab.openNamespace(try call.string(2)) }
            else { throw call.typeError(2, "Namespace") }
            let name = try call.optionalString(3)
            try call.noMoreThan(3)
            try l.move(into: target, name: name)
            return [.object(l)]
        }
        method("addr", on: cls) { l, call in
            let a = try call.string(2)
            let o = try call.options(3, known: ["nodad"])
            try call.noMoreThan(3)
            try l.addAddress(a, nodad: try o.bool("nodad") ?? false)
            return [.object(l)]
        }
        method("deladdr", on: cls) { l, call in
            let a = try call.string(2)
            try call.noMoreThan(2)
            try l.removeAddress(a)
            return [.object(l)]
        }
        method("addrs", on: cls) { l, call in
            try call.noMoreThan(1)
            return [.table(LuaTable(array: try l.addresses().map(LuaValue.string)))]
        }
        method("up", on: cls) { l, call in
            try call.noMoreThan(1)
            try l.up()
            return [.object(l)]
        }
        method("down", on: cls) { l, call in
            try call.noMoreThan(1)
            try l.down()
            return [.object(l)]
        }
        method("master", on: cls) { l, call in
            try call.noMoreThan(2)
            if call.isNoneOrNil(2) { try l.setMaster(nil) } else { try l.setMaster(try call.object(2, Link.self)) }
            return [.object(l)]
        }
        // mtu/mac: with an argument they set (and return the link, to chain);
        // without one they return the current value.
        method("mtu", on: cls) { l, call in
            try call.noMoreThan(2)
            if call.isNoneOrNil(2) { return [try l.info().mtu.map { .integer(Int64($0)) } ?? .nil] }
            try l.setMTU(try call.integer(2))
            return [.object(l)]
        }
        method("mac", on: cls) { l, call in
            try call.noMoreThan(2)
            if call.isNoneOrNil(2) { return [try l.info().mac.map(LuaValue.string) ?? .nil] }
            try l.setMAC(try call.string(2))
            return [.object(l)]
        }
        method("rename", on: cls) { l, call in
            let name = try call.string(2)
            try call.noMoreThan(2)
            try l.rename(name)
            return [.object(l)]
        }
        method("delete", on: cls) { l, call in
            try call.noMoreThan(1)
            try l.delete()
            return []
        }
        method("peer", on: cls) { l, call in
            try call.noMoreThan(1)
            return [try l.peer().map { .object($0) } ?? .nil]
        }
        method("stats", on: cls) { l, call in
            try call.noMoreThan(1)
            var t = LuaTable()
            for c in try l.info().counters { t[c.name] = .integer(Int64(clamping: c.value)) }
            return [.table(t)]
        }
        method("info", on: cls) { l, call in
            try call.noMoreThan(1)
            let i = try l.info()
            var t = LuaTable()
            t["name"] = .string(i.name); t["index"] = .integer(Int64(i.index))
            t["kind"] = .string(i.kind); t["state"] = .string(i.state)
            t["isup"] = .bool(i.isUp); t["carrier"] = .bool(i.hasCarrier); t["ns"] = .object(l.namespace)
            t["mtu"] = i.mtu.map { .integer(Int64($0)) } ?? .nil
            t["mac"] = i.mac.map(LuaValue.string) ?? .nil
            t["master"] = i.master.map(LuaValue.string) ?? .nil
            t["peer"] = i.peer.map(LuaValue.string) ?? .nil
            return [.table(t)]
        }
    }
}

extension NetModule {
    /// link:netem{delay =, jitter =, loss =, limit =} / link:netem(nil), and
    /// link:rate("10mbit", {burst =, latency =}) / link:rate(nil).
    func defineImpairment() {
        method("netem", on: linkClass) { l, call in
            try call.noMoreThan(2)
            if call.isNoneOrNil(2) {
                try l.setNetem(nil)
                return [.object(l)]
            }
            let o = try call.options(2, known: ["delay", "jitter", "loss", "limit"])
            var n = Netem()
            n.delayNS = try timeOption(o, "delay") ?? 0
            n.jitterNS = try timeOption(o, "jitter") ?? 0
            switch try o.value("loss") {
            case .nil: break
            case .string(let s): n.lossPercent = try TCUnits.percent(s)
            case .integer(let i) where i >= 0 && i <= 100: n.lossPercent = Double(i)
            case .number(let d) where d >= 0 && d <= 100: n.lossPercent = d
            default: throw o.error("option 'loss' must be a percentage such as \"1%\" or 1 (got \(o.literal("loss")))")
            }
            if let limit = try o.integer("limit", in: 1...Int64(UInt32.max), "a number of packets (at least 1)") {
                n.limit = UInt32(limit)
            }
            if n.jitterNS > 0 && n.delayNS == 0 {
                throw LabError(.invalid, "invalid netem", "jitter needs a delay")
            }
            try l.setNetem(n)
            return [.object(l)]
        }
        method("rate", on: linkClass) { l, call in
            try call.noMoreThan(3)
            if call.isNoneOrNil(2) {
                try l.setRate(nil)
                return [.object(l)]
            }
            let bytes: UInt64
            switch try call.value(2) {
            case .string(let s): bytes = try TCUnits.rate(s)
            case .integer(let i) where i >= 8: bytes = UInt64(i) / 8
            case .number(let d) where d.isFinite && d >= 8 && d < 8e15: bytes = UInt64(d / 8)
            default: throw call.typeError(2, "rate such as \"10mbit\"")
            }
            let o = try call.options(3, known: ["burst", "latency"])
            var burst: UInt32?
            switch try o.value("burst") {
            case .nil: break
            case .string(let s): burst = try TCUnits.size(s)
            case .integer(let i) where i >= 64 && i <= Int64(UInt32.max): burst = UInt32(i)
            default: throw o.error("option 'burst' must be a size such as \"32kbit\" or bytes (got \(o.literal("burst")))")
            }
            let latency = try timeOption(o, "latency") ?? 50_000_000
            try l.setRate(RateLimit(bytesPerSecond: bytes, burst: burst, latencyNS: latency))
            return [.object(l)]
        }
    }
}

/// A time option: a string with a unit ("20ms"), or a number of milliseconds.
func timeOption(_ o: LuaTableArgument, _ key: String) throws -> UInt64? {
    switch try o.value(key) {
    case .nil: return nil
    case .string(let s): return try TCUnits.time(s)
    case .integer(let i) where i >= 0 && i <= 3_600_000: return UInt64(i) * 1_000_000
    case .number(let d) where d.isFinite && d >= 0 && d <= 3_600_000: return UInt64(d * 1_000_000)
    default: throw o.error("option '\(key)' must be a time such as \"20ms\" or a number of ms (got \(o.literal(key)))")
    }
}
