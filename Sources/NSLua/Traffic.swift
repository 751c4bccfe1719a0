import Glibc
import LuaKit
import NetLab

/// Lua faces of results that are plain values in NetLab.
final class PingResultObject {
    let result: PingResult
    /// Printed line by line as it ran (verbose): the REPL shows it no more.
    let shown: Bool
    init(_ r: PingResult, shown: Bool) { result = r; self.shown = shown }
}

final class PingMatrixObject {
    let matrix: PingMatrix
    let shown: Bool
    init(_ m: PingMatrix, shown: Bool) { matrix = m; self.shown = shown }
}

/// A line on standard output now, after what Lua has buffered.
func printNow(_ line: String) {
    fflush(nil)
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

extension NetModule {
    /// ping, pingall, exec and capture.
    func defineTraffic() {
        let ping = LuaClass<PingResultObject>("PingResult")
        ping.tostring { $0.result.summary }
        ping.repl { $0.shown ? nil : $0.result.summary }
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
            "hint": { $0.hint.map(LuaValue.string) ?? .nil },
        ]
        for (name, get) in fields { ping.field(name) { get($0.result) } }
        lua.register(ping)

        let matrix = LuaClass<PingMatrixObject>("PingMatrix")
        matrix.tostring { $0.matrix.summary }
        matrix.repl { $0.shown ? nil : $0.matrix.summary }
        matrix.field("rounds") { .integer(Int64($0.matrix.rounds)) }
        matrix.field("retried") { .integer(Int64($0.matrix.retriedPairs)) }
        matrix.field("dropped") { .integer(Int64($0.matrix.dropped)) }
        matrix.field("sent") { .integer(Int64($0.matrix.sent)) }
        matrix.field("received") { .integer(Int64($0.matrix.received)) }
        matrix.field("neighbour_table_overflowed") { .bool($0.matrix.neighbourTableOverflowed) }
        matrix.field("names") { .table(LuaTable(array: $0.matrix.names.map(LuaValue.string))) }
        matrix.field("unaddressed") { .table(LuaTable(array: $0.matrix.unaddressed.map(LuaValue.string))) }
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
        capture.tostring { c in
            "capture on \(c.device)@\(c.namespace.displayName)" + (c.filter.map { " '\($0)'" } ?? "")
                + ": \(c.packets.count) packets" + (c.notKept > 0 ? " (limit of \(c.limit) reached: \(c.notKept) more not kept)" : "")
        }
        capture.literal { c in "capture" }
        capture.field("device") { .string($0.device) }
        capture.field("ns") { .object($0.namespace) }
        capture.field("count") { .integer(Int64($0.packets.count)) }
        capture.field("dropped") { .integer(Int64($0.notKept)) }
        capture.method("stop") { [unowned self] c, call in
            try call.noMoreThan(1)
            return [packetTable(c, c.stop())]
        }
        capture.method("packets") { [unowned self] c, call in
            try call.noMoreThan(1)
            return [packetTable(c, c.packets)]
        }
        capture.method("wait") { c, call in
            let timeout = try call.optionalNumber(2) ?? 5
            try call.noMoreThan(2)
            guard timeout.isFinite, timeout >= 0, timeout <= 86400 else {
                throw LuaError.argument(2, "timeout must be between 0 and 86400 seconds")
            }
            c.wait(timeout: timeout)
            return [.object(c)]
        }
        capture.method("save") { [unowned self] c, call in
            try guarded(call, "save", receiver: "capture", firstArg: 2) {
                let path = try call.string(2)
                let o = try call.options(3, known: ["overwrite"])
                try call.noMoreThan(3)
                try c.save(path, overwrite: try o.bool("overwrite") ?? false)
                return [.object(c)]
            }
        }
        lua.register(capture)

        method("ping", on: namespaceClass) { [unowned self] ns, call in
            let dst = try call.string(2)
            let o = try call.options(3, known: ["count", "interval", "timeout", "size", "ttl", "from", "verbose"])
            try call.noMoreThan(3)
            var p = PingOptions()
            if let v = try o.integer("count", in: 1...100_000) { p.count = Int(v) }
            if let v = try o.number("interval", in: 0.002...3600) { p.interval = v }
            if let v = try o.number("timeout", in: 0...3600) { p.timeout = v }
            if let v = try o.integer("size", in: 0...65000) { p.size = Int(v) }
            p.ttl = try o.integer("ttl", in: 1...255).map(Int.init)
            switch try o.value("from") {
            case .nil: break
            case .string(let s): p.from = s
            case .object(let l as Link): p.from = l.lastName
            default: throw o.error("option 'from' must be an address or a device (got \(o.literal("from")))")
            }
            let verbose = try o.bool("verbose") ?? interactive
            if verbose { p.onLine = { printNow($0) } }
            return [.object(PingResultObject(try ns.ping(dst, options: p), shown: verbose))]
        }

        function("pingall") { [unowned self] call in
            var list: [Namespace]
            if call.isNoneOrNil(1) {
                list = lab.namespaces.filter(\.owned)
            } else {
                let t = try call.table(1)
                list = []
                for i in 0..<t.count {
                    guard case .object(let ns as Namespace) = try t.element(i + 1) else {
                        throw t.error("element \(i + 1) is not a Namespace")
                    }
                    list.append(ns)
                }
            }
            let o = try call.options(2, known: ["count", "timeout", "quiet"])
            try call.noMoreThan(2)
            let count = Int(try o.integer("count", in: 1...1000) ?? 5)
            let timeout = try o.number("timeout", in: 0...3600) ?? 1
            let m = try lab.pingAll(list, count: count, timeout: timeout)
            let quiet = try o.bool("quiet") ?? false
            if !quiet { printNow(m.summary) }
            return [.object(PingMatrixObject(m, shown: !quiet))]
        }

        method("exec", on: namespaceClass) { ns, call in
            var argv: [String] = []
            var options = ExecOptions()
            if call.isTable(2) {
                try call.noMoreThan(2)
                let t = try call.options(2, known: ["stdin", "timeout", "max_output"], allowList: true)
                for i in 0..<t.count {
                    switch try t.element(i + 1) {
                    case .string(let s): argv.append(s)
                    case .integer(let n): argv.append(String(n))
                    case .number(let d): argv.append(String(d))
                    default: throw t.error("element \(i + 1) of the command must be a string")
                    }
                }
                switch try t.value("stdin") {
                case .nil: break
                case .string(let s): options.stdin = Array(s.utf8)
                case .bytes(let b): options.stdin = b
                default: throw t.error("option 'stdin' must be a string (got \(t.literal("stdin")))")
                }
                options.timeout = try t.number("timeout", in: 0...86400, "a number of seconds")
                if let m = try t.integer("max_output", in: 1...(1 << 40), "a number of bytes") { options.maxOutput = Int(m) }
            } else {
                argv.append(try call.string(2))
                if call.count > 2 { for i in 3...call.count { argv.append(try call.string(i)) } }
            }
            guard !argv.isEmpty else { throw LuaError.argument(2, "no program given") }
            let r = try ns.exec(argv, options: options)
            return [.integer(Int64(r.code)), bytesValue(r.stdout), bytesValue(r.stderr)]
        }

        method("shell", on: namespaceClass) { ns, call in
            var argv: [String] = []
            if call.count >= 2 { for i in 2...call.count { argv.append(try call.string(i)) } }
            return [.integer(Int64(try ns.shell(argv)))]
        }

        method("capture", on: namespaceClass) { ns, call in
            let dev = try call.string(2)
            let o = try call.options(3, known: ["filter", "count", "limit", "print"])
            try call.noMoreThan(3)
            let filter = try o.string("filter", "a pcap filter string")
            let count = try o.integer("count", in: 1...Int64(Int32.max)).map(Int.init)
            let limit = try o.integer("limit", in: 1...Int64(Int32.max)).map(Int.init) ?? 100_000
            let live = try o.bool("print") ?? false
            return [.object(try ns.capture(dev, filter: filter, count: count, limit: limit, live: live))]
        }
    }

    /// Captured packets as rows {time =, len =, summary =} that print as
    /// `tcpdump -n -tttt` lines.
    private func packetTable(_ c: Capture, _ packets: [CapturedPacket]) -> LuaValue {
        let summaries = packets.map { PacketSummary.describe($0.data, linkType: c.linkType) }
        let rows: [LuaValue] = zip(packets, summaries).map { p, s in
            .table(LuaTable(["time": .number(p.time), "len": .integer(Int64(p.length)), "summary": .string(s)]))
        }
        let lines = zip(packets, summaries).map { p, s in "\(PacketSummary.timestamp(p.time)) \(s)" }
        return records(rows, lines: lines)
    }
}

private func bytesValue(_ b: [UInt8]) -> LuaValue {
    if let s = String(validating: b, as: UTF8.self) { return .string(s) }
    return .bytes(b)
}
