import Glibc
import Synchronization

/// An rtnetlink socket. It stays bound to the network namespace of the thread
/// that opened it, so NetLab opens one per namespace on a thread switched into
/// that namespace, and then uses it from anywhere.
public final class NetlinkSocket: @unchecked Sendable {
    public let fd: Int32
    private let lock = Mutex(())
    private var seq: UInt32
    /// The kernel never sends a netlink datagram larger than 32 KiB.
    private static let receiveSize = 1 << 16

    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace,
    /// asking for extended acks and strict checking of dump requests.
    /// Seconds to wait for the kernel's next reply before giving up.
    static let replyTimeout = 10

    public init() throws(NetlinkError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NL.ROUTE)
        guard fd >= 0 else { throw NetlinkError(errno: errno, message: "socket(AF_NETLINK)") }
        var one: Int32 = 1
        _ = setsockopt(fd, NL.SOL_NETLINK, NL.EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, NL.SOL_NETLINK, NL.CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, NL.SOL_NETLINK, NL.GET_STRICT_CHK, &one, socklen_t(MemoryLayout<Int32>.size))
        var size: Int32 = 1 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // The kernel answers at once; a request it never answers (a missing
        // ACK flag) must fail, not hang the run beyond the reach of signals.
        var limit = timeval(tv_sec: NetlinkSocket.replyTimeout, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw NetlinkError(errno: e, message: "bind(AF_NETLINK)")
        }
        self.fd = fd
        self.seq = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { close(fd) }

    /// The namespace's cookie (SO_NETNS_COOKIE, kernel 5.14+): a number the
    /// kernel never gives another namespace until it reboots, unlike an inode
    /// number. nil where the kernel does not have it.
    public func namespaceCookie() -> UInt64? {
        var cookie: UInt64 = 0
        var len = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &cookie, &len) == 0, cookie != 0 else { return nil }
        return cookie
    }

    /// Sends `request` and returns the reply messages (the dump's entries, or
    /// the answer to a get, or the echo of a create). A kernel error is thrown
    /// with its extended ack.
    @discardableResult
    public func request(_ request: NetlinkRequest) throws -> [NetlinkMessage] {
        try lock.withLock { _ in try exchange([request])[0].get() }
    }

    /// Sends several requests in one datagram (the kernel handles them in
    /// order, each on its own) and returns each one's outcome. Dumps cannot
    /// be batched.
    public func requests(_ batch: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], Error>] {
        precondition(batch.allSatisfy { $0.flags & NL.F_DUMP != NL.F_DUMP } || batch.count == 1, "dumps cannot be batched")
        return try lock.withLock { _ in try exchange(batch) }
    }

    private func exchange(_ batch: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], Error>] {
        var bytes: [UInt8] = []
        var collectors: [ReplyCollector] = []
        for var request in batch {
            seq &+= 1
            request.stamp(seq: seq)
            bytes += request.bytes
            collectors.append(ReplyCollector(seq: seq, isDump: request.flags & NL.F_DUMP == NL.F_DUMP))
        }
        var dest = sockaddr_nl()
        dest.nl_family = sa_family_t(AF_NETLINK)
        let sent = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &dest) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        guard sent == bytes.count else { throw NetlinkError(errno: errno, message: "sendto(netlink)") }

        var results = [Result<[NetlinkMessage], Error>?](repeating: nil, count: batch.count)
        var pending = batch.count
        // One buffer per exchange, on the stack when it fits: a lab of hundreds
        // of namespaces keeps a socket per namespace, but no buffer per socket.
        try withUnsafeTemporaryAllocation(byteCount: NetlinkSocket.receiveSize, alignment: 8) { buf in
            while pending > 0 {
                var from = sockaddr_nl()
                var fromLen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, buf.baseAddress, buf.count, 0, $0, &fromLen)
                    }
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        throw NetlinkError(errno: ETIMEDOUT, message: "no answer from the kernel within \(NetlinkSocket.replyTimeout) s (recv(netlink))")
                    }
                    throw NetlinkError(errno: errno, message: "recv(netlink)")
                }
                let datagram = Array(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                guard from.nl_pid == 0 else { continue }   // not from the kernel: ignore
                let messages = try NetlinkMessage.parse(datagram[...])
                for i in collectors.indices where results[i] == nil {
                    do {
                        if try collectors[i].feed(messages) == .done {
                            results[i] = .success(collectors[i].messages)
                            pending -= 1
                        }
                    } catch {
                        results[i] = .failure(error)
                        pending -= 1
                    }
                }
            }
        }
        return results.map { $0! }
    }
}

/// struct sockaddr_nl (linux/netlink.h), which Glibc's module does not export.
struct sockaddr_nl {
    var nl_family: sa_family_t = 0
    var nl_pad: UInt16 = 0
    var nl_pid: UInt32 = 0
    var nl_groups: UInt32 = 0
}
