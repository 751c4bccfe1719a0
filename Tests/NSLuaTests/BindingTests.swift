import XCTest
import LuaKit
import NetLab
@testable import NSLua

/// The net module's argument checking and rendering, which need no root: bad
/// input is refused before anything reaches the kernel.
final class BindingTests: XCTestCase {
    /// Calls are quoted in errors as written in Lua, shortened, and without
    /// converting more of a hostile argument than is shown.
    func testCallsAreQuotedShortly() throws {
        let lua = Lua()
        defer { lua.close() }
        lua.register("quote") { call in [.string(NetModule.render(call, "f", receiver: nil, firstArg: 1))] }
        XCTAssertEqual(try lua.run("return quote('veth0', 3, {via = '10.0.0.1'}, nil, 0/0, 1.5)").first,
                       #"net.f("veth0", 3, {via = "10.0.0.1"}, nil, 0/0, 1.5)"#)
        XCTAssertEqual(try lua.run(#"return quote('a"b\n')"#).first, #"net.f("a\"b\n")"#)
        XCTAssertEqual(try lua.run("return quote(string.rep('x', 100))").first?.stringValue?.count, #"net.f("")"#.count + 64 + 3)
        XCTAssertEqual(try lua.run("return quote({1, 2, {3, {4}}})").first, "net.f({1, 2, {3, {...}}})")
        XCTAssertEqual(try lua.run("local t = {} for i = 1, 20 do t[i] = i end return quote(t)").first,
                       "net.f({1, 2, 3, 4, 5, 6, 7, 8, ...})")
        // Shared sub-tables forty deep: rendered in a moment, not copied exponentially.
        let start = monotonicSeconds()
        XCTAssertEqual(try lua.run("local t = {} for i = 1, 40 do t = {t, t} end return quote(t)").first,
                       "net.f({{{...}, {...}}, {{...}, {...}}})")
        XCTAssertLessThan(monotonicSeconds() - start, 1)
    }

    func testBadArgumentsNeverReachTheKernel() throws {
        let lua = Lua()
        defer { lua.close() }
        // Its host namespace is a private one: were a bad argument ever to
        // reach the kernel, nothing could happen to the machine's own.
        let lab = try (try? Lab.isolated(netnsDirectory: "/nonexistent-nslua-test")) ?? Lab(netnsDirectory: "/nonexistent-nslua-test")
        let module = NetModule(lua: lua, lab: lab)
        defer { withExtendedLifetime(module) {} }
        let cases: [(String, String)] = [
            ("net.veth({})", "bad argument #1 to 'veth' (string expected, got table)"),
            ("net.veth('a', 'b', 5)", "bad argument #3 to 'veth' (table expected, got number)"),
            ("net.veth('a', 'b', {1})", "bad argument #3 to 'veth' (options must be named"),
            ("net.bridge(string.rep('x', 16))", "is 16 bytes; at most 15"),
            ("net.ns('')", "invalid namespace name (it is empty)"),
            ("net.ns('a\\0b')", "contains a NUL byte"),
            ("net.sleep(-1)", "bad argument #1 to 'sleep' (seconds must be between 0 and 86400)"),
            ("net.sleep(0/0)", "bad argument #1 to 'sleep'"),
            ("net.host:sysctl('kernel.panic', 1)", "only per-namespace net.* keys"),
            ("net.host:route('default', {via = 'x'})", "invalid address ('x' is not an IPv4 or IPv6 address)"),
            ("net.host:route('default', {via = '10.0.0.1', dev = 3})", "option 'dev' must be a Link or a link name"),
        ]
        for (code, want) in cases {
            let r = try lua.run("local ok, e = pcall(function() \(code) end) return tostring(e)", name: "=t")
            let msg = r.first?.stringValue ?? ""
            XCTAssertTrue(msg.contains(want), "\(code): \(msg)")
        }
    }
}
