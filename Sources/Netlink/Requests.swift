/// Builders for the rtnetlink requests NetLab sends. Each is pure: it returns
/// the bytes to send, so tests can compare them with the kernel's UAPI layout.
public enum Requests {
    static let create = NL.F_CREATE | NL.F_EXCL | NL.F_ACK

    /// Flags of a create that also asks for the new object back (NLM_F_ECHO,
    /// honoured for links since Linux 6.1): its ifindex without a lookup.
    static let createEcho = create | NL.F_ECHO

    /// `ip link add [NAME] [address MAC] type KIND [DATA...]`: the common part
    /// of every link creation; `data` fills IFLA_INFO_DATA when given.
    public static func newLink(name: String?, mac: MACAddress?, kind: String, parentIndex: Int32? = nil,
                               data: ((inout NetlinkRequest) -> Void)? = nil) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.NEWLINK, flags: createEcho)
        r.append(IfInfoMsg())
        if let name { r.attribute(IFLA.IFNAME, string: name) }
        if let mac { r.attribute(IFLA.ADDRESS, mac.bytes) }
        if let parentIndex { r.attribute(IFLA.LINK, i32: parentIndex) }
        r.nest(IFLA.LINKINFO) { r in
            r.attribute(IFLA.INFO_KIND, string: kind)
            if let data { r.nest(IFLA.INFO_DATA, data) }
        }
        return r
    }

    /// `ip link add NAME address MAC type veth peer name PEER address MAC2 [netns PEERNS]`,
    /// sent on the socket of the namespace the first end is born in. A nil
    /// name lets the kernel choose (veth0, veth1, ...).
    public static func newVeth(name: String?, mac: MACAddress?, peer: String?, peerMAC: MACAddress?,
                               peerNamespaceFD: Int32?) -> NetlinkRequest {
        newLink(name: name, mac: mac, kind: "veth") { r in
            r.nest(IFLA.VETH_INFO_PEER) { r in
                r.append(IfInfoMsg())
                if let peer { r.attribute(IFLA.IFNAME, string: peer) }
                if let peerMAC { r.attribute(IFLA.ADDRESS, peerMAC.bytes) }
                if let fd = peerNamespaceFD { r.attribute(IFLA.NET_NS_FD, u32: UInt32(bitPattern: fd)) }
            }
        }
    }

    /// `ip link add NAME address MAC type bridge`.
    public static func newBridge(name: String?, mac: MACAddress?) -> NetlinkRequest {
        newLink(name: name, mac: mac, kind: "bridge")
    }

    /// `ip link add NAME address MAC type vxlan id VNI {remote|group} ADDR
    /// [local ADDR] [dev DEV] dstport PORT`. `group` is a multicast address,
    /// `remote` a unicast one (the kernel keeps both in IFLA_VXLAN_GROUP(6)).
    public static func newVXLAN(name: String, mac: MACAddress?, vni: UInt32, peer: IPAddress?, local: IPAddress?,
                                deviceIndex: Int32?, port: UInt16) -> NetlinkRequest {
        newLink(name: name, mac: mac, kind: "vxlan") { r in
            r.attribute(IFLA.VXLAN_ID, u32: vni)
            if let peer { r.attribute(peer.isV4 ? IFLA.VXLAN_GROUP : IFLA.VXLAN_GROUP6, peer.bytes) }
            if let local { r.attribute(local.isV4 ? IFLA.VXLAN_LOCAL : IFLA.VXLAN_LOCAL6, local.bytes) }
            if let deviceIndex { r.attribute(IFLA.VXLAN_LINK, u32: UInt32(bitPattern: deviceIndex)) }
            r.attribute(IFLA.VXLAN_PORT, [UInt8(port >> 8), UInt8(port & 0xff)])   // __be16
        }
    }

    /// `ip link add NAME address MAC link PARENT [netns NS] type macvlan mode MODE`:
    /// sent in the parent's namespace; born in `namespaceFD`'s if given.
    public static func newMacvlan(name: String, mac: MACAddress?, parentIndex: Int32, mode: UInt32,
                                  namespaceFD: Int32?) -> NetlinkRequest {
        var r = newLink(name: name, mac: mac, kind: "macvlan", parentIndex: parentIndex) { r in
            r.attribute(IFLA.MACVLAN_MODE, u32: mode)
        }
        if let fd = namespaceFD { r.attribute(IFLA.NET_NS_FD, u32: UInt32(bitPattern: fd)) }
        return r
    }

    /// What `ip link set DEV ...` can change, one field or several at once.
    public struct LinkChange: Equatable, Sendable {
        public var up: Bool?
        public var mtu: UInt32?
        public var mac: MACAddress?
        public var name: String?
        /// 0 detaches from the master (nomaster).
        public var master: Int32?
        public var namespaceFD: Int32?
        public init(up: Bool? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil, name: String? = nil,
                    master: Int32? = nil, namespaceFD: Int32? = nil) {
            self.up = up; self.mtu = mtu; self.mac = mac; self.name = name; self.master = master
            self.namespaceFD = namespaceFD
        }
    }

    /// `ip link set DEV ...` (RTM_NEWLINK without NLM_F_CREATE, as iproute2 does).
    public static func setLink(index: Int32, _ c: LinkChange) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.NEWLINK, flags: NL.F_ACK)
        var info = IfInfoMsg(index: index)
        if let up = c.up {
            info.flags = up ? IFF.UP : 0
            info.change = IFF.UP
        }
        r.append(info)
        if let mtu = c.mtu { r.attribute(IFLA.MTU, u32: mtu) }
        if let mac = c.mac { r.attribute(IFLA.ADDRESS, mac.bytes) }
        if let name = c.name { r.attribute(IFLA.IFNAME, string: name) }
        if let master = c.master { r.attribute(IFLA.MASTER, i32: master) }
        if let fd = c.namespaceFD { r.attribute(IFLA.NET_NS_FD, u32: UInt32(bitPattern: fd)) }
        return r
    }

    /// `ip link del DEV`.
    public static func deleteLink(index: Int32) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.DELLINK, flags: NL.F_ACK)
        r.append(IfInfoMsg(index: index))
        return r
    }

    /// `ip link show DEV` by index or by name.
    public static func getLink(index: Int32 = 0, name: String? = nil) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETLINK, flags: NL.F_ACK)
        r.append(IfInfoMsg(index: index))
        if let name { r.attribute(IFLA.IFNAME, string: name) }
        return r
    }

    /// `ip link show`.
    public static func dumpLinks() -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETLINK, flags: NL.F_DUMP)
        r.append(IfInfoMsg())
        return r
    }

    /// `ip addr add|del PREFIX dev DEV`.
    public static func address(add: Bool, index: Int32, prefix: IPPrefix, flags: UInt32 = 0) -> NetlinkRequest {
        var r = NetlinkRequest(type: add ? RTM.NEWADDR : RTM.DELADDR, flags: add ? create : NL.F_ACK)
        r.append(IfAddrMsg(family: prefix.address.family, prefixLength: prefix.length,
                           scope: RTA.SCOPE_UNIVERSE, index: UInt32(bitPattern: index)))
        r.attribute(IFA.LOCAL, prefix.address.bytes)
        r.attribute(IFA.ADDRESS, prefix.address.bytes)
        if add && prefix.address.isV4 && prefix.length < 31 {
            // ip addr add ... brd + : the directed broadcast of the network.
            var b = prefix.address.bytes
            for i in 0..<4 {
                let bits = max(0, min(8, Int(prefix.length) - i * 8))
                b[i] |= UInt8(0xff >> bits & 0xff)
            }
            r.attribute(IFA.BROADCAST, b)
        }
        if flags != 0 { r.attribute(IFA.FLAGS, u32: flags) }
        return r
    }

    /// `ip addr show` (family AF_UNSPEC for both).
    public static func dumpAddresses(family: UInt8 = AF.UNSPEC) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETADDR, flags: NL.F_DUMP)
        r.append(IfAddrMsg(family: family, prefixLength: 0, index: 0))
        return r
    }

    /// `ip route add|del DST [via GW] [dev DEV]` in the main table.
    public static func route(add: Bool, destination: IPPrefix?, family: UInt8, gateway: IPAddress?,
                             outputIndex: Int32?, metric: UInt32? = nil) -> NetlinkRequest {
        var r = NetlinkRequest(type: add ? RTM.NEWROUTE : RTM.DELROUTE, flags: add ? create : NL.F_ACK)
        var msg = RtMsg(family: family, dstLength: destination?.length ?? 0,
                        scope: gateway == nil && outputIndex != nil ? RTA.SCOPE_LINK : RTA.SCOPE_UNIVERSE)
        if !add { msg.protocolID = 0; msg.scope = 255 }   // RT_SCOPE_NOWHERE: match any scope, as iproute2
        r.append(msg)
        if let d = destination?.network { r.attribute(RTA.DST, d.address.bytes) }
        if let gateway { r.attribute(RTA.GATEWAY, gateway.bytes) }
        if let outputIndex { r.attribute(RTA.OIF, i32: outputIndex) }
        if let metric { r.attribute(RTA.PRIORITY, u32: metric) }
        return r
    }

    /// `ip route get DST`: the route the kernel would use.
    public static func routeGet(_ destination: IPAddress) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETROUTE, flags: NL.F_ACK)
        r.append(RtMsg(family: destination.family, dstLength: destination.isV4 ? 32 : 128, table: 0, protocolID: 0, scope: 0, type: 0))
        r.attribute(RTA.DST, destination.bytes)
        return r
    }

    /// `ip route show table all` (family AF_UNSPEC for both).
    public static func dumpRoutes(family: UInt8 = AF.UNSPEC) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETROUTE, flags: NL.F_DUMP)
        r.append(RtMsg(family: family, table: 0, protocolID: 0, scope: 0, type: 0))
        return r
    }

    /// `ip maddr show` for IPv6: the multicast groups each link has joined.
    public static func dumpMulticastGroups() -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETMULTICAST, flags: NL.F_DUMP)
        r.append(IfAddrMsg(family: AF.INET6, prefixLength: 0, index: 0))
        return r
    }

    /// `ip neigh show`.
    public static func dumpNeighbors(family: UInt8 = AF.UNSPEC) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETNEIGH, flags: NL.F_DUMP)
        r.append(NdMsg(family: family))
        return r
    }
}

