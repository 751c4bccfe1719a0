import Glibc
import Netlink
import Synchronization

extension Namespace {
    /// Equivalent to `ip netns exec NS ping -c COUNT -i INTERVAL -W TIMEOUT -s SIZE DST`,
    /// done natively. `destination` may carry a scope ("fe80::1%eth0").
    public func ping(_ destination: String, options: PingOptions = PingOptions()) throws(LabError) -> PingResult {
        guard options.count >= 1, options.count <= 100_000 else { throw .invalid("invalid count", "\(options.count) is outside 1..100000") }
        guard options.interval.isFinite, options.interval >= 0.002, options.interval <= 3600 else {
            throw .invalid("invalid interval", "\(options.interval) s is outside 0.002..3600")
        }
        guard options.timeout.isFinite, options.timeout >= 0, options.timeout <= 3600 else {
            throw .invalid("invalid timeout", "\(options.timeout) s is outside 0..3600")
        }
        guard options.size >= 0, options.size <= 65000 else { throw .invalid("invalid size", "\(options.size) is outside 0..65000") }
        if let ttl = options.ttl, !(1...255).contains(ttl) { throw .invalid("invalid ttl", "\(ttl) is outside 1..255") }
        var text = destination
        var scope: UInt32 = 0
        if let pct = destination.firstIndex(of: "%") {
            text = String(destination[..<pct])
            let dev = String(destination[destination.index(after: pct)...])
            guard let m = try linkMessage(named: dev) else {
                throw .notFound("No such device", "there is no link named \(dev) in \(displayName)")
            }
            scope = UInt32(m.index)
        }
        let addr = try Validate.address(text)
        if scope == 0, addr.isLinkLocalV6, let dev = options.from, IPAddress(dev) == nil, let m = try linkMessage(named: dev) {
            scope = UInt32(m.index)
        }
        if scope == 0 && addr.isLinkLocalV6 {
            throw .invalid("invalid address", "\(addr) is link-local: say which link, e.g. \(addr)%eth0 or {from = \"eth0\"}")
        }
        try lab?.checkOpen()
        lab?.trace(exec: "ping -c \(options.count) -i \(options.interval) -W \(options.timeout) -s \(options.size)"
                   + (options.ttl.map { " -t \($0)" } ?? "") + (options.from.map { " -I \(shellQuoted($0))" } ?? "")
                   + " \(shellQuoted(destination))", in: self)
        var result = try Pinger.run(in: self, destinations: [addr], scopes: [scope], options: options)[0]
        result.destination = destination
        return result
    }

    /// The address others use to reach this namespace: its first global IPv4
    /// address, else its first global IPv6 one (not loopback, not link-local).
    public func primaryAddress() throws(LabError) -> IPAddress? {
        let addrs = try addressMessages().filter { $0.scope == RTA.SCOPE_UNIVERSE && !$0.prefix.address.isLinkLocalV6 }
        return (addrs.first { $0.prefix.address.isV4 } ?? addrs.first)?.prefix.address
    }
}

/// `pingall`: every ordered pair, each source pinging all others at once.
public struct PingMatrix: Sendable {
    public var names: [String]
    /// reachable[i][j]: i reached j (the diagonal is unused).
    public var reachable: [[Bool]]
    /// Namespaces without an address to ping.
    public var unaddressed: [String]
    /// The kernel's neighbour table (one for all namespaces) overflowed
    /// during the run: drops may be the host's limit, not the lab's fault.
    public var neighbourTableOverflowed = false
    /// The ARP table's limit (gc_thresh3), for the warning.
    public var neighbourTableLimit: UInt32?

    /// Pairs tried: every ordered pair of hosts that have an address.
    public var sent: Int { let a = names.count - unaddressed.count; return a * (a - 1) }
    public var received: Int {
        var n = 0
        for i in names.indices { for j in names.indices where i != j && reachable[i][j] { n += 1 } }
        return n
    }
    public var dropped: Int { sent - received }

