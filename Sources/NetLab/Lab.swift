import CNetSys
import Glibc
import Netlink

/// One run's lab: the namespaces and links it made or opened, and what it owns.
///
/// The lab owns exactly what it created; teardown removes that (namespaces
/// first, so the kernel frees their links in one batch, then links left in
/// other namespaces) and never anything that existed before.
public final class Lab: @unchecked Sendable {
    /// Where named namespaces live (`ip netns` uses the same).
    public let netnsDirectory: String
    /// The namespace nslua started in.
    public private(set) var host: Namespace!
    /// Namespaces created or opened, in order.
    public private(set) var namespaces: [Namespace] = []
    /// Live link objects, one per (namespace, ifindex).
    private var links: [LinkKey: Link] = [:]
    /// Created links, in creation order.
    public private(set) var ownedLinks: [Link] = []
    /// Captures started in this run (stopped at teardown, before namespaces go).
    var captures: [Capture] = []
    /// Leave everything in place at teardown.
    public var keep = false
    /// Called with the iproute2 command equivalent to each change (--trace).
    public var tracer: ((String) -> Void)?
    /// Told about each object as it is made or removed (the journal).
    public var recorder: OwnershipRecorder?

    struct LinkKey: Hashable {
        let namespace: ObjectIdentifier
        let index: Int32
    }

