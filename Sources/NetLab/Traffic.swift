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
        let dropsBefore = Lab.backlogDrops()
        var result = try Pinger.run(in: self, destinations: [addr], scopes: [scope], options: options)[0]
        result.destination = destination
        if result.received == 0 {
            result.hint = diagnose(addr, result, timeout: options.timeout, backlogDropsBefore: dropsBefore)
        }
        if let say = options.onLine {
            if let hint = result.hint { say("hint: \(hint)") }
            say("")
            say("--- \(destination) ping statistics ---")
            for line in result.statistics.split(separator: "\n") { say(String(line)) }
        }
        return result
    }

    /// Why a ping to `destination` got nothing back, from what this namespace
    /// shows: no route, the way out down or without carrier (and the other
    /// end of its cable down), no address on it, no answer to ARP.
    func diagnose(_ destination: IPAddress, _ result: PingResult, timeout: Double, backlogDropsBefore: UInt64) -> String? {
        let errors = result.errors
        guard let links = try? linkMessages() else { return nil }
        let addrs = (try? addressMessages()) ?? []
        let family = destination.isV4 ? "IPv4" : "IPv6"
        func hasAddress(_ l: LinkMessage) -> Bool {
            addrs.contains { $0.index == UInt32(bitPattern: l.index) && $0.prefix.address.isV4 == destination.isV4
                             && !$0.prefix.address.isLinkLocalV6 }
        }
        func cable(_ l: LinkMessage) -> String {
            var why = "\(l.name) is up but has no carrier"
            if let lab, let peer = try? lab.link(in: self, message: l).peer(of: l), let pm = try? peer.message() {
                why += pm.isUp ? " (its peer \(peer.label) has none either)" : ": its peer \(peer.label) is down (\(peer.lastName):up() brings it up)"
            }
            return why
        }
        let others = links.filter { $0.flags & IFF.LOOPBACK == 0 }
        guard let reply = try? request(Requests.routeGet(destination)).first, let route = try? RouteMessage(reply) else {
            // No route at all: the usual reasons, most likely first.
            if others.isEmpty {
                return "\(displayName) has no link but lo: nothing leaves it (a veth gives it one: net.veth(a, b, {ns = ...}))"
            }
            if let l = others.first(where: { !$0.isUp && hasAddress($0) }) { return "\(l.name) is down (\(l.name):up() brings it up), so no route leads to \(destination)" }
            let usable = others.contains { $0.isUp && hasAddress($0) }
            if !usable, let l = others.first(where: { $0.isUp && !hasAddress($0) }) {
                return "no route to \(destination): \(l.name) has no \(family) address (\(l.name):addr(...) gives it one)"
            }
            if !usable, let l = others.first(where: { !$0.isUp }) { return "\(l.name) is down (\(l.name):up() brings it up), so no route leads to \(destination)" }
            let routes = ((try? self.routes()) ?? []).filter { $0.isIPv6 != destination.isV4 && !$0.destination.hasPrefix("fe80") }
            return "no route to \(destination) in \(displayName)" + (routes.isEmpty ? " (it has none" : " (its routes: " + routes.map(\.description).joined(separator: "; "))
                + "); \(displayName):route(...) adds one"
        }
        guard let oif = route.outputIndex, let dev = links.first(where: { $0.index == oif }) else { return nil }
        if !dev.isUp { return "\(dev.name) is down (\(dev.name):up() brings it up)" }
        if dev.flags & IFF.LOWER_UP == 0 { return cable(dev) }
        if !hasAddress(dev) { return "\(dev.name) has no \(family) address (\(dev.name):addr(...) gives it one)" }
        let nexthop = route.gateway ?? destination
        let entry = (try? neighborMessages())?.first(where: { $0.address == nexthop && $0.index == dev.index })
        // The kernel refused to send (ENOBUFS; EINVAL for IPv6) with no entry
        // for the next hop: its neighbour table may be full.
        let refused = result.refusedSends.contains { $0 == ENOBUFS || !destination.isV4 && $0 == EINVAL }
        if entry == nil, refused, let why = neighbourTableFull(destination, nexthop: nexthop) { return why }
        // Drops from full backlogs anywhere on the machine: a likely cause,
        // said after the lab's own suspects.
        let dropped = backlogDropped(since: backlogDropsBefore).map { "; also, \($0)" } ?? ""
        if let n = entry, n.state & 0x21 != 0 /* INCOMPLETE or FAILED */ {
            let what = route.gateway == nil ? "\(destination)" : "the gateway \(nexthop)"
            // Where the lab has that address: why it does not answer.
            if let lab, let (ns, m) = lab.owner(of: nexthop, besides: self) {
                let at = "\(m.name)@\(ns.displayName)"
                if !m.isUp { return "\(what) is on \(at), which is down (\(m.name):up() brings it up)" }
                if m.flags & IFF.LOWER_UP == 0 { return "\(what) is on \(at), which is up but has no carrier (is the other end of its cable up?)" }
                return "\(what) is on \(at), which does not answer \(destination.isV4 ? "ARP" : "neighbour solicitations") from \(dev.name): is it on the same link (bridge) as \(dev.name)?" + dropped
            }
            return "\(what) does not answer \(destination.isV4 ? "ARP" : "neighbour solicitations") on \(dev.name)"
                + " (is it up, on this link, with that address?)" + dropped
        }
        if let e = errors.first(where: { $0.hasPrefix("From ") }) {
            let from = e.split(separator: " ")[1]
            if e.contains("Net Unreachable") || e.contains("No route") { return "\(from) has no route to \(destination)" }
            if e.contains("Time to live exceeded") || e.contains("Hop limit") { return "the TTL ran out at \(from): a loop, or more hops than the TTL" }
            if e.contains("Host Unreachable") || e.contains("Address unreachable") { return "\(from) cannot reach \(destination) on its link (no answer to ARP there)" }
            return nil
        }
        return "no reply from \(destination) within \(formatSeconds(timeout)) s after the last request (sent on \(dev.name)"
            + (route.gateway.map { " to gateway \($0)" } ?? "") + "), and no error came back: something on the way drops the requests "
            + "or the replies (a router not forwarding, a filter, no route back to \(displayName)); ping with ttl = 1, 2, ... or a capture shows how far they get"
            + dropped
    }
}

