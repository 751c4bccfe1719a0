import Glibc

/// An IPv4 or IPv6 address.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public var family: UInt8 { bytes.count == 4 ? AF.INET : AF.INET6 }
    public var isV4: Bool { bytes.count == 4 }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (inet_pton).
    public init?(_ text: String) {
        guard !text.isEmpty, !text.contains("\0") else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    public var description: String {
        var out = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeBytes { b in
            out.withUnsafeMutableBytes { _ = inet_ntop(isV4 ? AF_INET : AF_INET6, b.baseAddress, $0.baseAddress, 64) }
        }
        return String(decoding: out.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    public var isLinkLocalV6: Bool { !isV4 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 }
}

/// An address with a prefix length: "172.16.1.1/24", "fd00::1/64".
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let length: UInt8

    public init(address: IPAddress, length: UInt8) {
        self.address = address
        self.length = length
    }

    /// Parses CIDR text. Without "/n" the prefix is a host route (/32, /128)
    /// only when `hostDefault` is set.
    public init(parsing text: String, hostDefault: Bool = false) throws(AddressError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPAddress(String(parts[0])) else {
            throw AddressError("not an address with a prefix length (expected e.g. 10.0.0.1/24 or fd00::1/64)")
        }
        let maxLen = addr.isV4 ? 32 : 128
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0, n <= maxLen, parts[1].allSatisfy(\.isNumber) else {
                throw AddressError("the prefix length must be 0 to \(maxLen)")
            }
            self.init(address: addr, length: UInt8(n))
        } else if hostDefault {
            self.init(address: addr, length: UInt8(maxLen))
        } else {
            throw AddressError("no prefix length (expected e.g. \(addr)/\(addr.isV4 ? 24 : 64))")
        }
    }

    /// The network: the address with its host bits cleared.
    public var network: IPPrefix {
        var b = address.bytes
        for i in 0..<b.count {
            let bitsBefore = i * 8
            if bitsBefore >= Int(length) { b[i] = 0 }
            else if bitsBefore + 8 > Int(length) { b[i] &= UInt8(truncatingIfNeeded: 0xff << (8 - (Int(length) - bitsBefore))) }
        }
        return IPPrefix(address: IPAddress(bytes: b)!, length: length)
    }

    public var description: String { "\(address)/\(length)" }
}

/// An Ethernet address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Parses "02:00:00:00:00:01" (or with '-').
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let fields = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 6 else { return nil }
        var b: [UInt8] = []
        for f in fields {
            guard (1...2).contains(f.count), let v = UInt8(f, radix: 16) else { return nil }
            b.append(v)
        }
        bytes = b
    }

    public var description: String {
        bytes.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined(separator: ":")
    }

    public var isMulticast: Bool { bytes[0] & 1 == 1 }
}

public struct AddressError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