/// struct rtgenmsg (1 byte, padded to 4).
public struct RtGenMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8
    public init(family: UInt8 = AF.UNSPEC) { self.family = family }
    public func encoded() -> [UInt8] { [family] }
}

extension Requests {
    static let GETNSID: UInt16 = 90
    static let NETNSA_NSID: UInt16 = 1
    static let NETNSA_FD: UInt16 = 3

    /// `ip netns identify`-like: the id this namespace uses for the namespace
    /// open as `fd` (what IFLA_LINK_NETNSID refers to).
    public static func getNamespaceID(fd: Int32) -> NetlinkRequest {
        var r = NetlinkRequest(type: GETNSID, flags: NL.F_ACK)
        r.append(RtGenMsg())
        r.attribute(NETNSA_FD, u32: UInt32(bitPattern: fd))
        return r
    }

    /// The id in a RTM_NEWNSID reply (-1: none assigned).
    public static func namespaceID(in m: NetlinkMessage) throws(MalformedReply) -> Int32 {
        let a = try Attributes(m.payload.dropFirst(4))
        guard let v = a.u32(NETNSA_NSID) else { throw MalformedReply(reason: "RTM_NEWNSID without NETNSA_NSID") }
        return Int32(bitPattern: v)
    }
}

extension Requests {
    static let GETNEIGHTBL: UInt16 = 66

