import XCTest
@testable import Netlink

/// Requests built byte for byte as the kernel's UAPI lays them out
/// (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h).
final class EncodingTests: XCTestCase {
    // Little helpers that spell the layout out independently of the builder.
    func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    func header(len: Int, type: UInt16, flags: UInt16) -> [UInt8] {
        u32(UInt32(len)) + u16(type) + u16(flags) + u32(0) + u32(0)
    }
    func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var b = u16(UInt16(4 + payload.count)) + u16(type) + payload
        while b.count % 4 != 0 { b.append(0) }
        return b
    }
    func cstr(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
    let ifinfomsg = [UInt8](repeating: 0, count: 16)
    /// REQUEST|ACK|ECHO|EXCL|CREATE: a create that hands the new link back.
    let createFlags: UInt16 = 0x1 | 0x4 | 0x8 | 0x200 | 0x400
    /// REQUEST|ACK|EXCL|CREATE: addresses and routes.
    let addFlags: UInt16 = 0x1 | 0x4 | 0x200 | 0x400
    let mac = MACAddress("02:00:00:00:00:01")!
    let mac2 = MACAddress("02:00:00:00:00:02")!

    func testBridge() {
        let body = ifinfomsg + attr(3, cstr("br0")) + attr(1, mac.bytes) + attr(18, attr(1, cstr("bridge")))
        let expected = header(len: 16 + body.count, type: 16, flags: createFlags) + body
        XCTAssertEqual(Requests.newBridge(name: "br0", mac: mac).bytes, expected)
        XCTAssertEqual(expected.count, 68)
    }

    func testVethWithPeerInNamespace() {
        let peer = ifinfomsg + attr(3, cstr("eth0")) + attr(1, mac2.bytes) + attr(28, u32(7))
        let info = attr(1, cstr("veth")) + attr(2, attr(1, peer))
        let body = ifinfomsg + attr(3, cstr("v1")) + attr(1, mac.bytes) + attr(18, info)
        let expected = header(len: 16 + body.count, type: 16, flags: createFlags) + body
        XCTAssertEqual(Requests.newVeth(name: "v1", mac: mac, peer: "eth0", peerMAC: mac2, peerNamespaceFD: 7).bytes, expected)
    }

    func testVethSameNamespaceHasNoNetnsAttribute() {
        let r = Requests.newVeth(name: "a", mac: nil, peer: "b", peerMAC: nil, peerNamespaceFD: nil).bytes
        let peer = ifinfomsg + attr(3, cstr("b"))
        let body = ifinfomsg + attr(3, cstr("a")) + attr(18, attr(1, cstr("veth")) + attr(2, attr(1, peer)))
        XCTAssertEqual(r, header(len: 16 + body.count, type: 16, flags: createFlags) + body)
    }

    func testVethWithKernelChosenNamesHasNoNames() {
        let r = Requests.newVeth(name: nil, mac: nil, peer: nil, peerMAC: nil, peerNamespaceFD: nil).bytes
        let body = ifinfomsg + attr(18, attr(1, cstr("veth")) + attr(2, attr(1, ifinfomsg)))
        XCTAssertEqual(r, header(len: 16 + body.count, type: 16, flags: createFlags) + body)
    }

    func testAddressV4WithBroadcast() throws {
        let p = try IPPrefix(parsing: "172.16.1.1/24")
        let ifaddrmsg: [UInt8] = [2, 24, 0, 0] + u32(5)
        let body = ifaddrmsg + attr(2, [172, 16, 1, 1]) + attr(1, [172, 16, 1, 1]) + attr(4, [172, 16, 1, 255])
        let expected = header(len: 16 + body.count, type: 20, flags: addFlags) + body
        XCTAssertEqual(Requests.address(add: true, index: 5, prefix: p).bytes, expected)
    }

    func testAddressV6Delete() throws {
        let p = try IPPrefix(parsing: "fd00::1/64")
        let a: [UInt8] = [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [1]
        let body: [UInt8] = [10, 64, 0, 0] + u32(3) + attr(2, a) + attr(1, a)
        XCTAssertEqual(Requests.address(add: false, index: 3, prefix: p).bytes,
                       header(len: 16 + body.count, type: 21, flags: 0x5) + body)
    }

    func testDefaultRouteViaGateway() throws {
        let gw = try XCTUnwrap(IPAddress("10.0.0.1"))
        // rtmsg: family, dst_len, src_len, tos, table=main, proto=boot, scope=universe, type=unicast, flags
        let rtmsg: [UInt8] = [2, 0, 0, 0, 254, 3, 0, 1] + u32(0)
        let body = rtmsg + attr(5, [10, 0, 0, 1])
        XCTAssertEqual(Requests.route(add: true, destination: nil, family: 2, gateway: gw, outputIndex: nil).bytes,
                       header(len: 16 + body.count, type: 24, flags: addFlags) + body)
    }

    func testDeviceRouteHasLinkScopeAndNetworkAddress() throws {
        let dst = try IPPrefix(parsing: "10.1.2.3/16")
        let rtmsg: [UInt8] = [2, 16, 0, 0, 254, 3, 253, 1] + u32(0)
        let body = rtmsg + attr(1, [10, 1, 0, 0]) + attr(4, u32(9))
        XCTAssertEqual(Requests.route(add: true, destination: dst, family: 2, gateway: nil, outputIndex: 9).bytes,
                       header(len: 16 + body.count, type: 24, flags: addFlags) + body)
    }

    func testSetLinkUpAndMTU() {
        var info = [UInt8](repeating: 0, count: 16)
        info.replaceSubrange(4..<8, with: u32(4))      // index
        info.replaceSubrange(8..<12, with: u32(1))     // flags IFF_UP
        info.replaceSubrange(12..<16, with: u32(1))    // change IFF_UP
        let body = info + attr(4, u32(1400))
        XCTAssertEqual(Requests.setLink(index: 4, .init(up: true, mtu: 1400)).bytes,
                       header(len: 16 + body.count, type: 16, flags: 0x5) + body)
    }

    func testDumpFlags() {
        let r = Requests.dumpLinks()
        XCTAssertEqual(r.flags, 0x301)   // REQUEST|DUMP
        XCTAssertEqual(r.type, 18)
        XCTAssertEqual(r.bytes.count, 32)
    }

    func testStampSetsSequence() {
        var r = Requests.deleteLink(index: 2)
        r.stamp(seq: 0x01020304)
        XCTAssertEqual(Array(r.bytes[8..<12]), [4, 3, 2, 1])
    }
}

final class AddressParsingTests: XCTestCase {
    func testPrefixes() throws {
        XCTAssertEqual(try IPPrefix(parsing: "10.0.0.1/8").description, "10.0.0.1/8")
        XCTAssertEqual(try IPPrefix(parsing: "fe80::1/64").description, "fe80::1/64")
        XCTAssertEqual(try IPPrefix(parsing: "10.1.2.3/16").network.description, "10.1.0.0/16")
        XCTAssertEqual(try IPPrefix(parsing: "10.1.2.3", hostDefault: true).length, 32)
        for bad in ["", "10.0.0.256/24", "10.0.0.1/33", "10.0.0.1/-1", "10.0.0.1/", "fd00::1/129", "x/24",
                    "10.0.0.1/24/1", "10.0.0.1", "10.0.0.1/2a", "10.0.0.1\0/24"] {
            XCTAssertThrowsError(try IPPrefix(parsing: bad), bad)
        }
    }

    /// The network of every prefix length, IPv4 and IPv6, against a
    /// bit-by-bit mask: lengths that are not whole bytes included (a /30
    /// once trapped).
    func testNetworkOfEveryPrefixLength() throws {
        for (text, bits) in [("10.255.255.255", 32), ("fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128)] {
            let addr = IPAddress(text)!
            for len in 0...bits {
                let net = IPPrefix(address: addr, length: UInt8(len)).network
                var want = addr.bytes
                for bit in 0..<bits where bit >= len { want[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
                XCTAssertEqual(net.address.bytes, want, "\(text)/\(len)")
                XCTAssertEqual(Int(net.length), len)
            }
        }
        XCTAssertEqual(try IPPrefix(parsing: "10.0.0.6/30").network.description, "10.0.0.4/30")
        XCTAssertEqual(try IPPrefix(parsing: "10.0.5.9/22").network.description, "10.0.4.0/22")
    }

    func testMACs() {
        XCTAssertEqual(MACAddress("02:00:00:00:00:0a")?.bytes, [2, 0, 0, 0, 0, 10])
        XCTAssertEqual(MACAddress("2:0:0:0:0:a")?.description, "02:00:00:00:00:0a")
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:00:00", "zz:00:00:00:00:00", "002:00:00:00:00:00"] {
            XCTAssertNil(MACAddress(bad), bad)
        }
    }
}

/// Traffic control requests, byte for byte (linux/pkt_sched.h, iproute2's layout).
final class TrafficControlEncodingTests: XCTestCase {
    func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * $0)) & 0xff) } }
    func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var b = u16(UInt16(4 + payload.count)) + u16(type) + payload
        while b.count % 4 != 0 { b.append(0) }
        return b
    }
    func header(len: Int, type: UInt16, flags: UInt16) -> [UInt8] {
        u32(UInt32(len)) + u16(type) + u16(flags) + u32(0) + u32(0)
    }
    // struct tcmsg: family, pad, pad, ifindex, handle, parent, info
    func tcmsg(_ index: UInt32, handle: UInt32, parent: UInt32) -> [UInt8] {
        [0, 0, 0, 0] + u32(index) + u32(handle) + u32(parent) + u32(0)
    }

    func testNetem() {
        // 20 ms delay, 5 ms jitter, 1% loss: struct tc_netem_qopt then LATENCY64/JITTER64 inside TCA_OPTIONS.
        let loss = UInt32(0.01 * Double(UInt32.max))
        let qopt = u32(0) + u32(1000) + u32(loss) + u32(0) + u32(0) + u32(0)
        let options = qopt + attr(10, u64(20_000_000)) + attr(11, u64(5_000_000))
        let body = tcmsg(3, handle: 0x10000, parent: 0xffff_ffff) + attr(1, Array("netem".utf8) + [0]) + attr(2, options)
        let r = Requests.netem(index: 3, handle: 0x10000, parent: 0xffff_ffff, delayNS: 20_000_000, jitterNS: 5_000_000,
                               lossPercent: 1, limit: 1000)
        XCTAssertEqual(r.bytes, header(len: 16 + body.count, type: 36, flags: 0x605) + body)
    }

    func testTbf() {
        // struct tc_tbf_qopt: rate (tc_ratespec), peakrate, limit, buffer, mtu; then TCA_TBF_BURST.
        let rate: [UInt8] = [0, 1] + u16(0) + u16(0xffff) + u16(0) + u32(125_000)
        let parms = rate + [UInt8](repeating: 0, count: 12) + u32(10_346) + u32(0) + u32(0)
        let options = attr(1, parms) + attr(6, u32(4096))
        let body = tcmsg(3, handle: 0x10000, parent: 0xffff_ffff) + attr(1, Array("tbf".utf8) + [0]) + attr(2, options)
        let r = Requests.tbf(index: 3, handle: 0x10000, parent: 0xffff_ffff, rateBytes: 125_000, burst: 4096, limit: 10_346)
        XCTAssertEqual(r.bytes, header(len: 16 + body.count, type: 36, flags: 0x605) + body)
        // Above 32 bits of bytes per second the rate goes in TCA_TBF_RATE64 too.
        let fast = Requests.tbf(index: 3, handle: 1, parent: 2, rateBytes: 5_000_000_000, burst: 4096, limit: 1).bytes
        XCTAssertTrue(fast.count == r.bytes.count + 12)
    }

    func testDeleteRoot() {
        let body = tcmsg(7, handle: 0, parent: 0xffff_ffff)
        XCTAssertEqual(Requests.deleteRootQdisc(index: 7).bytes, header(len: 16 + body.count, type: 37, flags: 0x5) + body)
    }
}
