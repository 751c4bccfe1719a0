import LuaKit
import NetLab
import Netlink

/// How calls and objects are written in error messages and summaries.
enum Render {
    /// A Lua value as it would be written in source: "veth0", 3, {via = "10.0.0.1"}, ns1.
    static func literal(_ v: LuaValue, depth: Int = 0) -> String {
        switch v {
        case .nil: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d): return d.isNaN ? "0/0" : (d.isInfinite ? (d > 0 ? "math.huge" : "-math.huge") : String(d))
        case .string(let s): return quote(s)
        case .bytes(let b): return quote(String(decoding: b, as: UTF8.self))
        case .table(let t):
            if depth > 1 { return "{...}" }
            var parts = t.array.map { literal($0, depth: depth + 1) }
            let keyed = t.hash.map { (k, v) -> String in
                if case .string(let s) = k, isIdentifier(s) { return "\(s) = \(literal(v, depth: depth + 1))" }
                return "[\(literal(k, depth: depth + 1))] = \(literal(v, depth: depth + 1))"
            }.sorted()
            parts += keyed
            return parts.isEmpty ? "{}" : "{" + parts.joined(separator: ", ") + "}"
        case .ref: return "<function>"
        case .object(let o):
            if let ns = o as? Namespace { return ns.displayName }
            if let l = o as? Link { return l.lastName }
            return "<\(type(of: o))>"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars.prefix(64) {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\0": out += "\\0"
            default: out += u.value < 32 ? "\\\(u.value)" : String(u)
            }
        }
        if s.unicodeScalars.count > 64 { out += "..." }
        return out + "\""
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || f.properties.isAlphabetic, f.isASCII else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    /// `net.veth("veth0", "veth1")` or `ns1:route("default", {via = "10.0.0.1"})`.
    static func call(_ name: String, receiver: String?, args: [LuaValue]) -> String {
        let list = args.map { literal($0) }.joined(separator: ", ")
        if let receiver { return "\(receiver):\(name)(\(list))" }
        return "net.\(name)(\(list))"
    }
}
