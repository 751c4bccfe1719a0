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
    public internal(set) var owned: Bool
    public private(set) var isDeleted = false
    /// Unique within the run (the journal's key for this link).
    public let serial: Int
    /// The impairment this run put on the link (netem, tbf), if any.
    public internal(set) var netem: Netem?
    public internal(set) var rateLimit: RateLimit?

    private nonisolated(unsafe) static var serials = 0

    init(namespace: Namespace, index: Int32, name: String, owned: Bool) {
        self.namespace = namespace
        self.index = index
        self.lastName = name
        self.owned = owned
        Link.serials += 1
        self.serial = Link.serials
    }

    var lab: Lab? { namespace.lab }

    /// "veth0@ns1".
    public var label: String { "\(lastName)@\(namespace.displayName)" }

    private func checkAlive() throws(LabError) {
        if isDeleted { throw .notFound("No such device", "link \(label) has been deleted") }
        try namespace.checkAlive()
    }

    /// The kernel's current view of this link.
    public func info() throws(LabError) -> LinkMessage {
        try checkAlive()
        guard let m = try namespace.linkMessage(index: index) else {
            isDeleted = true
            throw .notFound("No such device", "link \(label) no longer exists")
        }
        lastName = m.name
        return m
    }

    private func set(_ change: Requests.LinkChange, _ command: String) throws(LabError) {
        try checkAlive()
        lab?.trace("link set dev \(lastName) \(command)", namespace: namespace)
        try namespace.request(Requests.setLink(index: index, change), "\(command) on \(label)")
    }

    /// Equivalent to `ip link set DEV up`.
    public func up() throws(LabError) { try set(.init(up: true), "up") }
    /// Equivalent to `ip link set DEV down`.
    public func down() throws(LabError) { try set(.init(up: false), "down") }

    /// Equivalent to `ip link set DEV mtu N`.
    public func setMTU(_ mtu: Int64) throws(LabError) {
        try set(.init(mtu: try Validate.mtu(mtu)), "mtu \(mtu)")
    }

    /// Equivalent to `ip link set DEV address MAC`.
    public func setMAC(_ text: String) throws(LabError) {
        let mac = try Validate.mac(text)
        try set(.init(mac: mac), "address \(mac)")
    }

    /// Equivalent to `ip link set DEV name NEW`.
    public func rename(_ name: String) throws(LabError) {
        try Validate.interfaceName(name)
        do {
            try set(.init(name: name), "name \(name)")
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "a link named \(name) already exists in \(namespace.displayName)")
        } catch where error.kind == .kernel(EBUSY) {
            throw LabError(error.kind, error.reason, "\(label) must be down to be renamed")
        }
        lastName = name
    }

    /// Equivalent to `ip link set DEV master BR` (or `nomaster` with nil).
    public func setMaster(_ bridge: Link?) throws(LabError) {
        if let bridge {
            try bridge.checkAlive()
            guard bridge.namespace === namespace else {
                throw .invalid("Invalid argument", "\(bridge.label) is in another namespace than \(label)")
            }
            try set(.init(master: bridge.index), "master \(bridge.lastName)")
        } else {
            try set(.init(master: 0), "nomaster")
        }
    }

    /// Equivalent to `ip link set DEV netns NS [name NEW]`.
    public func move(into target: Namespace, name newName: String? = nil) throws(LabError) {
        if let newName { try Validate.interfaceName(newName) }
        let fd = try target.fd()
        let finalName = newName ?? lastName
        let command = "netns \(target.displayName)" + (newName.map { " name \($0)" } ?? "")
        do {
            try set(.init(name: newName, namespaceFD: fd), command)
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "a link named \(finalName) already exists in \(target.displayName)")
        }
        guard let m = try target.linkMessage(named: finalName) else {
            throw .notFound("No such device", "\(finalName) did not appear in \(target.displayName)")
        }
        lab?.relocate(self, to: target, index: m.index)
        lastName = finalName
    }

    /// Equivalent to `ip link del DEV`.
    public func delete() throws(LabError) {
        try checkAlive()
        lab?.trace("link del dev \(lastName)", namespace: namespace)
        try namespace.request(Requests.deleteLink(index: index), "deleting \(label)")
        markDeleted()
    }

    func markDeleted() {
        isDeleted = true
        lab?.forget(self)
    }

    // MARK: Addresses

    /// Equivalent to `ip addr add PREFIX dev DEV [nodad]` (`nodad`: an IPv6
    /// address usable at once, without duplicate address detection).
    public func addAddress(_ text: String, nodad: Bool = false) throws(LabError) {
        let prefix = try Validate.prefix(text)
        try checkAlive()
        lab?.trace("addr add \(prefix) dev \(lastName)\(nodad ? " nodad" : "")", namespace: namespace)
        do {
            try namespace.request(Requests.address(add: true, index: index, prefix: prefix, flags: nodad ? IFA.F_NODAD : 0))
        } catch where error.kind == .kernel(EEXIST) {
            throw LabError(error.kind, error.reason, "\(label) already has \(prefix)")
        }
    }

    /// Equivalent to `ip addr del PREFIX dev DEV`.
    public func removeAddress(_ text: String) throws(LabError) {
        let prefix = try Validate.prefix(text)
        try checkAlive()
        lab?.trace("addr del \(prefix) dev \(lastName)", namespace: namespace)
        do {
            try namespace.request(Requests.address(add: false, index: index, prefix: prefix))
        } catch where error.kind == .kernel(EADDRNOTAVAIL) {
            throw LabError(error.kind, error.reason, "\(label) has no address \(prefix)")
        }
    }

    /// This link's addresses, IPv4 first, as "a.b.c.d/n".
    public func addresses() throws(LabError) -> [IPPrefix] {
        try checkAlive()
        return try namespace.addressMessages()
            .filter { $0.index == UInt32(bitPattern: index) }
            .sorted { ($0.prefix.address.isV4 ? 0 : 1) < ($1.prefix.address.isV4 ? 0 : 1) }
            .map(\.prefix)
    }

    // MARK: Peer

    /// The other end of a veth, wherever it lives now (IFLA_LINK in the
    /// namespace IFLA_LINK_NETNSID names); nil for other kinds.
    public func peer() throws(LabError) -> Link? { try peer(of: info()) }

    /// The same, from a description of this link already at hand.
    public func peer(of m: LinkMessage) throws(LabError) -> Link? {
        guard m.kind == "veth", let peerIndex = m.link, peerIndex > 0, let lab else { return nil }
        let ns: Namespace?
        if let nsid = m.linkNetnsID {
            ns = lab.allNamespaces.first { $0 !== namespace && namespace.namespaceID(of: $0) == nsid }
        } else {
            ns = namespace
        }
        guard let ns, let pm = try? ns.linkMessage(index: peerIndex), pm.kind == "veth", pm.link == index else {
            return nil
        }
        return lab.link(in: ns, message: pm)
    }
}