    /// `ip ntable show`: the neighbour tables (global to the kernel) with their limits and counters.
    public static func dumpNeighborTables() -> NetlinkRequest {
        var r = NetlinkRequest(type: GETNEIGHTBL, flags: NL.F_DUMP)
        r.append(RtGenMsg())
        return r
    }
}

/// A neighbour table (arp_cache, ndisc_cache) as RTM_NEWNEIGHTBL describes it.
public struct NeighborTableMessage: Equatable, Sendable {
    public var name: String
    /// The most entries the table holds (gc_thresh3), for every namespace together.
    public var thresh3: UInt32?
    /// Entries in it now (ndt_config.ndtc_entries).
    public var entries: UInt32?
    /// How often the table was full (ndt_stats.ndts_table_fulls).
    public var tableFulls: UInt64?

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        guard m.payload.count >= 4 else { throw MalformedReply(reason: "short ndtmsg") }
        let a = try Attributes(m.payload.dropFirst(4))
        name = a.string(1) ?? ""
        thresh3 = a.u32(4)
        if let config = a[5], config.count >= 8 { entries = read(Array(config), 4) as UInt32 }
        if let stats = a[7], stats.count >= 88 { tableFulls = read(Array(stats), 80) as UInt64 }
    }
}

extension Requests {
    /// `ip neigh del ADDR dev DEV`.
    public static func deleteNeighbor(index: Int32, address: IPAddress) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.DELNEIGH, flags: NL.F_ACK)
        r.append(NdMsg(family: address.family, index: index))
        r.attribute(NDA.DST, address.bytes)
        return r
    }
}

/// struct tcmsg (20 bytes).
public struct TcMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8 = AF.UNSPEC
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var info: UInt32 = 0
    public init(index: Int32, handle: UInt32, parent: UInt32) {
        self.index = index; self.handle = handle; self.parent = parent
    }
    public func encoded() -> [UInt8] { [family, 0, 0, 0] + le(index) + le(handle) + le(parent) + le(info) }
    public init(decoding b: ArraySlice<UInt8>) {
        let b = Array(b)
        family = b[0]; index = read(b, 4); handle = read(b, 8); parent = read(b, 12); info = read(b, 16)
    }
    public static let size = 20
}

/// A qdisc, as `tc qdisc show` lists it.
public struct QdiscMessage: Equatable, Sendable {
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var kind: String

