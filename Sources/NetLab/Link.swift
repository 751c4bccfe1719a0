import Glibc
import Netlink

/// A network interface, known by its namespace and ifindex. Its fields are
/// read from the kernel when asked, so they are always current.
public final class Link: @unchecked Sendable {
    public internal(set) var namespace: Namespace
    public internal(set) var index: Int32
    /// The last name seen (for messages once the link is gone).
    public internal(set) var lastName: String
    /// Created by this run (and so removed by its teardown).
    public let owned: Bool
    public private(set) var isDeleted = false
    /// Unique within the run (the journal's key for this link).
    let serial: Int
    /// Its identity: the MAC nslua gave it when it made it (or the MAC it had
    /// when this run first changed it, or the one this run set). Nothing
    /// re-created under the same name or ifindex has it.
    var identityMAC: MACAddress?
    /// The random MAC nslua made it with (a link this run made): the one
    /// identity no other lab can share, whatever MAC a script sets later.
    let creationMAC: MACAddress?
    /// Its kind ("veth", "bridge"; "device" for one without IFLA_INFO_KIND),
    /// for a link this run made or changed.
    var kind: String?
    /// The name this run gave it (made, renamed or moved as), or found it
    /// with when it first changed it: a different name at teardown means
    /// someone renamed it behind the run's back.
    var givenName: String
    /// For a link this run did not make but changed (moved, renamed, re-MACed,
    /// impaired): where it was and how, before the first change. Teardown
    /// puts it back so.
    var origin: Origin?

    struct Origin {
        var namespace: Namespace
        var index: Int32
        var name: String
        var mac: MACAddress?
        var kind: String
    }
    /// IPv6 addresses given with `nodad` (usable at once, once the kernel has
    /// finished bringing the link up).
    var nodadAddresses: [IPAddress] = []
    /// The other end, for a veth this run made; the bridge this run put it on.
    weak var peerLink: Link?
    weak var masterLink: Link?
    /// The impairment this run put on the link (netem, tbf), if any.
    public internal(set) var netem: Netem?
    public internal(set) var rateLimit: RateLimit?

    init(namespace: Namespace, index: Int32, name: String, owned: Bool, serial: Int, mac: MACAddress? = nil, kind: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.index = index
        self.lastName = name
        self.givenName = name
        self.owned = owned
        self.serial = serial
        self.identityMAC = mac
        self.creationMAC = owned ? mac : nil
    }

    var lab: Lab? { namespace.lab }

    /// "veth0@ns1".
    public var label: String { "\(lastName)@\(namespace.displayName)" }

    func checkAlive() throws(LabError) {
        if isDeleted { throw .notFound("No such device", "link \(label) has been deleted") }
        try namespace.checkAlive()
    }

    func markDeleted() { isDeleted = true }

    /// The kernel's current view of this link.
    func message() throws(LabError) -> LinkMessage {
        try checkAlive()
        guard let m = try namespace.linkMessage(index: index) else {
            isDeleted = true
            throw .notFound("No such device", "link \(label) no longer exists")
        }
        if !isSame(m) {
            // Deleted behind this run's back, and the ifindex given to another.
            isDeleted = true
            throw .notFound("No such device", "link \(label) no longer exists (ifindex \(index) is now \(m.name), another link)")
        }
        lastName = m.name
        return m
    }

    /// Whether ifindex `index` in its namespace is still this link (its MAC
    /// is the one the run knows it by); nil if nothing is there.
    func current() -> LinkMessage? {
        guard !isDeleted, !namespace.isDeleted, let m = try? namespace.linkMessage(index: index), isSame(m) else { return nil }
        return m
    }

