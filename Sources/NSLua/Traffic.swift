import LuaKit
import NetLab

/// Lua faces of results that are plain values in NetLab.
final class PingResultObject {
    let result: PingResult
    init(_ r: PingResult) { result = r }
}

final class PingMatrixObject {
    let matrix: PingMatrix
    init(_ m: PingMatrix) { matrix = m }
}

extension NetModule {
    /// ping, pingall, exec and capture.
    func defineTraffic() {
        let ping = LuaClass<PingResultObject>("PingResult")
        ping.tostring { $0.result.summary }
        let fields: [String: (PingResult) -> LuaValue] = [
            "destination": { .string($0.destination) },
            "sent": { .integer(Int64($0.sent)) }, "received": { .integer(Int64($0.received)) },
            "duplicates": { .integer(Int64($0.duplicates)) },
            "loss": { .number($0.loss) },
            "min": { $0.min.map(LuaValue.number) ?? .nil }, "avg": { $0.avg.map(LuaValue.number) ?? .nil },
            "max": { $0.max.map(LuaValue.number) ?? .nil }, "mdev": { $0.mdev.map(LuaValue.number) ?? .nil },
            "time": { .number($0.elapsed) },
            "rtts": { .table(LuaTable(array: $0.rtts.map(LuaValue.number))) },
            "errors": { .table(LuaTable(array: $0.errors.map(LuaValue.string))) },
        ]
        for (name, get) in fields { ping.field(name) { get($0.result) } }
        lua.register(ping)

        let matrix = LuaClass<PingMatrixObject>("PingMatrix")
        matrix.tostring { $0.matrix.summary }
        matrix.field("dropped") { .integer(Int64($0.matrix.dropped)) }
        matrix.field("sent") { .integer(Int64($0.matrix.sent)) }
        matrix.field("received") { .integer(Int64($0.matrix.received)) }
        matrix.field("neighbour_table_overflowed") { .bool($0.matrix.neighbourTableOverflowed) }
        matrix.field("names") { .table(LuaTable(array: $0.matrix.names.map(LuaValue.string))) }
        matrix.field("reachable") { m in
            var t = LuaTable()
            for (i, a) in m.matrix.names.enumerated() {
                var row = LuaTable()
                for (j, b) in m.matrix.names.enumerated() where i != j { row[b] = .bool(m.matrix.reachable[i][j]) }
                t[a] = .table(row)
            }
            return .table(t)
        }
        lua.register(matrix)

        let capture = LuaClass<Capture>("Capture")
        capture.tostring { c in "capture on \(c.device)@\(c.namespace.displayName)" + (c.filter.map { " '\($0)'" } ?? "")
            + ": \(c.packets.count) packets" }
        capture.field("device") { .string($0.device) }
        capture.field("ns") { .object($0.namespace) }
        capture.field("count") { .integer(Int64($0.packets.count)) }
        capture.method("stop") { c, call in
            try call.noMoreThan(1)
            return [packetTable(c, c.stop())]
        }
        capture.method("packets") { c, call in
            try call.noMoreThan(1)
            return [packetTable(c, c.packets)]
        }
        capture.method("wait") { c, call in
            let timeout = try call.optionalNumber(2) ?? 5
            try call.noMoreThan(2)
            guard timeout.isFinite, timeout >= 0, timeout <= 86400 else {
                throw LuaError.argument(1, "timeout must be between 0 and 86400 seconds")
            }
            c.wait(timeout: timeout)
            return [.object(c)]
        }
        capture.method("save") { [unowned self] c, call in
            let path = try call.string(2)
            try call.noMoreThan(2)
            return try guarded(call, "save", receiver: "capture", firstArg: 2) {
                try c.save(path)
                return [.object(c)]
            }
        }
        lua.register(capture)

        method("ping", on: namespaceClass) { [unowned self] ns, call in
            let dst = try call.string(2)
            let o = try options(call, 3, allowed: ["count", "interval", "timeout", "size", "ttl", "from"])
            try call.noMoreThan(3)
            var p = PingOptions()
            if let v = try intOption(o, "count", arg: 3) { p.count = v }
            if let v = try numberOption(o, "interval", arg: 3) { p.interval = v }
            if let v = try numberOption(o, "timeout", arg: 3) { p.timeout = v }
            if let v = try intOption(o, "size", arg: 3) { p.size = v }
            p.ttl = try intOption(o, "ttl", arg: 3)
            switch o["from"] {
            case .nil: break
            case .string(let s): p.from = s
            case .object(let l as Link): p.from = l.lastName
            default: throw LuaError.argument(3, "option 'from' must be an address or a device")
            }
            return [.object(PingResultObject(try ns.ping(dst, options: p)))]
        }

        function("pingall") { [unowned self] call in
            var list: [Namespace]
            if call.isNoneOrNil(1) {
                list = lab.namespaces.filter { !$0.isDeleted && $0.owned }
            } else {
                let t = try call.table(1)
                list = []
                for (i, v) in t.array.enumerated() {
                    guard case .object(let ns as Namespace) = v else {
                        throw LuaError.argument(1, "element \(i + 1) is not a Namespace")
                    }
                    list.append(ns)
                }
            }
            let o = try options(call, 2, allowed: ["count", "timeout", "quiet"])
            try call.noMoreThan(2)
            let count = try intOption(o, "count", arg: 2) ?? 5
            let timeout = try numberOption(o, "timeout", arg: 2) ?? 1
            guard (1...1000).contains(count) else { throw LuaError.argument(2, "option 'count' must be 1..1000") }
            guard timeout >= 0 && timeout <= 3600 else { throw LuaError.argument(2, "option 'timeout' must be 0..3600 s") }
            let m = try lab.pingAll(list, count: count, timeout: timeout)
            if o["quiet"] != .bool(true) { print(m.summary) }
            return [.object(PingMatrixObject(m))]
        }

        method("exec", on: namespaceClass) { ns, call in
            var argv: [String] = []
            var stdin: [UInt8] = []
            var timeout: Double?
            if call.isTable(2) {
                try call.noMoreThan(2)
                let t = try call.table(2)
                for (i, v) in t.array.enumerated() {
                    switch v {
                    case .string(let s): argv.append(s)
                    case .integer(let n): argv.append(String(n))
                    case .number(let d): argv.append(String(d))
                    default: throw LuaError.argument(1, "element \(i + 1) of the command must be a string")
                    }
                }
                for key in t.hash.keys {
                    guard case .string(let k) = key, ["stdin", "timeout"].contains(k) else {
                        throw LuaError.argument(1, "unknown option \(Render.literal(key)) (known: stdin, timeout)")
                    }
                }
                switch t["stdin"] {
                case .nil: break
                case .string(let s): stdin = Array(s.utf8)
                case .bytes(let b): stdin = b
                default: throw LuaError.argument(1, "option 'stdin' must be a string")
                }
                switch t["timeout"] {
                case .nil: break
                case .integer(let n): timeout = Double(n)
                case .number(let d): timeout = d
                default: throw LuaError.argument(1, "option 'timeout' must be a number of seconds")
                }
            } else {
                argv.append(try call.string(2))
                if call.count > 2 { for i in 3...call.count { argv.append(try call.string(i)) } }
            }
            guard !argv.isEmpty else { throw LuaError.argument(1, "no program given") }
            let r = try ns.exec(argv, stdin: stdin, timeout: timeout)
            return [.integer(Int64(r.code)), bytesValue(r.stdout), bytesValue(r.stderr)]
        }

        method("capture", on: namespaceClass) { [unowned self] ns, call in
            let dev = try call.string(2)
            let o = try options(call, 3, allowed: ["filter", "count"])
            try call.noMoreThan(3)
            var filter: String?
            switch o["filter"] {
            case .nil: break
            case .string(let s): filter = s
            default: throw LuaError.argument(3, "option 'filter' must be a pcap filter string")
            }
            let count = try intOption(o, "count", arg: 3)
            return [.object(try ns.capture(dev, filter: filter, count: count))]
        }
    }

