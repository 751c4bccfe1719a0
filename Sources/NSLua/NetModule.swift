import Glibc
import LuaKit
import NetLab

/// The `net` module: NetLab's objects bound to Lua.
///
/// Every call goes through `guarded`, which turns a LabError into a Lua error
/// object naming the call, the object and the reason:
/// `lab.lua:7: net.veth("veth0", "veth1"): File exists (a link named veth0 already exists in host)`,
/// with `err.kind` ("exists"), `err.errno` (17) and `err.call`.
public final class NetModule {
    public let lab: Lab
    let lua: Lua
    /// Extensions (ping, capture, exec) add their methods here before `install`.
    let namespaceClass = LuaClass<Namespace>("Namespace")
    let linkClass = LuaClass<Link>("Link")
    var functions: [String: LuaFunction] = [:]
    /// The REPL is running a line typed at its prompt: pings print as they go.
    public var interactive = false

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
    public func teardown(final: Bool = false) -> [String] { lab.teardown(final: final) }

    /// For the REPL after a script (`-i`): every namespace and bridge the run
    /// made becomes a global under its own name, unless that name is taken
    /// (or is not a Lua name). Returns (namespaces, bridges) set.
    public func exposeLab() -> (namespaces: [String], bridges: [String]) {
        var namespaces: [String] = [], bridges: [String] = []
        func expose(_ name: String, _ value: LuaValue) -> Bool {
            guard LuaCall.isLuaName(name), lua.global(name).isNil else { return false }
            lua.setGlobal(name, value)
            return true
        }
        for ns in lab.namespaces where ns.owned {
            if let name = ns.name, expose(name, .object(ns)) { namespaces.append(name) }
        }
        for link in lab.ownedLinks where (try? link.info().kind) == "bridge" {
            if expose(link.lastName, .object(link)) { bridges.append(link.lastName) }
        }
        return (namespaces, bridges)
    }

    // MARK: Error handling

    /// Runs `body`; a LabError becomes an error object whose message is
    /// `position: call(args): reason (detail)`.
    func guarded(_ call: LuaCall, _ name: String, receiver: String?, firstArg: Int32 = 1,
                 _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        do {
            return try body()
        } catch let e as LabError {
            let rendered = NetModule.render(call, name, receiver: receiver, firstArg: firstArg)
            var fields: [String: LuaValue] = ["call": .string(rendered), "reason": .string(e.reason)]
            if let errno = e.errno { fields["errno"] = .integer(Int64(errno)) }
            if let detail = e.detail { fields["detail"] = .string(detail) }
            throw LuaError.raised("\(rendered): \(e)", kind: e.kindName, fields: fields)
        }
    }