    /// Whether `m` (found at this link's ifindex) describes this link: it has
    /// the MAC the run knows it by. A bridge the run did not make takes the
    /// lowest MAC of its ports, so for one of those the kind must do; a tun
    /// has no MAC: its kind and the name the run gave it.
    func isSame(_ m: LinkMessage) -> Bool {
        guard let identityMAC else {
            // No MAC to know it by (a tun): its kind and name must match.
            return kind == nil || ((m.kind ?? "device") == kind && m.name == givenName)
        }
        if m.mac == identityMAC { return true }
        return !owned && kind == "bridge" && m.kind == "bridge"
    }

    /// Equivalent to `ip -d link show DEV`, as a value.
    public func info() throws(LabError) -> LinkInfo {
        let m = try message()
        var info = LinkInfo(m)
        if let master = m.master, master > 0 { info.master = try? namespace.linkMessage(index: master)?.name }
        if let p = try? peer(of: m) { info.peer = p.label }
        return info
    }

    /// `ip link set DEV ...`: one change, traced as `command`.
    private func set(_ change: Requests.LinkChange, _ command: String) throws(LabError) {
        try checkAlive()
        lab?.trace(ip: "link set dev \(lastName) \(command)", in: namespace)
        try namespace.request(Requests.setLink(index: index, change), "\(command) on \(label)")
    }

    /// Equivalent to `ip link set DEV up`. When it returns, the link is ready
    /// for traffic. The kernel applies carrier changes in its link watcher,
    /// up to a second later, and until then the link drops what it sends (its
    /// qdisc is still "noop"). A lookup of the link (RTM_GETLINK) applies them
    /// at once (rtnl_getlink calls linkwatch_sync_dev, Linux 6.8+), so nslua
    /// looks up this link, its veth peer and their bridges right after, and
    /// again while one is still waiting (the watcher may hold its event).
    public func up() throws(LabError) {
        try checkAlive()
        lab?.trace(ip: "link set dev \(lastName) up", in: namespace)
        let results = try namespace.requests([Requests.setLink(index: index, .init(up: true)),
                                              Requests.getLink(index: index)])
        if case .failure(let e) = results[0] {
            throw LabError(e.kind, e.reason, [e.detail, "up on \(label)"].compactMap { $0 }.joined(separator: "; "))
        }
        var pending: [Link] = []
        if case .success(let reply) = results[1], let m = reply.first.flatMap({ try? LinkMessage($0) }),
           m.isWaitingForActivation { pending.append(self) }
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        for other in [masterLink, peerLink, peerLink?.masterLink] {
            guard let other, !other.isDeleted, !other.namespace.isDeleted, seen.insert(ObjectIdentifier(other)).inserted else { continue }
            if let m = try? other.namespace.linkMessage(index: other.index), m.isWaitingForActivation { pending.append(other) }
        }
        // The watcher had taken an event already: it finishes within moments.
        // Then the `nodad` IPv6 addresses at both ends: applying the carrier
        // change queues their (skipped) DAD, and until that work has run the
        // link has not joined their solicited-node groups, so a neighbour
        // solicitation for them is dropped (and retried a second later).
        var joining = [self, peerLink].compactMap { $0 }.filter { !$0.nodadAddresses.isEmpty && !$0.isDeleted }
        var tries = 0
        while !(pending.isEmpty && joining.isEmpty) && tries < 2000 {
            if tries > 0 { usleep(1000) }
            tries += 1
            pending = pending.filter { l in (try? l.namespace.linkMessage(index: l.index))?.isWaitingForActivation ?? false }
            joining = joining.filter { !$0.hasJoinedSolicitedNodeGroups() }
        }
    }

