import Netlink

/// Input checks done before the kernel sees anything, each with its own message.
public enum Validate {
    /// An interface name: 1 to 15 bytes (IFNAMSIZ-1), no '/', ':', whitespace
    /// or NUL, not "." or ".." (the kernel's dev_valid_name).
    public static func interfaceName(_ name: String) throws(LabError) {
        try checkName(name, what: "interface name", maxBytes: 15, forbidden: [0, UInt8(ascii: "/"), UInt8(ascii: ":")])
    }

    /// A namespace name, as a file under /run/netns: 1 to 255 bytes, no '/',
    /// whitespace or NUL, not "." or "..".
    public static func namespaceName(_ name: String) throws(LabError) {
        try checkName(name, what: "namespace name", maxBytes: 255, forbidden: [0, UInt8(ascii: "/")])
    }

    private static func checkName(_ name: String, what: String, maxBytes: Int, forbidden: Set<UInt8>) throws(LabError) {
        let bytes = Array(name.utf8)
        let reason = "invalid \(what)"
        if bytes.isEmpty { throw .invalid(reason, "it is empty") }
        if bytes.count > maxBytes { throw .invalid(reason, "'\(shown(name))' is \(bytes.count) bytes; at most \(maxBytes)") }
        if name == "." || name == ".." { throw .invalid(reason, "'\(name)' is reserved") }
        if let bad = bytes.first(where: { forbidden.contains($0) || isSpace($0) }) {
            throw .invalid(reason, "'\(shown(name))' contains \(describe(bad))")
        }
    }

    public static func prefix(_ text: String) throws(LabError) -> IPPrefix {
        do { return try IPPrefix(parsing: text) } catch {
            if text.contains("/"), let mask = text.split(separator: "/").last, let bits = netmaskBits(String(mask)) {
                throw .invalid("invalid address", "'\(shown(text))': write the netmask as a prefix length: /\(bits)")
            }
            throw .invalid("invalid address", "'\(shown(text))': \(error.description)")
        }
    }

    /// 24 for "255.255.255.0" (a dotted netmask where a prefix length belongs).
    static func netmaskBits(_ text: String) -> Int? {
        guard let a = IPAddress(text), a.isV4 else { return nil }
        let v = a.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let bits = (~v).leadingZeroBitCount
        return bits >= 1 && v == ~UInt32(0) << (32 - bits) ? bits : nil
    }

    public static func address(_ text: String) throws(LabError) -> IPAddress {
        guard let a = IPAddress(text) else {
            throw .invalid("invalid address", "'\(shown(text))' is not an IPv4 or IPv6 address")
        }
        return a
    }

    public static func mac(_ text: String) throws(LabError) -> MACAddress {
        guard let m = MACAddress(text) else {
            throw .invalid("invalid MAC address", "'\(shown(text))' (expected e.g. 02:00:00:00:00:01)")
        }
        if m.isMulticast { throw .invalid("invalid MAC address", "\(m) is a multicast address") }
        if m.bytes.allSatisfy({ $0 == 0 }) { throw .invalid("invalid MAC address", "00:00:00:00:00:00") }
        return m
    }

    public static func mtu(_ value: Int64) throws(LabError) -> UInt32 {
        guard value >= 68, value <= 65535 else {
            throw .invalid("invalid MTU", "\(value) is outside 68..65535")
        }
        return UInt32(value)
    }

    /// A sysctl key under net. ("net.ipv4.ip_forward" or "net/ipv4/conf/eth0.1/forwarding")
    /// to its /proc/sys path. Only per-namespace (net.*) keys are allowed, so
    /// a lab cannot change the host's kernel settings.
    public static func sysctlPath(_ key: String) throws(LabError) -> String {
        let parts = key.contains("/") ? key.split(separator: "/", omittingEmptySubsequences: false)
                                      : key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.first == "net", parts.count >= 2 else {
            throw .invalid("invalid sysctl key", "'\(shown(key))': only per-namespace net.* keys can be used")
        }
        for p in parts where p.isEmpty || p == "." || p == ".." || p.utf8.contains(0) || p.contains(where: \.isWhitespace) {
            throw .invalid("invalid sysctl key", "'\(shown(key))'")
        }
        return "/proc/sys/" + parts.joined(separator: "/")
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 32 || (9...13).contains(b) }

    static func describe(_ b: UInt8) -> String {
        switch b {
        case 0: return "a NUL byte"
        case UInt8(ascii: "/"): return "'/'"
        case UInt8(ascii: ":"): return "':'"
        default: return "whitespace"
        }
    }

    /// User input as it is quoted in messages: control bytes escaped, and cut
    /// to 40 characters (a 1 MB bad argument is not echoed back whole).
    public static func shown(_ s: String, max: Int = 40) -> String {
        var out = ""
        var n = 0
        for u in s.unicodeScalars {
            if n == max { return out + "..." }
            if u.value < 32 || u.value == 127 { out += "\\\(u.value)" } else { out.unicodeScalars.append(u) }
            n += 1
        }
        return out
    }
}
