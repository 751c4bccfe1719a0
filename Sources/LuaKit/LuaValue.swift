import CLua

/// A Lua value copied into Swift.
///
/// Strings are kept as bytes when they are not valid UTF-8, so that any Lua
/// string (embedded zeros included) survives a round trip. Functions and
/// other reference values are held through a `LuaRef` into the registry.
public enum LuaValue: Hashable, @unchecked Sendable {
    case `nil`
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case bytes([UInt8])
    case table(LuaTable)
    /// A Lua function (or any other value that is not copied), by reference.
    case ref(LuaRef)
    /// A Swift object exposed to Lua as userdata of a registered class.
    case object(AnyObject)

    public static func == (a: LuaValue, b: LuaValue) -> Bool {
        switch (a, b) {
        case (.nil, .nil): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.integer(x), .number(y)), let (.number(y), .integer(x)): return Double(x) == y
        case let (.string(x), .string(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.table(x), .table(y)): return x == y
        case let (.ref(x), .ref(y)): return x === y
        case let (.object(x), .object(y)): return x === y
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .nil: h.combine(0)
        case .bool(let b): h.combine(b)
        case .integer(let i): h.combine(Double(i))
        case .number(let d): h.combine(d)
        case .string(let s): h.combine(s)
        case .bytes(let b): h.combine(b)
        case .table(let t): h.combine(t.array.count)
        case .ref(let r): h.combine(ObjectIdentifier(r))
        case .object(let o): h.combine(ObjectIdentifier(o))
        }
    }

    /// The value as a string if it is one (numbers are not converted).
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    public var isNil: Bool { if case .nil = self { return true } else { return false } }
}

extension LuaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral i: Int64) { self = .integer(i) }
    public init(floatLiteral d: Double) { self = .number(d) }
    public init(booleanLiteral b: Bool) { self = .bool(b) }
    public init(nilLiteral: ()) { self = .nil }
}

/// A Lua table copied into Swift: the sequence 1...n, and every other key.
/// A table made in Swift may carry a metatable, set when it is pushed (a
/// table copied from Lua never does: metatables are not copied).
public struct LuaTable: Hashable, Sendable {
    public var array: [LuaValue]
    public var hash: [LuaValue: LuaValue]
    /// Kept in an array: a value type cannot hold itself directly.
    private var metatableStorage: [LuaValue] = []
    public var metatable: LuaValue? {
        get { metatableStorage.first }
        set { metatableStorage = newValue.map { [$0] } ?? [] }
    }

    public init(array: [LuaValue] = [], hash: [LuaValue: LuaValue] = [:], metatable: LuaValue? = nil) {
        self.array = array
        self.hash = hash
        self.metatable = metatable
    }

    /// A table with string keys.
    public init(_ fields: [String: LuaValue]) {
        self.array = []
        self.hash = Dictionary(uniqueKeysWithValues: fields.map { (LuaValue.string($0.key), $0.value) })
    }

    public subscript(key: String) -> LuaValue {
        get { hash[.string(key)] ?? .nil }
        set { hash[.string(key)] = newValue.isNil ? nil : newValue }
    }
}

/// A value kept alive in the Lua registry; released when the Swift side drops it.
public final class LuaRef: @unchecked Sendable {
    let ref: Int32
    weak var lua: Lua?

    init(lua: Lua, ref: Int32) {
        self.lua = lua
        self.ref = ref
    }

    deinit {
        if let lua, let L = lua.L { luaL_unref(L, nslua_registryindex(), ref) }
    }
}

import CLuaBridge
