import CLua
import CLuaBridge

/// A Swift function callable from Lua. It reads its arguments through the
/// `LuaCall` and returns its results; a thrown error becomes a Lua error.
public typealias LuaFunction = (LuaCall) throws -> [LuaValue]

/// Holds a Swift function for as long as the Lua function that calls it lives.
final class FunctionBox {
    let fn: LuaFunction
    /// The name argument errors use when Lua's call information has none.
    let name: String
    init(_ fn: @escaping LuaFunction, name: String) { self.fn = fn; self.name = name }
}

/// Every Swift function reached from Lua comes through here, called by the C
/// trampoline. It never lets a Lua error unwind it: on failure it pushes the
/// error value and returns NSLUA_ERROR so that the trampoline raises.
private let dispatch: nslua_dispatch_fn = { L, box in
    guard let L, let box else { return 0 }
    let boxed = Unmanaged<FunctionBox>.fromOpaque(box).takeUnretainedValue()
    let fn = boxed.fn
    let lua = Lua.owner(of: L)
    let call = LuaCall(lua: lua, L: L)
    do {
        let results = try fn(call)
        guard lua_checkstack(L, Int32(results.count) + 4) != 0 else {
            nslua_pushliteral(L, "stack overflow (too many results)")
            return NSLUA_ERROR
        }
        for value in results { lua.push(value, on: L) }
        return Int32(results.count)
    } catch let error as LuaError {
        lua.pushError(error, on: L, name: boxed.name)
        return NSLUA_ERROR
    } catch {
        lua.pushError(.runtime(String(describing: error)), on: L)
        return NSLUA_ERROR
    }
}

private let release: nslua_release_fn = { box in
    guard let box else { return }
    Unmanaged<AnyObject>.fromOpaque(box).release()
}

/// Why a chunk did not run.
public enum LuaStatus: Error, Equatable, Sendable {
    case syntax(String)
    case runtime(String)
    case other(String)

    public var message: String {
        switch self {
        case .syntax(let m), .runtime(let m), .other(let m): return m
        }
    }
}

/// The Swift face of one Lua state.
///
/// Swift calls into Lua only in protected mode (`lua_pcall` with a traceback
/// handler); Lua calls into Swift only through the C trampoline.
public final class Lua {
    /// The main thread; nil once closed.
    public private(set) var L: OpaquePointer?
    var classes: [ObjectIdentifier: AnyLuaClass] = [:]
    var replCache: (LuaValue, LuaValue)?


    public init(openLibraries: Bool = true) {
        nslua_set_callbacks(dispatch, release)
        guard let L = luaL_newstate() else { fatalError("lua: cannot create state (out of memory)") }
        self.L = L
        nslua_getextraspace(L).storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        if openLibraries { luaL_openlibs(L) }
        // A weak-valued cache: one userdata per Swift object, so that the same
        // object is the same Lua value (==, table keys) for as long as it lives.
        lua_createtable(L, 0, 0)
        lua_createtable(L, 0, 1)
        nslua_pushliteral(L, "v")
        lua_setfield(L, -2, "__mode")
        lua_setmetatable(L, -2)
        lua_setfield(L, nslua_registryindex(), Lua.objectCache)
    }

    deinit { close() }

    /// Closes the state, running every pending __gc.
    public func close() {
        guard let L else { return }
        lua_close(L)
        self.L = nil
    }

    static func owner(of L: OpaquePointer) -> Lua {
        let raw = nslua_getextraspace(L).load(as: UnsafeMutableRawPointer.self)
        return Unmanaged<Lua>.fromOpaque(raw).takeUnretainedValue()
    }

    var state: OpaquePointer {
        guard let L else { fatalError("LuaKit: use of a closed Lua state") }
        return L
    }

    // MARK: Running code

    /// Compiles `code` as a chunk named `name` (e.g. "@lab.lua", "=stdin").
    public func load(_ code: [UInt8], name: String) throws(LuaStatus) {
        let L = state
        var padded = code
        padded.append(0)   // a valid pointer even for an empty chunk
        let status = padded.withUnsafeBytes { buf in
            luaL_loadbufferx(L, buf.baseAddress!.assumingMemoryBound(to: CChar.self), code.count, name, "t")
        }
        if status != LUA_OK {
            let message = nslua_tostring(L, -1).map { String(cString: $0) } ?? "?"
            nslua_pop(L, 1)
            throw status == LUA_ERRSYNTAX ? .syntax(message) : .other(message)
        }
    }

    public func load(_ code: String, name: String) throws(LuaStatus) {
        try load(Array(code.utf8), name: name)
    }

