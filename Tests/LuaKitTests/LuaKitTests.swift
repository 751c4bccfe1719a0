import XCTest
@testable import LuaKit

/// Counts live instances so tests can check object lifetimes.
final class Counted {
    nonisolated(unsafe) static var live = 0
    nonisolated(unsafe) static var deinitOrder: [Int] = []
    nonisolated(unsafe) static var recordOrder = false
    let id: Int
    var value = 0
    init(_ id: Int = 0) { self.id = id; Counted.live += 1 }
    deinit {
        Counted.live -= 1
        if Counted.recordOrder { Counted.deinitOrder.append(id) }
    }
}

struct Oops: Error, CustomStringConvertible { var description: String { "custom failure" } }

final class LuaKitTests: XCTestCase {
    var lua: Lua!

    override func setUp() {
        lua = Lua()
        Counted.live = 0
        Counted.deinitOrder = []
        Counted.recordOrder = false
        let cls = LuaClass<Counted>("Counted")
        cls.field("id") { .integer(Int64($0.id)) }
        cls.field("value") { .integer(Int64($0.value)) }
        cls.method("bump") { obj, call in
            obj.value += Int(try call.integer(2))
            return [.object(obj)]
        }
        cls.tostring { "Counted #\($0.id)" }
        lua.register(cls)
    }

    override func tearDown() { lua.close() }

    func run(_ code: String) throws -> [LuaValue] { try lua.run(code, name: "=test") }

    // MARK: values

    func testRoundTrips() throws {
        lua.register("echo") { call in (1...max(call.count, 1)).map { (try? call.value($0)) ?? .nil } }
        let values: [LuaValue] = [.nil, true, false, 42, -7, 1.5, 0.0, .number(1e300), "", "héllo",
                                  .string("a\u{0}b"), .bytes([0xff, 0x00, 0xfe])]
        for v in values {
            lua.setGlobal("v", v)
            XCTAssertEqual(try run("return echo(v)"), [v], "\(v)")
        }
        XCTAssertEqual(try run("return math.type(echo(3)), math.type(echo(3.0))"), ["integer", "float"])
        XCTAssertEqual(try run("return #echo('a\\0b\\0c')"), [5])
        let t = try run("return echo({1, 2, 3, x = 'y', [10] = true, nested = {k = 1}})")
        guard case .table(let tab)? = t.first else { return XCTFail("not a table") }
        XCTAssertEqual(tab.array, [1, 2, 3])
        XCTAssertEqual(tab["x"], "y")
        XCTAssertEqual(tab.hash[10], true)
        XCTAssertEqual(tab["nested"], .table(LuaTable(["k": 1])))
        XCTAssertEqual(try run("local t = echo({a = {b = {c = 'deep'}}}); return t.a.b.c"), ["deep"])
    }

    func testCyclicTableIsAnErrorNotACrash() throws {
        lua.register("take") { call in _ = try call.value(1); return [] }
        XCTAssertThrowsError(try run("local t = {}; t.self = t; take(t)")) { e in
            XCTAssertTrue((e as? LuaStatus)?.message.contains("nested too deeply") ?? false)
        }
    }

    /// A value that cannot be converted is nil, and the values after it are
    /// still right: a failed conversion leaves the stack as it found it.
    func testFailedConversionLeavesTheStackAlone() throws {
        XCTAssertEqual(try run("local t = {} t.self = t return t, 'second', 3"), [.nil, "second", 3])
        lua.register("depth") { call in
            _ = try? call.value(1)   // fails deep inside the table
            return [.integer(Int64(call.count))]
        }
        XCTAssertEqual(try run("local t = {} t.self = t return depth(t, 'x')"), [2])
    }

    /// Tables sharing sub-tables (`t = {t, t}` forty deep) would be copied
    /// exponentially; conversion stops at a budget instead, quickly.
    func testSharedSubTablesAreNotCopiedExponentially() throws {
        lua.register("take") { call in _ = try call.value(1); return [] }
        let start = monotonic()
        XCTAssertThrowsError(try run("local t = {} for i = 1, 40 do t = {t, t} end take(t)")) { e in
            XCTAssertTrue((e as? LuaStatus)?.message.contains("too large to convert") ?? false, "\(e)")
        }
        XCTAssertLessThan(monotonic() - start, 2)
    }