extension Namespace {
    /// The kernel's neighbour table (one for all namespaces) full, so that
    /// no entry for the next hop could be made.
    func neighbourTableFull(_ destination: IPAddress, nexthop: IPAddress) -> String? {
        let v4 = destination.isV4
        let table = (lab?.host ?? self).neighbourTable(v4: v4)
        guard let limit = table.limit, let entries = table.entries, limit > 0, entries + 16 >= limit else { return nil }
        return "the kernel's \(v4 ? "ARP" : "neighbour") table is full (\(entries) entries of at most \(limit), "
            + "net.\(v4 ? "ipv4" : "ipv6").neigh.default.gc_thresh3): it is one table for every namespace on the machine, "
            + "so no entry for \(nexthop) could be made, and entries used in the last 5 s are never evicted; "
            + "let fewer hosts talk at once, or use net.pingall, which plans its pairs around the limit"
    }

    /// Packets dropped from full input backlogs while the ping ran.
    func backlogDropped(since before: UInt64) -> String? {
        let drops = Lab.backlogDrops()
        guard drops > before else { return nil }
        return "the kernel dropped \(drops - before) packets from full input backlogs while this ping ran "
            + "(net.core.netdev_max_backlog packets per CPU, for the whole machine; on a bridge, a broadcast is one "
            + "packet per port): if the lab looks right, ask again, or with count > 1"
    }
}

func formatSeconds(_ s: Double) -> String { s == s.rounded() ? String(Int(s)) : String(s) }

extension Namespace {

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
    /// How many rounds the pairs took (to fit in the neighbour table).
    public var rounds = 0
    /// Unordered pairs tried a second time (they failed while the kernel was
    /// dropping packets from a full backlog).
    public var retriedPairs = 0

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
        if retriedPairs > 0 {
            out += "\n*** \(retriedPairs) pairs were tried a second time: the kernel dropped packets from a full input backlog "
                + "(net.core.netdev_max_backlog) meanwhile, as ARP broadcasts on a big bridge do"
        }
        if neighbourTableOverflowed {
            let limit = neighbourTableLimit.map(String.init) ?? "?"
            out += "\n*** Warning: the kernel's ARP table overflowed during this pingall. It is shared by every "
                + "namespace on the machine and holds at most \(limit) entries (net.ipv4.neigh.default.gc_thresh3); "
                + "pingall keeps within what was free when it started, so something else filled it meanwhile, "
                + "and pairs marked X may have been lost to that, not to the lab."
        }
        return out
    }
}

