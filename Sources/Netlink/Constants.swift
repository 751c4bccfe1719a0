/// rtnetlink constants from the kernel's UAPI headers (linux/netlink.h,
/// linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/neighbour.h).
public enum NL {
    // nlmsghdr.nlmsg_type, control messages
    public static let NOOP: UInt16 = 1
    public static let ERROR: UInt16 = 2
    public static let DONE: UInt16 = 3
    public static let OVERRUN: UInt16 = 4

    // nlmsghdr.nlmsg_flags
    public static let F_REQUEST: UInt16 = 0x1
    public static let F_MULTI: UInt16 = 0x2
    public static let F_ACK: UInt16 = 0x4
    public static let F_ECHO: UInt16 = 0x8
    public static let F_DUMP_INTR: UInt16 = 0x10
    public static let F_DUMP: UInt16 = 0x300
    public static let F_REPLACE: UInt16 = 0x100
    public static let F_EXCL: UInt16 = 0x200
    public static let F_CREATE: UInt16 = 0x400
    // flags of an NLMSG_ERROR message
    public static let F_CAPPED: UInt16 = 0x100
    public static let F_ACK_TLVS: UInt16 = 0x200

    // extended ack attributes (nlmsgerr_attrs)
    public static let ERR_ATTR_MSG: UInt16 = 1
    public static let ERR_ATTR_OFFS: UInt16 = 2

    // socket options (SOL_NETLINK)
    public static let SOL_NETLINK: Int32 = 270
    public static let CAP_ACK: Int32 = 10
    public static let EXT_ACK: Int32 = 11
    public static let GET_STRICT_CHK: Int32 = 12

    public static let ROUTE: Int32 = 0   // NETLINK_ROUTE

    public static let NLA_F_NESTED: UInt16 = 0x8000
}

/// rtnetlink message types.
public enum RTM {
    public static let NEWLINK: UInt16 = 16, DELLINK: UInt16 = 17, GETLINK: UInt16 = 18, SETLINK: UInt16 = 19
    public static let NEWADDR: UInt16 = 20, DELADDR: UInt16 = 21, GETADDR: UInt16 = 22
    public static let NEWROUTE: UInt16 = 24, DELROUTE: UInt16 = 25, GETROUTE: UInt16 = 26
    public static let NEWNEIGH: UInt16 = 28, DELNEIGH: UInt16 = 29, GETNEIGH: UInt16 = 30
    public static let NEWQDISC: UInt16 = 36, DELQDISC: UInt16 = 37, GETQDISC: UInt16 = 38
    public static let GETMULTICAST: UInt16 = 58
}

/// Link attributes (IFLA_*).
public enum IFLA {
    public static let ADDRESS: UInt16 = 1, BROADCAST: UInt16 = 2, IFNAME: UInt16 = 3, MTU: UInt16 = 4
    public static let LINK: UInt16 = 5, QDISC: UInt16 = 6, STATS: UInt16 = 7, MASTER: UInt16 = 10
    public static let OPERSTATE: UInt16 = 16, LINKINFO: UInt16 = 18, STATS64: UInt16 = 23
    public static let NET_NS_FD: UInt16 = 28, LINK_NETNSID: UInt16 = 37
    public static let INFO_KIND: UInt16 = 1, INFO_DATA: UInt16 = 2, INFO_SLAVE_KIND: UInt16 = 4
    public static let VETH_INFO_PEER: UInt16 = 1
    /// IFLA_VXLAN_* (inside IFLA_INFO_DATA of a vxlan).
    public static let VXLAN_ID: UInt16 = 1, VXLAN_GROUP: UInt16 = 2, VXLAN_LINK: UInt16 = 3, VXLAN_LOCAL: UInt16 = 4
    public static let VXLAN_PORT: UInt16 = 15, VXLAN_GROUP6: UInt16 = 16, VXLAN_LOCAL6: UInt16 = 17
    /// IFLA_MACVLAN_MODE and its values (MACVLAN_MODE_*).
    public static let MACVLAN_MODE: UInt16 = 1
    /// IFLA_TUN_* (a tun/tap device's IFLA_INFO_DATA; TUN_TYPE: 1 tun, 2 tap).
    public static let TUN_OWNER: UInt16 = 1, TUN_GROUP: UInt16 = 2, TUN_TYPE: UInt16 = 3, TUN_PERSIST: UInt16 = 6
    public static let MACVLAN_MODES: [String: UInt32] = ["private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16]
}

/// Address attributes (IFA_*).
public enum IFA {
    public static let ADDRESS: UInt16 = 1, LOCAL: UInt16 = 2, LABEL: UInt16 = 3, BROADCAST: UInt16 = 4
    public static let MULTICAST: UInt16 = 7, FLAGS: UInt16 = 8
    public static let F_NODAD: UInt32 = 0x02, F_PERMANENT: UInt32 = 0x80
}

/// Route attributes and values (RTA_*, RT_*, RTN_*, RTPROT_*).
public enum RTA {
    public static let DST: UInt16 = 1, SRC: UInt16 = 2, IIF: UInt16 = 3, OIF: UInt16 = 4
    public static let GATEWAY: UInt16 = 5, PRIORITY: UInt16 = 6, PREFSRC: UInt16 = 7, TABLE: UInt16 = 15
    public static let PREF: UInt16 = 20
    public static let TABLE_MAIN: UInt8 = 254
    public static let PROT_KERNEL: UInt8 = 2, PROT_BOOT: UInt8 = 3, PROT_STATIC: UInt8 = 4
    public static let SCOPE_UNIVERSE: UInt8 = 0, SCOPE_LINK: UInt8 = 253, SCOPE_HOST: UInt8 = 254
    public static let TYPE_UNICAST: UInt8 = 1, TYPE_LOCAL: UInt8 = 2, TYPE_BROADCAST: UInt8 = 3
    public static let TYPE_MULTICAST: UInt8 = 5
}

/// Neighbour attributes and states (NDA_*, NUD_*).
public enum NDA {
    public static let DST: UInt16 = 1, LLADDR: UInt16 = 2
}

/// Address families.
public enum AF {
    public static let UNSPEC: UInt8 = 0, INET: UInt8 = 2, INET6: UInt8 = 10, BRIDGE: UInt8 = 7
}

/// Interface flags (IFF_*).
public enum IFF {
    public static let UP: UInt32 = 0x1, LOOPBACK: UInt32 = 0x8, RUNNING: UInt32 = 0x40, LOWER_UP: UInt32 = 0x10000
}
