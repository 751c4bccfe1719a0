import XCTest
@testable import Netlink

/// Replies parsed: ACK, error with extended ack, multipart dump, interrupted
/// dump; malformed and truncated input rejected without crashing.
final class ReplyTests: XCTestCase {
    func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    func message(type: UInt16, flags: UInt16 = 0, seq: UInt32, payload: [UInt8]) -> [UInt8] {
        var p = payload
        while p.count % 4 != 0 { p.append(0) }
        return u32(UInt32(16 + payload.count)) + u16(type) + u16(flags) + u32(seq) + u32(0) + p
    }
    func errorPayload(errno: Int32, extack: String? = nil) -> [UInt8] {
        var p = u32(UInt32(bitPattern: -errno))
        p += u32(32) + u16(16) + u16(0x605) + u32(1) + u32(0)     // the capped original header
        if let extack {
            let s = Array(extack.utf8) + [0]
            var a = u16(UInt16(4 + s.count)) + u16(1) + s
            while a.count % 4 != 0 { a.append(0) }
            p += a
        }
        return p
    }
    func linkPayload(index: Int32, name: String) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 16)
        p.replaceSubrange(4..<8, with: u32(UInt32(index)))
        let s = Array(name.utf8) + [0]
        p += u16(UInt16(4 + s.count)) + u16(3) + s
        while p.count % 4 != 0 { p.append(0) }
        return p
    }

    func testAck() throws {
        var c = ReplyCollector(seq: 1, isDump: false)
        let ack = message(type: NL.ERROR, flags: NL.F_CAPPED, seq: 1, payload: errorPayload(errno: 0))
        XCTAssertEqual(try c.feed(ack[...], senderPid: 0), .done)
        XCTAssertTrue(c.messages.isEmpty)
    }

    func testErrorWithExtendedAck() {
        var c = ReplyCollector(seq: 1, isDump: false)
        let err = message(type: NL.ERROR, flags: NL.F_CAPPED | NL.F_ACK_TLVS, seq: 1,
                          payload: errorPayload(errno: 17, extack: "Device name already in use"))
        XCTAssertThrowsError(try c.feed(err[...], senderPid: 0)) { e in
            let ne = e as? NetlinkError
            XCTAssertEqual(ne?.errno, 17)
            XCTAssertEqual(ne?.message, "Device name already in use")
            XCTAssertEqual(ne?.description, "File exists (Device name already in use)")
        }
    }

    /// A batch: one datagram answers several requests; each collector takes
    /// only its own sequence number (an echoed link, then its ACK), and one
    /// request's error does not touch another's outcome.
    func testBatchedRepliesGoToTheirOwnRequests() throws {
        let datagram = message(type: RTM.NEWLINK, seq: 5, payload: linkPayload(index: 7, name: "br0"))
            + message(type: NL.ERROR, flags: NL.F_CAPPED, seq: 5, payload: errorPayload(errno: 0))
            + message(type: NL.ERROR, flags: NL.F_CAPPED, seq: 6, payload: errorPayload(errno: 17))
        let messages = try NetlinkMessage.parse(datagram[...])
        var first = ReplyCollector(seq: 5, isDump: false)
        var second = ReplyCollector(seq: 6, isDump: false)
        XCTAssertEqual(try first.feed(messages), .done)
        XCTAssertEqual(first.messages.count, 1, "the echo of the created link")
        XCTAssertEqual(try LinkMessage(first.messages[0]).index, 7)
        XCTAssertThrowsError(try second.feed(messages)) { XCTAssertEqual(($0 as? NetlinkError)?.errno, 17) }
    }

    func testErrorWithoutExtendedAck() {
        var c = ReplyCollector(seq: 9, isDump: false)
        let err = message(type: NL.ERROR, flags: NL.F_CAPPED, seq: 9, payload: errorPayload(errno: 19))
        XCTAssertThrowsError(try c.feed(err[...], senderPid: 0)) { e in
            XCTAssertEqual((e as? NetlinkError)?.description, "No such device")
            XCTAssertTrue((e as? NetlinkError)?.isNotFound ?? false)
        }
    }

    func testMultipartDumpAcrossDatagrams() throws {
        var c = ReplyCollector(seq: 5, isDump: true)
        let d1 = message(type: RTM.NEWLINK, flags: NL.F_MULTI, seq: 5, payload: linkPayload(index: 1, name: "lo"))
            + message(type: RTM.NEWLINK, flags: NL.F_MULTI, seq: 5, payload: linkPayload(index: 2, name: "eth0"))
        XCTAssertEqual(try c.feed(d1[...], senderPid: 0), .more)
        let d2 = message(type: RTM.NEWLINK, flags: NL.F_MULTI, seq: 5, payload: linkPayload(index: 3, name: "veth0"))
            + message(type: NL.DONE, flags: NL.F_MULTI, seq: 5, payload: u32(0))
        XCTAssertEqual(try c.feed(d2[...], senderPid: 0), .done)
        XCTAssertEqual(try c.messages.map { try LinkMessage($0).name }, ["lo", "eth0", "veth0"])
    }

    func testInterruptedDumpIsReported() {
        var c = ReplyCollector(seq: 5, isDump: true)
        let d = message(type: RTM.NEWLINK, flags: NL.F_MULTI | NL.F_DUMP_INTR, seq: 5, payload: linkPayload(index: 1, name: "lo"))
            + message(type: NL.DONE, flags: NL.F_MULTI | NL.F_DUMP_INTR, seq: 5, payload: u32(0))
        XCTAssertThrowsError(try c.feed(d[...], senderPid: 0)) { XCTAssertTrue($0 is DumpInterrupted) }
    }

    func testStaleSequenceAndForeignSenderIgnored() throws {
        var c = ReplyCollector(seq: 7, isDump: false)
        let stale = message(type: NL.ERROR, seq: 6, payload: errorPayload(errno: 17))
        XCTAssertEqual(try c.feed(stale[...], senderPid: 0), .more)
        let ack = message(type: NL.ERROR, seq: 7, payload: errorPayload(errno: 0))
        XCTAssertEqual(try c.feed(ack[...], senderPid: 1234), .more)   // not the kernel
        XCTAssertEqual(try c.feed(ack[...], senderPid: 0), .done)
    }

    func testMalformedAndTruncatedRejected() {
        let good = message(type: RTM.NEWLINK, seq: 1, payload: linkPayload(index: 1, name: "lo"))
        // Every truncation of a valid message fails cleanly or parses a prefix; never crashes.
        for n in 0..<good.count {
            _ = try? NetlinkMessage.parse(good[0..<n])
        }
        XCTAssertThrowsError(try NetlinkMessage.parse(good[0..<10]))
        var badLen = good
        badLen[0] = 200
        XCTAssertThrowsError(try NetlinkMessage.parse(badLen[...]))
        var tiny = good
        tiny[0] = 4
        XCTAssertThrowsError(try NetlinkMessage.parse(tiny[...]))
        // An attribute running past its message.
        var badAttr = good
        badAttr[16 + 16] = 0xff
        let m = try? NetlinkMessage.parse(badAttr[...])
        XCTAssertThrowsError(try LinkMessage(m![0]))
        // A short struct.
        let short = message(type: RTM.NEWLINK, seq: 1, payload: [1, 2, 3])
        XCTAssertThrowsError(try LinkMessage(try NetlinkMessage.parse(short[...])[0]))
        XCTAssertThrowsError(try AddressMessage(try NetlinkMessage.parse(short[...])[0]))
        XCTAssertThrowsError(try RouteMessage(try NetlinkMessage.parse(short[...])[0]))
        XCTAssertThrowsError(try NeighborMessage(try NetlinkMessage.parse(short[...])[0]))
        let shortErr = message(type: NL.ERROR, seq: 1, payload: [0, 0])
        var c = ReplyCollector(seq: 1, isDump: false)
        XCTAssertThrowsError(try c.feed(shortErr[...], senderPid: 0))
    }

    func testRandomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<200, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let ms = try? NetlinkMessage.parse(bytes[...]) {
                for m in ms {
                    _ = try? LinkMessage(m); _ = try? AddressMessage(m)
                    _ = try? RouteMessage(m); _ = try? NeighborMessage(m)
                    _ = try? NetlinkMessage.decodeError(m)
                }
            }
        }
    }
}