extension Lab {
    /// The namespace of this lab (not `besides`) and the link that have `address`.
    func owner(of address: IPAddress, besides: Namespace) -> (Namespace, LinkMessage)? {
        for ns in allNamespaces where ns !== besides && !ns.isDeleted {
            guard let a = (try? ns.addressMessages())?.first(where: { $0.prefix.address == address }),
                  let m = try? ns.linkMessage(index: Int32(bitPattern: a.index)) else { continue }
            return (ns, m)
        }
        return nil
    }

    /// Pings every ordered pair of `namespaces` (each to the other's primary
    /// address), sources in parallel (at most `width` at once). A
    /// destination counts as reached at its first reply; unanswered ones are
    /// asked again every 0.2 s (the first request often only starts ARP) for
    /// up to `count` requests, then `timeout` seconds more.
    ///
    /// All namespaces share one neighbour (ARP) table, of at most gc_thresh3
    /// entries (1024 by default, and it cannot be raised inside a private
    /// namespace), and every pair pinged both ways leaves an entry at each
    /// end. So the pairs are pinged in rounds that fit in what the table has
    /// free, and after each round the entries it made are removed
    /// (RTM_DELNEIGH); entries that were there before are never touched.
    public func pingAll(_ namespaces: [Namespace], count: Int = 5, timeout: Double = 1,
                        width: Int = 64) throws(LabError) -> PingMatrix {
        let names = namespaces.map(\.displayName)
        var addresses: [IPAddress?] = []
        for ns in namespaces { addresses.append(try ns.primaryAddress()) }
        let n = namespaces.count
        let tried = (0..<n).filter { addresses[$0] != nil }
        let v4 = addresses.compactMap { $0 }.first?.isV4 ?? true
        let families = Set(addresses.compactMap { $0?.isV4 })
        let before = host.neighbourTable(v4: v4)
        let limit = Int(before.limit ?? 1024)
        let free = max(32, limit - Int(before.entries ?? 0) - 64)
        let rounds = Lab.pairRounds(tried, perRound: max(1, free / 2))

        var options = PingOptions()
        options.count = count
        options.timeout = timeout
        options.interval = 0.2
        options.untilReply = true
        let pingOptions = options
        let targets = addresses
        let sources = namespaces
        let failure = Mutex<LabError?>(nil)
        let rows = Mutex([[Bool]](repeating: [Bool](repeating: false, count: n), count: n))

        // Per namespace: its ICMP socket for all rounds, and the neighbour
        // entries it had before (never removed).
        let state = Mutex((sockets: [[Bool: Int32]](repeating: [:], count: n),
                           existing: [Set<NeighborKey>](repeating: [], count: n)))
        defer { for s in state.withLock({ $0.sockets }) { for fd in s.values { close(fd) } } }
        runParallel(count: tried.count, width: width) { k in
            let i = tried[k]
            do {
                // Both families when the lab mixes them: an IPv4 host pings an
                // IPv6-only one (and fails, as iputils would, with a reason).
                let sockets = try Pinger.openSockets(in: sources[i], families: families, options: pingOptions)
                let existing = Set(try sources[i].neighborEntries())
                state.withLock { $0.sockets[i] = sockets; $0.existing[i] = existing }
            } catch {
                failure.withLock { $0 = $0 ?? LabError.wrap(error) }
            }
        }
        if let e = failure.withLock({ $0 }) { throw e }
        let (sockets, existing) = state.withLock { ($0.sockets, $0.existing) }

        func run(_ round: [(Int, Int)]) throws(LabError) {
            var mine = [[Int]](repeating: [], count: n)
            for (i, j) in round { mine[i].append(j); mine[j].append(i) }
            let active = (0..<n).filter { !mine[$0].isEmpty }
            let plan = mine
            runParallel(count: active.count, width: width) { k in
                let i = active[k]
                do {
                    let results = try Pinger.run(in: sources[i], destinations: plan[i].map { targets[$0]! },
                                                 options: pingOptions, sockets: sockets[i])
                    rows.withLock { r in for (k, j) in plan[i].enumerated() { r[i][j] = results[k].received > 0 } }
                } catch {
                    failure.withLock { $0 = $0 ?? LabError.wrap(error) }
                }
            }
            // The entries this round made, at both ends of each pair: gone again.
            runParallel(count: active.count, width: width) { k in
                let i = active[k]
                let wanted = Set(plan[i].map { targets[$0]!.bytes })
                guard let entries = try? sources[i].neighborEntries() else { return }
                let made = entries.filter { wanted.contains($0.address.bytes) && !existing[i].contains($0) }
                _ = try? sources[i].requests(made.map { Requests.deleteNeighbor(index: $0.index, address: $0.address) })
            }
            if let e = failure.withLock({ $0 }) { throw e }
        }
        let dropsBefore = Lab.backlogDrops()
        for round in rounds {
            if Interruption.requested() { break }
            try run(round)
        }
        // A broadcast (an ARP request) on a bridge of N ports is N packets in
        // the receiving CPU's backlog, which holds netdev_max_backlog (1000)
        // of them: on a big segment many are dropped, and a pair whose ARP
        // exchange is dropped three times fails. Such pairs are tried once
        // more, in rounds of their own, when the kernel did drop packets.
        var retried = 0
        if Lab.backlogDrops() > dropsBefore && !Interruption.requested() {
            let r = rows.withLock { $0 }
            let failed = tried.flatMap { i in tried.filter { j in j > i && !(r[i][j] && r[j][i]) }.map { (i, $0) } }
            retried = failed.count
            for round in failed.chunked(max(1, free / 2)) {
                if Interruption.requested() { break }
                try run(round)
            }
        }

        let unaddressed = zip(names, addresses).filter { $0.1 == nil }.map(\.0)
        var matrix = PingMatrix(names: names, reachable: rows.withLock { $0 }, unaddressed: unaddressed)
        let after = host.neighbourTable(v4: v4)
        matrix.neighbourTableOverflowed = after.fulls > before.fulls
        matrix.neighbourTableLimit = after.limit
        matrix.rounds = rounds.count
        matrix.retriedPairs = retried
        return matrix
    }

