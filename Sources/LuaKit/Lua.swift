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
///
/// A pending signal (Ctrl-C, SIGTERM) is raised here, before the function
/// runs and after it returns: no primitive starts once the user has asked to
/// stop, and one that returned early because of the signal does not look as
/// if it had finished.
private let dispatch: nslua_dispatch_fn = { L, box in
    guard let L, let box else { return 0 }
    let boxed = Unmanaged<FunctionBox>.fromOpaque(box).takeUnretainedValue()
    let lua = Lua.owner(of: L)
    nslua_checkhook(L)   // debug.sethook() must not make a loop deaf to Ctrl-C
    if lua.pushPendingInterrupt(on: L) { return NSLUA_ERROR }
    let top = lua_gettop(L)
    let results: [LuaValue]
    do {
        results = try boxed.fn(LuaCall(lua: lua, L: L))
    } catch {
        lua_settop(L, top)
        if lua.pushPendingInterrupt(on: L) { return NSLUA_ERROR }
        lua.pushError(error as? LuaError ?? .runtime(String(describing: error)), on: L, name: boxed.name)
        return NSLUA_ERROR
    }
    lua_settop(L, top)
    if lua.pushPendingInterrupt(on: L) { return NSLUA_ERROR }
    guard lua_checkstack(L, Int32(clamping: results.count) + 4) != 0 else {
        lua.pushError(.runtime("stack overflow (too many results)"), on: L)
        return NSLUA_ERROR
    }
    for value in results { lua.push(value, on: L) }
    return Int32(results.count)
}

private let release: nslua_release_fn = { ref in
    guard let ref else { return }
    Unmanaged<AnyObject>.fromOpaque(ref).release()
}

/// The Swift face of one Lua state.
///
/// Swift calls into Lua only in protected mode (`lua_pcall` with a traceback
/// handler); Lua calls into Swift only through the C trampoline. The state
/// itself never leaves LuaKit.
public final class Lua {
    /// The main thread; nil once closed.
    var L: OpaquePointer?
    var classes: [ObjectIdentifier: AnyLuaClass] = [:]
    var replCache: (LuaValue, LuaValue)?

