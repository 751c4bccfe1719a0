import CNetSys
import Glibc
import Netlink
import Synchronization

/// One run's lab: the namespaces and links it made or opened, and what it owns.
///
/// The lab owns exactly what it created; teardown removes that (namespaces
/// first, so the kernel frees their links in one batch, then links left in
/// other namespaces) and never anything that existed before. What it moved
/// but did not make goes back where it came from.
public final class Lab: @unchecked Sendable {
    /// Where named namespaces live (`ip netns` uses the same).
    public let netnsDirectory: String
    /// The namespace nslua started in.
    public private(set) var host: Namespace!
    /// The registry of what this run made, opened and moved, and its journal.
    let ledger = Ledger()
    /// Captures started in this run (stopped at teardown, before namespaces go).
    var captures: [Capture] = []
    /// Process groups of programs started with exec that may still run
    /// (locked: the watchdog's teardown ends them from another thread).
    let processGroups = Mutex<Set<pid_t>>([])
    /// Held for the whole of a teardown.
    private let teardownLock = Mutex(())
    /// A namespace of this run's could not be unmounted, or teardown had to
    /// keep one: it stays in the journal, which teardown then keeps for --clean.
    private var leftBehind = false
    /// The PID namespace they are born in (teardown ends all of it).
    let processJail = ProcessJail()
    /// Leave everything in place at teardown.
    public var keep = false
    /// After the final teardown nothing more may be made (a Lua finalizer
    /// running at exit must not leave objects behind).
    public private(set) var isClosed = false
    /// Called with the shell command equivalent to each change (--trace).
    public var tracer: ((String) -> Void)?

