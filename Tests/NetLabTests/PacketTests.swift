import XCTest
@testable import NetLab
import Netlink

/// Pure packet code: echo requests, reply matching, tcpdump-style summaries.
final class PacketTests: XCTestCase {
    func testEchoRequestChecksumVerifies() {
        let p = Pinger.echoRequest(v4: true, id: 0x1234, seq: 7, size: 56)
        XCTAssertEqual(p.count, 64)
        XCTAssertEqual(Array(p[0..<2]), [8, 0])
        XCTAssertEqual(Array(p[4..<8]), [0x12, 0x34, 0, 7])
        XCTAssertEqual(Pinger.checksum(p), 0, "a packet with its checksum sums to zero")
        XCTAssertEqual(Pinger.echoRequest(v4: false, id: 1, seq: 1, size: 0), [128, 0, 0, 0, 0, 1, 0, 1])
    }

    /// An IPv4 header (20 bytes) + ICMP.
    func ipv4(src: [UInt8], dst: [UInt8], proto: UInt8 = 1, _ payload: [UInt8]) -> [UInt8] {
        let total = 20 + payload.count
        return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 0, 0, 0, 64, proto, 0, 0] + src + dst + payload
    }

    func testReplyMatching() {
        let reply = ipv4(src: [10, 0, 0, 2], dst: [10, 0, 0, 1], [0, 0, 0, 0, 0x12, 0x34, 0, 3] + [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(Pinger.parseReply(reply, v4: true, id: 0x1234)?.kind, .echo(3))
        XCTAssertNil(Pinger.parseReply(reply, v4: true, id: 0x9999), "someone else's echo reply")
        // Our own request (seen when pinging ourselves) is not a reply.
        let request = ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 1], [8, 0, 0, 0, 0x12, 0x34, 0, 3])
        XCTAssertNil(Pinger.parseReply(request, v4: true, id: 0x1234))
    }

    func testTimeExceededQuotesOurRequest() {
        let quoted = ipv4(src: [10, 0, 1, 2], dst: [10, 0, 2, 2], [8, 0, 0, 0, 0x12, 0x34, 0, 9])
        let error = ipv4(src: [10, 0, 1, 1], dst: [10, 0, 1, 2], [11, 0, 0, 0, 0, 0, 0, 0] + quoted)
        let r = Pinger.parseReply(error, v4: true, id: 0x1234)
        XCTAssertEqual(r?.kind, .error("Time to live exceeded", seq: 9))
        XCTAssertEqual(r?.matchAddress, IPAddress("10.0.2.2"))
        XCTAssertNil(Pinger.parseReply(error, v4: true, id: 0x4321), "an error about someone else's packet")
        XCTAssertNil(Pinger.parseReply(Array(error.prefix(30)), v4: true, id: 0x1234), "truncated")
    }

    func testSummaries() {
        let eth: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        let icmp = ipv4(src: [172, 16, 1, 2], dst: [172, 16, 1, 1], [8, 0, 0, 0, 0, 7, 0, 1] + [UInt8](repeating: 0, count: 56))
        XCTAssertEqual(PacketSummary.describe(eth + icmp, linkType: PacketSummary.ethernet),
                       "IP 172.16.1.2 > 172.16.1.1: ICMP echo request, id 7, seq 1, length 64")
        let arp: [UInt8] = [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]
        XCTAssertEqual(PacketSummary.describe(Array(eth[0..<12]) + [0x08, 0x06] + arp, linkType: PacketSummary.ethernet),
                       "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28")
        let udp = ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 17, [0x13, 0x88, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4])
        XCTAssertEqual(PacketSummary.describe(eth + udp, linkType: PacketSummary.ethernet),
                       "IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 4")
        XCTAssertEqual(PacketSummary.describe([1, 2, 3], linkType: PacketSummary.ethernet), "truncated frame, length 3")
        // Cooked captures ("any"): the protocol sits at offset 14 of a 16-byte header.
        let sll = [UInt8](repeating: 0, count: 14) + [0x08, 0x00]
        XCTAssertEqual(PacketSummary.describe(sll + icmp, linkType: PacketSummary.linuxSLL),
                       "IP 172.16.1.2 > 172.16.1.1: ICMP echo request, id 7, seq 1, length 64")
    }

    func testSummariesNeverCrashOnGarbage() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let n = Int.random(in: 0..<120, using: &rng)
            var frame = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n > 14 { frame[12] = [0x08, 0x86, 0x08][Int.random(in: 0..<3)]; frame[13] = [0x00, 0xdd, 0x06][Int.random(in: 0..<3)] }
            _ = PacketSummary.describe(frame, linkType: [1, 113, 276][Int.random(in: 0..<3)])
            _ = Pinger.parseReply(frame, v4: Bool.random(), id: 1)
        }
    }
}
