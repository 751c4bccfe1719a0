import CLua
import CLuaBridge

/// Type-erased view of a registered class.
protocol AnyLuaClass: AnyObject {
    var name: String { get }
    var methodNames: [String] { get }
    /// How an object of this class is written in messages ("ns1", "veth0").
    func literal(_ object: AnyObject) -> String
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
    var shortName: ((T) -> String)?
    var replText: ((T) -> String?)?
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
    /// What the REPL shows for a result (nil: nothing, as when the object
    /// already printed itself); without it, `tostring`.
    @discardableResult
    public func repl(_ fn: @escaping (T) -> String?) -> Self { replText = fn; return self }

    /// How an object is written where a call is quoted in an error ("ns1:route(...)").
    @discardableResult
    public func literal(_ fn: @escaping (T) -> String) -> Self { shortName = fn; return self }

    func literal(_ object: AnyObject) -> String {
        guard let o = object as? T else { return "<\(name)>" }
        return shortName?(o) ?? "<\(name)>"
    }

    var methodNames: [String] { methods.keys.sorted() + fields.keys.sorted() }

    /// "; did you mean addr()?" for a name close to one of ours, else "".
    func suggestion(for key: String) -> String {
        var best: (name: String, distance: Int)?
        for name in methodNames {
            let d = editDistance(key, name)
            if d <= max(1, key.count / 3), best.map({ d < $0.distance || (d == $0.distance && name < $0.name) }) ?? true {
                best = (name, d)
            }
        }
        guard let best else { return "" }
        return "; did you mean \(best.name)\(methods[best.name] != nil ? "()" : "")?"
    }
}

extension Lua {
    /// Registers `cls` so that objects of type T can be pushed to Lua.
    public func register<T: AnyObject>(_ cls: LuaClass<T>) {
        let L = state
        classes[ObjectIdentifier(T.self)] = cls
        for (name, method) in cls.methods {
            cls.methodRefs[name] = function(name) { [unowned cls] call in
                guard let object = call.optionalObject(1, T.self) else {
                    // ns1.ping(...) instead of ns1:ping(...): say so.
                    let e = call.typeError(1, cls.name)
                    guard case .argument(let n, let text) = e else { throw e }
                    throw LuaError.argument(n, text + "; call methods with ':', as obj:\(name)(...)")
                }
                return try method(object, call)
            }
        }
        guard luaL_newmetatable(L, cls.name) != 0 else { return }
        nslua_tagmetatable(L)
        // __methods: for completion and introspection.
        lua_createtable(L, 0, 0)
        for (name, ref) in cls.methodRefs {
            push(ref, on: L)
            lua_setfield(L, -2, name)
        }
        lua_setfield(L, -2, "__methods")
        // __fields: their names (a field is read through __index, live).
        lua_createtable(L, 0, 0)
        for name in cls.fields.keys {
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, name)
        }
        lua_setfield(L, -2, "__fields")

        pushFunction({ [unowned cls] call in
            let object = try call.object(1, T.self)
            guard call.isString(2) else { return [.nil] }
            let key = try call.string(2)
            if let ref = cls.methodRefs[key] { return [ref] }
            if let field = cls.fields[key] { return [try field(object)] }
            // A typo is an error, with the nearest name, rather than a nil to call later.
            throw LuaError.raised("\(cls.name) has no field or method '\(LuaCall.quoteless(key))'\(cls.suggestion(for: key))",
                                  kind: "invalid", fields: [:])
        }, on: L)
        lua_setfield(L, -2, "__index")

        pushFunction({ [unowned cls] call in
            let key = call.isString(2) ? try call.string(2) : call.literal(2)
            throw LuaError.runtime("cannot set field '\(key)' of \(cls.name) (its fields are read-only; use its methods)")
        }, on: L)
        lua_setfield(L, -2, "__newindex")

        pushFunction({ [unowned cls] call in
            let object = try call.object(1, T.self)
            return [.string(cls.tostring?(object) ?? "\(cls.name): \(Unmanaged.passUnretained(object).toOpaque())")]
        }, on: L)
        lua_setfield(L, -2, "__tostring")

        if cls.replText != nil {
            pushFunction({ [unowned cls] call in
                let object = try call.object(1, T.self)
                return [cls.replText?(object).map(LuaValue.string) ?? .nil]
            }, on: L)
            lua_setfield(L, -2, "__repl")
        }

        pushFunction({ [unowned cls] call in
            guard let a = call.optionalObject(1, T.self), let b = call.optionalObject(2, T.self) else { return [false] }
            return [.bool(a === b || (cls.equals?(a, b) ?? false))]
        }, on: L)
        lua_setfield(L, -2, "__eq")
        nslua_pop(L, 1)
    }
}

/// Edit distance where swapping two neighbouring letters counts as one edit
/// (optimal string alignment), for "did you mean" hints: "valeu" is one
/// edit from "value".
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var before = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = min(current[j], before[j - 2] + 1)
            }
        }
        before = previous
        previous = current
    }
    return previous[b.count]
}