    /// Mininet's pingall output.
    public var summary: String {
        var out = "*** Ping: testing ping reachability\n"
        let none = Set(unaddressed)
        for i in names.indices {
            if none.contains(names[i]) {
                out += "\(names[i]) -> (no address: not tried)\n"
                continue
            }
            let row = names.indices.filter { $0 != i && !none.contains(names[$0]) }.map { reachable[i][$0] ? names[$0] : "X" }
            out += "\(names[i]) -> " + row.joined(separator: " ") + "\n"
        }
        let pct = sent == 0 ? 0 : Int((Double(dropped) * 100 / Double(sent)).rounded())
        out += "*** Results: \(pct)% dropped (\(received)/\(sent) received)"
        if neighbourTableOverflowed {
            let limit = neighbourTableLimit.map(String.init) ?? "?"
            out += "\n*** Warning: the kernel's ARP table overflowed. It is shared by all namespaces and holds "
                + "at most net.ipv4.neigh.default.gc_thresh3 = \(limit) entries; \(names.count) hosts on one segment "
                + "need up to \(names.count * (names.count - 1)). Raise it on the host, e.g. "
                + "sysctl -w net.ipv4.neigh.default.gc_thresh3=16384 gc_thresh2=8192."
        }
        return out
    }
}

extension Lab {
    /// Pings every ordered pair of `namespaces` (each to the other's primary
    /// address), sources in parallel (at most `width` at once).
    /// A destination counts as reached at its first reply; unanswered ones
    /// are asked again every 0.2 s (the first request often only starts ARP)
    /// for up to `count` requests, then `timeout` seconds more.
    public func pingAll(_ namespaces: [Namespace], count: Int = 5, timeout: Double = 1,
                       width: Int = 64) throws(LabError) -> PingMatrix {
        let names = namespaces.map(\.displayName)
        var addresses: [IPAddress?] = []
        for ns in namespaces { addresses.append(try ns.primaryAddress()) }
        let n = namespaces.count
        let fullsBefore = host.neighbourTables().fulls
        let rows = Mutex([[Bool]](repeating: [Bool](repeating: false, count: n), count: n))
        let failure = Mutex<LabError?>(nil)
        var options = PingOptions()
        options.count = count
        options.timeout = timeout
        options.interval = 0.2
        options.untilReply = true
        let pingOptions = options
        let targets = addresses
        let sources = namespaces
        runParallel(count: n, width: width) { i in
            guard targets[i] != nil else { return }   // no address: not tried, reported
            let others = (0..<n).filter { $0 != i && targets[$0] != nil }
            guard !others.isEmpty else { return }
            do {
                let results = try Pinger.run(in: sources[i], destinations: others.map { targets[$0]! }, options: pingOptions)
                rows.withLock { r in for (k, j) in others.enumerated() { r[i][j] = results[k].received > 0 } }
            } catch {
                failure.withLock { $0 = $0 ?? LabError.wrap(error) }
            }
        }
        if let e = failure.withLock({ $0 }) { throw e }
        let unaddressed = zip(names, addresses).filter { $0.1 == nil }.map(\.0)
        var matrix = PingMatrix(names: names, reachable: rows.withLock { $0 }, unaddressed: unaddressed)
        let after = host.neighbourTables()
        matrix.neighbourTableOverflowed = after.fulls > fullsBefore
        matrix.neighbourTableLimit = after.arpLimit
        return matrix
    }
}

extension Namespace {
    /// How often the kernel's neighbour tables (one ARP and one NDP table for
    /// all namespaces) were full: table_fulls of `ip -s ntable`, summed.
    func neighbourTables() -> (fulls: UInt64, arpLimit: UInt32?) {
        guard let replies = try? request(Requests.dumpNeighborTables()) else { return (0, nil) }
        let tables = replies.compactMap { try? NeighborTableMessage($0) }
        return (tables.compactMap(\.tableFulls).reduce(0, +), tables.first { $0.name == "arp_cache" }?.thresh3)
    }
}