    public init(netnsDirectory: String = "/run/netns") throws(LabError) {
        self.netnsDirectory = netnsDirectory
        let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(errno, "open /proc/thread-self/ns/net") }
        do {
            // The calling thread is in the host namespace already: no setns needed.
            let socket = try NetlinkSocket()
            host = try Namespace(name: nil, fd: fd, socket: socket, owned: false, journalID: 0, lab: self)
        } catch {
            close(fd)
            throw LabError.wrap(error, "opening the host namespace")
        }
        ledger.host = host
    }

    /// A lab whose host namespace is a new, empty one of its own (nothing it
    /// does can reach the namespace the caller is in): for tests. Needs
    /// CAP_SYS_ADMIN.
    public static func isolated(netnsDirectory: String) throws(LabError) -> Lab {
        try labbing("making a private namespace") { try onNamespaceThread(nil) { try Lab(netnsDirectory: netnsDirectory) } }
    }

    /// Starts writing the crash journal in `directory` (made when the first
    /// object is). `onError` is told if it cannot be written.
    public func journal(in directory: String, onError: @escaping (LabError) -> Void) {
        ledger.journalDirectory = directory
        ledger.onJournalError = onError
    }

    /// Namespaces created or opened and not deleted, in order.
    public var namespaces: [Namespace] { ledger.liveNamespaces }

    /// Every namespace the lab knows, host first.
    public var allNamespaces: [Namespace] { [host] + ledger.liveNamespaces }

    /// Links this run made and that still exist, in creation order.
    public var ownedLinks: [Link] { ledger.owned }

    func checkOpen() throws(LabError) {
        if isClosed { throw .invalid("the lab has been torn down", "nslua is exiting; nothing more can be made") }
    }

    // MARK: Tracing (--trace): shell commands that do the same, runnable as written

    /// `ip [-n NS] COMMAND`.
    func trace(ip command: String, in ns: Namespace?) {
        guard let tracer else { return }
        tracer("ip " + (ns?.name.map { "-n \(shellQuoted($0)) " } ?? "") + command)
    }

    /// `tc [-n NS] COMMAND`.
    func trace(tc command: String, in ns: Namespace?) {
        guard let tracer else { return }
        tracer("tc " + (ns?.name.map { "-n \(shellQuoted($0)) " } ?? "") + command)
    }

    /// A program run inside `ns` (`ip netns exec NS ...`; as it is in the host).
    func trace(exec command: String, in ns: Namespace) {
        guard let tracer else { return }
        tracer((ns.name.map { "ip netns exec \(shellQuoted($0)) " } ?? "") + command)
    }

    // MARK: Namespaces

    /// Names of the named namespaces (`ip netns list`), sorted.
    public func namespaceNames() -> [String] { directoryEntries(netnsDirectory) }

    /// Equivalent to `ip netns add NAME`, done the iproute2 way so that
    /// `ip netns` sees and uses it. The new namespace's `lo` is brought up.
    ///
    /// The journal hears of it before the file exists, and gets its identity
    /// (cookie) before it is mounted: a kill at any point leaves either
    /// nothing, an empty file `--clean` may remove, or a namespace `--clean`
    /// can prove is this run's.
    public func createNamespace(_ name: String) throws(LabError) -> Namespace {
        try checkOpen()
        try Validate.namespaceName(name)
        trace(ip: "netns add \(shellQuoted(name))", in: nil)
        let path = "\(netnsDirectory)/\(name)"
        let journalID = ledger.newNamespaceID()
        ledger.willCreate(namespace: name, id: journalID)
        let lock = try lockNetnsDirectory()
        defer { flock(lock, LOCK_UN); close(lock) }

        let created = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if created < 0 {
            let e = errno
            ledger.abandoned(namespaceID: journalID)
            if e == EEXIST {
                throw .errno(EEXIST, "a namespace named \(name) already exists" + (namespaces.contains { $0.name == name } ? "" : "; net.open(\"\(name)\") uses one made outside this run"))
            }
            throw .errno(e, "creating \(path)")
        }
        close(created)
        var made: Namespace?
        do {
            // A new namespace on a thread of its own: its fd and a netlink
            // socket in it outlive the thread.
            let (fd, socket) = try onNamespaceThread(nil) { () throws -> (Int32, NetlinkSocket) in
                let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw SystemError("open /proc/thread-self/ns/net") }
                do { return (fd, try NetlinkSocket()) } catch { close(fd); throw error }
            }
            let ns: Namespace
            do { ns = try Namespace(name: name, fd: fd, socket: socket, owned: true, journalID: journalID, lab: self) } catch {
                close(fd)
                throw error
            }
            made = ns
            ledger.created(ns)
            try sys("mount --bind \(path)") { mount("/proc/self/fd/\(fd)", path, "none", UInt(MS_BIND), nil) }
            trace(ip: "link set dev lo up", in: ns)
            try ns.request(Requests.setLink(index: 1, .init(up: true)), "lo up")   // lo is ifindex 1
            return ns
        } catch {
            umount2(path, Int32(MNT_DETACH))
            unlink(path)
            if let made { made.release(); ledger.removed(made) } else { ledger.abandoned(namespaceID: journalID) }
            throw LabError.wrap(error, "creating namespace \(name)")
        }
    }

    /// Opens an existing named namespace. It is never removed by nslua.
    public func openNamespace(_ name: String) throws(LabError) -> Namespace {
        try Validate.namespaceName(name)
        if let known = namespaces.first(where: { $0.name == name }), known.isMounted(at: "\(netnsDirectory)/\(name)") {
            return known
        }
        try checkOpen()
        let path = "\(netnsDirectory)/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound("No such namespace", "there is no namespace named \(Validate.shown(name)) (ip netns list)") }
            throw .errno(errno, "opening \(path)")
        }
        do {
            let socket = try onNamespaceThread(fd) { try NetlinkSocket() }
            let ns = try Namespace(name: name, fd: fd, socket: socket, owned: false, journalID: ledger.newNamespaceID(), lab: self)
            ledger.opened(ns)
            return ns
        } catch {
            close(fd)
            throw LabError.wrap(error, "opening namespace \(name) (is it a network namespace?)")
        }
    }

    /// Equivalent to `ip netns del NAME`, for a namespace this run created.
    /// Links the run moved into it but did not make go back first. If the
    /// name now belongs to another namespace (deleted and re-created behind
    /// this run's back), that one is left alone.
    public func deleteNamespace(_ ns: Namespace) throws(LabError) {
        try ns.checkAlive()
        var problems: [String] = []
        let deletion = try prepareDeletion(of: ns, problems: &problems)
        ns.release()
        let gone = finishDeletion(of: ns, deletion, unmounted: deletion.mounted ? unmountNamespace(deletion.name) : nil, problems: &problems)
        if !problems.isEmpty { throw Lab.deletionError(deletion.name, gone: gone, problems) }
    }

    private static func deletionError(_ name: String, gone: Bool, _ problems: [String]) -> LabError {
        .invalid("namespace \(name) \(gone ? "deleted with problems" : "not deleted")", problems.joined(separator: "; "))
    }

    /// What deleting a namespace needs to know once it is checked.
    struct Deletion {
        let name: String
        /// Still this run's namespace at its path (else the path is left alone).
        let mounted: Bool
    }

    /// Everything of a deletion up to the unmount: the checks, links of
    /// others put back, its captures stopped. Throws (with the problems so
    /// far) if it must be kept.
    private func prepareDeletion(of ns: Namespace, problems: inout [String]) throws(LabError) -> Deletion {
        guard let name = ns.name, ns.owned else {
            throw .invalid("Operation not permitted", "\(ns.displayName) was not created by this run; nslua only deletes what it made")
        }
        putBackForeignLinks(in: ns, problems: &problems)
        // Deleting it would destroy a link of others still in it.
        let held = ledger.touched.filter { $0.namespace === ns && !$0.isDeleted }
        if !held.isEmpty {
            problems.append("kept: it holds \(held.map(\.lastName).joined(separator: ", ")) of others, which could not be put back; "
                            + "move them out (ip -n \(name) link set DEV netns ...), then ip netns del \(name)")
            throw .invalid("namespace \(name) not deleted", problems.joined(separator: "; "))
        }
        let mounted = ns.isMounted(at: "\(netnsDirectory)/\(name)")
        if mounted { trace(ip: "netns del \(shellQuoted(name))", in: nil) }
        for c in captures where c.namespace === ns { c.stop() }
        return Deletion(name: name, mounted: mounted)
    }

    /// The rest, once it is unmounted (`unmounted`: nil, or what went wrong)
    /// and released. Journalled as gone only once it is: a run killed before
    /// that leaves a journal from which --clean finishes the job.
    /// Returns whether it is gone (false: still mounted, and still in the journal).
    @discardableResult
    private func finishDeletion(of ns: Namespace, _ d: Deletion, unmounted problem: String?, problems: inout [String]) -> Bool {
        if let problem { problems.append(problem); leftBehind = true } else { ledger.removed(ns) }
        if !d.mounted { problems.append("\(netnsDirectory)/\(d.name) is no longer the namespace this run made (deleted or re-created outside nslua): left alone") }
        return problem == nil
    }

    /// Deletes several namespaces this run created (teardown). The unmounts,
    /// each of which waits for an RCU grace period in the kernel
    /// (namespace_unlock), run on several threads so that the waits overlap;
    /// the namespaces are released (their fds and sockets closed) only after
    /// all are unmounted, so that the kernel frees them in one batch rather
    /// than while the other unmounts wait. One problem string per namespace
    /// that was kept or had a problem.
    func deleteNamespaces(_ list: [Namespace]) -> [String] {
        var problems: [String] = []
        var ready: [(ns: Namespace, deletion: Deletion, problems: [String])] = []
        for ns in list {
            var own: [String] = []
            do {
                try ns.checkAlive()
                ready.append((ns, try prepareDeletion(of: ns, problems: &own), own))
            } catch {
                problems.append("namespace \(ns.displayName): \(error)")
                leftBehind = true
            }
        }
        let outcome = ParallelResults<String?>(count: ready.count, initial: nil)
        let names = ready.map { $0.deletion.mounted ? $0.deletion.name : nil }
        runParallel(count: ready.count, width: 16) { [self] i in
            if let name = names[i] { outcome[i] = unmountNamespace(name) }
        }
        for (i, var r) in ready.enumerated() {
            r.ns.release()
            let gone = finishDeletion(of: r.ns, r.deletion, unmounted: outcome[i], problems: &r.problems)
            if !r.problems.isEmpty {
                problems.append("namespace \(r.ns.displayName): \(Lab.deletionError(r.deletion.name, gone: gone, r.problems))")
            }
        }
        return problems
    }

    /// Unmounts and removes `netnsDirectory/name` (name validated: never a
    /// path outside the directory). nil on success, else what went wrong.
    func unmountNamespace(_ name: String) -> String? {
        guard (try? Validate.namespaceName(name)) != nil else { return "invalid name" }
        let path = "\(netnsDirectory)/\(name)"
        if umount2(path, Int32(MNT_DETACH) | 8 /* UMOUNT_NOFOLLOW */) != 0 && errno != EINVAL && errno != ENOENT {
            return "unmounting \(path): \(errnoDescription(errno))"
        }
        if unlink(path) != 0 && errno != ENOENT { return "removing \(path): \(errnoDescription(errno))" }
        return nil
    }

    /// Removes `netnsDirectory/name` if it is an empty regular file that is not
    /// a mount point (a namespace file whose creation was cut short).
    func removeUnmountedNamespaceFile(_ name: String) -> Bool {
        guard (try? Validate.namespaceName(name)) != nil, let lock = try? lockNetnsDirectory() else { return false }
        defer { flock(lock, LOCK_UN); close(lock) }
        let path = "\(netnsDirectory)/\(name)"
        var st = stat(), dir = stat()
        guard lstat(path, &st) == 0, stat(netnsDirectory, &dir) == 0,
              st.st_mode & S_IFMT == S_IFREG, st.st_size == 0, st.st_dev == dir.st_dev else { return false }
        return unlink(path) == 0
    }

    /// mkdir /run/netns, make it a shared mount point of its own (bind,
    /// private, shared, as DESIGN.md rule 3 says), and flock it.
    private func lockNetnsDirectory() throws(LabError) -> Int32 {
        if mkdir(netnsDirectory, 0o755) != 0 && errno != EEXIST {
            throw .errno(errno, "creating \(netnsDirectory)")
        }
        let fd = open(netnsDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(errno, "opening \(netnsDirectory)") }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { let e = errno; close(fd); throw .errno(e, "locking \(netnsDirectory)") }
        }
        if mount("", netnsDirectory, "none", UInt(MS_SHARED | MS_REC), nil) != 0 {
            guard errno == EINVAL,
                  mount(netnsDirectory, netnsDirectory, "none", UInt(MS_BIND | MS_REC), nil) == 0,
                  mount("", netnsDirectory, "none", UInt(MS_PRIVATE | MS_REC), nil) == 0,
                  mount("", netnsDirectory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 else {
                let e = errno
                flock(fd, LOCK_UN); close(fd)
                throw .errno(e, "making \(netnsDirectory) a shared mount")
            }
        }
        return fd
    }

    // MARK: Links

    /// The one Link object for the link described by `m` in `ns`.
    func link(in ns: Namespace, message m: LinkMessage) -> Link { ledger.link(in: ns, message: m) }

    /// The link named `name` in `ns`, or nil. Such a link is not owned unless
    /// this run made it.
    public func link(named name: String, in ns: Namespace) throws(LabError) -> Link? {
        guard let m = try ns.linkMessage(named: name) else { return nil }
        return link(in: ns, message: m)
    }

    public func links(in ns: Namespace) throws(LabError) -> [Link] {
        try ns.linkMessages().map { link(in: ns, message: $0) }
    }

    /// Equivalent to `ip link add NAME [netns NS] type veth peer name PEER [netns PEERNS]`:
    /// each end is born in its namespace (far cheaper than creating, then
    /// moving). nil names let the kernel choose (veth0, veth1, ...).
    public func createVeth(_ name: String?, _ peerName: String?, in ns: Namespace? = nil,
                           peerIn peerNS: Namespace? = nil) throws(LabError) -> (Link, Link) {
        try checkOpen()
        if let name { try Validate.interfaceName(name) }
        if let peerName { try Validate.interfaceName(peerName) }
        let ns = ns ?? host!
        let peerNS = peerNS ?? ns
        try ns.checkAlive()
        try peerNS.checkAlive()
        if ns === peerNS, let name, name == peerName {
            throw .invalid("File exists", "both ends are named \(name) in \(ns.displayName)")
        }
        let peerFD: Int32? = peerNS === ns ? nil : try peerNS.fd()
        let (mac, peerMAC) = (freshMAC(), freshMAC())
        let (serial, peerSerial) = (ledger.newSerial(), ledger.newSerial())
        trace(ip: "link add " + (name.map { "\($0) " } ?? "") + "type veth" + (peerName.map { " peer name \($0)" } ?? (peerNS === ns ? "" : " peer"))
              + (peerNS === ns ? "" : " netns \(peerNS.name.map(shellQuoted) ?? "$$")"), in: ns)
        ledger.willCreate(links: [(serial, ns, mac, "veth"), (peerSerial, peerNS, peerMAC, "veth")])
        let reply: [NetlinkMessage]
        do {
            reply = try ns.request(Requests.newVeth(name: name, mac: mac, peer: peerName, peerMAC: peerMAC, peerNamespaceFD: peerFD))
        } catch where error.kind == .kernel(EEXIST) {
            ledger.abandoned(serials: [serial, peerSerial])
            let taken = (name.flatMap { try? ns.linkMessage(named: $0) }) != nil ? (name ?? "?", ns) : (peerName ?? "?", peerNS)
            throw LabError(error.kind, error.reason, "a link named \(taken.0) already exists in \(taken.1.displayName)")
        } catch {
            ledger.abandoned(serials: [serial, peerSerial])
            throw error
        }
        // The echo names the first end and its peer's ifindex; without it
        // (kernels before 6.1) both are looked up.
        let first = try created(reply, name: name, mac: mac, in: ns)
        let second: LinkMessage?
        if let peerIndex = first?.link, peerIndex > 0 {
            second = try peerNS.linkMessage(index: peerIndex)
        } else if let peerName {
            second = try peerNS.linkMessage(named: peerName)
        } else {
            second = nil
        }
        guard let first, let second, second.mac == peerMAC else {
            ledger.abandoned(serials: [serial, peerSerial])
            throw .notFound("No such device", "the new veth pair did not appear in \(ns.displayName)")
        }
        let a = Link(namespace: ns, index: first.index, name: first.name, owned: true, serial: serial, mac: mac, kind: "veth")
        let b = Link(namespace: peerNS, index: second.index, name: second.name, owned: true, serial: peerSerial, mac: peerMAC, kind: "veth")
        a.peerLink = b
        b.peerLink = a
        ledger.created([a, b])
        return (a, b)
    }

    /// The link a create request made: from its echo, else looked up.
    private func created(_ reply: [NetlinkMessage], name: String?, mac: MACAddress, in ns: Namespace) throws(LabError) -> LinkMessage? {
        if let echo = reply.first(where: { $0.type == RTM.NEWLINK }), let m = try? LinkMessage(echo), m.mac == mac { return m }
        guard let name else { return nil }
        return try ns.linkMessage(named: name)
    }

    /// Equivalent to `ip link add NAME type bridge` in `ns` (default: host).
    public func createBridge(_ name: String, in ns: Namespace? = nil) throws(LabError) -> Link {
        try createLink(name, kind: "bridge", in: ns ?? host!, command: "link add \(name) type bridge") { mac in
            Requests.newBridge(name: name, mac: mac)
        }
    }

    /// Makes one link of `kind`, born in `ns`, with the request `make` builds
    /// for the MAC nslua chose (sent on `sentIn`'s socket, default `ns`'s):
    /// journalled before it is asked for, settled once it exists.
    func createLink(_ name: String, kind: String, in ns: Namespace, sentIn: Namespace? = nil, command: String,
                    _ make: (MACAddress) -> NetlinkRequest) throws(LabError) -> Link {
        try checkOpen()
        try Validate.interfaceName(name)
        try ns.checkAlive()
        let mac = freshMAC()
        let serial = ledger.newSerial()
        trace(ip: command, in: sentIn ?? ns)
        ledger.willCreate(links: [(serial, ns, mac, kind)])
        let reply: [NetlinkMessage]
        do {
            reply = try (sentIn ?? ns).request(make(mac))
        } catch where error.kind == .kernel(EEXIST) {
            ledger.abandoned(serials: [serial])
            // The name, or something else the kind must not share (a VXLAN's VNI and port).
            if (try? ns.linkMessage(named: name)) ?? nil != nil {
                throw LabError(error.kind, error.reason, "a link named \(name) already exists in \(ns.displayName)")
            }
            throw LabError(error.kind, error.reason, [error.detail, "making \(name) in \(ns.displayName)"].compactMap { $0 }.joined(separator: "; "))
        } catch where error.kind == .kernel(EOPNOTSUPP) && (error.detail ?? "").contains("Unknown device type") {
            ledger.abandoned(serials: [serial])
            throw LabError.missingKind(kind, error)
        } catch {
            ledger.abandoned(serials: [serial])
            throw error
        }
        guard let m = try created(reply, name: name, mac: mac, in: ns) else {
            ledger.abandoned(serials: [serial])
            throw .notFound("No such device", "\(name) did not appear in \(ns.displayName)")
        }
        let l = Link(namespace: ns, index: m.index, name: m.name, owned: true, serial: serial, mac: mac, kind: kind)
        ledger.created([l])
        return l
    }

    // MARK: Routes

    /// Equivalent to `ip route add|del DST [via GW] [dev DEV] [metric N]` in `ns`.
    /// `destination` is "default", "default6", or a CIDR ("10.1.0.0/16", "fd00::/64");
    /// a bare address is a host route.
    public func route(add: Bool, in ns: Namespace, destination: String, via: String?, device: Link?,
                      metric: UInt32? = nil) throws(LabError) {
        try ns.checkAlive()
        let gateway = try via.map { (v: String) throws(LabError) -> IPAddress in try Validate.address(v) }
        var prefix: IPPrefix?
        var family: UInt8
        switch destination {
        case "default", "default6":
            family = destination == "default6" ? AF.INET6 : (gateway?.family ?? AF.INET)
        default:
            do { prefix = try IPPrefix(parsing: destination, hostDefault: true) } catch {
                throw .invalid("invalid destination", "'\(Validate.shown(destination))': \(error.description)")
            }
            family = prefix!.address.family
        }
        if let gateway, gateway.family != family {
            throw .invalid("invalid gateway", "\(gateway) is not of the same family as \(Validate.shown(destination))")
        }
        if add && gateway == nil && device == nil {
            throw .invalid("invalid route", "give a gateway (via) or a device (dev)")
        }
        if let device {
            try device.checkAlive()
            guard device.namespace === ns else {
                throw .invalid("invalid device", "\(device.label) is not in \(ns.displayName)")
            }
        }
        let text = (prefix.map { "\($0.network)" } ?? "default") + (gateway.map { " via \($0)" } ?? "")
            + (device.map { " dev \($0.lastName)" } ?? "") + (metric.map { " metric \($0)" } ?? "")
        trace(ip: "\(family == AF.INET6 ? "-6 " : "")route \(add ? "add" : "del") \(text)", in: ns)
        do {
            try ns.request(Requests.route(add: add, destination: prefix, family: family, gateway: gateway,
                                          outputIndex: device?.index, metric: metric))
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "\(ns.displayName) already has a route to \(prefix.map { "\($0.network)" } ?? "default")")
        } catch where error.kind == .kernel(ENETUNREACH) {
            if let device, let m = try? device.message(), !m.isUp {
                throw LabError(error.kind, error.reason, "\(device.label) is down")
            }
            throw LabError(error.kind, error.reason, "no address of \(ns.displayName) is on the network of gateway \(gateway.map { "\($0)" } ?? "?")")
        } catch where error.kind == .kernel(ESRCH) {
            throw LabError(error.kind, error.reason, "\(ns.displayName) has no route \(text)")
        }
    }

    // MARK: Teardown

    /// Puts the links this run did not make but changed (those now in `ns`,
    /// or all) back as they were: their namespace, name and MAC, without the
    /// impairment it put on them. Each only if it is still that link.
    private func putBackForeignLinks(in ns: Namespace?, problems: inout [String]) {
        for l in ledger.touched where ns == nil || l.namespace === ns {
            guard let origin = l.origin, !l.isDeleted else { continue }
            guard let m = l.current() else {
                problems.append("\(l.label): ifindex \(l.index) is no longer the link this run changed (\(origin.name) of \(origin.namespace.displayName)); left alone")
                ledger.putBack(l)
                continue
            }
            do {
                if let note = try putBack(l, m, origin) { problems.append(note) }
                ledger.putBack(l)
            } catch {
                problems.append("could not put \(l.label) back as \(origin.name) in \(origin.namespace.displayName): \(error)")
            }
        }
    }

    /// One link back as `o` says it was; a note if not quite (its name is taken).
    private func putBack(_ l: Link, _ m: LinkMessage, _ o: Link.Origin) throws(LabError) -> String? {
        let impaired = l.netem != nil || l.rateLimit != nil
        let (note, index, name) = try restore(m, in: l.namespace, to: o.namespace, name: o.name, mac: o.mac, removingQdisc: impaired)
        if impaired {
            l.netem = nil
            l.rateLimit = nil
            ledger.unimpaired(l)
        }
        l.lastName = name
        l.givenName = name
        if l.namespace !== o.namespace { ledger.moved(l, to: o.namespace, index: index) }
        return note
    }

    /// Puts the link `m` of `ns` back into `home` as `name` with `mac` (and
    /// without a root qdisc): moved, renamed (down, rename, up: a link that
    /// is up cannot be renamed), re-MACed as needed. If another link has
    /// taken the name meanwhile, it keeps its name (or, moving, gets a free
    /// one), and the note says so. Returns its ifindex and name there.
    func restore(_ m: LinkMessage, in ns: Namespace, to home: Namespace, name wanted: String, mac: MACAddress?,
                 removingQdisc: Bool) throws(LabError) -> (note: String?, index: Int32, name: String) {
        let what = "\(m.name)@\(ns.displayName)"
        if removingQdisc {
            trace(tc: "qdisc del dev \(m.name) root", in: ns)
            do {
                try ns.request(Requests.deleteRootQdisc(index: m.index), "removing the impairment on \(what)")
            } catch where error.kind == .kernel(ENOENT) || error.kind == .kernel(EINVAL) {}
        }
        var name = wanted, note: String?
        if home !== ns || name != m.name, let other = try home.linkMessage(named: name), home !== ns || other.index != m.index {
            name = home === ns ? m.name : freeName(like: wanted, in: home)
            note = "\(wanted) is taken in \(home.displayName) by another link: \(what) went back as \(name)"
        }
        var index = m.index
        if home !== ns {
            try home.checkAlive()
            trace(ip: "link set dev \(m.name) netns \(home.name ?? "$$")" + (name != m.name ? " name \(name)" : ""), in: ns)
            try ns.request(Requests.setLink(index: m.index, .init(name: name != m.name ? name : nil, namespaceFD: try home.fd())),
                           "moving \(what) back to \(home.displayName)")
            guard let back = try home.linkMessage(named: name) else {
                throw .notFound("No such device", "\(name) did not appear in \(home.displayName)")
            }
            index = back.index
        } else if name != m.name {
            let wasUp = m.flags & IFF.UP != 0
            if wasUp {
                trace(ip: "link set dev \(m.name) down", in: ns)
                try ns.request(Requests.setLink(index: index, .init(up: false)), "renaming \(what) back")
            }
            trace(ip: "link set dev \(m.name) name \(name)", in: ns)
            try ns.request(Requests.setLink(index: index, .init(name: name)), "renaming \(what) back to \(name)")
            if wasUp {
                trace(ip: "link set dev \(name) up", in: ns)
                try ns.request(Requests.setLink(index: index, .init(up: true)), "renaming \(what) back")
            }
        }
        if let mac, m.mac != mac {
            trace(ip: "link set dev \(name) address \(mac)", in: home)
            try home.request(Requests.setLink(index: index, .init(mac: mac)), "giving \(name)@\(home.displayName) its MAC back")
        }
        return (note, index, name)
    }

    /// `base` shortened as needed and numbered ("eth1-1"), free in `ns`.
    func freeName(like base: String, in ns: Namespace) -> String {
        let taken = Set(((try? ns.linkMessages()) ?? []).map(\.name))
        for n in 1... {
            let suffix = "-\(n)"
            let name = String(base.utf8.prefix(15 - suffix.utf8.count)).map { $0 + suffix } ?? base
            if !taken.contains(name) { return name }
        }
        return base
    }

    /// Removes what this run owns (unless `keep`): programs it started,
    /// captures, impairments on links it did not make, links it moved go
    /// back, then its namespaces (the kernel frees their links in one batch),
    /// then its links elsewhere — each only if it is still the one it made.
    /// Never throws; returns what could not be removed or looked odd.
    /// `final`: nslua is exiting, nothing may be made after this.
    /// Serialised: the watchdog's teardown (after an unheeded SIGTERM) waits
    /// for a net.cleanup() the main thread is still running.
    @discardableResult
    public func teardown(final: Bool = false) -> [String] {
        teardownLock.withLock { _ in tearDown(final: final) }
    }

    private func tearDown(final: Bool) -> [String] {
        if final { isClosed = true }
        var problems: [String] = []
        for c in captures { c.stop() }
        captures.removeAll()
        killProcessGroups()
        if keep {
            ledger.finished()
            return []
        }
        putBackForeignLinks(in: nil, problems: &problems)
        problems += deleteNamespaces(namespaces.reversed().filter(\.owned))
        var left = leftBehind
        for link in ledger.owned.reversed() where !link.isDeleted {
            // Only if it is still the link we made: same ifindex and MAC.
            guard let m = try? link.namespace.linkMessage(index: link.index) else {
                ledger.deleted(link)
                continue
            }
            guard link.isSame(m) else {
                problems.append("\(link.label): ifindex \(link.index) is now \(m.name), not the link this run made; left alone")
                ledger.deleted(link)
                continue
            }
            if m.name != link.givenName {
                problems.append("\(m.name)@\(link.namespace.displayName) was renamed outside this run (made as \(link.givenName)); removed all the same")
                link.lastName = m.name
            }
            do { try link.deleteNow() } catch where error.kind == .notFound || error.kind == .kernel(ENODEV) {
                ledger.deleted(link)   // gone meanwhile: its peer's namespace was freed by the kernel
            } catch {
                problems.append("link \(link.label): \(error)")
                left = true
            }
        }
        if left, let path = ledger.journalPath {
            problems.append("what is left is still in \(path): nslua --clean tries again")
        }
        ledger.finished(keepJournal: left)
        leftBehind = false
        return problems
    }

    /// Ends every program exec started that may still run: the PID namespace
    /// they were born in (whatever they did to detach), and their process
    /// groups (where there is no such namespace).
    func killProcessGroups() {
        processJail.end()
        let groups = processGroups.withLock { g in defer { g.removeAll() }; return g }
        for pgid in groups { kill(-pgid, SIGKILL) }
    }
}

/// A word as a POSIX shell reads it: as is when safe, else single-quoted.
func shellQuoted(_ s: String) -> String {
    let safe = s.unicodeScalars.allSatisfy { c in
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "-_./:=@%+,".unicodeScalars.contains(c))
    }
    if safe && !s.isEmpty { return s }
    return "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
