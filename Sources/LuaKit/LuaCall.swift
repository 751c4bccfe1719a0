import CLua
import CLuaBridge

/// The arguments of one call from Lua into Swift, with checks that fail the
/// way lauxlib's do: "bad argument #2 to 'veth' (string expected, got nil)".
public struct LuaCall {
    public let lua: Lua
    public let L: OpaquePointer

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

    public func value(_ i: Int32) throws -> LuaValue { try lua.value(at: i, on: L) }

    /// A string argument (numbers are accepted and converted, as lauxlib does).
    public func string(_ i: Int32) throws -> String {
        guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else { throw typeError(i, "string") }
        var len = 0
        let p = lua_tolstring(L, i, &len)!
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
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

    public func table(_ i: Int32) throws -> LuaTable {
        guard nslua_istable(L, i) != 0 else { throw typeError(i, "table") }
        guard case .table(let t) = try value(i) else { throw typeError(i, "table") }
        return t
    }

    public func optionalTable(_ i: Int32) throws -> LuaTable? { isNoneOrNil(i) ? nil : try table(i) }

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
}
