import CLua
import CLuaBridge

/// The arguments of one call from Lua into Swift, with checks that fail the
/// way lauxlib's do: "bad argument #2 to 'veth' (string expected, got nil)".
/// Argument indexes are stack indexes (a method's self is 1).
public struct LuaCall {
    public let lua: Lua
    let L: OpaquePointer

    init(lua: Lua, L: OpaquePointer) {
        self.lua = lua
        self.L = L
    }

    /// The number of arguments.
    public var count: Int32 { lua_gettop(L) }

    /// The type name lauxlib would use for argument `i` (honours `__name`).
    public func typeName(_ i: Int32) -> String {
        if luaL_getmetafield(L, i, "__name") == LUA_TSTRING, let s = nslua_tostring(L, -1) {
            let name = String(cString: s)
            nslua_pop(L, 1)
            return name
        }
        if luaL_getmetafield(L, i, "__name") != LUA_TNIL { nslua_pop(L, 1) }
        if lua_type(L, i) == LUA_TLIGHTUSERDATA { return "light userdata" }
        if lua_type(L, i) == LUA_TNONE { return "no value" }
        return String(cString: lua_typename(L, lua_type(L, i)))
    }

    public func typeError(_ i: Int32, _ expected: String) -> LuaError {
        .argument(i, "\(expected) expected, got \(typeName(i))")
    }

    public func isNoneOrNil(_ i: Int32) -> Bool { nslua_isnoneornil(L, i) != 0 }
    public func isTable(_ i: Int32) -> Bool { nslua_istable(L, i) != 0 }
    public func isString(_ i: Int32) -> Bool { lua_type(L, i) == LUA_TSTRING }

    /// Argument `i` copied into Swift (tables deeply, within a budget).
    public func value(_ i: Int32) throws -> LuaValue { try lua.value(at: i, on: L) }

    /// A string argument (numbers are accepted and converted, as lauxlib does).
    public func string(_ i: Int32) throws -> String {
        guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else { throw typeError(i, "string") }
        return luaString(at: i, on: L) ?? ""
    }

    public func optionalString(_ i: Int32) throws -> String? { isNoneOrNil(i) ? nil : try string(i) }

    public func integer(_ i: Int32) throws -> Int64 {
        var isnum: Int32 = 0
        let v = lua_tointegerx(L, i, &isnum)
        if isnum != 0 { return v }
        if lua_isnumber(L, i) != 0 { throw LuaError.argument(i, "number has no integer representation") }
        throw typeError(i, "number")
    }

    public func optionalInteger(_ i: Int32) throws -> Int64? { isNoneOrNil(i) ? nil : try integer(i) }

    public func number(_ i: Int32) throws -> Double {
        var isnum: Int32 = 0
        let v = lua_tonumberx(L, i, &isnum)
        if isnum != 0 { return v }
        throw typeError(i, "number")
    }

    public func optionalNumber(_ i: Int32) throws -> Double? { isNoneOrNil(i) ? nil : try number(i) }

    /// Lua truth: everything but nil and false.
    public func boolean(_ i: Int32) -> Bool { lua_toboolean(L, i) != 0 }

    public func function(_ i: Int32) throws -> LuaValue {
        guard nslua_isfunction(L, i) != 0 else { throw typeError(i, "function") }
        return try value(i)
    }

    /// A Swift object of a registered class.
    public func object<T: AnyObject>(_ i: Int32, _ type: T.Type) throws -> T {
        if let o = optionalObject(i, type) { return o }
        let expected = lua.classes[ObjectIdentifier(T.self)]?.name ?? "\(T.self)"
        throw typeError(i, expected)
    }

    public func optionalObject<T: AnyObject>(_ i: Int32, _ type: T.Type) -> T? {
        guard let cls = lua.classes[ObjectIdentifier(T.self)],
              let p = nslua_toobject(L, i, cls.name) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue() as? T
    }

    /// Rejects arguments past `max` ("bad argument #3 to 'f' (no value expected)").
    public func noMoreThan(_ max: Int32) throws {
        if count > max { throw LuaError.argument(max + 1, "no value expected") }
    }

    /// Calls a Lua function with arguments (protected); its error comes back
    /// as a thrown `LuaError.lua`, which re-raises unchanged if not caught.
    public func call(_ function: LuaValue, _ args: [LuaValue]) throws -> [LuaValue] {
        try lua.call(function, args, on: L)
    }

    // MARK: Tables, read as they are needed

    /// Argument `i` as a table read lazily: an options table (`{count = 3}`)
    /// or a list. Nothing is copied beyond what is read.
    public func table(_ i: Int32) throws -> LuaTableArgument {
        guard nslua_istable(L, i) != 0 else { throw typeError(i, "table") }
        return LuaTableArgument(call: self, index: lua_absindex(L, i))
    }