    /// Errors from Swift are objects that print, concatenate and match like
    /// their message, and carry a kind and fields.
    func testErrorObjectsBehaveLikeTheirMessage() throws {
        lua.register("fail") { _ in throw LuaError.raised("no such thing", kind: "notfound", fields: ["errno": 2]) }
        XCTAssertEqual(try run("""
            local ok, e = pcall(function() fail() end)
            return e.kind, e.errno, tostring(e), "x: " .. e, e:match("no such (%w+)"), string.format("%s", e), #e
            """), ["notfound", 2, "test:1: no such thing", "x: test:1: no such thing", "thing", "test:1: no such thing", 21])
        // Re-raised, it keeps its kind; the failure a host sees carries it.
        XCTAssertThrowsError(try run("local ok, e = pcall(fail) error(e)")) { e in
            XCTAssertEqual((e as? LuaStatus)?.kind, "notfound")
            XCTAssertTrue((e as? LuaStatus)?.message.contains("stack traceback:") ?? false)
        }
        XCTAssertThrowsError(try run("error('plain')")) { e in XCTAssertNil((e as? LuaStatus)?.kind) }
    }

    /// A signal reaches Lua code wherever it runs, a busy coroutine
    /// included, and is gone once raised (a caught one does not linger).
    func testSignalsInterruptCoroutinesAndAreConsumed() throws {
        LuaInterrupt.install()
        lua.register("signalSoon") { _ in
            var t = pthread_t()
            pthread_create(&t, nil, { _ in usleep(100_000); kill(getpid(), SIGINT); return nil }, nil)
            pthread_detach(t)
            return []
        }
        lua.register("pending") { _ in [.bool(LuaInterrupt.pending)] }
        XCTAssertEqual(try run("""
            signalSoon()
            local ok, e = pcall(coroutine.wrap(function() while true do end end))
            return ok, tostring(e):match("interrupted!") ~= nil, e.kind, pending()
            """), [false, true, "interrupted", false])
    }

    func testGlobalsReadAndWrittenRaw() throws {
        lua.setGlobal("g", .table(LuaTable(array: [1, 2], hash: ["k": "v"])))
        XCTAssertEqual(lua.global("g"), .table(LuaTable(array: [1, 2], hash: ["k": "v"])))
        // A strict-mode metatable on _G must not run (and raise through Swift).
        _ = try run("setmetatable(_G, {__index = function() error('strict') end, __newindex = function() error('strict') end})")
        lua.setGlobal("h", 5)
        XCTAssertEqual(lua.global("h"), 5)
        XCTAssertEqual(lua.global("missing"), .nil)
    }

    func testFunctionsAsCallbacks() throws {
        lua.register("apply") { call in
            let f = try call.function(1)
            return try call.call(f, [try call.value(2)])
        }
        XCTAssertEqual(try run("return apply(function(x) return x * 2, 'two' end, 21)"), [42, "two"])
    }

    // MARK: errors

    func testSwiftErrorBecomesLuaErrorWithPosition() throws {
        lua.register("fail") { _ in throw LuaError.runtime("it broke") }
        lua.register("failOther") { _ in throw Oops() }
        XCTAssertEqual(try run("local ok, e = pcall(function() fail() end); return ok, tostring(e), e.kind"), [false, "test:1: it broke", "error"])
        XCTAssertEqual(try run("\n\nlocal ok, e = pcall(function() failOther() end); return tostring(e)"), ["test:3: custom failure"])
        // Called straight from pcall (a C function) there is no Lua position, as in lua.
        XCTAssertEqual(try run("return tostring(select(2, pcall(fail)))"), ["it broke"])
        XCTAssertThrowsError(try run("fail()")) { e in
            XCTAssertTrue((e as? LuaStatus)?.message.hasPrefix("test:1: it broke") ?? false)
        }
    }