    public init(openLibraries: Bool = true) {
        nslua_set_callbacks(dispatch, release)
        guard let L = luaL_newstate() else { fatalError("lua: cannot create state (out of memory)") }
        self.L = L
        nslua_getextraspace(L).storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        if openLibraries { luaL_openlibs(L) }
        // Signals reach Lua code through this hook; coroutines inherit it.
        nslua_sethook(L)
        // A weak-valued cache: one userdata per Swift object, so that the same
        // object is the same Lua value (==, table keys) for as long as it lives.
        lua_createtable(L, 0, 0)
        lua_createtable(L, 0, 1)
        lua_pushstring(L, "v")
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

    public var isClosed: Bool { L == nil }

    static func owner(of L: OpaquePointer) -> Lua {
        let raw = nslua_getextraspace(L).load(as: UnsafeMutableRawPointer.self)
        return Unmanaged<Lua>.fromOpaque(raw).takeUnretainedValue()
    }

    var state: OpaquePointer {
        guard let L else { fatalError("LuaKit: use of a closed Lua state") }
        return L
    }

    // MARK: Running code

    /// Compiles `code` as a chunk named `name` (e.g. "@lab.lua", "=stdin") and
    /// leaves the function on the stack.
    func load(_ code: [UInt8], name: String) throws(LuaStatus) {
        let L = state
        var padded = code
        padded.append(0)   // a valid pointer even for an empty chunk
        let status = padded.withUnsafeBytes { buf in
            luaL_loadbufferx(L, buf.baseAddress!.assumingMemoryBound(to: CChar.self), code.count, name, "t")
        }
        try checkLoad(status, on: L)
    }

    /// Compiles the file at `path` (nil: stdin) as lua.c does: a first line
    /// starting with '#' is skipped (line numbers kept), the chunk is named
    /// "@path" (or "=stdin").
    func load(file path: String?) throws(LuaStatus) {
        let L = state
        let status = luaL_loadfilex(L, path, "t")
        try checkLoad(status, on: L)
    }

    private func checkLoad(_ status: Int32, on L: OpaquePointer) throws(LuaStatus) {
        guard status != LUA_OK else { return }
        let message = describeError(at: -1, on: L)
        nslua_pop(L, 1)
        if status == LUA_ERRSYNTAX { throw .syntax(message) }
        if status == LUA_ERRFILE { throw .other(message) }
        throw .other(message)
    }

    /// Calls the function below `nargs` arguments on top of the stack in
    /// protected mode, leaving its results on the stack. Returns the number of
    /// results.
    @discardableResult
    func pcall(nargs: Int32 = 0, nresults: Int32 = LUA_MULTRET) throws(LuaStatus) -> Int32 {
        let L = state
        let base = lua_gettop(L) - nargs - 1
        let status = nslua_docall(L, nargs, nresults)
        if status != LUA_OK {
            let failure = self.failure(at: -1, on: L)
            lua_settop(L, base)
            throw failure
        }
        return lua_gettop(L) - base
    }

    /// The error value at `index` as a LuaStatus: an error object's message
    /// (with its traceback) and kind, or any other value's text.
    private func failure(at index: Int32, on L: OpaquePointer) -> LuaStatus {
        let index = lua_absindex(L, index)
        if nslua_iserror(L, index) != 0 {
            let kind = rawString(index, "kind", on: L)
            let message = rawString(index, "traceback", on: L) ?? rawString(index, "message", on: L) ?? "error"
            return .runtime(message, kind: kind)
        }
        return .runtime(describeError(at: index, on: L), kind: nil)
    }

    private func rawString(_ table: Int32, _ key: String, on L: OpaquePointer) -> String? {
        lua_pushstring(L, key)
        defer { nslua_pop(L, 1) }
        guard lua_rawget(L, table) == LUA_TSTRING else { return nil }
        return luaString(at: -1, on: L)
    }

    /// Runs `code` and returns its results.
    @discardableResult
    public func run(_ code: String, name: String = "=(string)") throws(LuaStatus) -> [LuaValue] {
        try load(Array(code.utf8), name: name)
        return try callLoaded(args: [])
    }

    /// Runs a chunk with `args` as `...` and returns its results.
    @discardableResult
    public func run(_ code: [UInt8], name: String, args: [LuaValue]) throws(LuaStatus) -> [LuaValue] {
        try load(code, name: name)
        return try callLoaded(args: args)
    }

    /// Runs the file at `path` (nil: stdin) with `args` as `...`, as lua.c runs a script.
    @discardableResult
    public func run(file path: String?, args: [LuaValue]) throws(LuaStatus) -> [LuaValue] {
        try load(file: path)
        return try callLoaded(args: args)
    }

    /// Calls the loaded function on top of the stack with `args`; pops it and its results.
    private func callLoaded(args: [LuaValue]) throws(LuaStatus) -> [LuaValue] {
        let L = state
        guard lua_checkstack(L, Int32(clamping: args.count) + 4) != 0 else {
            nslua_pop(L, 1)
            throw .other("too many arguments (\(args.count)) for the Lua stack")
        }
        for a in args { push(a, on: L) }
        let n = try pcall(nargs: Int32(args.count))
        let base = lua_gettop(L) - n
        var values: [LuaValue] = []
        for i in 0..<n { values.append((try? value(at: base + 1 + i, on: L)) ?? .nil) }
        lua_settop(L, base)
        return values
    }

    func describeError(at index: Int32, on L: OpaquePointer) -> String {
        if lua_type(L, index) == LUA_TSTRING || lua_type(L, index) == LUA_TNUMBER {
            return luaString(at: index, on: L) ?? "?"
        }
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
        guard lua_checkstack(L, Int32(clamping: args.count) + 8) != 0 else { throw LuaError.runtime("stack overflow") }
        let base = lua_gettop(L)
        push(function, on: L)
        for a in args { push(a, on: L) }
        let status = nslua_pcall(L, Int32(args.count), LUA_MULTRET, 0)
        if status != LUA_OK {
            let message = nslua_iserror(L, -1) != 0 ? (rawString(lua_gettop(L), "message", on: L) ?? "error")
                                                    : describeError(at: -1, on: L)
            // Kept by reference: re-raised, it is the very same value (an
            // error object keeps its metatable, a table its identity).
            let errorValue = LuaValue.ref(LuaRef(lua: self, ref: luaL_ref(L, nslua_registryindex())))
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
            pushErrorObject(message, kind: "error", fields: [:], on: L)
        case .raised(let message, let kind, let fields):
            pushErrorObject(message, kind: kind, fields: fields, on: L)
        case .argument(let n, let message):
            nslua_pushargerror(L, n, message, name)
            let text = luaString(at: -1, on: L) ?? message
            nslua_pop(L, 1)
            pushErrorObject(text, kind: "argument", fields: [:], positioned: true, on: L)
        case .lua(let value, let message):
            if value.isNil { lua_pushstring(L, message) } else { push(value, on: L) }
        }
    }

    /// Pushes an error object whose message is `chunk:line: message`.
    private func pushErrorObject(_ message: String, kind: String, fields: [String: LuaValue], positioned: Bool = false,
                                 on L: OpaquePointer) {
        var text = message
        if !positioned {
            nslua_where(L, 1)
            text = (luaString(at: -1, on: L) ?? "") + message
            nslua_pop(L, 1)
        }
        var bytes = Array(text.utf8)
        bytes.append(0)
        bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { nslua_pusherror(L, $0.baseAddress, text.utf8.count, kind) }
        }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            push(value, on: L)
            lua_setfield(L, -2, key)
        }
    }

    /// Pushes the error of a pending signal (consuming it), if there is one.
    func pushPendingInterrupt(on L: OpaquePointer) -> Bool {
        let sig = nslua_signal_take()
        guard sig != 0 else { return false }
        pushErrorObject(String(cString: nslua_signal_message(sig)), kind: "interrupted", fields: [:], on: L)
        return true
    }
}

