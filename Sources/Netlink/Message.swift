/// One netlink message under construction: header, fixed struct, attributes.
///
/// Alignment (NLMSG_ALIGN / NLA_ALIGN, 4 bytes) and lengths are handled here
/// and nowhere else; nested attributes get their length when they are closed.
public struct NetlinkRequest: Sendable {
    public private(set) var bytes: [UInt8]
    private var nests: [Int] = []

    public static let headerSize = 16

    /// Starts a message of `type` with `flags` (NLM_F_REQUEST is added).
    public init(type: UInt16, flags: UInt16) {
        bytes = [UInt8](repeating: 0, count: NetlinkRequest.headerSize)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: type, toByteOffset: 4, as: UInt16.self)
            b.storeBytes(of: flags | NL.F_REQUEST, toByteOffset: 6, as: UInt16.self)
        }
        updateLength()
    }

    public var type: UInt16 { bytes.withUnsafeBytes { $0.load(fromByteOffset: 4, as: UInt16.self) } }
    public var flags: UInt16 { bytes.withUnsafeBytes { $0.load(fromByteOffset: 6, as: UInt16.self) } }

    /// Sets the sequence number and port id just before sending.
    public mutating func stamp(seq: UInt32, pid: UInt32 = 0) {
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: seq, toByteOffset: 8, as: UInt32.self)
            b.storeBytes(of: pid, toByteOffset: 12, as: UInt32.self)
        }
    }

    private mutating func updateLength() {
        let n = UInt32(bytes.count)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: n, toByteOffset: 0, as: UInt32.self) }
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// Appends a fixed struct (ifinfomsg, ifaddrmsg, rtmsg, ndmsg, tcmsg).
    public mutating func append<S: NetlinkStruct>(_ s: S) {
        bytes += s.encoded()
        pad()
        updateLength()
    }

    /// Appends one attribute with a raw payload.
    public mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        let len = UInt16(4 + payload.count)
        bytes += withUnsafeBytes(of: len) { Array($0) }
        bytes += withUnsafeBytes(of: type) { Array($0) }
        bytes += payload
        pad()
        updateLength()
    }

    public mutating func attribute(_ type: UInt16, string: String) {
        attribute(type, Array(string.utf8) + [0])
    }

    public mutating func attribute(_ type: UInt16, u32: UInt32) {
        attribute(type, withUnsafeBytes(of: u32) { Array($0) })
    }

    public mutating func attribute(_ type: UInt16, i32: Int32) {
        attribute(type, withUnsafeBytes(of: i32) { Array($0) })
    }

    public mutating func attribute(_ type: UInt16, u8: UInt8) {
        attribute(type, [u8])
    }

    /// Opens a nested attribute; close it with `endNest()`.
    public mutating func beginNest(_ type: UInt16) {
        nests.append(bytes.count)
        attribute(type, [])
    }

    public mutating func endNest() {
        let start = nests.removeLast()
        let len = UInt16(bytes.count - start)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: len, toByteOffset: start, as: UInt16.self) }
    }

    /// A nested attribute built by `body`.
    public mutating func nest(_ type: UInt16, _ body: (inout NetlinkRequest) -> Void) {
        beginNest(type)
        body(&self)
        endNest()
    }
}

/// A fixed-size struct that follows the netlink header.
public protocol NetlinkStruct {
    func encoded() -> [UInt8]
}

/// struct ifinfomsg (16 bytes).
public struct IfInfoMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8 = 0
    public var type: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(family: UInt8 = 0, type: UInt16 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.family = family; self.type = type; self.index = index; self.flags = flags; self.change = change
    }

    public func encoded() -> [UInt8] {
        var b = [family, 0]
        b += le(type); b += le(index); b += le(flags); b += le(change)
        return b
    }

    public init(decoding b: ArraySlice<UInt8>) {
        let b = Array(b)
        family = b[0]
        type = read(b, 2); index = read(b, 4); flags = read(b, 8); change = read(b, 12)
    }
    public static let size = 16
}

/// struct ifaddrmsg (8 bytes).
public struct IfAddrMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8
    public var prefixLength: UInt8
    public var flags: UInt8 = 0
    public var scope: UInt8 = 0
    public var index: UInt32

    public init(family: UInt8, prefixLength: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32) {
        self.family = family; self.prefixLength = prefixLength; self.flags = flags; self.scope = scope; self.index = index
    }

    public func encoded() -> [UInt8] { [family, prefixLength, flags, scope] + le(index) }

    public init(decoding b: ArraySlice<UInt8>) {
        let b = Array(b)
        family = b[0]; prefixLength = b[1]; flags = b[2]; scope = b[3]; index = read(b, 4)
    }
    public static let size = 8
}

/// struct rtmsg (12 bytes).
public struct RtMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8
    public var dstLength: UInt8 = 0
    public var srcLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = RTA.TABLE_MAIN
    public var protocolID: UInt8 = RTA.PROT_BOOT
    public var scope: UInt8 = RTA.SCOPE_UNIVERSE
    public var type: UInt8 = RTA.TYPE_UNICAST
    public var flags: UInt32 = 0

    public init(family: UInt8, dstLength: UInt8 = 0, table: UInt8 = RTA.TABLE_MAIN, protocolID: UInt8 = RTA.PROT_BOOT,
                scope: UInt8 = RTA.SCOPE_UNIVERSE, type: UInt8 = RTA.TYPE_UNICAST) {
        self.family = family; self.dstLength = dstLength; self.table = table
        self.protocolID = protocolID; self.scope = scope; self.type = type
    }

    public func encoded() -> [UInt8] {
        [family, dstLength, srcLength, tos, table, protocolID, scope, type] + le(flags)
    }

    public init(decoding b: ArraySlice<UInt8>) {
        let b = Array(b)
        family = b[0]; dstLength = b[1]; srcLength = b[2]; tos = b[3]; table = b[4]
        protocolID = b[5]; scope = b[6]; type = b[7]; flags = read(b, 8)
    }
    public static let size = 12
}

/// struct ndmsg (12 bytes).
public struct NdMsg: NetlinkStruct, Equatable, Sendable {
    public var family: UInt8
    public var index: Int32 = 0
    public var state: UInt16 = 0
    public var flags: UInt8 = 0
    public var type: UInt8 = 0

    public init(family: UInt8, index: Int32 = 0) { self.family = family; self.index = index }

    public func encoded() -> [UInt8] { [family, 0, 0, 0] + le(index) + le(state) + [flags, type] }

    public init(decoding b: ArraySlice<UInt8>) {
        let b = Array(b)
        family = b[0]; index = read(b, 4); state = read(b, 8); flags = b[10]; type = b[11]
    }
    public static let size = 12
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

func read<T: FixedWidthInteger>(_ b: [UInt8], _ offset: Int) -> T {
    var v: T = 0
    withUnsafeMutableBytes(of: &v) { dst in
        for i in 0..<MemoryLayout<T>.size { dst[i] = b[offset + i] }
    }
    return T(littleEndian: v)
}
