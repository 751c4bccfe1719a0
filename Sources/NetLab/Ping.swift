import Glibc
import Netlink
import Synchronization

/// Options of `ns:ping` (iputils names in comments).
public struct PingOptions: Sendable {
    public var count = 3               // -c
    public var interval = 0.2          // -i (seconds)
    public var timeout = 1.0           // -W: how long to wait for the last reply (seconds)
    public var size = 56               // -s: payload bytes
    public var ttl: Int?               // -t
    /// Source address or device (-I).
    public var from: String?
    /// Stop asking a destination once it has answered (pingall).
    public var untilReply = false
    /// Told each line iputils would print, as it happens (verbose ping):
    /// the PING header, each reply or error, then the statistics.
    public var onLine: (@Sendable (String) -> Void)?
    public init() {}
}

/// The outcome of pinging one destination: iputils' statistics.
public struct PingResult: Sendable {
    public var destination: String
    public var sent = 0
    public var received = 0
    public var duplicates = 0
    /// ICMP errors ("From 10.0.1.1 icmp_seq=1 Time to live exceeded") and
    /// local ones ("ping: connect: Network is unreachable"), as iputils prints them.
    public var errors: [String] = []
    /// The errno of each request sendmsg refused (its line is in `errors`
    /// too; iputils does not count these as errors in its statistics).
    public var refusedSends: [Int32] = []
    /// When nothing came back: what nslua sees that is the likely cause
    /// ("eth0 is down", "no route to 10.9.0.1", ...).
    public var hint: String?
    /// Round-trip times of the replies, in milliseconds, in arrival order.
    public var rtts: [Double] = []
    /// From the first request to the end, in milliseconds.
    public var elapsed = 0.0

    public var loss: Double { sent == 0 ? 100 : Double(sent - received) * 100 / Double(sent) }
    public var min: Double? { rtts.min() }
    public var max: Double? { rtts.max() }
    public var avg: Double? { rtts.isEmpty ? nil : rtts.reduce(0, +) / Double(rtts.count) }
    /// iputils' mdev: sqrt(mean(rtt^2) - mean(rtt)^2).
    public var mdev: Double? {
        guard let avg else { return nil }
        let sq = rtts.reduce(0) { $0 + $1 * $1 } / Double(rtts.count)
        return (Swift.max(0, sq - avg * avg)).squareRoot()
    }

    /// What a script shows: iputils' statistics (its last two lines), after
    /// the first errors and the hint when nothing came back.
    public var summary: String {
        var lines: [String] = []
        if received == 0 {
            var shown: [String] = []
            for e in errors where !shown.contains(e) && shown.count < 3 { shown.append(e) }
            lines += shown
            if let hint { lines.append("hint: \(hint)") }
        }
        return (lines + [statistics]).joined(separator: "\n")
    }

    /// iputils' statistics: its last two lines.
    public var statistics: String {
        var line = "\(sent) packets transmitted, \(received) received"
        if duplicates > 0 { line += ", +\(duplicates) duplicates" }
        // iputils counts ICMP errors there, not requests sendmsg refused.
        let counted = errors.count - refusedSends.count
        if counted > 0 { line += ", +\(counted) errors" }
        line += ", \(formatPercent(loss))% packet loss, time \(Int(elapsed.rounded()))ms"
        if let min, let avg, let max, let mdev {
            line += "\nrtt min/avg/max/mdev = \(f3(min))/\(f3(avg))/\(f3(max))/\(f3(mdev)) ms"
        }
        return line
    }
}