    /// Whether the link answers neighbour solicitations for all its `nodad`
    /// addresses: it has joined their solicited-node groups, and none is still
    /// tentative. Both happen in the kernel's addrconf work, which a loaded
    /// machine may run hundreds of milliseconds late (two addresses can share
    /// a group, so the group alone does not tell).
    private func hasJoinedSolicitedNodeGroups() -> Bool {
        guard let groups = try? namespace.dump(Requests.dumpMulticastGroups()) else { return true }
        let joined = Set(groups.compactMap { try? MulticastGroupMessage($0) }
            .filter { $0.index == UInt32(bitPattern: index) }.map(\.group))
        guard nodadAddresses.allSatisfy({ $0.solicitedNodeGroup.map(joined.contains) ?? true }) else { return false }
        guard let addrs = try? namespace.addressMessages() else { return true }
        let wanted = Set(nodadAddresses.map(\.bytes))
        return !addrs.contains { $0.index == UInt32(bitPattern: index) && wanted.contains($0.prefix.address.bytes)
                                 && $0.flags & 0x40 /* IFA_F_TENTATIVE */ != 0 }
    }

    /// Equivalent to `ip link set DEV down`.
    public func down() throws(LabError) { try set(.init(up: false), "down") }

    /// Equivalent to `ip link set DEV mtu N`.
    public func setMTU(_ mtu: Int64) throws(LabError) {
        try set(.init(mtu: try Validate.mtu(mtu)), "mtu \(mtu)")
    }

    /// Equivalent to `ip link set DEV address MAC`. The new MAC becomes the
    /// link's identity (journalled before it is set).
    public func setMAC(_ text: String) throws(LabError) {
        let mac = try Validate.mac(text)
        try checkAlive()
        try lab?.ledger.willChange(self, mac: mac)
        try set(.init(mac: mac), "address \(mac)")
        identityMAC = mac
        lab?.ledger.changed(self)
    }