    public init(netnsDirectory: String = "/run/netns") throws(LabError) {
        self.netnsDirectory = netnsDirectory
        let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(errno, "open /proc/thread-self/ns/net") }
        do {
            // The calling thread is in the host namespace already: no setns needed.
            let socket = try NetlinkSocket()
            host = try Namespace(name: nil, fd: fd, socket: socket, owned: false, lab: self)
        } catch {
            close(fd)
            throw LabError.wrap(error, "opening the host namespace")
        }
    }

    /// Every namespace the lab knows, host first.
    public var allNamespaces: [Namespace] { [host] + namespaces.filter { !$0.isDeleted } }

    /// Prints the command (`ip ...`, or `tc ...` with `tool`) a primitive stands for.
    func trace(_ command: String, namespace: Namespace?, tool: String = "ip") {
        guard let tracer else { return }
        if let name = namespace?.name { tracer("\(tool) -n \(name) \(command)") } else { tracer("\(tool) \(command)") }
    }

    // MARK: Namespaces

    /// Names of the named namespaces (`ip netns list`), sorted.
    public func namespaceNames() -> [String] {
        guard let dir = opendir(netnsDirectory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Equivalent to `ip netns add NAME`, done the iproute2 way so that
    /// `ip netns` sees and uses it. The new namespace's `lo` is brought up.
    public func createNamespace(_ name: String) throws(LabError) -> Namespace {
        try Validate.namespaceName(name)
        trace("netns add \(name)", namespace: nil)
        let path = "\(netnsDirectory)/\(name)"
        let lock = try lockNetnsDirectory()
        defer { flock(lock, LOCK_UN); close(lock) }

        let created = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if created < 0 {
            if errno == EEXIST { throw .errno(EEXIST, "a namespace named \(name) already exists") }
            throw .errno(errno, "creating \(path)")
        }
        close(created)
        do {
            // unshare on a thread of its own, pin it with a bind mount, and
            // open the namespace's netlink socket while we are there.
            let socket = try onNamespaceThread(nil) { () throws -> NetlinkSocket in
                try sys("mount --bind /proc/thread-self/ns/net \(path)") {
                    mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil)
                }
                let s = try NetlinkSocket()
                try s.request(Requests.setLink(index: 1, .init(up: true)))   // lo is ifindex 1
                return s
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError("open \(path)") }
            let ns = try Namespace(name: name, fd: fd, socket: socket, owned: true, lab: self)
            namespaces.append(ns)
            recorder?.created(namespace: ns)
            return ns
        } catch {
            umount2(path, Int32(MNT_DETACH))
            unlink(path)
            throw LabError.wrap(error, "creating namespace \(name)")
        }
    }

    /// Opens an existing named namespace. It is never removed by nslua.
    public func openNamespace(_ name: String) throws(LabError) -> Namespace {
        try Validate.namespaceName(name)
        if let known = namespaces.first(where: { $0.name == name && !$0.isDeleted }) { return known }
        let path = "\(netnsDirectory)/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound("No such namespace", "there is no namespace named \(name) (ip netns list)") }
            throw .errno(errno, "opening \(path)")
        }
        do {
            let socket = try onNamespaceThread(fd) { try NetlinkSocket() }
            let ns = try Namespace(name: name, fd: fd, socket: socket, owned: false, lab: self)
            namespaces.append(ns)
            return ns
        } catch {
            close(fd)
            throw LabError.wrap(error, "opening namespace \(name)")
        }
    }

    /// Equivalent to `ip netns del NAME`, for a namespace this run created.
    public func deleteNamespace(_ ns: Namespace) throws(LabError) {
        try ns.checkAlive()
        guard let name = ns.name, ns.owned else {
            throw .invalid("Operation not permitted", "\(ns.displayName) was not created by this run; nslua only deletes what it made")
        }
        trace("netns del \(name)", namespace: nil)
        for (key, link) in links where key.namespace == ObjectIdentifier(ns) { link.markDeleted() }
        ns.release()
        let path = "\(netnsDirectory)/\(name)"
        if umount2(path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw .errno(errno, "unmounting \(path)")
        }
        if unlink(path) != 0 && errno != ENOENT { throw .errno(errno, "removing \(path)") }
        recorder?.removed(namespace: ns)
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

    /// The one Link object for a link (made, not owned, if this is the first time it is seen).
    public func link(in ns: Namespace, message m: LinkMessage) -> Link { link(in: ns, message: m, owned: false) }

    func link(in ns: Namespace, message m: LinkMessage, owned: Bool) -> Link {
        let key = LinkKey(namespace: ObjectIdentifier(ns), index: m.index)
        if let l = links[key], !l.isDeleted {
            l.lastName = m.name
            return l
        }
        let l = Link(namespace: ns, index: m.index, name: m.name, owned: owned)
        links[key] = l
        return l
    }

    func relocate(_ link: Link, to ns: Namespace, index: Int32) {
        links[LinkKey(namespace: ObjectIdentifier(link.namespace), index: link.index)] = nil
        link.namespace = ns
        link.index = index
        links[LinkKey(namespace: ObjectIdentifier(ns), index: index)] = link
        if link.owned { recorder?.moved(link: link) }
    }

    func forget(_ link: Link) {
        let key = LinkKey(namespace: ObjectIdentifier(link.namespace), index: link.index)
        if links[key] === link { links[key] = nil }
        if link.owned {
            ownedLinks.removeAll { $0 === link }
            recorder?.removed(link: link)
        }
    }

    /// The link named `name` in `ns`, or nil. Such a link is not owned unless
    /// this run made it.
    public func link(named name: String, in ns: Namespace) throws(LabError) -> Link? {
        guard let m = try ns.linkMessage(named: name) else { return nil }
        return link(in: ns, message: m)
    }

    public func links(in ns: Namespace) throws(LabError) -> [Link] {
        try ns.linkMessages().map { link(in: ns, message: $0) }
    }

    private func adopt(_ name: String, in ns: Namespace) throws(LabError) -> Link {
        guard let m = try ns.linkMessage(named: name) else {
            throw .notFound("No such device", "\(name) did not appear in \(ns.displayName)")
        }
        let l = link(in: ns, message: m, owned: true)
        l.owned = true
        ownedLinks.append(l)
        recorder?.created(link: l)
        return l
    }

    /// Equivalent to `ip link add NAME [netns NS] type veth peer name PEER [netns PEERNS]`:
    /// each end is born in its namespace (far cheaper than creating, then moving).
    public func createVeth(_ name: String, _ peerName: String, in ns: Namespace? = nil,
                           peerIn peerNS: Namespace? = nil) throws(LabError) -> (Link, Link) {
        try Validate.interfaceName(name)
        try Validate.interfaceName(peerName)
        let ns = ns ?? host!
        let peerNS = peerNS ?? ns
        if ns === peerNS && name == peerName {
            throw .invalid("File exists", "both ends are named \(name) in \(ns.displayName)")
        }
        let peerFD: Int32? = peerNS === ns ? nil : try peerNS.fd()
        trace("link add \(name) type veth peer name \(peerName)" + (peerNS === ns ? "" : " netns \(peerNS.displayName)"),
              namespace: ns)
        do {
            try ns.request(Requests.newVeth(name: name, peer: peerName, peerNamespaceFD: peerFD))
        } catch where error.kind == .kernel(EEXIST) {
            let taken = (try? ns.linkMessage(named: name)) != nil ? (name, ns) : (peerName, peerNS)
            throw LabError(error.kind, error.reason, "a link named \(taken.0) already exists in \(taken.1.displayName)")
        }
        let a = try adopt(name, in: ns)
        let b: Link
        do { b = try adopt(peerName, in: peerNS) } catch {
            try? a.delete()
            throw error
        }
        return (a, b)
    }

    /// Equivalent to `ip link add NAME type bridge` in `ns` (default: host).
    public func createBridge(_ name: String, in ns: Namespace? = nil) throws(LabError) -> Link {
        try Validate.interfaceName(name)
        let ns = ns ?? host!
        trace("link add \(name) type bridge", namespace: ns)
        do {
            try ns.request(Requests.newBridge(name: name))
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "a link named \(name) already exists in \(ns.displayName)")
        }
        return try adopt(name, in: ns)
    }

    // MARK: Routes

    /// Equivalent to `ip route add|del DST [via GW] [dev DEV] [metric N]` in `ns`.
    /// `destination` is "default", "default6", or a CIDR ("10.1.0.0/16", "fd00::/64");
    /// a bare address is a host route.
    public func route(add: Bool, in ns: Namespace, destination: String, via: String?, device: Link?,
                      metric: UInt32? = nil) throws(LabError) {
        let gateway = try via.map { (v: String) throws(LabError) -> IPAddress in try Validate.address(v) }
        var prefix: IPPrefix?
        var family: UInt8
        switch destination {
        case "default", "default6":
            family = destination == "default6" ? AF.INET6 : (gateway?.family ?? AF.INET)
        default:
            do { prefix = try IPPrefix(parsing: destination, hostDefault: true) } catch {
                throw .invalid("invalid destination", error.description)
            }
            family = prefix!.address.family
        }
        if let gateway, gateway.family != family {
            throw .invalid("invalid gateway", "\(gateway) is not of the same family as \(destination)")
        }
        if add && gateway == nil && device == nil {
            throw .invalid("invalid route", "give a gateway (via) or a device (dev)")
        }
        if let device {
            try device.namespace.checkAlive()
            guard device.namespace === ns else {
                throw .invalid("invalid device", "\(device.label) is not in \(ns.displayName)")
            }
        }
        let text = (prefix.map { "\($0.network)" } ?? "default") + (gateway.map { " via \($0)" } ?? "")
            + (device.map { " dev \($0.lastName)" } ?? "") + (metric.map { " metric \($0)" } ?? "")
        trace("\(family == AF.INET6 ? "-6 " : "")route \(add ? "add" : "del") \(text)", namespace: ns)
        do {
            try ns.request(Requests.route(add: add, destination: prefix, family: family, gateway: gateway,
                                          outputIndex: device?.index, metric: metric))
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "\(ns.displayName) already has a route to \(prefix.map { "\($0.network)" } ?? "default")")
        } catch where error.kind == .kernel(ENETUNREACH) {
            if let device, let m = try? device.info(), !m.isUp {
                throw LabError(error.kind, error.reason, "\(device.label) is down")
            }
            throw LabError(error.kind, error.reason, "no address of \(ns.displayName) is on the network of gateway \(gateway.map { "\($0)" } ?? "?")")
        } catch where error.kind == .kernel(ESRCH) {
            throw LabError(error.kind, error.reason, "\(ns.displayName) has no route \(text)")
        }
    }

    // MARK: Teardown

    /// Removes what this run owns (unless `keep`): namespaces first, then
    /// links left elsewhere. Never throws; returns what could not be removed.
    @discardableResult
    public func teardown() -> [String] {
        var problems: [String] = []
        for c in captures { c.stop() }
        captures.removeAll()
        if keep {
            recorder?.finished(kept: true)
            return []
        }
        // Impairments put on links this run did not make are taken off again.
        for link in links.values where !link.owned && !link.isDeleted && (link.netem != nil || link.rateLimit != nil) {
            do {
                try link.namespace.request(Requests.deleteRootQdisc(index: link.index))
                link.netem = nil
                link.rateLimit = nil
            } catch {
                problems.append("qdisc on \(link.label): \(error)")
            }
        }
        for ns in namespaces.reversed() where ns.owned && !ns.isDeleted {
            do { try deleteNamespace(ns) } catch { problems.append("namespace \(ns.displayName): \(error)") }
        }
        for link in ownedLinks.reversed() where !link.isDeleted {
            // Only if it is still the link we made: same index and name.
            guard let m = try? link.namespace.linkMessage(index: link.index), m.name == link.lastName else {
                link.markDeleted()
                continue
            }
            do { try link.delete() } catch where error.kind == .notFound || error.kind == .kernel(ENODEV) {
                // Gone meanwhile: its peer's namespace was freed by the kernel.
            } catch {
                problems.append("link \(link.label): \(error)")
            }
        }
        for ns in namespaces where !ns.owned { ns.release() }
        namespaces.removeAll()
        links.removeAll()
        ownedLinks.removeAll()
        recorder?.finished(kept: false)
        return problems
    }
}

/// Told about each object a lab creates and removes, before or as it happens
/// (the crash journal implements it).
public protocol OwnershipRecorder: AnyObject {
    func created(namespace: Namespace)
    func removed(namespace: Namespace)
    func created(link: Link)
    func moved(link: Link)
    func removed(link: Link)
    func finished(kept: Bool)
}
