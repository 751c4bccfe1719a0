/// Operational state (IF_OPER_*), as `ip link` shows it.
public func operstateName(_ v: UInt8) -> String {
    let names = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]
    return Int(v) < names.count ? names[Int(v)] : "UNKNOWN"
}

/// Link counters (struct rtnl_link_stats64, first fields).
public struct LinkStats: Equatable, Sendable {
    public var rxPackets: UInt64 = 0, txPackets: UInt64 = 0, rxBytes: UInt64 = 0, txBytes: UInt64 = 0
    public var rxErrors: UInt64 = 0, txErrors: UInt64 = 0, rxDropped: UInt64 = 0, txDropped: UInt64 = 0
    public var multicast: UInt64 = 0, collisions: UInt64 = 0

    init?(_ v: ArraySlice<UInt8>?) {
        guard let v, v.count >= 80 else { return nil }
        let b = Array(v)
        rxPackets = read(b, 0); txPackets = read(b, 8); rxBytes = read(b, 16); txBytes = read(b, 24)
        rxErrors = read(b, 32); txErrors = read(b, 40); rxDropped = read(b, 48); txDropped = read(b, 56)
        multicast = read(b, 64); collisions = read(b, 72)
    }
}

/// A link as RTM_NEWLINK describes it.
public struct LinkMessage: Equatable, Sendable {
    public var index: Int32
    public var name: String
    public var flags: UInt32
    /// "veth", "bridge", ... ; nil for a plain device (lo, a physical NIC).
    public var kind: String?
    public var mtu: UInt32?
    public var mac: MACAddress?
    public var operstate: UInt8
    public var master: Int32?
    /// The peer's ifindex (for a veth), in the namespace `linkNetnsID` names
    /// (or this one when nil).
    public var link: Int32?
    public var linkNetnsID: Int32?
    public var stats: LinkStats?
    /// The root qdisc's kind ("noqueue", "noop" while transmit is not yet active).
    public var qdisc: String?
    /// What `ip -d link` says of its kind: "id 42 remote 192.0.2.2 dstport
    /// 4789" (vxlan), "mode bridge" (macvlan), "tap persist user 65534" (tun).
    public var details: String?

    public var isUp: Bool { flags & IFF.UP != 0 }

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(IfInfoMsg.size, "ifinfomsg")
        let hdr = IfInfoMsg(decoding: fixed)
        index = hdr.index
        flags = hdr.flags
        name = a.string(IFLA.IFNAME) ?? ""
        mtu = a.u32(IFLA.MTU)
        mac = a[IFLA.ADDRESS].flatMap { MACAddress(bytes: Array($0)) }
        operstate = a.u8(IFLA.OPERSTATE) ?? 0
        master = a.u32(IFLA.MASTER).map { Int32(bitPattern: $0) }
        link = a.u32(IFLA.LINK).map { Int32(bitPattern: $0) }
        linkNetnsID = a.u32(IFLA.LINK_NETNSID).map { Int32(bitPattern: $0) }
        kind = try a.nested(IFLA.LINKINFO)?.string(IFLA.INFO_KIND)
        stats = LinkStats(a[IFLA.STATS64])
        qdisc = a.string(IFLA.QDISC)
        if let info = try a.nested(IFLA.LINKINFO), let data = try info.nested(IFLA.INFO_DATA) {
            details = LinkMessage.describe(kind: kind, data)
        }
    }

    static func describe(kind: String?, _ d: Attributes) -> String? {
        func address(_ t4: UInt16, _ t6: UInt16) -> IPAddress? {
            (d[t4] ?? d[t6]).flatMap { IPAddress(bytes: Array($0)) }
        }
        switch kind {
        case "vxlan":
            var parts: [String] = []
            if let id = d.u32(IFLA.VXLAN_ID) { parts.append("id \(id)") }
            if let peer = address(IFLA.VXLAN_GROUP, IFLA.VXLAN_GROUP6) {
                let multicast = peer.isV4 ? peer.bytes[0] & 0xf0 == 0xe0 : peer.bytes[0] == 0xff
                parts.append((multicast ? "group " : "remote ") + "\(peer)")
            }
            if let local = address(IFLA.VXLAN_LOCAL, IFLA.VXLAN_LOCAL6) { parts.append("local \(local)") }
            if let p = d[IFLA.VXLAN_PORT], p.count == 2 { parts.append("dstport \(UInt16(p[p.startIndex]) << 8 | UInt16(p[p.startIndex + 1]))") }
            return parts.joined(separator: " ")
        case "macvlan":
            guard let mode = d.u32(IFLA.MACVLAN_MODE) else { return nil }
            return "mode " + (IFLA.MACVLAN_MODES.first { $0.value == mode }?.key ?? "\(mode)")
        case "tun":
            var parts = [d.u8(IFLA.TUN_TYPE) == 2 ? "tap" : "tun"]
            if d.u8(IFLA.TUN_PERSIST) == 1 { parts.append("persist") }
            if let u = d.u32(IFLA.TUN_OWNER) { parts.append("user \(u)") }
            if let g = d.u32(IFLA.TUN_GROUP) { parts.append("group \(g)") }
            return parts.joined(separator: " ")
        default:
            return nil
        }
    }

    /// Carrier is on but the kernel has not yet activated transmit (its link
    /// watcher has not run): what is sent now is dropped.
    public var isWaitingForActivation: Bool { flags & IFF.LOWER_UP != 0 && qdisc == "noop" }
}

