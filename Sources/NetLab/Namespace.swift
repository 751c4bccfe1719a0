import Glibc
import Netlink

/// A network namespace: the host (where nslua started), one this run created
/// (`ip netns add`), or an existing named one it opened.
///
/// It keeps an fd on the namespace and one rtnetlink socket opened inside it;
/// every operation on the namespace goes through that socket.
public final class Namespace: @unchecked Sendable {
    /// nil for the host namespace.
    public let name: String?
    /// Device and inode of the namespace (unique while this run holds it).
    public let id: NamespaceID
    /// The kernel's cookie for it (unique until reboot), where the kernel has one.
    public let cookie: UInt64?
    /// Created by this run (and so removed by its teardown).
    public let owned: Bool
    public private(set) var isDeleted = false
    /// How the journal refers to it (0: the host).
    let journalID: Int
    private var fdStorage: Int32
    private var socketStorage: NetlinkSocket?
    /// Ids this namespace gives others (RTM_GETNSID answers).
    private var knownIDs: [ObjectIdentifier: Int32] = [:]
    public internal(set) weak var lab: Lab?

    init(name: String?, fd: Int32, socket: NetlinkSocket, owned: Bool, journalID: Int, lab: Lab?) throws(SystemError) {
        self.name = name
        self.fdStorage = fd
        self.socketStorage = socket
        self.owned = owned
        self.journalID = journalID
        self.lab = lab
        self.id = try NamespaceID(fd: fd)
        self.cookie = socket.namespaceCookie()
    }

    deinit { if fdStorage >= 0 { close(fdStorage) } }

    /// "ns1", or "host".
    public var displayName: String { name ?? "host" }

    /// The fd on the namespace (for setns, IFLA_NET_NS_FD).
    public func fd() throws(LabError) -> Int32 {
        try checkAlive()
        return fdStorage
    }

    func socket() throws(LabError) -> NetlinkSocket {
        try checkAlive()
        return socketStorage!
    }

    func checkAlive() throws(LabError) {
        if isDeleted { throw .notFound("No such namespace", "namespace \(displayName) has been deleted") }
    }

    /// Drops the fd and socket so that the kernel can free the namespace.
    func release() {
        isDeleted = true
        socketStorage = nil
        if fdStorage >= 0 { close(fdStorage) }
        fdStorage = -1
    }

    /// Whether `path` is (a mount of) this very namespace: compared with the
    /// fd this run holds, so a namespace re-created under the same name since
    /// (even one the kernel gave the same inode number, once ours is freed)
    /// never matches while ours is alive.
    func isMounted(at path: String) -> Bool {
        guard !isDeleted else { return false }
        var st = stat()
        return stat(path, &st) == 0 && UInt64(st.st_dev) == id.device && UInt64(st.st_ino) == id.inode
    }

    /// Sends one request on this namespace's socket.
    @discardableResult
    func request(_ r: NetlinkRequest, _ detail: @autoclosure () -> String? = nil) throws(LabError) -> [NetlinkMessage] {
        let s = try socket()
        return try labbing(detail()) { try s.request(r) }
    }

    /// Sends several requests in one datagram; each one's outcome, in order.
    func requests(_ batch: [NetlinkRequest]) throws(LabError) -> [Result<[NetlinkMessage], LabError>] {
        let s = try socket()
        return try labbing { try s.requests(batch) }.map { $0.mapError { LabError.wrap($0) } }
    }

    /// A dump, asked again (up to three times) when a concurrent change
    /// interrupted it (NLM_F_DUMP_INTR), as its content may be inconsistent.
    func dump(_ r: NetlinkRequest) throws(LabError) -> [NetlinkMessage] {
        let s = try socket()
        var attempt = 0
        while true {
            do {
                return try s.request(r)
            } catch is DumpInterrupted where attempt < 2 {
                attempt += 1
            } catch {
                throw LabError.wrap(error)
            }
        }
    }

    // MARK: Links

    /// The link named `name` here, or nil.
    func linkMessage(named name: String) throws(LabError) -> LinkMessage? {
        try Validate.interfaceName(name)
        return try getLink(Requests.getLink(name: name), "looking up \(name) in \(displayName)")
    }