    func testArgumentErrorsUseLuaStandardText() throws {
        lua.register("veth") { call in _ = try call.string(1); _ = try call.string(2); return [] }
        lua.register("num") { call in _ = try call.integer(1); return [] }
        XCTAssertEqual(try run("return tostring(select(2, pcall(veth, 'a')))"),
                       ["bad argument #2 to 'veth' (string expected, got no value)"])
        XCTAssertEqual(try run("local t = {veth = veth}; return tostring(select(2, pcall(function() t.veth('a', nil) end)))"),
                       ["test:1: bad argument #2 to 'veth' (string expected, got nil)"])
        XCTAssertEqual(try run("return tostring(select(2, pcall(function() num(1.5) end)))"),
                       ["test:1: bad argument #1 to 'num' (number has no integer representation)"])
        XCTAssertEqual(try run("local e = select(2, pcall(function() num({}) end)); return tostring(e), e.kind"),
                       ["test:1: bad argument #1 to 'num' (number expected, got table)", "argument"])
    }

    func testMethodSelfErrors() throws {
        lua.setGlobal("c", .object(Counted(1)))
        XCTAssertEqual(try run("return tostring(select(2, pcall(function() c.bump(5, 1) end)))"),
                       ["test:1: bad argument #1 to 'bump' (Counted expected, got number; call methods with ':', as obj:bump(...))"])
        XCTAssertEqual(try run("return tostring(select(2, pcall(function() c:bump('x') end)))"),
                       ["test:1: bad argument #1 to 'bump' (number expected, got string)"])
    }

    func testErrorsCrossSwiftLuaSwiftLua() throws {
        lua.register("callLua") { call in try call.call(try call.function(1), []) }
        // (error objects come back as they are; tostring gives their message)
        lua.register("fail") { _ in throw LuaError.runtime("inner") }
        // Lua -> Swift -> Lua -> Swift(fail): the inner error surfaces unchanged.
        XCTAssertEqual(try run("""
            local ok, e = pcall(callLua, function() fail() end)
            return ok, tostring(e)
            """), [false, "test:1: inner"])
        XCTAssertEqual(try run("return select(2, pcall(callLua, function() local x = nil; return x.y end))"),
                       ["test:1: attempt to index a nil value (local 'x')"])
        // Non-string error values pass through as they are.
        XCTAssertEqual(try run("""
            local ok, e = pcall(callLua, function() error({code = 7}) end)
            return type(e), e.code
            """), ["table", 7])
        // Lua -> Swift -> Lua (pcall inside) -> Swift: caught in the middle.
        XCTAssertEqual(try run("local ok, e = callLua(function() return pcall(function() fail() end) end) return ok, e.message"), [false, "test:1: inner"])
    }

    // MARK: userdata

    func testUserdataMethodsFieldsTostringEq() throws {
        let obj = Counted(7)
        lua.setGlobal("a", .object(obj))
        lua.setGlobal("b", .object(obj))
        XCTAssertEqual(try run("return a:bump(2):bump(3).value, a.id, tostring(a), a == b, rawequal(a, b)"),
                       [5, 7, "Counted #7", true, true])
        obj.value = 100
        XCTAssertEqual(try run("return a.value"), [100], "fields are read live")
        XCTAssertEqual(try run("return select(2, pcall(function() return a.nosuch end)):match('^[^\\n]*')"),
                       ["test:1: Counted has no field or method 'nosuch'"], "a typo is an error, not a silent nil")
        XCTAssertEqual(try run("return select(2, pcall(function() return a.valeu end)):match('^[^\\n]*')"),
                       ["test:1: Counted has no field or method 'valeu'; did you mean value?"])
        XCTAssertThrowsError(try run("a.value = 1"))
    }

    func testObjectLuaNoLongerReferencesIsFreed() throws {
        lua.register("make") { _ in [.object(Counted())] }
        _ = try run("for i = 1, 1000 do local x = make() end; collectgarbage(); collectgarbage()")
        XCTAssertEqual(Counted.live, 0)
    }