    /// Argument `i` as an options table with only string keys from `known`
    /// (a typo such as `{peerns = b}` must not pass silently). Absent or nil:
    /// an empty one. Errors about an option name the argument `i`.
    public func options(_ i: Int32, known: [String], allowList: Bool = false) throws -> LuaTableArgument {
        if isNoneOrNil(i) { return LuaTableArgument(call: self, index: nil, argument: i) }
        let t = try table(i)
        try t.checkKeys(known: known, allowList: allowList)
        return t
    }

    // MARK: Rendering

    /// Argument `i` written as Lua source, shortened ("veth0", 3, {via = "10.0.0.1"}, ns1),
    /// for error messages. Reads at most two levels and a few entries.
    public func literal(_ i: Int32) -> String { literal(lua_absindex(L, i), depth: 0) }

    private func literal(_ i: Int32, depth: Int) -> String {
        switch lua_type(L, i) {
        case LUA_TNIL, LUA_TNONE: return "nil"
        case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
        case LUA_TNUMBER:
            if lua_isinteger(L, i) != 0 { return String(lua_tointegerx(L, i, nil)) }
            let d = lua_tonumberx(L, i, nil)
            return d.isNaN ? "0/0" : (d.isInfinite ? (d > 0 ? "math.huge" : "-math.huge") : String(d))
        case LUA_TSTRING: return LuaCall.quote(luaString(at: i, on: L) ?? "")
        case LUA_TTABLE:
            if depth > 1 { return "{...}" }
            guard lua_checkstack(L, 4) != 0 else { return "{...}" }
            let n = lua_Integer(clamping: lua_rawlen(L, i))
            var parts: [String] = []
            var more = n > 8
            if n > 0 {
                for j in 1...min(n, 8) {
                    lua_rawgeti(L, i, j)
                    parts.append(literal(lua_gettop(L), depth: depth + 1))
                    nslua_pop(L, 1)
                }
            }
            var keyed: [String] = []
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                let top = lua_gettop(L)
                if lua_isinteger(L, top - 1) != 0, (1...max(n, 1)).contains(lua_tointegerx(L, top - 1, nil)), n > 0 {
                    nslua_pop(L, 1)
                    continue
                }
                if keyed.count >= 8 { more = true; nslua_pop(L, 2); break }
                let value = literal(top, depth: depth + 1)
                if lua_type(L, top - 1) == LUA_TSTRING, let k = luaString(at: top - 1, on: L), LuaCall.isIdentifier(k) {
                    keyed.append("\(k) = \(value)")
                } else {
                    keyed.append("[\(literal(top - 1, depth: depth + 1))] = \(value)")
                }
                nslua_pop(L, 1)
            }
            parts += keyed.sorted()
            if more { parts.append("...") }
            return parts.isEmpty ? "{}" : "{" + parts.joined(separator: ", ") + "}"
        case LUA_TUSERDATA:
            if let p = nslua_anyobject(L, i) {
                let object = Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
                if let cls = lua.classes[ObjectIdentifier(type(of: object))] { return cls.literal(object) }
            }
            return "<\(typeName(i))>"
        case LUA_TFUNCTION: return "<function>"
        default: return "<\(typeName(i))>"
        }
    }

    /// A string as a Lua literal, shortened to 64 characters.
    public static func quote(_ s: String) -> String {
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

    /// A name as shown inside quotes in a message: at most 40 characters, control bytes escaped.
    static func quoteless(_ s: String) -> String {
        String(quote(String(s.prefix(40))).dropFirst().dropLast()) + (s.count > 40 ? "..." : "")
    }

    /// A name a Lua program can use as a variable (an identifier, not a keyword).
    public static func isLuaName(_ s: String) -> Bool {
        isIdentifier(s) && !["and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
                              "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"].contains(s)
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || f.properties.isAlphabetic, f.isASCII else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}

/// A table argument read field by field, raw (no metamethods), converting
/// only what is asked for. It remembers which argument it is, so that an
/// error about one of its fields names the right one.
public struct LuaTableArgument {
    let call: LuaCall
    /// Stack index of the table (nil: the argument was absent).
    let index: Int32?
    /// The argument (stack index) errors name.
    public let argument: Int32

    init(call: LuaCall, index: Int32?, argument: Int32? = nil) {
        self.call = call
        self.index = index
        self.argument = argument ?? index ?? 0
    }

    var L: OpaquePointer { call.L }

    /// The sequence length (`#t`, raw).
    public var count: Int {
        guard let index else { return 0 }
        return Int(lua_rawlen(L, index))
    }

    /// An error about this argument: "bad argument #n to 'f' (message)".
    public func error(_ message: String) -> LuaError { .argument(argument, message) }

    /// Only string keys from `known` (and, with `allowList`, the sequence 1..n).
    func checkKeys(known: [String], allowList: Bool) throws {
        guard let index else { return }
        let n = lua_rawlen(L, index)
        guard lua_checkstack(L, 3) != 0 else { throw LuaError.runtime("stack overflow") }
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            nslua_pop(L, 1)   // the value is never read here
            let top = lua_gettop(L)
            if lua_type(L, top) == LUA_TSTRING, let k = luaString(at: top, on: L), known.contains(k) { continue }
            if lua_isinteger(L, top) != 0, case let k = lua_tointegerx(L, top, nil), k >= 1, k <= lua_Integer(n) {
                if allowList { continue }
                nslua_pop(L, 1)
                throw error("options must be named, e.g. {\(known.sorted().first ?? "name") = ...}")
            }
            let shown = call.literal(top)
            nslua_pop(L, 1)
            throw error("unknown option \(shown) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// Pushes field `key` (or list element `i`), runs `body` on it, pops it.
    private func with<R>(_ key: LuaValue, _ body: (Int32) throws -> R) throws -> R {
        guard let index else { return try withNil(body) }
        guard lua_checkstack(L, 2) != 0 else { throw LuaError.runtime("stack overflow") }
        switch key {
        case .integer(let i): lua_rawgeti(L, index, i)
        case .string(let s): lua_pushstring(L, s); lua_rawget(L, index)
        default: lua_pushnil(L)
        }
        defer { nslua_pop(L, 1) }
        return try body(lua_gettop(L))
    }

    private func withNil<R>(_ body: (Int32) throws -> R) throws -> R {
        lua_pushnil(L)
        defer { nslua_pop(L, 1) }
        return try body(lua_gettop(L))
    }

    public func has(_ key: String) throws -> Bool {
        try with(.string(key)) { lua_type(L, $0) != LUA_TNIL }
    }

    /// Field `key` copied into Swift (a table within the conversion budget).
    public func value(_ key: String) throws -> LuaValue {
        try with(.string(key)) { try call.lua.value(at: $0, on: L) }
    }

    /// List element `i` (1-based) copied into Swift.
    public func element(_ i: Int) throws -> LuaValue {
        try with(.integer(Int64(i))) { try call.lua.value(at: $0, on: L) }
    }

    /// Field `key` written as Lua source, for messages.
    public func literal(_ key: String) -> String {
        (try? with(.string(key)) { call.literal($0) }) ?? "?"
    }

    private func mustBe(_ key: String, _ what: String) -> LuaError {
        error("option '\(key)' must be \(what) (got \(literal(key)))")
    }

    public func string(_ key: String, _ what: String = "a string") throws -> String? {
        try with(.string(key)) { i in
            switch lua_type(L, i) {
            case LUA_TNIL: return nil
            case LUA_TSTRING: return luaString(at: i, on: L)
            default: throw mustBe(key, what)
            }
        }
    }

    public func integer(_ key: String, in range: ClosedRange<Int64>, _ what: String? = nil) throws -> Int64? {
        try with(.string(key)) { i in
            if lua_type(L, i) == LUA_TNIL { return nil }
            var isnum: Int32 = 0
            let v = lua_tointegerx(L, i, &isnum)
            guard lua_type(L, i) == LUA_TNUMBER, isnum != 0, range.contains(v) else {
                throw mustBe(key, what ?? "an integer \(range.lowerBound)..\(range.upperBound)")
            }
            return v
        }
    }

    public func number(_ key: String, in range: ClosedRange<Double>, _ what: String? = nil) throws -> Double? {
        try with(.string(key)) { i in
            if lua_type(L, i) == LUA_TNIL { return nil }
            let v = lua_tonumberx(L, i, nil)
            guard lua_type(L, i) == LUA_TNUMBER, v.isFinite, range.contains(v) else {
                throw mustBe(key, what ?? "a number \(range.lowerBound)..\(range.upperBound)")
            }
            return v
        }
    }

    public func bool(_ key: String) throws -> Bool? {
        try with(.string(key)) { i in
            switch lua_type(L, i) {
            case LUA_TNIL: return nil
            case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0
            default: throw mustBe(key, "true or false")
            }
        }
    }

    public func object<T: AnyObject>(_ key: String, _ type: T.Type) throws -> T? {
        try with(.string(key)) { i in
            if lua_type(L, i) == LUA_TNIL { return nil }
            guard let cls = call.lua.classes[ObjectIdentifier(T.self)], let p = nslua_toobject(L, i, cls.name),
                  let o = Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue() as? T else {
                throw mustBe(key, "a \(call.lua.classes[ObjectIdentifier(T.self)]?.name ?? "\(T.self)")")
            }
            return o
        }
    }

    /// Field `key` as a table read lazily (nil when absent).
    public func table<R>(_ key: String, _ body: (LuaTableArgument) throws -> R) throws -> R? {
        try with(.string(key)) { i in
            if lua_type(L, i) == LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TTABLE else { throw mustBe(key, "a table") }
            return try body(LuaTableArgument(call: call, index: i, argument: argument))
        }
    }
}