    /// Packets the kernel dropped because a CPU's input backlog was full
    /// (/proc/net/softnet_stat, second column, summed over CPUs; one count
    /// for the whole machine).
    static func backlogDrops() -> UInt64 {
        guard let bytes = readFile("/proc/net/softnet_stat", limit: 1 << 16) else { return 0 }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").reduce(0) { sum, line in
            let f = line.split(separator: " ")
            return sum + (f.count > 1 ? UInt64(f[1], radix: 16) ?? 0 : 0)
        }
    }

    /// Every unordered pair of `nodes`, in rounds of at most `perRound`,
    /// ordered so that each round spreads over many sources (the circle
    /// method of round-robin tournaments).
    static func pairRounds(_ nodes: [Int], perRound: Int) -> [[(Int, Int)]] {
        var list = nodes
        if list.count % 2 == 1 { list.append(-1) }   // a bye
        let m = list.count
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(m * (m - 1) / 2)
        if m >= 2 {
            for _ in 0..<(m - 1) {
                for k in 0..<(m / 2) where list[k] >= 0 && list[m - 1 - k] >= 0 {
                    pairs.append((list[k], list[m - 1 - k]))
                }
                list = [list[0], list[m - 1]] + list[1..<(m - 1)]
            }
        }
        return pairs.chunked(perRound)
    }
}

/// A neighbour entry as the kernel keys it: device and address.
struct NeighborKey: Hashable {
    let index: Int32
    let address: IPAddress
}

extension Namespace {
    /// The kernel's ARP (or, with v4 false, NDP) table, one for all
    /// namespaces: its limit (gc_thresh3), entries now, and how often it was
    /// full (as `ip -s ntable` shows them).
    func neighbourTable(v4: Bool) -> (limit: UInt32?, entries: UInt32?, fulls: UInt64) {
        guard let replies = try? request(Requests.dumpNeighborTables()) else { return (nil, nil, 0) }
        let table = replies.compactMap { try? NeighborTableMessage($0) }.first { $0.name == (v4 ? "arp_cache" : "ndisc_cache") }
        return (table?.thresh3, table?.entries, table?.tableFulls ?? 0)
    }

    /// This namespace's neighbour entries, every state (what RTM_DELNEIGH names).
    func neighborEntries() throws(LabError) -> [NeighborKey] {
        try labbing("listing neighbours in \(displayName)") {
            try dump(Requests.dumpNeighbors()).map(NeighborMessage.init).compactMap { m in
                m.address.map { NeighborKey(index: m.index, address: $0) }
            }
        }
    }
}

extension Array {
    /// Consecutive slices of at most `n` elements.
    func chunked(_ n: Int) -> [[Element]] {
        stride(from: 0, to: count, by: n).map { Array(self[$0..<Swift.min($0 + n, count)]) }
    }
}