    /// `net.veth("veth0", "veth1")` or `ns1:route("default", {via = "10.0.0.1"})`.
    static func render(_ call: LuaCall, _ name: String, receiver: String?, firstArg: Int32) -> String {
        var args: [String] = []
        if call.count >= firstArg { for i in firstArg...call.count { args.append(call.literal(i)) } }
        let list = args.joined(separator: ", ")
        if let receiver { return "\(receiver):\(name)(\(list))" }
        return "net.\(name)(\(list))"
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

    // MARK: Options

    /// A namespace given as an object or by name (opened) in option `key`.
    func namespaceOption(_ opts: LuaTableArgument, _ key: String) throws -> Namespace? {
        switch try opts.value(key) {
        case .nil: return nil
        case .object(let o as Namespace): return o
        case .string(let name): return try lab.openNamespace(name)
        default: throw opts.error("option '\(key)' must be a Namespace or a namespace name (got \(opts.literal(key)))")
        }
    }

    // MARK: The module table

    private func install() {
        var net = LuaTable()
        for (name, fn) in functions { net[name] = lua.function(name, fn) }
        net["host"] = .object(lab.host)
        lua.setGlobal("net", .table(net))
        if let show = functions["show"] { lua.setGlobal("show", lua.function("show", show)) }
        let loaded = (try? lua.run(NetModule.luaHelpers, name: "=nslua")) ?? []
        if loaded.count == 2 { (rowToString, listToString) = (loaded[0], loaded[1]) }
    }

    /// `__tostring` of a record row (its `__text`) and of a list of records
    /// (its rows' texts, one per line), defined once in Lua.
    private var rowToString: LuaValue = .nil, listToString: LuaValue = .nil

    private static let luaHelpers = #"""
    package.preload["nslua"] = function() return net end
    help = function(...)
      local ok, h = pcall(require, "nslua.help")
      if not ok then print("help is not installed (lua/nslua/help.lua: " .. tostring(h) .. ")") return end
      print(h.text(...))
    end
    local getmetatable, tostring, concat, rawget, type = getmetatable, tostring, table.concat, rawget, type
    local function text(v)
      local mt = getmetatable(v)
      return type(mt) == "table" and rawget(mt, "__text") or nil
    end
    local function row(r) return text(r) or "?" end
    local function list(t)
      local lines = rawget(getmetatable(t), "__lines")
      local out = {}
      for i = 1, #t do
        local v = t[i]
        out[i] = text(v) or (lines and lines.rows[i] == v and lines[i]) or tostring(v)
      end
      return concat(out, "\n")
    end
    return row, list
    """#

    /// Rows that print, together, as the lines a kernel tool prints (`ip
    /// route`, `ip neigh`, ...): a table row gets a metatable whose
    /// `__tostring` gives its line; the list prints its rows' lines. The
    /// values stay plain tables for scripts.
    func records(_ rows: [LuaValue], lines: [String]) -> LuaValue {
        let marked: [LuaValue] = zip(rows, lines).map { row, line in
            guard case .table(var t) = row else { return row }
            t.metatable = .table(LuaTable(["__tostring": rowToString, "__text": .string(line)]))
            return .table(t)
        }
        // Rows that are not tables (Link objects) keep their own tostring;
        // the list remembers which line was whose.
        var snapshot = LuaTable(array: lines.map(LuaValue.string))
        snapshot["rows"] = .table(LuaTable(array: rows.map { if case .table = $0 { return .bool(false) } else { return $0 } }))
        return .table(LuaTable(array: marked, metatable: .table(LuaTable(["__tostring": listToString, "__lines": .table(snapshot)]))))
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
            let names = lab.namespaceNames()
            return [records(names.map(LuaValue.string), lines: names)]
        }
        function("namespaces") { [unowned self] call in
            try call.noMoreThan(0)
            return [.table(LuaTable(array: lab.namespaces.map { .object($0) }))]
        }
        function("veth") { [unowned self] call in
            let a = try call.optionalString(1), b = try call.optionalString(2)
            let opts = try call.options(3, known: ["ns", "peer_ns"])
            try call.noMoreThan(3)
            let ns = try namespaceOption(opts, "ns")
            let peerNS = try namespaceOption(opts, "peer_ns") ?? ns
            let (x, y) = try lab.createVeth(a, b, in: ns, peerIn: peerNS)
            return [.object(x), .object(y)]
        }
        function("bridge") { [unowned self] call in
            let name = try call.string(1)
            let opts = try call.options(2, known: ["ns"])
            try call.noMoreThan(2)
            return [.object(try lab.createBridge(name, in: try namespaceOption(opts, "ns")))]
        }
        function("vxlan") { [unowned self] call in
            let name = try call.string(1)
            let opts = try call.options(2, known: ["id", "remote", "group", "from", "dev", "port", "ns"])
            try call.noMoreThan(2)
            guard let vni = try opts.integer("id", in: 1...16_777_215, "a VNI (1..16777215)") else {
                throw opts.error("option 'id' (the VNI, 1..16777215) is required")
            }
            let ns = try namespaceOption(opts, "ns")
            let dev: Link?
            switch try opts.value("dev") {
            case .nil: dev = nil
            case .object(let l as Link): dev = l
            case .string(let n):
                guard let l = try lab.link(named: n, in: ns ?? lab.host) else {
                    throw opts.error("option 'dev': there is no link named \(n) in \((ns ?? lab.host).displayName)")
                }
                dev = l
            default: throw opts.error("option 'dev' must be a Link or a link name (got \(opts.literal("dev")))")
            }
            return [.object(try lab.createVXLAN(name, vni: vni, remote: try opts.string("remote"), group: try opts.string("group"),
                                                from: try opts.string("from"), device: dev,
                                                port: try opts.integer("port", in: 1...65535) ?? 4789, in: ns))]
        }
        function("macvlan") { [unowned self] call in
            let name = try call.string(1)
            let parent = try call.object(2, Link.self)
            let opts = try call.options(3, known: ["mode", "ns"])
            try call.noMoreThan(3)
            return [.object(try lab.createMacvlan(name, parent: parent, mode: try opts.string("mode") ?? "bridge",
                                                  in: try namespaceOption(opts, "ns")))]
        }
        for tap in [true, false] {
            function(tap ? "tap" : "tun") { [unowned self] call in
                let name = try call.string(1)
                let opts = try call.options(2, known: ["ns", "user", "group"])
                try call.noMoreThan(2)
                func id(_ key: String) throws -> String? {
                    switch try opts.value(key) {
                    case .nil: return nil
                    case .integer(let n): return String(n)
                    case .string(let s): return s
                    default: throw opts.error("option '\(key)' must be a name or a number (got \(opts.literal(key)))")
                    }
                }
                return [.object(try lab.createTun(name, tap: tap, user: try id("user"), group: try id("group"),
                                                  in: try namespaceOption(opts, "ns")))]
            }
        }
        function("sleep") { call in
            let s = try call.number(1)
            try call.noMoreThan(1)
            guard s.isFinite, s >= 0, s <= 86400 else { throw LuaError.argument(1, "seconds must be between 0 and 86400") }
            interruptibleSleep(s)
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
                throw LuaError.raised("teardown incomplete: " + problems.joined(separator: "; "), kind: "kernel", fields: [:])
            }
            return []
        }
        function("graph") { [unowned self] call in
            try call.noMoreThan(1)
            var only: [Namespace]?
            if !call.isNoneOrNil(1) {
                let t = try call.table(1)
                only = []
                for i in 0..<t.count {
                    guard case .object(let ns as Namespace) = try t.element(i + 1) else {
                        throw t.error("element \(i + 1) is not a Namespace")
                    }
                    only!.append(ns)
                }
            }
            return [.string(try lab.dot(namespaces: only))]
        }
        function("show") { [unowned self] call in
            try call.noMoreThan(0)
            print(try lab.showText(), terminator: "")
            return []
        }
    }
}

/// Sleeps, returning early (so that the interrupt is raised) on Ctrl-C.
func interruptibleSleep(_ seconds: Double) {
    let end = monotonicSeconds() + seconds
    while !LuaInterrupt.pending {
        let left = end - monotonicSeconds()
        if left <= 0 { return }
        let step = min(left, 0.05)
        var ts = timespec(tv_sec: Int(step), tv_nsec: Int((step - Double(Int(step))) * 1e9))
        nanosleep(&ts, nil)
    }
}
