import Glibc
import LuaKit
import NetLab
import Netlink

/// The `net` module: NetLab's objects bound to Lua.
///
/// Every call goes through `guarded`, which turns a LabError into a Lua error
/// naming the call, the object and the reason:
/// `lab.lua:7: net.veth("veth0", "veth1"): File exists (a link named veth0 already exists in host)`.
public final class NetModule {
    public let lab: Lab
    let lua: Lua
    /// Messages of calls that failed for lack of privilege or kernel support:
    /// a script that dies of one of them exits with status 3.
    public private(set) var privilegeFailures: [String] = []
    /// Extensions (ping, capture, exec) add their methods here before `install`.
    let namespaceClass = LuaClass<Namespace>("Namespace")
    let linkClass = LuaClass<Link>("Link")
    var functions: [String: LuaFunction] = [:]

    public init(lua: Lua, lab: Lab) {
        self.lua = lua
        self.lab = lab
        defineNamespace()
        defineLink()
        defineFunctions()
        defineTraffic()
        defineImpairment()
        lua.register(namespaceClass)
        lua.register(linkClass)
        install()
    }

    /// Removes what the run owns (unless kept); returns what could not be removed.
    @discardableResult
    public func teardown() -> [String] { lab.teardown() }

    // MARK: Error handling

    /// Runs `body`; a LabError becomes `position: call(args): reason (detail)`.
    func guarded(_ call: LuaCall, _ name: String, receiver: String?, firstArg: Int32 = 1,
                 _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        do {
            return try body()
        } catch let e as LabError {
            var args: [LuaValue] = []
            if call.count >= firstArg {
                for i in firstArg...call.count { args.append((try? call.value(i)) ?? .nil) }
            }
            let message = "\(Render.call(name, receiver: receiver, args: args)): \(e)"
            if e.kind == .privilege || e.kind == .unsupported { privilegeFailures.append(message) }
            throw LuaError.runtime(message)
        }
    }

    func function(_ name: String, _ body: @escaping (LuaCall) throws -> [LuaValue]) {
        functions[name] = { [unowned self] call in
            try self.guarded(call, name, receiver: nil) { try body(call) }
        }
    }

    func method(_ name: String, on cls: LuaClass<Namespace>, _ body: @escaping (Namespace, LuaCall) throws -> [LuaValue]) {
        cls.method(name) { [unowned self] ns, call in
            try self.guarded(call, name, receiver: ns.displayName, firstArg: 2) { try body(ns, call) }
        }
    }

    func method(_ name: String, on cls: LuaClass<Link>, _ body: @escaping (Link, LuaCall) throws -> [LuaValue]) {
        cls.method(name) { [unowned self] link, call in
            try self.guarded(call, name, receiver: link.lastName, firstArg: 2) { try body(link, call) }
        }
    }

    // MARK: Options tables

    /// Reads an options table, rejecting keys it does not know (a typo such as
    /// `{peerns = b}` must not pass silently).
    func options(_ call: LuaCall, _ i: Int32, allowed: Set<String>) throws -> LuaTable {
        guard let t = try call.optionalTable(i) else { return LuaTable() }
        for key in t.hash.keys {
            guard case .string(let k) = key, allowed.contains(k) else {
                throw LuaError.argument(i, "unknown option \(Render.literal(key)) (known: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        if !t.array.isEmpty { throw LuaError.argument(i, "options must be named, e.g. {count = 3}") }
        return t
    }

    func namespaceOption(_ call: LuaCall, _ t: LuaTable, _ key: String, arg: Int32) throws -> Namespace? {
        switch t[key] {
        case .nil: return nil
        case .object(let o as Namespace): return o
        case .string(let name): return try lab.openNamespace(name)
        default: throw LuaError.argument(arg, "option '\(key)' must be a Namespace (got \(Render.literal(t[key])))")
        }
    }

    // MARK: The module table

    private func install() {
        var net = LuaTable()
        for (name, fn) in functions { net[name] = lua.function(name, fn) }
        net["host"] = .object(lab.host)
        lua.setGlobal("net", .table(net))
        if let show = functions["show"] { lua.setGlobal("show", lua.function("show", show)) }
        _ = try? lua.run(#"package.preload["nslua"] = function() return net end"#, name: "=nslua")
    }

    // MARK: net.*

    private func defineFunctions() {
        function("ns") { [unowned self] call in
            let name = try call.string(1)
            try call.noMoreThan(1)
            return [.object(try lab.createNamespace(name))]
        }
        function("open") { [unowned self] call in
            let name = try call.string(1)
            try call.noMoreThan(1)
            return [.object(try lab.openNamespace(name))]
        }
        function("list") { [unowned self] call in
            try call.noMoreThan(0)
            return [.table(LuaTable(array: lab.namespaceNames().map(LuaValue.string)))]
        }
        function("namespaces") { [unowned self] call in
            try call.noMoreThan(0)
            return [.table(LuaTable(array: lab.namespaces.filter { !$0.isDeleted }.map { .object($0) }))]
        }
        function("veth") { [unowned self] call in
            let a = try call.string(1), b = try call.string(2)
            let opts = try options(call, 3, allowed: ["ns", "peer_ns"])
            try call.noMoreThan(3)
            let ns = try namespaceOption(call, opts, "ns", arg: 3)
            let peerNS = try namespaceOption(call, opts, "peer_ns", arg: 3) ?? ns
            let (x, y) = try lab.createVeth(a, b, in: ns, peerIn: peerNS)
            return [.object(x), .object(y)]
        }
        function("bridge") { [unowned self] call in
            let name = try call.string(1)
            let opts = try options(call, 2, allowed: ["ns"])
            try call.noMoreThan(2)
            return [.object(try lab.createBridge(name, in: try namespaceOption(call, opts, "ns", arg: 2)))]
        }
        function("sleep") { call in
            let s = try call.number(1)
            try call.noMoreThan(1)
            guard s.isFinite, s >= 0, s <= 86400 else { throw LuaError.argument(1, "seconds must be between 0 and 86400") }
            try interruptibleSleep(s)
            return []
        }
        function("now") { call in
            try call.noMoreThan(0)
            return [.number(monotonicSeconds())]
        }
        function("keep") { [unowned self] call in
            try call.noMoreThan(1)
            lab.keep = call.count == 0 ? true : call.boolean(1)
            return []
        }
        function("cleanup") { [unowned self] call in
            try call.noMoreThan(0)
            let problems = lab.teardown()
            if !problems.isEmpty {
                throw LabError(.kernel(0), "teardown incomplete", problems.joined(separator: "; "))
            }
            return []
        }
        function("show") { [unowned self] call in
            try call.noMoreThan(0)
            print(try Show.lab(lab), terminator: "")
            return []
        }
    }
}

/// Sleeps, returning early (so that the interrupt hook can raise) on Ctrl-C.
func interruptibleSleep(_ seconds: Double) throws {
    var remaining = seconds
    while remaining > 0 {
        if LuaInterrupt.pending { return }
        let step = min(remaining, 0.05)
        var ts = timespec(tv_sec: Int(step), tv_nsec: Int((step - Double(Int(step))) * 1e9))
        nanosleep(&ts, nil)
        remaining -= step
    }
}
