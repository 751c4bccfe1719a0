import XCTest
import LuaKit
import NetLab
@testable import NSLua

/// The net module's argument checking and rendering, which need no root: bad
/// input is refused before anything reaches the kernel.
final class BindingTests: XCTestCase {
    func testRenderCalls() {
        XCTAssertEqual(Render.call("veth", receiver: nil, args: ["veth0", "veth1"]), #"net.veth("veth0", "veth1")"#)
        XCTAssertEqual(Render.call("route", receiver: "ns1", args: ["default", .table(LuaTable(["via": "10.0.0.1"]))]),
                       #"ns1:route("default", {via = "10.0.0.1"})"#)
        XCTAssertEqual(Render.literal(.string("a\"b\n")), #""a\"b\n""#)
        XCTAssertEqual(Render.literal(.number(.nan)), "0/0")
    }

    func testBadArgumentsNeverReachTheKernel() throws {
        let lua = Lua()
        defer { lua.close() }
        let lab = try Lab(netnsDirectory: "/nonexistent-nslua-test")
        _ = NetModule(lua: lua, lab: lab)
        let cases: [(String, String)] = [
            ("net.veth()", "bad argument #1 to 'veth' (string expected, got no value)"),
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
            let r = try lua.run("return select(2, pcall(function() \(code) end))", name: "=t")
            let msg = r.first?.stringValue ?? ""
            XCTAssertTrue(msg.contains(want), "\(code): \(msg)")
        }
    }
}