    func testObjectSwiftStillNeedsIsKept() throws {
        var kept: Counted? = Counted(3)
        weak let weakRef = kept
        lua.setGlobal("k", .object(kept!))
        kept = nil
        _ = try run("collectgarbage(); collectgarbage()")
        XCTAssertNotNil(weakRef, "Lua holds it")
        XCTAssertEqual(try run("return k.id"), [3])
        _ = try run("k = nil; collectgarbage(); collectgarbage()")
        XCTAssertNil(weakRef, "freed once Lua lets go")
    }

    func testAMillionCallsAndObjectsWithoutGrowth() throws {
        var calls = 0
        lua.register("f") { call in calls += 1; return [.integer(try call.integer(1) + 1)] }
        lua.register("make") { _ in [.object(Counted())] }
        let round = """
            local s = 0
            for i = 1, 1000000 do s = s + f(i) end
            for i = 1, 1000000 do local o = make(); if i % 100000 == 0 then collectgarbage() end end
            collectgarbage(); collectgarbage()
            return collectgarbage('count')
            """
        // The first rounds size the caches (the object cache's hash part, and
        // malloc's arenas, settle after two or three); later ones must not grow
        // anything: a leak of 8 bytes a call would be 8 MB a round.
        _ = try run(round)
        _ = try run(round)
        guard case .number(let kb1)? = try run(round).first else { return XCTFail() }
        let rss1 = residentKB()
        guard case .number(let kb2)? = try run(round).first else { return XCTFail() }
        let rss2 = residentKB()

        XCTAssertEqual(calls, 4_000_000)
        XCTAssertEqual(Counted.live, 0, "every userdata's Swift object was freed")
        XCTAssertLessThan(kb2 - kb1, 16, "Lua heap did not grow (KB)")
        XCTAssertLessThan(rss2 - rss1, 2 * 1024, "process RSS did not grow (KB)")
    }

    func testCoroutineCallingSwift() throws {
        lua.register("double") { call in [.integer(try call.integer(1) * 2)] }
        lua.register("fail") { _ in throw LuaError.runtime("in coroutine") }
        XCTAssertEqual(try run("""
            local co = coroutine.wrap(function(a)
              local b = coroutine.yield(double(a))
              return double(b)
            end)
            return co(2), co(5)
            """), [4, 10])
        XCTAssertEqual(try run("""
            local co = coroutine.create(function() fail() end)
            local ok, e = coroutine.resume(co)
            return ok, tostring(e)
            """), [false, "test:1: in coroutine"])
    }

    func testGcOrderAtClose() throws {
        let l = Lua()
        Counted.recordOrder = true
        l.register(LuaClass<Counted>("Counted"))
        for i in 1...3 { l.setGlobal("o\(i)", .object(Counted(i))) }
        XCTAssertEqual(Counted.live, 3)
        l.close()
        XCTAssertEqual(Counted.live, 0)
        XCTAssertEqual(Counted.deinitOrder, [3, 2, 1], "finalizers run in reverse order of creation")
    }

    func testGcNeverRaisesEvenAfterFunctionsAreCollected() throws {
        let l = Lua()
        l.register(LuaClass<Counted>("Counted"))
        l.register("make") { _ in [.object(Counted())] }
        _ = try l.run("keep = {}; for i = 1, 100 do keep[i] = make() end")
        l.close()   // objects and Swift functions are finalised together: no error, no crash
        XCTAssertEqual(Counted.live, 0)
    }

    // MARK: REPL support

    func testCompletion() throws {
        lua.setGlobal("obj", .object(Counted(1)))
        XCTAssertTrue(lua.completions(for: "str").contains("string"))
        XCTAssertEqual(lua.completions(for: "string.fo"), ["string.format"])
        XCTAssertEqual(lua.completions(for: "obj:bu"), ["obj:bump"])
        XCTAssertEqual(lua.completions(for: "nosuch.x"), [])
    }

    func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func residentKB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = Int(s.split(separator: " ")[1]) else { return 0 }
        return pages * 4
    }
}