/// The Lua string at `index` (any bytes, decoded leniently).
func luaString(at index: Int32, on L: OpaquePointer) -> String? {
    var len = 0
    guard let p = lua_tolstring(L, index, &len) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
}

/// "Lua 5.4.x" of the linked library.
public let luaVersion = String(String(cString: nslua_lua_release()).dropFirst(4))

/// Signals (Ctrl-C, SIGTERM, SIGHUP) on their way to the running Lua code.
public enum LuaInterrupt {
    /// Installs the handlers (once, at startup). SIGTERM and SIGHUP stay
    /// pending until the script ends; if it has not ended `grace` seconds
    /// after one, `onStuck` runs on a watchdog thread (to tear down and exit).
    public static func install(grace: Double = 5, onStuck: (@convention(c) (Int32) -> Void)? = nil) {
        nslua_signals_install(grace, onStuck)
    }
    /// From now on a signal ends the process at once (128 + n): for the
    /// moments after teardown, while Lua runs finalizers that take no hooks.
    public static func exitNow() { nslua_signals_exit_now() }
    /// Whether a signal is waiting: Swift code that blocks polls this and
    /// returns early; the error is raised when it returns to Lua.
    public static var pending: Bool { nslua_signal_pending() != 0 }
    /// Takes the pending signal (0: none), as the REPL does at its prompt.
    public static func take() -> Int32 { nslua_signal_take() }
    /// SIGTERM or SIGHUP, if one was received (the program exits 128 + n).
    public static var terminateSignal: Int32 { nslua_terminate_signal() }
    /// Holds SIGINT, SIGTERM and SIGHUP off the calling thread (around teardown).
    public static func block(_ on: Bool) { nslua_block_signals(on ? 1 : 0) }
}