    func intOption(_ t: LuaTable, _ key: String, arg: Int32) throws -> Int? {
        switch t[key] {
        case .nil: return nil
        case .integer(let i) where i >= Int64(Int32.min) && i <= Int64(Int32.max): return Int(i)
        case .number(let d) where d == d.rounded() && abs(d) < 2e9: return Int(d)
        default: throw LuaError.argument(arg, "option '\(key)' must be an integer (got \(Render.literal(t[key])))")
        }
    }

    func numberOption(_ t: LuaTable, _ key: String, arg: Int32) throws -> Double? {
        switch t[key] {
        case .nil: return nil
        case .integer(let i): return Double(i)
        case .number(let d) where d.isFinite: return d
        default: throw LuaError.argument(arg, "option '\(key)' must be a number (got \(Render.literal(t[key])))")
        }
    }
}

private func bytesValue(_ b: [UInt8]) -> LuaValue {
    if let s = String(validating: b, as: UTF8.self) { return .string(s) }
    return .bytes(b)
}

private func packetTable(_ c: Capture, _ packets: [CapturedPacket]) -> LuaValue {
    .table(LuaTable(array: packets.map { p in
        .table(LuaTable([
            "time": .number(p.time),
            "len": .integer(Int64(p.length)),
            "summary": .string(PacketSummary.describe(p.data, linkType: c.linkType)),
        ]))
    }))
}