    /// Calls the function below `nargs` arguments on top of the stack in
    /// protected mode (Ctrl-C interrupts it), leaving its results on the stack.
    /// Returns the number of results.
    @discardableResult
    public func pcall(nargs: Int32 = 0, nresults: Int32 = LUA_MULTRET) throws(LuaStatus) -> Int32 {
        let L = state
        let base = lua_gettop(L) - nargs - 1
        let status = nslua_docall(L, nargs, nresults)
        if status != LUA_OK {
            let message = describeError(at: -1, on: L)
            nslua_pop(L, 1)
            throw .runtime(message)
        }
        return lua_gettop(L) - base
    }

    /// Runs `code` and returns its results.
    @discardableResult
    public func run(_ code: String, name: String = "=(string)") throws(LuaStatus) -> [LuaValue] {
        try load(code, name: name)
        let L = state
        let n = try pcall()
        var values: [LuaValue] = []
        for i in 0..<n { values.append((try? value(at: lua_gettop(L) - n + 1 + i, on: L)) ?? .nil) }
        nslua_pop(L, n)
        return values
    }

    func describeError(at index: Int32, on L: OpaquePointer) -> String {
        if let s = nslua_tostring(L, index), lua_type(L, index) == LUA_TSTRING { return String(cString: s) }
        if let s = nslua_tostring(L, index) { return String(cString: s) }
        return "(error object is a \(String(cString: lua_typename(L, lua_type(L, index)))) value)"
    }

    // MARK: Globals

    public func setGlobal(_ name: String, _ value: LuaValue) {
        let L = state
        nslua_pushglobaltable(L)
        lua_pushstring(L, name)
        push(value, on: L)
        lua_rawset(L, -3)   // raw: a script's metatable on _G must not run (and raise) here
        nslua_pop(L, 1)
    }

    /// Reads a global without invoking metamethods.
    public func global(_ name: String) -> LuaValue {
        let L = state
        nslua_pushglobaltable(L)
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        let v = (try? value(at: -1, on: L)) ?? .nil
        nslua_pop(L, 2)
        return v
    }

    /// Makes a Lua function value out of a Swift function; `name` is what
    /// argument errors call it when Lua's call information has no name.
    public func function(_ name: String = "?", _ fn: @escaping LuaFunction) -> LuaValue {
        let L = state
        pushFunction(fn, name: name, on: L)
        let ref = luaL_ref(L, nslua_registryindex())
        return .ref(LuaRef(lua: self, ref: ref))
    }

    public func register(_ name: String, _ fn: @escaping LuaFunction) {
        setGlobal(name, function(name, fn))
    }

    func pushFunction(_ fn: @escaping LuaFunction, name: String = "?", on L: OpaquePointer) {
        let box = Unmanaged.passRetained(FunctionBox(fn, name: name) as AnyObject).toOpaque()
        nslua_pushswiftfunction(L, box)
    }

    /// Calls a Lua function value with arguments, in protected mode.
    public func call(_ function: LuaValue, _ args: [LuaValue], on L: OpaquePointer? = nil) throws -> [LuaValue] {
        let L = L ?? state
        guard lua_checkstack(L, Int32(args.count) + 8) != 0 else { throw LuaError.runtime("stack overflow") }
        let base = lua_gettop(L)
        push(function, on: L)
        for a in args { push(a, on: L) }
        let status = nslua_pcall(L, Int32(args.count), LUA_MULTRET, 0)
        if status != LUA_OK {
            let message = describeError(at: -1, on: L)
            let errorValue = (try? value(at: -1, on: L)) ?? .nil
            lua_settop(L, base)
            throw LuaError.lua(errorValue, message)
        }
        var results: [LuaValue] = []
        let top = lua_gettop(L)
        if top > base {
            for i in (base + 1)...top { results.append((try? value(at: i, on: L)) ?? .nil) }
        }
        lua_settop(L, base)
        return results
    }

    // MARK: Errors

    func pushError(_ error: LuaError, on L: OpaquePointer, name: String = "?") {
        switch error {
        case .runtime(let message):
            nslua_where(L, 1)
            lua_pushstring(L, message)
            lua_concat(L, 2)
        case .argument(let n, let message):
            nslua_pushargerror(L, n, message, name)
        case .lua(let value, let message):
            if value.isNil { lua_pushstring(L, message) } else { push(value, on: L) }
        }
    }
}

/// "Lua 5.4.x" of the linked library.
public let luaVersion = String(String(cString: nslua_lua_release()).dropFirst(4))

/// Whether Ctrl-C (or a termination signal) is waiting to interrupt the
/// running Lua code: Swift code that blocks polls it and returns early.
public enum LuaInterrupt {
    public static var pending: Bool { nslua_interrupt_pending() != 0 }
}