func f3(_ v: Double) -> String {
    let scaled = Int((v * 1000).rounded())
    let frac = String(scaled % 1000)
    return "\(scaled / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}

func formatPercent(_ v: Double) -> String {
    if v == v.rounded() { return String(Int(v)) }
    var s = String(format4(v))
    while s.last == "0" { s.removeLast() }
    return s
}

private func format4(_ v: Double) -> String {
    let scaled = Int((v * 10000).rounded())
    let frac = String(scaled % 10000)
    return "\(scaled / 10000)." + String(repeating: "0", count: 4 - frac.count) + frac
}

/// Echo identifiers unique within this process, so that concurrent pings
/// (even in one namespace, whose raw sockets all see every reply) never take
/// each other's packets.
private let nextIdentifier = Atomic<UInt32>(UInt32(bitPattern: getpid()) &* 2654435761)

/// ICMP echo over a raw socket opened inside a namespace; no `ping` is spawned.
enum Pinger {
    /// Pings each destination `count` times from `ns`, all at once on one
    /// socket per address family (its own, or those given, which stay open).
    /// Results are in the order of `destinations`.
    static func run(in ns: Namespace, destinations: [IPAddress], scopes: [UInt32] = [],
                    options o: PingOptions, sockets given: [Bool: Int32]? = nil) throws(LabError) -> [PingResult] {
        guard !destinations.isEmpty else { return [] }
        let sockets: [Bool: Int32]
        if let given { sockets = given } else { sockets = try openSockets(in: ns, families: Set(destinations.map(\.isV4)), options: o) }
        defer { if given == nil { for s in sockets.values { close(s) } } }

        let id = UInt16(truncatingIfNeeded: nextIdentifier.add(1, ordering: .relaxed).newValue)
        var results = destinations.map { PingResult(destination: $0.description) }
        let index = Dictionary(destinations.enumerated().map { ($0.element.bytes, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var sentAt: [Int: [UInt16: Double]] = [:]     // destination -> seq -> send time (ms)
        var seen: [Int: Set<UInt16>] = [:]
        let start = now()
        var nextSend = start
        var round = 0
        var refused: Set<Int> = []   // no way out at the first request (ENETUNREACH...): not tried again
        var deadline = start + (Double(Swift.max(o.count - 1, 0)) * o.interval + o.timeout) * 1000
        var buffer = [UInt8](repeating: 0, count: 65536)
        if let say = o.onLine, destinations.count == 1 {
            let d = destinations[0]
            say(d.isV4 ? "PING \(d) (\(d)) \(o.size)(\(o.size + 28)) bytes of data." : "PING \(d) (\(d)) \(o.size) data bytes")
        }

        while true {
            let t = now()
            if round < o.count && t >= nextSend {
                // One round: a request to each destination still to be answered.
                let seq = UInt16(truncatingIfNeeded: round + 1)
                // A queued ICMP error would fail the next send (as its socket error).
                for socket in sockets.values { drainErrors(socket) }
                for (i, dst) in destinations.enumerated() where !(o.untilReply && results[i].received > 0) && !refused.contains(i) {
                    let scope = i < scopes.count ? scopes[i] : 0
                    let packet = echoRequest(v4: dst.isV4, id: id, seq: seq, size: o.size)
                    guard let socket = sockets[dst.isV4] else { continue }   // (callers open one per family)
                    if let (code, err) = send(socket, packet, to: dst, scope: scope) {
                        // iputils finds a missing route when it connects, before the
                        // first request, and stops there: so does this destination.
                        // Other errors (ENOBUFS: no neighbour entry could be made)
                        // come from sendmsg, request by request.
                        let atConnect = round == 0 && ![ENOBUFS, ENOMEM, EAGAIN].contains(code)
                        let line = "ping: \(atConnect ? "connect" : "sendmsg"): \(err)"
                        results[i].errors.append(line)
                        o.onLine?(line)
                        if atConnect { refused.insert(i) } else { results[i].refusedSends.append(code) }
                    } else {
                        sentAt[i, default: [:]][seq] = now()
                    }
                    results[i].sent += 1
                }
                round += 1
                nextSend = start + Double(round) * o.interval * 1000
                if round == o.count { deadline = Swift.max(deadline, now() + o.timeout * 1000) }
            }
            let allAnswered = o.untilReply ? results.indices.allSatisfy { results[$0].received > 0 || refused.contains($0) }
                : (round == o.count || refused.count == destinations.count)
                    && results.allSatisfy { $0.received + $0.errors.count >= $0.sent }
            if allAnswered || t >= deadline || Interruption.requested() { break }

            let wait = Swift.max(0, Swift.min(deadline, round < o.count ? nextSend : deadline) - now())
            var fds = sockets.values.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(Swift.min(wait, 50).rounded(.up)))
            if n <= 0 { continue }
            for p in fds where p.revents & Int16(POLLERR) != 0 { drainErrors(p.fd) }
            for p in fds where p.revents & Int16(POLLIN) != 0 {
                let v4 = sockets[true] == p.fd
                while true {
                    guard let (got, from, hopLimit) = receive(p.fd, into: &buffer) else { break }
                    let arrival = now()
                    let packet = Array(buffer[0..<got])
                    guard let reply = parseReply(packet, v4: v4, id: id) else { continue }
                    let source = reply.matchAddress ?? sourceAddress(from, v4: v4)
                    guard let source, let i = index[source.bytes] else { continue }
                    switch reply.kind {
                    case .echo(let seq):
                        guard let sent = sentAt[i]?[seq] else { continue }
                        let rtt = arrival - sent
                        let duplicate = seen[i, default: []].contains(seq)
                        if duplicate {
                            results[i].duplicates += 1
                        } else {
                            seen[i, default: []].insert(seq)
                            results[i].received += 1
                            results[i].rtts.append(rtt)
                        }
                        if let say = o.onLine {
                            // "64 bytes from 10.3.0.2: icmp_seq=1 ttl=64 time=0.045 ms", as iputils.
                            let ihl = v4 ? Int(packet[0] & 0x0f) * 4 : 0
                            let ttl = v4 ? Int(packet[8]) : hopLimit
                            say("\(got - ihl) bytes from \(source): icmp_seq=\(seq)" + (ttl.map { " ttl=\($0)" } ?? "")
                                + " time=\(Pinger.rttText(rtt)) ms" + (duplicate ? " (DUP!)" : ""))
                        }
                    case .error(let text, let seq):
                        // As iputils prints it: who answered, for which request.
                        let reporter = sourceAddress(from, v4: v4).map { "\($0)" } ?? "?"
                        let line = "From \(reporter) icmp_seq=\(seq) \(text)"
                        results[i].errors.append(line)
                        o.onLine?(line)
                    }
                }
            }
        }
        let end = now()
        for i in results.indices { results[i].elapsed = end - start }
        return results
    }

    /// Raw ICMP sockets in `ns`, one per family (true: IPv4), set up for `o`.
    static func openSockets(in ns: Namespace, families: Set<Bool>, options o: PingOptions) throws(LabError) -> [Bool: Int32] {
        let fd = try ns.fd()
        var bindDevice: String?
        var bindAddress: IPAddress?
        if let from = o.from {
            if let a = IPAddress(from) { bindAddress = a } else { try Validate.interfaceName(from); bindDevice = from }
        }
        var sockets: [Bool: Int32] = [:]
        do {
            for v4 in families {
                let s = try labbing("opening an ICMP socket in \(ns.displayName)") {
                    try onNamespaceThread(fd) { () throws -> Int32 in
                        try sys("socket(ICMP)") {
                            socket(v4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                                   v4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6))
                        }
                    }
                }
                sockets[v4] = s
                try configure(s, v4: v4, options: o, device: bindDevice, address: bindAddress, ns: ns)
            }
        } catch {
            for s in sockets.values { close(s) }
            throw error
        }
        return sockets
    }

    private static func configure(_ s: Int32, v4: Bool, options o: PingOptions, device: String?, address: IPAddress?,
                                  ns: Namespace) throws(LabError) {
        if let ttl = o.ttl {
            var v = Int32(ttl)
            if v4 { setsockopt(s, Int32(IPPROTO_IP), IP_TTL, &v, 4) } else { setsockopt(s, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, &v, 4) }
        }
        if let device {
            let bytes = Array(device.utf8) + [0]
            guard setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, bytes, socklen_t(bytes.count)) == 0 else {
                throw .errno(errno, "binding to device \(device) in \(ns.displayName)")
            }
        }
        if let address, address.isV4 == v4 {
            var ss = sockaddrStorage(address, scope: 0)
            let rc = withUnsafePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(v4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)) }
            }
            guard rc == 0 else { throw .errno(errno, "\(address) is not an address of \(ns.displayName)") }
        }
        if !v4 {
            var one: Int32 = 1
            setsockopt(s, 41 /* IPPROTO_IPV6 */, 51 /* IPV6_RECVHOPLIMIT */, &one, 4)
            // Only echo replies and errors (ICMP6_FILTER): not our neighbours' chatter.
            var filter = [UInt32](repeating: 0xffff_ffff, count: 8)
            for t in [1, 2, 3, 4, 129] { filter[t >> 5] &= ~(UInt32(1) << (t & 31)) }
            setsockopt(s, 58 /* IPPROTO_ICMPV6 */, 1 /* ICMP6_FILTER */, &filter, 32)
        }
        var big: Int32 = 1 << 20
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, 4)
        // As iputils: local send errors are reported (ENOBUFS when the kernel
        // cannot make a neighbour entry; without this it drops the request
        // silently). ICMP errors then also go to the error queue, which is
        // emptied (they are read from the socket itself).
        var one: Int32 = 1
        if v4 { setsockopt(s, Int32(IPPROTO_IP), 11 /* IP_RECVERR */, &one, 4) } else { setsockopt(s, 41, 25 /* IPV6_RECVERR */, &one, 4) }
    }

    /// A time as iputils prints it: three significant digits ("0.045", "12.3", "105").
    static func rttText(_ ms: Double) -> String {
        if ms >= 100 { return String(Int(ms.rounded())) }
        if ms >= 10 { let t = Int((ms * 10).rounded()); return "\(t / 10).\(t % 10)" }
        if ms >= 1 { let t = Int((ms * 100).rounded()); return "\(t / 100)." + String(t % 100).leftPadded(2) }
        return f3(ms)
    }

    /// One datagram: its length, its sender, and (IPv6) the hop limit it came with.
    private static func receive(_ fd: Int32, into buffer: inout [UInt8]) -> (Int, sockaddr_storage, Int?)? {
        var from = sockaddr_storage()
        var control = [UInt8](repeating: 0, count: 64)
        var controlUsed = 0
        let got: Int = buffer.withUnsafeMutableBytes { buf in
            control.withUnsafeMutableBytes { ctl in
                withUnsafeMutablePointer(to: &from) { fromPtr in
                    var iov = iovec(iov_base: buf.baseAddress, iov_len: buf.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPtr in
                        var msg = msghdr()
                        msg.msg_name = UnsafeMutableRawPointer(fromPtr)
                        msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        msg.msg_iov = iovPtr
                        msg.msg_iovlen = 1
                        msg.msg_control = ctl.baseAddress
                        msg.msg_controllen = ctl.count
                        let n = recvmsg(fd, &msg, Int32(MSG_DONTWAIT))
                        controlUsed = Int(msg.msg_controllen)
                        return n
                    }
                }
            }
        }
        guard got > 0 else { return nil }
        // struct cmsghdr: len (8 bytes), level, type (4 each), then the data.
        var hopLimit: Int?
        control.withUnsafeBytes { c in
            var off = 0
            while off + 16 <= Swift.min(controlUsed, c.count) {
                let len = Int(c.load(fromByteOffset: off, as: UInt64.self))
                let level = c.load(fromByteOffset: off + 8, as: Int32.self)
                let type = c.load(fromByteOffset: off + 12, as: Int32.self)
                if level == 41 /* IPPROTO_IPV6 */ && type == 52 /* IPV6_HOPLIMIT */ && len >= 20 && off + 20 <= c.count {
                    hopLimit = Int(c.load(fromByteOffset: off + 16, as: Int32.self))
                }
                guard len >= 16 else { break }
                off += (len + 7) & ~7
            }
        }
        return (got, from, hopLimit)
    }

    static func echoRequest(v4: Bool, id: UInt16, seq: UInt16, size: Int) -> [UInt8] {
        var p: [UInt8] = [v4 ? 8 : 128, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)]
        for i in 0..<size { p.append(UInt8(truncatingIfNeeded: i)) }
        if v4 {   // the kernel computes the ICMPv6 checksum itself
            let c = checksum(p)
            p[2] = UInt8(c >> 8); p[3] = UInt8(c & 0xff)
        }
        return p
    }

    static func checksum(_ b: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < b.count { sum += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.count { sum += UInt32(b[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    enum ReplyKind: Equatable { case echo(UInt16), error(String, seq: UInt16) }
    struct Reply { var kind: ReplyKind; var matchAddress: IPAddress? }

    /// An echo reply with our id, or an ICMP error quoting one of our requests
    /// (then `matchAddress` is the destination of that request).
    static func parseReply(_ b: [UInt8], v4: Bool, id: UInt16) -> Reply? {
        var icmp = b[...]
        if v4 {
            let ihl = Int((b.first ?? 0) & 0x0f) * 4
            guard b.count >= 20, ihl >= 20, b.count >= ihl else { return nil }
            icmp = b[ihl...]
        }
        guard icmp.count >= 8 else { return nil }
        let type = icmp[icmp.startIndex], code = icmp[icmp.startIndex + 1]
        let rid = UInt16(icmp[icmp.startIndex + 4]) << 8 | UInt16(icmp[icmp.startIndex + 5])
        let rseq = UInt16(icmp[icmp.startIndex + 6]) << 8 | UInt16(icmp[icmp.startIndex + 7])
        if (v4 && type == 0) || (!v4 && type == 129) {
            return rid == id ? Reply(kind: .echo(rseq), matchAddress: nil) : nil
        }
        // An error: the quoted packet follows the 8-byte ICMP header.
        let inner = Array(icmp.dropFirst(8))
        let text: String
        var dst: IPAddress?
        var seq: UInt16 = 0
        if v4 {
            guard [3, 11].contains(type), inner.count >= 28 else { return nil }
            let ihl = Int(inner[0] & 0x0f) * 4
            guard ihl >= 20, inner.count >= ihl + 8, inner[9] == 1, inner[ihl] == 8 else { return nil }
            guard UInt16(inner[ihl + 4]) << 8 | UInt16(inner[ihl + 5]) == id else { return nil }
            seq = UInt16(inner[ihl + 6]) << 8 | UInt16(inner[ihl + 7])
            dst = IPAddress(bytes: Array(inner[16..<20]))
            text = type == 11 ? "Time to live exceeded"
                : ["Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
                   "Destination Port Unreachable"][safe: Int(code)] ?? "Destination Unreachable"
        } else {
            guard [1, 3].contains(type), inner.count >= 48, inner[6] == 58, inner[40] == 128 else { return nil }
            guard UInt16(inner[44]) << 8 | UInt16(inner[45]) == id else { return nil }
            seq = UInt16(inner[46]) << 8 | UInt16(inner[47])
            dst = IPAddress(bytes: Array(inner[24..<40]))
            text = type == 3 ? "Time exceeded: Hop limit"
                : ["Destination unreachable: No route", "Destination unreachable: Administratively prohibited",
                   "Destination unreachable: Beyond scope", "Destination unreachable: Address unreachable",
                   "Destination unreachable: Port unreachable"][safe: Int(code)] ?? "Destination unreachable"
        }
        return Reply(kind: .error(text, seq: seq), matchAddress: dst)
    }

    /// nil, or errno and its text.
    private static func send(_ s: Int32, _ packet: [UInt8], to dst: IPAddress, scope: UInt32) -> (Int32, String)? {
        var ss = sockaddrStorage(dst, scope: scope)
        let len = socklen_t(dst.isV4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        let n = withUnsafePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s, packet, packet.count, 0, $0, len) }
        }
        if n >= 0 { return nil }
        let e = errno
        return (e, errnoDescription(e))
    }

    /// Empties the socket's error queue (IP_RECVERR), which also clears its
    /// pending error.
    private static func drainErrors(_ s: Int32) {
        // (A zero-length read still dequeues the message.)
        while recv(s, nil, 0, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT)) >= 0 {}
    }

    private static func sourceAddress(_ ss: sockaddr_storage, v4: Bool) -> IPAddress? {
        var ss = ss
        return withUnsafeBytes(of: &ss) { raw in
            v4 ? IPAddress(bytes: Array(raw[4..<8])) : IPAddress(bytes: Array(raw[8..<24]))
        }
    }

    static func now() -> Double { monotonicSeconds() * 1000 }
}

func sockaddrStorage(_ a: IPAddress, scope: UInt32) -> sockaddr_storage {
    var ss = sockaddr_storage()
    withUnsafeMutableBytes(of: &ss) { raw in
        if a.isV4 {
            raw.storeBytes(of: sa_family_t(AF_INET), toByteOffset: 0, as: sa_family_t.self)
            for i in 0..<4 { raw[4 + i] = a.bytes[i] }
        } else {
            raw.storeBytes(of: sa_family_t(AF_INET6), toByteOffset: 0, as: sa_family_t.self)
            for i in 0..<16 { raw[8 + i] = a.bytes[i] }
            raw.storeBytes(of: scope, toByteOffset: 24, as: UInt32.self)
        }
    }
    return ss
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

/// Long waits (ping, exec, capture) end early when the user interrupts; the
/// program says how to ask ("was Ctrl-C pressed?").
public enum Interruption {
    nonisolated(unsafe) public static var check: () -> Bool = { false }
    static func requested() -> Bool { check() }
}
