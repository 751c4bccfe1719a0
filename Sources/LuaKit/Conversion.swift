import CLua
import CLuaBridge

extension Lua {
    /// Pushes a Swift value (exactly one stack slot). Tables are created
    /// afresh; objects go through the per-object cache so one Swift object is
    /// always the same userdata.
    public func push(_ value: LuaValue, on L: OpaquePointer) {
        switch value {
        case .nil: lua_pushnil(L)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, i)
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s):
            var s = s
            s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
        case .bytes(let b):
            b.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
        case .table(let t):
            lua_createtable(L, Int32(clamping: t.array.count), Int32(clamping: t.hash.count))
            // Each level needs two more slots (key, value); without them the table stays empty.
            guard lua_checkstack(L, 3) != 0 else { return }
            for (i, v) in t.array.enumerated() {
                push(v, on: L)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            for (k, v) in t.hash where !k.isNil {
                push(k, on: L)
                push(v, on: L)
                lua_rawset(L, -3)
            }
            if let mt = t.metatable {
                push(mt, on: L)
                if nslua_istable(L, -1) != 0 { lua_setmetatable(L, -2) } else { nslua_pop(L, 1) }
            }
        case .ref(let r):
            lua_rawgeti(L, nslua_registryindex(), lua_Integer(r.ref))
        case .object(let o):
            pushObject(o, on: L)
        }
    }

    /// How much of a Lua table `value(at:)` copies before giving up: a table
    /// that shares sub-tables (`t = {t, t}` forty deep) would otherwise be
    /// copied exponentially.
    static let conversionBudget = 100_000

    /// Copies the value at `index` into Swift. Tables are copied deeply (raw
    /// access, no metamethods) up to `conversionBudget` values; a table nested
    /// more than 64 deep (or cyclic), or larger than that, throws. On a throw
    /// the stack is as it was.
    public func value(at index: Int32, on L: OpaquePointer) throws -> LuaValue {
        var budget = Lua.conversionBudget
        let top = lua_gettop(L)
        do {
            return try value(at: lua_absindex(L, index), on: L, depth: 0, budget: &budget)
        } catch {
            lua_settop(L, top)
            throw error
        }
    }

    private func value(at index: Int32, on L: OpaquePointer, depth: Int, budget: inout Int) throws -> LuaValue {
        budget -= 1
        guard budget >= 0 else { throw LuaError.runtime("table too large to convert (more than \(Lua.conversionBudget) values)") }
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return .integer(lua_tointegerx(L, index, nil)) }
            return .number(lua_tonumberx(L, index, nil))
        case LUA_TSTRING:
            var len = 0
            let p = lua_tolstring(L, index, &len)!
            let bytes = Array(UnsafeRawBufferPointer(start: p, count: len))
            if let s = String(validating: bytes, as: UTF8.self) { return .string(s) }
            return .bytes(bytes)
        case LUA_TTABLE:
            guard depth < 64 else { throw LuaError.runtime("table nested too deeply (or cyclic)") }
            guard lua_checkstack(L, 4) != 0 else { throw LuaError.runtime("stack overflow") }
            var table = LuaTable()
            let n = lua_rawlen(L, index)
            guard n <= UInt64(budget) else { throw LuaError.runtime("table too large to convert (more than \(Lua.conversionBudget) values)") }
            table.array.reserveCapacity(Int(n))
            if n > 0 {
                for i in 1...n {
                    lua_rawgeti(L, index, lua_Integer(i))
                    table.array.append(try value(at: lua_gettop(L), on: L, depth: depth + 1, budget: &budget))
                    nslua_pop(L, 1)
                }
            }
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                let key = try value(at: lua_gettop(L) - 1, on: L, depth: depth + 1, budget: &budget)
                if case .integer(let i) = key, i >= 1, i <= Int64(n) { nslua_pop(L, 1); continue }
                let v = try value(at: lua_gettop(L), on: L, depth: depth + 1, budget: &budget)
                nslua_pop(L, 1)
                table.hash[key] = v
            }
            return .table(table)
        case LUA_TUSERDATA:
            if let p = nslua_anyobject(L, index) {
                return .object(Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue())
            }
            fallthrough
        default:
            lua_pushvalue(L, index)
            return .ref(LuaRef(lua: self, ref: luaL_ref(L, nslua_registryindex())))
        }
    }

    // MARK: Objects

    func pushObject(_ object: AnyObject, on L: OpaquePointer) {
        guard let cls = classes[ObjectIdentifier(type(of: object))] else {
            lua_pushnil(L)   // an unregistered class has no Lua face
            return
        }
        let key = Unmanaged.passUnretained(object).toOpaque()
        lua_getfield(L, nslua_registryindex(), Lua.objectCache)
        lua_pushlightuserdata(L, key)
        if lua_rawget(L, -2) == LUA_TUSERDATA, nslua_anyobject(L, -1) == key {
            nslua_remove(L, -2)
            return
        }
        nslua_pop(L, 1)
        nslua_pushobject(L, Unmanaged.passRetained(object).toOpaque(), cls.name)
        lua_pushlightuserdata(L, key)
        lua_pushvalue(L, -2)
        lua_rawset(L, -4)
        nslua_remove(L, -2)
    }

    static let objectCache = "luakit.objects"
}
