import CNetSys
import Glibc
import Netlink

/// Links that leave the lab: VXLAN tunnels to other machines, macvlans on a
/// parent device, and persistent tun/tap devices for VMs and userspace
/// programs. Owned, journalled and torn down like veths.
extension Lab {
    /// Equivalent to `ip link add NAME type vxlan id VNI remote R|group G
    /// [local L] [dev D] dstport PORT` in `ns` (default: host). Its UDP socket
    /// lives in the namespace it is made in, wherever it is moved later: make
    /// it where the underlay is (and move it into the lab afterwards).
    public func createVXLAN(_ name: String, vni: Int64, remote: String?, group: String?, from: String?,
                            device: Link?, port: Int64, in ns: Namespace? = nil) throws(LabError) -> Link {
        let ns = ns ?? host!
        guard (1...16_777_215).contains(vni) else { throw .invalid("invalid VNI", "\(vni) is outside 1..16777215") }
        guard (1...65535).contains(port) else { throw .invalid("invalid port", "\(port) is outside 1..65535") }
        if remote != nil && group != nil { throw .invalid("invalid arguments", "give remote = or group =, not both") }
        let peer = try (remote ?? group).map { (t: String) throws(LabError) -> IPAddress in try Validate.address(t) }
        let local = try from.map { (t: String) throws(LabError) -> IPAddress in try Validate.address(t) }
        if let peer {
            let multicast = peer.isV4 ? peer.bytes[0] & 0xf0 == 0xe0 : peer.bytes[0] == 0xff
            if group != nil && !multicast { throw .invalid("invalid group", "\(peer) is not a multicast address (for one peer, give remote =)") }
            if remote != nil && multicast { throw .invalid("invalid remote", "\(peer) is a multicast address (give it as group =)") }
            if group != nil && device == nil { throw .invalid("invalid arguments", "a multicast group needs dev = (the link to join it on)") }
        }
        if let peer, let local, peer.isV4 != local.isV4 {
            throw .invalid("invalid arguments", "remote \(peer) and from \(local) are of different families")
        }
        if let device {
            try device.checkAlive()
            guard device.namespace === ns else {
                throw .invalid("Invalid argument", "dev \(device.label) is in another namespace than the vxlan (\(ns.displayName))")
            }
        }
        var command = "link add \(name) type vxlan id \(vni)"
        if let peer { command += (group != nil ? " group " : " remote ") + "\(peer)" }
        if let local { command += " local \(local)" }
        if let device { command += " dev \(device.lastName)" }
        command += " dstport \(port)"
        return try createLink(name, kind: "vxlan", in: ns, command: command) { mac in
            Requests.newVXLAN(name: name, mac: mac, vni: UInt32(vni), peer: peer, local: local,
                              deviceIndex: device?.index, port: UInt16(port))
        }
    }

    /// Equivalent to `ip link add link PARENT name NAME [netns NS] type
    /// macvlan mode MODE`: a link with a MAC of its own on `parent`, born in
    /// `ns` (default: the parent's namespace).
    public func createMacvlan(_ name: String, parent: Link, mode: String, in ns: Namespace? = nil) throws(LabError) -> Link {
        guard let modeValue = IFLA.MACVLAN_MODES[mode] else {
            throw .invalid("invalid mode", "\(Validate.shown(mode)) is not a macvlan mode (\(IFLA.MACVLAN_MODES.keys.sorted().joined(separator: ", ")))")
        }
        try parent.checkAlive()
        let target = ns ?? parent.namespace
        try target.checkAlive()
        let elsewhere = target !== parent.namespace
        let fd = elsewhere ? try target.fd() : nil
        let command = "link add link \(parent.lastName) name \(name)" + (elsewhere ? " netns \(target.name ?? "$$")" : "")
            + " type macvlan mode \(mode)"
        return try createLink(name, kind: "macvlan", in: target, sentIn: parent.namespace, command: command) { mac in
            Requests.newMacvlan(name: name, mac: mac, parentIndex: parent.index, mode: modeValue, namespaceFD: fd)
        }
    }

