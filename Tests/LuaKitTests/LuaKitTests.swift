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
        lua.register("take") { call in _ = try call.table(1); return [] }
        XCTAssertThrowsError(try run("local t = {}; t.self = t; take(t)")) { e in
            XCTAssertTrue((e as? LuaStatus)?.message.contains("nested too deeply") ?? false)
        }
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
        XCTAssertEqual(try run("local ok, e = pcall(function() fail() end); return ok, e"), [false, "test:1: it broke"])
        XCTAssertEqual(try run("\n\nlocal ok, e = pcall(function() failOther() end); return e"), ["test:3: custom failure"])
        // Called straight from pcall (a C function) there is no Lua position, as in lua.
        XCTAssertEqual(try run("return select(2, pcall(fail))"), ["it broke"])
        XCTAssertThrowsError(try run("fail()")) { e in
            XCTAssertTrue((e as? LuaStatus)?.message.hasPrefix("test:1: it broke") ?? false)
        }
    }

    func testArgumentErrorsUseLuaStandardText() throws {
        lua.register("veth") { call in _ = try call.string(1); _ = try call.string(2); return [] }
        lua.register("num") { call in _ = try call.integer(1); return [] }
        XCTAssertEqual(try run("return select(2, pcall(veth, 'a'))"),
                       ["bad argument #2 to 'veth' (string expected, got no value)"])
        XCTAssertEqual(try run("local t = {veth = veth}; return select(2, pcall(function() t.veth('a', nil) end))"),
                       ["test:1: bad argument #2 to 'veth' (string expected, got nil)"])
        XCTAssertEqual(try run("return select(2, pcall(function() num(1.5) end))"),
                       ["test:1: bad argument #1 to 'num' (number has no integer representation)"])
        XCTAssertEqual(try run("return select(2, pcall(function() num({}) end))"),
                       ["test:1: bad argument #1 to 'num' (number expected, got table)"])
    }

    func testMethodSelfErrors() throws {
        lua.setGlobal("c", .object(Counted(1)))
        XCTAssertEqual(try run("return select(2, pcall(function() c.bump(5, 1) end))"),
                       ["test:1: bad argument #1 to 'bump' (Counted expected, got number)"])
        XCTAssertEqual(try run("return select(2, pcall(function() c:bump('x') end))"),
                       ["test:1: bad argument #1 to 'bump' (number expected, got string)"])
    }

    func testErrorsCrossSwiftLuaSwiftLua() throws {
        lua.register("callLua") { call in try call.call(try call.function(1), []) }
        lua.register("fail") { _ in throw LuaError.runtime("inner") }
        // Lua -> Swift -> Lua -> Swift(fail): the inner error surfaces unchanged.
        XCTAssertEqual(try run("""
            local ok, e = pcall(callLua, function() fail() end)
            return ok, e
            """), [false, "test:1: inner"])
        XCTAssertEqual(try run("return select(2, pcall(callLua, function() local x = nil; return x.y end))"),
                       ["test:1: attempt to index a nil value (local 'x')"])
        // Non-string error values pass through as they are.
        XCTAssertEqual(try run("""
            local ok, e = pcall(callLua, function() error({code = 7}) end)
            return type(e), e.code
            """), ["table", 7])
        // Lua -> Swift -> Lua (pcall inside) -> Swift: caught in the middle.
        XCTAssertEqual(try run("return callLua(function() return pcall(function() fail() end) end)"), [false, "test:1: inner"])
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
        XCTAssertEqual(try run("return a.nosuch"), [.nil])
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
        // The first round sizes the caches; the second must not grow anything.
        guard case .number(let kb1)? = try run(round).first else { return XCTFail() }
        let rss1 = residentKB()
        guard case .number(let kb2)? = try run(round).first else { return XCTFail() }
        let rss2 = residentKB()

        XCTAssertEqual(calls, 2_000_000)
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
            return coroutine.resume(co)
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

    func residentKB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = Int(s.split(separator: " ")[1]) else { return 0 }
        return pages * 4
    }
}
