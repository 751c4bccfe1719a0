import LuaKit
import NetLab
import Netlink

extension NetModule {
    func defineNamespace() {
        let cls = namespaceClass
        cls.field("name") { ns in ns.name.map(LuaValue.string) ?? .nil }
        cls.field("owned") { ns in .bool(ns.owned) }
        cls.field("id") { ns in .integer(Int64(ns.id.inode)) }
        cls.tostring { ns in Show.summary(ns) }
        cls.equals { a, b in a.id == b.id }

        method("veth", on: cls) { [unowned self] ns, call in
            let a = try call.string(2), b = try call.string(3)
            let opts = try options(call, 4, allowed: ["peer_ns"])
            try call.noMoreThan(4)
            let peer = try namespaceOption(call, opts, "peer_ns", arg: 4) ?? ns
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
            return [.table(LuaTable(array: try lab.links(in: ns).map { .object($0) }))]
        }
        method("route", on: cls) { [unowned self] ns, call in
            try routeCall(ns, call, add: true)
            return [.object(ns)]
        }
        method("delroute", on: cls) { [unowned self] ns, call in
            try routeCall(ns, call, add: false)
            return [.object(ns)]
        }
        method("routes", on: cls) { ns, call in
            try call.noMoreThan(1)
            return [.table(LuaTable(array: try Show.routes(ns).map { .table($0) }))]
        }
        method("neighbors", on: cls) { ns, call in
            try call.noMoreThan(1)
            let names = Dictionary((try ns.linkMessages()).map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
            let rows = try ns.neighborMessages().map { n -> LuaValue in
                var t = LuaTable()
                t["addr"] = n.address.map { .string($0.description) } ?? .nil
                t["mac"] = n.mac.map { .string($0.description) } ?? .nil
                t["dev"] = names[n.index].map(LuaValue.string) ?? .nil
                t["state"] = .string(n.stateName)
                return .table(t)
            }
            return [.table(LuaTable(array: rows))]
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
            print(try Show.namespace(ns, lab: ns === self.lab.host ? self.lab : nil), terminator: "")
            return []
        }
    }

    /// ns:route(dst, {via =, dev =, metric =}) and ns:delroute(dst, {...}).
    private func routeCall(_ ns: Namespace, _ call: LuaCall, add: Bool) throws {
        let dst = try call.string(2)
        let opts = try options(call, 3, allowed: ["via", "dev", "metric"])
        try call.noMoreThan(3)
        var via: String?
        switch opts["via"] {
        case .nil: via = nil
        case .string(let s): via = s
        default: throw LuaError.argument(3, "option 'via' must be an address string")
        }
        var dev: Link?
        switch opts["dev"] {
        case .nil: dev = nil
        case .object(let l as Link): dev = l
        case .string(let name):
            guard let l = try lab.link(named: name, in: ns) else {
                throw LabError(.notFound, "No such device", "there is no link named \(name) in \(ns.displayName)")
            }
            dev = l
        default: throw LuaError.argument(3, "option 'dev' must be a Link or a link name")
        }
        var metric: UInt32?
        switch opts["metric"] {
        case .nil: metric = nil
        case .integer(let m) where m >= 0 && m <= Int64(UInt32.max): metric = UInt32(m)
        default: throw LuaError.argument(3, "option 'metric' must be an integer 0..4294967295")
        }
        try lab.route(add: add, in: ns, destination: dst, via: via, device: dev, metric: metric)
    }

    func defineLink() {
        let cls = linkClass
        cls.field("name") { l in .string(try l.info().name) }
        cls.field("ns") { l in .object(l.namespace) }
        cls.field("index") { l in .integer(Int64(l.index)) }
        cls.field("kind") { l in .string(try l.info().kind ?? "device") }
        cls.field("state") { l in .string(operstateName(try l.info().operstate)) }
        cls.field("up") { l in .bool(try l.info().isUp) }
        cls.field("owned") { l in .bool(l.owned) }
        cls.tostring { l in Show.summary(l) }
        cls.equals { a, b in a.namespace.id == b.namespace.id && a.index == b.index }

        method("into", on: cls) { [unowned self] l, call in
            let target: Namespace
            if let ns = call.optionalObject(2, Namespace.self) { target = ns }
            else if case .string(let name) = try call.value(2) { target = try lab.openNamespace(name) }
            else { throw call.typeError(2, "Namespace") }
            let name = try call.optionalString(3)
            try call.noMoreThan(3)
            try l.move(into: target, name: name)
            return [.object(l)]
        }
        method("addr", on: cls) { [unowned self] l, call in
            let a = try call.string(2)
            let o = try options(call, 3, allowed: ["nodad"])
            try call.noMoreThan(3)
            try l.addAddress(a, nodad: o["nodad"] == .bool(true))
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
            return [.table(LuaTable(array: try l.addresses().map { .string($0.description) }))]
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
            if call.isNoneOrNil(2) { return [try l.info().mac.map { .string($0.description) } ?? .nil] }
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
            guard let s = try l.info().stats else { return [.table(LuaTable())] }
            return [.table(LuaTable([
                "rx_packets": .integer(Int64(clamping: s.rxPackets)), "tx_packets": .integer(Int64(clamping: s.txPackets)),
                "rx_bytes": .integer(Int64(clamping: s.rxBytes)), "tx_bytes": .integer(Int64(clamping: s.txBytes)),
                "rx_errors": .integer(Int64(clamping: s.rxErrors)), "tx_errors": .integer(Int64(clamping: s.txErrors)),
                "rx_dropped": .integer(Int64(clamping: s.rxDropped)), "tx_dropped": .integer(Int64(clamping: s.txDropped)),
                "multicast": .integer(Int64(clamping: s.multicast)), "collisions": .integer(Int64(clamping: s.collisions)),
            ]))]
        }
        method("info", on: cls) { l, call in
            try call.noMoreThan(1)
            let m = try l.info()
            var t = LuaTable()
            t["name"] = .string(m.name); t["index"] = .integer(Int64(m.index))
            t["kind"] = .string(m.kind ?? "device"); t["state"] = .string(operstateName(m.operstate))
            t["up"] = .bool(m.isUp); t["ns"] = .object(l.namespace)
            t["mtu"] = m.mtu.map { .integer(Int64($0)) } ?? .nil
            t["mac"] = m.mac.map { .string($0.description) } ?? .nil
            if let master = m.master, let ml = try? l.namespace.linkMessage(index: master) { t["master"] = .string(ml.name) }
            return [.table(t)]
        }
    }
}

extension NetModule {
    /// link:netem{delay =, jitter =, loss =, limit =} / link:netem(nil), and
    /// link:rate("10mbit", {burst =, latency =}) / link:rate(nil).
    func defineImpairment() {
        method("netem", on: linkClass) { [unowned self] l, call in
            try call.noMoreThan(2)
            if call.isNoneOrNil(2) {
                try l.setNetem(nil)
                return [.object(l)]
            }
            let o = try options(call, 2, allowed: ["delay", "jitter", "loss", "limit"])
            var n = Netem()
            n.delayNS = try timeOption(o, "delay") ?? 0
            n.jitterNS = try timeOption(o, "jitter") ?? 0
            switch o["loss"] {
            case .nil: break
            case .string(let s): n.lossPercent = try TCUnits.percent(s)
            case .integer(let i) where i >= 0 && i <= 100: n.lossPercent = Double(i)
            case .number(let d) where d >= 0 && d <= 100: n.lossPercent = d
            default: throw LuaError.argument(1, "option 'loss' must be a percentage such as \"1%\" or 1")
            }
            if let limit = try intOption(o, "limit", arg: 2) {
                guard limit >= 1 else { throw LuaError.argument(1, "option 'limit' must be at least 1 packet") }
                n.limit = UInt32(limit)
            }
            if n.jitterNS > 0 && n.delayNS == 0 {
                throw LabError(.invalid, "invalid netem", "jitter needs a delay")
            }
            try l.setNetem(n)
            return [.object(l)]
        }
        method("rate", on: linkClass) { [unowned self] l, call in
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
            let o = try options(call, 3, allowed: ["burst", "latency"])
            var burst: UInt32?
            switch o["burst"] {
            case .nil: break
            case .string(let s): burst = try TCUnits.size(s)
            case .integer(let i) where i >= 64 && i <= Int64(UInt32.max): burst = UInt32(i)
            default: throw LuaError.argument(2, "option 'burst' must be a size such as \"32kbit\" or bytes")
            }
            let latency = try timeOption(o, "latency") ?? 50_000_000
            try l.setRate(RateLimit(bytesPerSecond: bytes, burst: burst, latencyNS: latency))
            return [.object(l)]
        }
    }

    /// A time option: a string with a unit ("20ms"), or a number of milliseconds.
    func timeOption(_ t: LuaTable, _ key: String) throws -> UInt64? {
        switch t[key] {
        case .nil: return nil
        case .string(let s): return try TCUnits.time(s)
        case .integer(let i) where i >= 0 && i <= 3_600_000: return UInt64(i) * 1_000_000
        case .number(let d) where d.isFinite && d >= 0 && d <= 3_600_000: return UInt64(d * 1_000_000)
        default: throw LuaError.argument(1, "option '\(key)' must be a time such as \"20ms\" or a number of ms")
        }
    }
}
