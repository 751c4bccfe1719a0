import Glibc
import Netlink

/// Link impairment as `tc` sets it up: netem (delay, jitter, loss) and tbf
/// (a rate limit). Both can be on at once: netem at the root (handle 1:) with
/// tbf as its child (10:), as the netem documentation does it.
public struct Netem: Equatable, Sendable {
    public var delayNS: UInt64 = 0
    public var jitterNS: UInt64 = 0
    public var lossPercent: Double = 0
    public var limit: UInt32 = 1000
    public init(delayNS: UInt64 = 0, jitterNS: UInt64 = 0, lossPercent: Double = 0, limit: UInt32 = 1000) {
        self.delayNS = delayNS; self.jitterNS = jitterNS; self.lossPercent = lossPercent; self.limit = limit
    }
}

public struct RateLimit: Equatable, Sendable {
    /// Bytes per second.
    public var bytesPerSecond: UInt64
    /// Bucket size in bytes.
    public var burst: UInt32
    /// Queue size in bytes.
    public var limit: UInt32

    /// A rate with tc-like defaults: a burst of 20 ms of traffic (at least
    /// 4 KiB), and a queue of 50 ms plus the burst.
    public init(bytesPerSecond: UInt64, burst: UInt32? = nil, latencyNS: UInt64 = 50_000_000) {
        self.bytesPerSecond = bytesPerSecond
        let b = burst ?? UInt32(clamping: max(4096, bytesPerSecond / 50))
        self.burst = b
        self.limit = UInt32(clamping: UInt64(b) + bytesPerSecond * latencyNS / 1_000_000_000)
    }
}