    /// Equivalent to `ip tuntap add dev NAME mode tap|tun [user U] [group G]`
    /// in `ns` (default: host): a persistent device (through /dev/net/tun)
    /// that a VM or a program opens by name. A tap gets a MAC nslua chose
    /// (its identity, as for every link nslua makes); a tun has none, and is
    /// known by its kind and name at its ifindex. It is made persistent only
    /// once journalled: a run killed before that leaves nothing (the device
    /// goes with the run's file descriptor).
    public func createTun(_ name: String, tap: Bool, user: String?, group: String?, in ns: Namespace? = nil) throws(LabError) -> Link {
        try checkOpen()
        try Validate.interfaceName(name)
        let ns = ns ?? host!
        try ns.checkAlive()
        let uid = try user.map { (u: String) throws(LabError) -> Int in try Lab.userID(u) } ?? -1
        let gid = try group.map { (g: String) throws(LabError) -> Int in try Lab.groupID(g) } ?? -1
        let mac: MACAddress? = tap ? freshMAC() : nil
        let serial = ledger.newSerial()
        trace(ip: "tuntap add dev \(name) mode \(tap ? "tap" : "tun")" + (user.map { " user \(shellQuoted($0))" } ?? "")
              + (group.map { " group \(shellQuoted($0))" } ?? ""), in: ns)
        ledger.willCreate(links: [(serial, ns, mac, "tun")])
        var index: Int32 = 0
        var actual = [CChar](repeating: 0, count: 16)
        let fd = nsys_tun_open(try ns.fd(), name, tap ? 1 : 0, &actual, &index)
        guard fd >= 0, index > 0 else {
            let e = errno
            if fd >= 0 { close(fd) }
            ledger.abandoned(serials: [serial])
            switch e {
            case ENOENT, ENODEV: throw .missingKind("tun", LabError(.kernel(e), errnoDescription(e), "/dev/net/tun: \(errnoDescription(e))"))
            case EBUSY, EEXIST: throw LabError(.kernel(EEXIST), "File exists", "a link named \(name) already exists in \(ns.displayName)")
            case EACCES, EPERM: throw .errno(e, "opening /dev/net/tun to make \(name) in \(ns.displayName)")
            default: throw .errno(e, "creating \(tap ? "tap" : "tun") \(name) in \(ns.displayName)")
            }
        }
        let made = String(cString: actual)
        let l = Link(namespace: ns, index: index, name: made, owned: true, serial: serial, mac: mac, kind: "tun")
        do {
            if let mac {
                trace(ip: "link set dev \(made) address \(mac)", in: ns)
                try ns.request(Requests.setLink(index: index, .init(mac: mac)), "giving \(made) its MAC")
            }
            ledger.created([l])
        } catch {
            close(fd)   // not persistent yet: the device goes with it
            ledger.abandoned(serials: [serial])
            throw error
        }
        guard nsys_tun_persist(fd, uid, gid) == 0 else {
            let e = errno
            ledger.deleted(l)
            throw .errno(e, "making \(made) persistent in \(ns.displayName)")
        }
        return l
    }

    static func userID(_ text: String) throws(LabError) -> Int {
        if let n = Int(text) {
            guard (0..<Int(UInt32.max)).contains(n) else { throw .invalid("invalid user", "\(Validate.shown(text)) is not a uid (0..4294967294)") }
            return n
        }
        guard let pw = getpwnam(text) else { throw .notFound("No such user", "there is no user \(Validate.shown(text))") }
        return Int(pw.pointee.pw_uid)
    }

    static func groupID(_ text: String) throws(LabError) -> Int {
        if let n = Int(text) {
            guard (0..<Int(UInt32.max)).contains(n) else { throw .invalid("invalid group", "\(Validate.shown(text)) is not a gid (0..4294967294)") }
            return n
        }
        guard let gr = getgrnam(text) else { throw .notFound("No such group", "there is no group \(Validate.shown(text))") }
        return Int(gr.pointee.gr_gid)
    }
}