    /// The link with ifindex `index` here, or nil.
    func linkMessage(index: Int32) throws(LabError) -> LinkMessage? {
        try getLink(Requests.getLink(index: index), "looking up link \(index) in \(displayName)")
    }

    private func getLink(_ request: NetlinkRequest, _ detail: String) throws(LabError) -> LinkMessage? {
        do {
            let s = try socket()
            guard let m = try s.request(request).first else { return nil }
            return try LinkMessage(m)
        } catch let e as NetlinkError where e.isNotFound {
            return nil
        } catch {
            throw LabError.wrap(error, detail)
        }
    }

    /// Every link here, in ifindex order (`ip link show`).
    func linkMessages() throws(LabError) -> [LinkMessage] {
        try labbing("listing links in \(displayName)") {
            try dump(Requests.dumpLinks()).map(LinkMessage.init).sorted { $0.index < $1.index }
        }
    }

    /// ifindex -> name of every link here.
    func linkNames() throws(LabError) -> [Int32: String] { Namespace.names(of: try linkMessages()) }

    static func names(of messages: [LinkMessage]) -> [Int32: String] {
        Dictionary(messages.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    /// The id this namespace gives `other` (IFLA_LINK_NETNSID), or nil. An id,
    /// once assigned, stays for as long as both namespaces live: it is asked
    /// of the kernel once (veth peers in a lab of hundreds would otherwise
    /// cost a round trip per namespace per link).
    func namespaceID(of other: Namespace) -> Int32? {
        if let id = knownIDs[ObjectIdentifier(other)] { return id }
        guard let fd = try? other.fd(), let s = try? socket(),
              let m = try? s.request(Requests.getNamespaceID(fd: fd)).first,
              let id = try? Requests.namespaceID(in: m), id >= 0 else { return nil }
        knownIDs[ObjectIdentifier(other)] = id
        return id
    }

    // MARK: Addresses, routes, neighbours

    func addressMessages() throws(LabError) -> [AddressMessage] {
        try labbing("listing addresses in \(displayName)") {
            try dump(Requests.dumpAddresses()).map(AddressMessage.init)
        }
    }

    /// Routes of the main table (`ip route show` and `ip -6 route show`).
    func routeMessages() throws(LabError) -> [RouteMessage] {
        try labbing("listing routes in \(displayName)") {
            try dump(Requests.dumpRoutes()).map(RouteMessage.init)
                .filter { $0.table == UInt32(RTA.TABLE_MAIN) && $0.type == RTA.TYPE_UNICAST }
        }
    }

    /// The neighbour table (`ip neigh show`: entries in NOARP or no state are left out).
    func neighborMessages() throws(LabError) -> [NeighborMessage] {
        try labbing("listing neighbours in \(displayName)") {
            try dump(Requests.dumpNeighbors()).map(NeighborMessage.init)
                .filter { $0.state != 0 && $0.state & 0x40 == 0 && $0.address != nil }
        }
    }

    // MARK: sysctl

    /// Reads a net.* sysctl as this namespace sees it.
    public func sysctl(_ key: String) throws(LabError) -> String {
        let path = try Validate.sysctlPath(key)
        let fd = try self.fd()
        return try labbing("sysctl \(key) in \(displayName)") {
            try onNamespaceThread(fd) { () throws -> String in
                guard let bytes = readFile(path, limit: 1 << 20) else { throw SystemError("read \(path)") }
                var s = String(decoding: bytes, as: UTF8.self)
                while s.last == "\n" { s.removeLast() }
                return s
            }
        }
    }

    /// Writes a net.* sysctl in this namespace.
    public func setSysctl(_ key: String, _ value: String) throws(LabError) {
        let path = try Validate.sysctlPath(key)
        if value.contains("\0") || value.contains("\n") { throw .invalid("invalid sysctl value", "it contains a newline or NUL") }
        let fd = try self.fd()
        lab?.trace(exec: "sysctl -q -w \(key)=\(value)", in: self)
        try labbing("sysctl -w \(key)=\(Validate.shown(value)) in \(displayName)") {
            try onNamespaceThread(fd) {
                let f = open(path, O_WRONLY | O_CLOEXEC)
                guard f >= 0 else { throw SystemError("open \(path)") }
                defer { close(f) }
                let bytes = Array((value + "\n").utf8)
                try sys("write \(path)") { write(f, bytes, bytes.count) }
            }
        }
    }
}