/// tc's units (tc(8), "PARAMETERS"), case-insensitive as tc reads them.
public enum TCUnits {
    /// "10mbit", "1gbit", "500kbps", "64kibit" ... to bytes per second.
    public static func rate(_ text: String) throws(LabError) -> UInt64 {
        let units: [(String, Double)] = [
            ("bit", 1), ("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("tbit", 1e12),
            ("kibit", 1024), ("mibit", 1048576), ("gibit", 1073741824), ("tibit", 1099511627776),
            ("bps", 8), ("kbps", 8e3), ("mbps", 8e6), ("gbps", 8e9), ("tbps", 8e12),
            ("kibps", 8 * 1024), ("mibps", 8 * 1048576), ("gibps", 8 * 1073741824.0), ("tibps", 8 * 1099511627776.0),
        ]
        guard let (number, unit) = split(text), let scale = units.first(where: { $0.0 == unit })?.1 else {
            throw .invalid("invalid rate", "'\(Validate.shown(text))' (expected e.g. 10mbit, 500kbit, 1gbit, 100kbps)")
        }
        let bits = number * scale
        guard bits >= 8, bits < 8e15 else { throw .invalid("invalid rate", "'\(text)' is outside 8bit..1000tbit") }
        return UInt64(bits / 8)
    }

    /// "20ms", "1.5s", "100us" to nanoseconds.
    public static func time(_ text: String) throws(LabError) -> UInt64 {
        let units: [(String, Double)] = [("s", 1e9), ("sec", 1e9), ("secs", 1e9), ("ms", 1e6), ("msec", 1e6),
                                         ("msecs", 1e6), ("us", 1e3), ("usec", 1e3), ("usecs", 1e3), ("ns", 1)]
        guard let (number, unit) = split(text), let scale = units.first(where: { $0.0 == unit })?.1 else {
            throw .invalid("invalid time", "'\(Validate.shown(text))' (expected e.g. 20ms, 1s, 100us)")
        }
        let ns = number * scale
        guard ns < 3.6e12 else { throw .invalid("invalid time", "'\(text)' is more than an hour") }
        return UInt64(ns)
    }

    /// "32kbit", "4kb", "1500b" to bytes (tc's size units: 1024-based).
    public static func size(_ text: String) throws(LabError) -> UInt32 {
        let units: [(String, Double)] = [("b", 1), ("k", 1024), ("kb", 1024), ("m", 1048576), ("mb", 1048576),
                                         ("g", 1073741824), ("gb", 1073741824), ("kbit", 128), ("mbit", 131072),
                                         ("gbit", 134217728)]
        guard let (number, unit) = split(text), let scale = units.first(where: { $0.0 == unit })?.1 else {
            throw .invalid("invalid size", "'\(Validate.shown(text))' (expected e.g. 32kbit, 4kb, 1500b)")
        }
        let bytes = number * scale
        guard bytes >= 64, bytes <= Double(UInt32.max) else { throw .invalid("invalid size", "'\(text)' is outside 64b..4gb") }
        return UInt32(bytes)
    }

    /// "1%", "0.5%" to percent.
    public static func percent(_ text: String) throws(LabError) -> Double {
        guard text.hasSuffix("%"), let v = Double(text.dropLast()), v.isFinite, v >= 0, v <= 100 else {
            throw .invalid("invalid percentage", "'\(Validate.shown(text))' (expected e.g. 1% or 0.5%)")
        }
        return v
    }

    /// "20ms", "1.5ms", "2s": a time as tc prints it.
    public static func describe(nanoseconds ns: UInt64) -> String {
        if ns % 1_000_000_000 == 0 && ns > 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1000 == 0 { return "\(ns / 1000)us" }
        return "\(ns)ns"
    }

    /// "10mbit", "1gbit", "1500bit": a rate as tc reads it.
    public static func describe(bitsPerSecond b: UInt64) -> String {
        for (unit, scale) in [("gbit", UInt64(1_000_000_000)), ("mbit", 1_000_000), ("kbit", 1000)] where b >= scale && b % scale == 0 {
            return "\(b / scale)\(unit)"
        }
        return "\(b)bit"
    }

    /// A non-negative finite number and its (lower-cased) unit.
    private static func split(_ text: String) -> (Double, String)? {
        let t = text.trimmingSpaces.lowercased()
        guard let i = t.firstIndex(where: { !($0.isNumber || $0 == ".") }), i > t.startIndex,
              let v = Double(t[..<i]), v.isFinite, v >= 0 else { return nil }
        return (v, String(t[i...]))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

extension Link {
    /// Equivalent to `tc qdisc replace dev DEV root netem delay D jitter J loss L`
    /// (nil: `tc qdisc del dev DEV root`, keeping a rate limit if one is set).
    public func setNetem(_ netem: Netem?) throws(LabError) {
        try applyQdiscs(netem: netem, rate: rateLimit)
        self.netem = netem
    }

    /// Equivalent to `tc qdisc replace dev DEV root tbf rate R burst B limit L`
    /// (under netem when both are set; nil removes it).
    public func setRate(_ rate: RateLimit?) throws(LabError) {
        try applyQdiscs(netem: netem, rate: rate)
        self.rateLimit = rate
    }

    /// Rebuilds the root qdisc from scratch; on failure puts back what was there.
    private func applyQdiscs(netem: Netem?, rate: RateLimit?) throws(LabError) {
        let m = try message()
        if !owned && self.netem == nil && self.rateLimit == nil {
            // Someone's own root qdisc (tc gives every one a handle; the
            // kernel's default ones have none) is not nslua's to replace.
            let root = try namespace.dump(Requests.dumpQdiscs()).compactMap { try? QdiscMessage($0) }
                .first { $0.index == index && $0.isRoot }
            if let root, root.handle != 0 {
                throw .invalid("Device or resource busy",
                               "\(label) has a \(root.kind) root qdisc (handle \(root.handle >> 16):) that nslua did not set; "
                               + "nslua does not replace it (remove it first: tc qdisc del dev \(m.name) root)")
            }
            try lab?.ledger.impaired(self)
        }
        do {
            try installQdiscs(netem: netem, rate: rate)
        } catch {
            try? installQdiscs(netem: self.netem, rate: self.rateLimit)
            throw error
        }
        if netem == nil && rate == nil { lab?.ledger.unimpaired(self) }
    }

    private func installQdiscs(netem: Netem?, rate: RateLimit?) throws(LabError) {
        do {
            try namespace.request(Requests.deleteRootQdisc(index: index))
            lab?.trace(tc: "qdisc del dev \(lastName) root", in: namespace)
        } catch where error.kind == .kernel(ENOENT) || error.kind == .kernel(EINVAL) || error.kind == .notFound {
            // Nothing of ours was there: the default qdisc stays until we add one.
        }
        var rateParent = TC.ROOT
        if let n = netem {
            lab?.trace(tc: "qdisc add dev \(lastName) root handle 1: netem limit \(n.limit) delay \(TCUnits.describe(nanoseconds: n.delayNS))"
                       + (n.jitterNS > 0 ? " \(TCUnits.describe(nanoseconds: n.jitterNS))" : "")
                       + (n.lossPercent > 0 ? " loss \(formatPercent(n.lossPercent))%" : ""), in: namespace)
            do {
                try namespace.request(Requests.netem(index: index, handle: TC.handle(1, 0), parent: TC.ROOT,
                                                     delayNS: n.delayNS, jitterNS: n.jitterNS,
                                                     lossPercent: n.lossPercent, limit: n.limit))
            } catch where error.kind == .kernel(ENOENT) || error.kind == .kernel(EOPNOTSUPP) {
                throw LabError(.unsupported, "netem is not available",
                               "this kernel has no sch_netem (it said: \(error.detail ?? error.reason)); "
                               + "load it with modprobe sch_netem, or use a kernel built with CONFIG_NET_SCH_NETEM")
            }
            rateParent = TC.handle(1, 1)
        }
        if let r = rate {
            let handle = netem == nil ? TC.handle(1, 0) : TC.handle(10, 0)
            lab?.trace(tc: "qdisc add dev \(lastName) \(netem == nil ? "root handle 1:" : "parent 1:1 handle 10:") tbf rate \(r.bytesPerSecond * 8)bit burst \(r.burst)b limit \(r.limit)b",
                       in: namespace)
            do {
                try namespace.request(Requests.tbf(index: index, handle: handle, parent: rateParent,
                                                   rateBytes: r.bytesPerSecond, burst: r.burst, limit: r.limit))
            } catch where error.kind == .kernel(ENOENT) || error.kind == .kernel(EOPNOTSUPP) {
                throw LabError(.unsupported, "tbf is not available",
                               "this kernel has no sch_tbf (it said: \(error.detail ?? error.reason))")
            }
        }
    }
}