    public init(_ m: NetlinkMessage) throws(MalformedReply) {
        let (fixed, a) = try m.fixedAndAttributes(TcMsg.size, "tcmsg")
        let t = TcMsg(decoding: fixed)
        index = t.index; handle = t.handle; parent = t.parent
        kind = a.string(TC.KIND) ?? "?"
    }

    public var isRoot: Bool { parent == TC.ROOT }
}

/// Traffic-control constants (linux/pkt_sched.h).
public enum TC {
    public static let ROOT: UInt32 = 0xFFFF_FFFF
    public static let KIND: UInt16 = 1, OPTIONS: UInt16 = 2
    public static let NETEM_LATENCY64: UInt16 = 10, NETEM_JITTER64: UInt16 = 11
    public static let TBF_PARMS: UInt16 = 1, TBF_RATE64: UInt16 = 4, TBF_BURST: UInt16 = 6
    public static let LINKLAYER_ETHERNET: UInt8 = 1
    /// "1:0" style handles.
    public static func handle(_ major: UInt16, _ minor: UInt16) -> UInt32 { UInt32(major) << 16 | UInt32(minor) }
}

extension Requests {
    /// `tc qdisc show`.
    public static func dumpQdiscs() -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.GETQDISC, flags: NL.F_DUMP)
        r.append(TcMsg(index: 0, handle: 0, parent: 0))
        return r
    }

    /// `tc qdisc del dev DEV root`.
    public static func deleteRootQdisc(index: Int32) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.DELQDISC, flags: NL.F_ACK)
        r.append(TcMsg(index: index, handle: 0, parent: TC.ROOT))
        return r
    }

    /// `tc qdisc add dev DEV parent P handle H netem delay D jitter J loss L limit N`.
    /// Delay and jitter go as 64-bit nanoseconds (TCA_NETEM_LATENCY64/JITTER64);
    /// loss as a fraction of 2^32 - 1, as iproute2 sends them.
    public static func netem(index: Int32, handle: UInt32, parent: UInt32, delayNS: UInt64, jitterNS: UInt64,
                             lossPercent: Double, limit: UInt32) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.NEWQDISC, flags: NL.F_CREATE | NL.F_EXCL | NL.F_ACK)
        r.append(TcMsg(index: index, handle: handle, parent: parent))
        r.attribute(TC.KIND, string: "netem")
        r.nest(TC.OPTIONS) { r in
            // struct tc_netem_qopt: latency, limit, loss, gap, duplicate, jitter (u32 each; times in ticks,
            // left 0 here because the 64-bit attributes below take precedence).
            let loss = UInt32(min(1.0, max(0.0, lossPercent / 100)) * Double(UInt32.max))
            r.append(RawStruct(bytes: le(UInt32(0)) + le(limit) + le(loss) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0))))
            r.attribute(TC.NETEM_LATENCY64, le(Int64(clamping: delayNS)))
            r.attribute(TC.NETEM_JITTER64, le(Int64(clamping: jitterNS)))
        }
        return r
    }

    /// `tc qdisc add dev DEV parent P handle H tbf rate R burst B limit L`.
    public static func tbf(index: Int32, handle: UInt32, parent: UInt32, rateBytes: UInt64, burst: UInt32,
                           limit: UInt32) -> NetlinkRequest {
        var r = NetlinkRequest(type: RTM.NEWQDISC, flags: NL.F_CREATE | NL.F_EXCL | NL.F_ACK)
        r.append(TcMsg(index: index, handle: handle, parent: parent))
        r.attribute(TC.KIND, string: "tbf")
        r.nest(TC.OPTIONS) { r in
            // struct tc_tbf_qopt: rate and peakrate (struct tc_ratespec: cell_log, linklayer, overhead,
            // cell_align, mpu, rate), limit, buffer, mtu. An Ethernet link layer needs no rate table.
            let rate32 = UInt32(clamping: rateBytes)
            let ratespec: [UInt8] = [0, TC.LINKLAYER_ETHERNET] + le(UInt16(0)) + le(Int16(-1)) + le(UInt16(0)) + le(rate32)
            let peak = [UInt8](repeating: 0, count: 12)
            r.attribute(TC.TBF_PARMS, ratespec + peak + le(limit) + le(UInt32(0)) + le(UInt32(0)))
            if rateBytes > UInt64(UInt32.max) { r.attribute(TC.TBF_RATE64, le(rateBytes)) }
            r.attribute(TC.TBF_BURST, le(burst))
        }
        return r
    }
}

/// Bytes appended as they are (a fixed struct with no type of its own).
public struct RawStruct: NetlinkStruct {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public func encoded() -> [UInt8] { bytes }
}