/// An address as RTM_NEWADDR describes it.
public struct AddressMessage: Equatable, Sendable {
    public var index: UInt32
    public var prefix: IPPrefix
    public var scope: UInt8
    public var flags: UInt32

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(IfAddrMsg.size, "ifaddrmsg")
        let hdr = IfAddrMsg(decoding: fixed)
        guard let raw = a[IFA.LOCAL] ?? a[IFA.ADDRESS], let addr = IPAddress(bytes: Array(raw)) else {
            throw MalformedReply(reason: "address without IFA_ADDRESS")
        }
        index = hdr.index
        prefix = IPPrefix(address: addr, length: hdr.prefixLength)
        scope = hdr.scope
        flags = a.u32(IFA.FLAGS) ?? UInt32(hdr.flags)
    }
}

/// A route as RTM_NEWROUTE describes it.
public struct RouteMessage: Equatable, Sendable {
    public var family: UInt8
    /// nil for a default route.
    public var destination: IPPrefix?
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var table: UInt32
    public var protocolID: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var priority: UInt32?
    public var preferredSource: IPAddress?
    /// IPv6 router preference (RTA_PREF: 0 medium, 1 high, 3 low).
    public var preference: UInt8?

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(RtMsg.size, "rtmsg")
        let hdr = RtMsg(decoding: fixed)
        family = hdr.family
        if let d = a[RTA.DST], let addr = IPAddress(bytes: Array(d)) {
            destination = IPPrefix(address: addr, length: hdr.dstLength)
        } else if hdr.dstLength > 0 {
            throw MalformedReply(reason: "route with a prefix length and no RTA_DST")
        }
        gateway = a[RTA.GATEWAY].flatMap { IPAddress(bytes: Array($0)) }
        outputIndex = a.u32(RTA.OIF).map { Int32(bitPattern: $0) }
        table = a.u32(RTA.TABLE) ?? UInt32(hdr.table)
        protocolID = hdr.protocolID
        scope = hdr.scope
        type = hdr.type
        priority = a.u32(RTA.PRIORITY)
        preferredSource = a[RTA.PREFSRC].flatMap { IPAddress(bytes: Array($0)) }
        preference = a.u8(RTA.PREF)
    }
}

/// A neighbour (ARP/NDP) entry as RTM_NEWNEIGH describes it.
public struct NeighborMessage: Equatable, Sendable {
    public var index: Int32
    public var address: IPAddress?
    public var mac: MACAddress?
    public var state: UInt16

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(NdMsg.size, "ndmsg")
        let hdr = NdMsg(decoding: fixed)
        index = hdr.index
        state = hdr.state
        address = a[NDA.DST].flatMap { IPAddress(bytes: Array($0)) }
        mac = a[NDA.LLADDR].flatMap { MACAddress(bytes: Array($0)) }
    }

    /// NUD state as `ip neigh` names it.
    public var stateName: String {
        let names: [(UInt16, String)] = [(0x01, "INCOMPLETE"), (0x02, "REACHABLE"), (0x04, "STALE"), (0x08, "DELAY"),
                                         (0x10, "PROBE"), (0x20, "FAILED"), (0x40, "NOARP"), (0x80, "PERMANENT")]
        let set = names.filter { state & $0.0 != 0 }.map(\.1)
        return set.isEmpty ? "NONE" : set.joined(separator: ",")
    }
}

/// A multicast group a link has joined (RTM_GETMULTICAST reply, IPv6).
public struct MulticastGroupMessage: Equatable, Sendable {
    public var index: UInt32
    public var group: IPAddress

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(IfAddrMsg.size, "ifaddrmsg")
        guard let raw = a[IFA.MULTICAST], let group = IPAddress(bytes: Array(raw)) else {
            throw MalformedReply(reason: "multicast group without IFA_MULTICAST")
        }
        index = IfAddrMsg(decoding: fixed).index
        self.group = group
    }
}

extension IPAddress {
    /// The solicited-node multicast group of an IPv6 address (RFC 4291 2.7.1):
    /// where neighbour solicitations for it are sent.
    public var solicitedNodeGroup: IPAddress? {
        guard !isV4 else { return nil }
        return IPAddress(bytes: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff] + bytes[13..<16])
    }
}
