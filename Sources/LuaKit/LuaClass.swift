import CLua
import CLuaBridge

/// Type-erased view of a registered class.
protocol AnyLuaClass: AnyObject {
    var name: String { get }
    var methodNames: [String] { get }
}

/// How a Swift class appears in Lua: methods (called with `:`), fields read
/// live through `__index`, `__tostring`, `__eq`. `__gc` releases the Swift
/// object and never raises.
public final class LuaClass<T: AnyObject>: AnyLuaClass {
    public typealias Method = (T, LuaCall) throws -> [LuaValue]
    public typealias Field = (T) throws -> LuaValue

    /// The metatable's `__name`, used by Lua's type errors ("Link expected").
    public let name: String
    var methods: [String: Method] = [:]
    var fields: [String: Field] = [:]
    var tostring: ((T) -> String)?
    var equals: ((T, T) -> Bool)?
    var methodRefs: [String: LuaValue] = [:]

    public init(_ name: String) { self.name = name }

    @discardableResult
    public func method(_ name: String, _ fn: @escaping Method) -> Self { methods[name] = fn; return self }
    @discardableResult
    public func field(_ name: String, _ fn: @escaping Field) -> Self { fields[name] = fn; return self }
    @discardableResult
    public func tostring(_ fn: @escaping (T) -> String) -> Self { tostring = fn; return self }
    @discardableResult
    public func equals(_ fn: @escaping (T, T) -> Bool) -> Self { equals = fn; return self }

    var methodNames: [String] { methods.keys.sorted() + fields.keys.sorted() }
}

extension Lua {
    /// Registers `cls` so that objects of type T can be pushed to Lua.
    public func register<T: AnyObject>(_ cls: LuaClass<T>) {
        let L = state
        classes[ObjectIdentifier(T.self)] = cls
        for (name, method) in cls.methods {
            cls.methodRefs[name] = function(name) { call in
                let object = try call.object(1, T.self)
                return try method(object, call)
            }
        }
        guard luaL_newmetatable(L, cls.name) != 0 else { return }
        nslua_tagmetatable(L)
        // __methods: for completion and introspection.
        nslua_newtable(L)
        for (name, ref) in cls.methodRefs {
            push(ref, on: L)
            lua_setfield(L, -2, name)
        }
        lua_setfield(L, -2, "__methods")

        pushFunction({ [unowned cls] call in
            let object = try call.object(1, T.self)
            guard case .string(let key) = try call.value(2) else { return [.nil] }
            if let ref = cls.methodRefs[key] { return [ref] }
            if let field = cls.fields[key] { return [try field(object)] }
            return [.nil]
        }, on: L)
        lua_setfield(L, -2, "__index")

        pushFunction({ [unowned cls] call in
            let key = (try? call.value(2))?.stringValue ?? "?"
            throw LuaError.runtime("cannot set field '\(key)' of \(cls.name) (its fields are read-only; use its methods)")
        }, on: L)
        lua_setfield(L, -2, "__newindex")

        pushFunction({ [unowned cls] call in
            let object = try call.object(1, T.self)
            return [.string(cls.tostring?(object) ?? "\(cls.name): \(Unmanaged.passUnretained(object).toOpaque())")]
        }, on: L)
        lua_setfield(L, -2, "__tostring")

        pushFunction({ [unowned cls] call in
            guard let a = call.optionalObject(1, T.self), let b = call.optionalObject(2, T.self) else { return [false] }
            return [.bool(a === b || (cls.equals?(a, b) ?? false))]
        }, on: L)
        lua_setfield(L, -2, "__eq")
        nslua_pop(L, 1)
    }
}