    /// Equivalent to `ip link set DEV name NEW`.
    public func rename(_ name: String) throws(LabError) {
        try Validate.interfaceName(name)
        try checkAlive()
        try lab?.ledger.touch(self)
        do {
            try set(.init(name: name), "name \(name)")
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "a link named \(name) already exists in \(namespace.displayName)")
        } catch where error.kind == .kernel(EBUSY) {
            throw LabError(error.kind, error.reason, "\(label) must be down to be renamed")
        }
        lastName = name
        givenName = name
        lab?.ledger.changed(self)
    }

    /// Equivalent to `ip link set DEV master BR` (or `nomaster` with nil).
    public func setMaster(_ bridge: Link?) throws(LabError) {
        if let bridge {
            try bridge.checkAlive()
            guard bridge.namespace === namespace else {
                throw .invalid("Invalid argument", "\(bridge.label) is in another namespace than \(label)")
            }
            do {
                try set(.init(master: bridge.index), "master \(bridge.lastName)")
            } catch where error.kind == .kernel(EXFULL) {
                throw LabError(error.kind, error.reason, "\(bridge.label) has 1023 ports, the most a Linux bridge can hold (BR_MAX_PORTS is 1024, and port number 0 is reserved); spread the hosts over several bridges")
            }
            masterLink = bridge
        } else {
            try set(.init(master: 0), "nomaster")
            masterLink = nil
        }
    }

    /// Equivalent to `ip link set DEV netns NS [name NEW]`.
    public func move(into target: Namespace, name newName: String? = nil) throws(LabError) {
        if let newName { try Validate.interfaceName(newName) }
        try checkAlive()
        let fd = try target.fd()
        let finalName = newName ?? lastName
        try lab?.ledger.willMove(self, to: target)
        let dest = target.name ?? "$$"   // the shell's own namespace stands for the host
        lab?.trace(ip: "link set dev \(lastName) netns \(dest)" + (newName.map { " name \($0)" } ?? ""), in: namespace)
        do {
            try namespace.request(Requests.setLink(index: index, .init(name: newName, namespaceFD: fd)),
                                  "netns \(target.displayName) on \(label)")
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "a link named \(finalName) already exists in \(target.displayName)")
        }
        guard let m = try target.linkMessage(named: finalName), isSame(m) else {
            throw .notFound("No such device", "\(finalName) did not appear in \(target.displayName)")
        }
        lastName = finalName
        givenName = finalName
        lab?.ledger.moved(self, to: target, index: m.index)
    }

    /// Equivalent to `ip link del DEV`, for a link this run made.
    public func delete() throws(LabError) {
        try checkAlive()
        guard owned else {
            throw .invalid("Operation not permitted", "\(label) was not created by this run; nslua only deletes what it made")
        }
        try deleteNow()
    }

    /// Deletes the link (and, for a veth, its peer with it).
    func deleteNow() throws(LabError) {
        lab?.trace(ip: "link del dev \(lastName)", in: namespace)
        try namespace.request(Requests.deleteLink(index: index), "deleting \(label)")
        lab?.ledger.deleted(self)
        if let peer = peerLink { lab?.ledger.deleted(peer) }
    }

    // MARK: Addresses

    /// Equivalent to `ip addr add PREFIX dev DEV [nodad]` (`nodad`: an IPv6
    /// address usable at once, without duplicate address detection).
    public func addAddress(_ text: String, nodad: Bool = false) throws(LabError) {
        let prefix = try Validate.prefix(text)
        try checkAlive()
        lab?.trace(ip: "addr add \(prefix) dev \(lastName)\(nodad ? " nodad" : "")", in: namespace)
        do {
            try namespace.request(Requests.address(add: true, index: index, prefix: prefix, flags: nodad ? IFA.F_NODAD : 0))
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "\(label) already has \(prefix)")
        }
        if nodad && !prefix.address.isV4 {
            nodadAddresses.append(prefix.address)
            // On a link already running, usable when this returns (see up()).
            if let m = try? message(), m.flags & IFF.LOWER_UP != 0 {
                var tries = 0
                while !hasJoinedSolicitedNodeGroups() && tries < 2000 { usleep(1000); tries += 1 }
            }
        }
    }

    /// Equivalent to `ip addr del PREFIX dev DEV`.
    public func removeAddress(_ text: String) throws(LabError) {
        let prefix = try Validate.prefix(text)
        try checkAlive()
        lab?.trace(ip: "addr del \(prefix) dev \(lastName)", in: namespace)
        do {
            try namespace.request(Requests.address(add: false, index: index, prefix: prefix))
        } catch where error.kind == .kernel(EADDRNOTAVAIL) {
            throw LabError(error.kind, error.reason, "\(label) has no address \(prefix)")
        }
    }

    /// This link's addresses as "a.b.c.d/n", IPv4 first; link-local IPv6 ones
    /// only when asked.
    public func addresses(linkLocal: Bool = true) throws(LabError) -> [String] {
        try checkAlive()
        return try namespace.addressMessages()
            .filter { $0.index == UInt32(bitPattern: index) && (linkLocal || !$0.prefix.address.isLinkLocalV6) }
            .sorted { ($0.prefix.address.isV4 ? 0 : 1) < ($1.prefix.address.isV4 ? 0 : 1) }
            .map(\.prefix.description)
    }

    // MARK: Peer

    /// The other end of a veth, wherever it lives now (IFLA_LINK in the
    /// namespace IFLA_LINK_NETNSID names); nil for other kinds.
    public func peer() throws(LabError) -> Link? { try peer(of: message()) }

    /// The same, from a description of this link already at hand.
    func peer(of m: LinkMessage) throws(LabError) -> Link? {
        guard m.kind == "veth", let peerIndex = m.link, peerIndex > 0, let lab else { return nil }
        if let p = peerLink, !p.isDeleted, p.index == peerIndex { return p }
        let ns: Namespace?
        if let nsid = m.linkNetnsID {
            ns = lab.allNamespaces.first { $0 !== namespace && namespace.namespaceID(of: $0) == nsid }
        } else {
            ns = namespace
        }
        guard let ns, let pm = try? ns.linkMessage(index: peerIndex), pm.kind == "veth", pm.link == index else {
            return nil
        }
        return lab.ledger.link(in: ns, message: pm)
    }
}
