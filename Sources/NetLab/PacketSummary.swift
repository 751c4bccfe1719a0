import Glibc
import Netlink

/// A one-line description of a captured frame, in the words `tcpdump -n`
/// uses: "IP 172.16.1.2 > 172.16.1.1: ICMP echo request, id 7, seq 1, length 64".
public enum PacketSummary {
    /// Link-layer types (DLT_*) we decode.
    public static let ethernet: Int32 = 1, linuxSLL: Int32 = 113, linuxSLL2: Int32 = 276

    /// "14:02:03.123456": a capture time as tcpdump prints it (local time).
    public static func timestamp(_ time: Double) -> String {
        var t = time_t(time.rounded(.down))
        var micros = Int(((time - Double(t)) * 1e6).rounded())
        if micros >= 1_000_000 { t += 1; micros -= 1_000_000 }
        var tm = Glibc.tm()
        localtime_r(&t, &tm)
        func two(_ v: Int32) -> String { String(v).leftPadded(2) }
        return "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)).\(String(micros).leftPadded(6))"
    }

    public static func describe(_ frame: [UInt8], linkType: Int32) -> String {
        switch linkType {
        case ethernet:
            guard frame.count >= 14 else { return "truncated frame, length \(frame.count)" }
            var type = u16(frame, 12)
            var offset = 14
            if type == 0x8100, frame.count >= 18 {   // one VLAN tag
                let vlan = u16(frame, 14) & 0x0fff
                type = u16(frame, 16)
                offset = 18
                return "vlan \(vlan), " + payload(type, frame, offset)
            }
            return payload(type, frame, offset)
        case linuxSLL:
            guard frame.count >= 16 else { return "truncated frame, length \(frame.count)" }
            return payload(u16(frame, 14), frame, 16)
        case linuxSLL2:
            guard frame.count >= 20 else { return "truncated frame, length \(frame.count)" }
            return payload(u16(frame, 0), frame, 20)
        default:
            return "link type \(linkType), length \(frame.count)"
        }
    }

    static func payload(_ type: UInt16, _ f: [UInt8], _ o: Int) -> String {
        switch type {
        case 0x0800: return ipv4(f, o)
        case 0x86dd: return ipv6(f, o)
        case 0x0806: return arp(f, o)
        default: return "ethertype 0x\(hex4(type)), length \(f.count)"
        }
    }

    static func arp(_ f: [UInt8], _ o: Int) -> String {
        guard f.count >= o + 28, u16(f, o + 2) == 0x0800, f[o + 4] == 6, f[o + 5] == 4 else {
            return "ARP, length \(f.count - o)"
        }
        let op = u16(f, o + 6)
        let sha = MACAddress(bytes: Array(f[(o + 8)..<(o + 14)]))!
        let spa = IPAddress(bytes: Array(f[(o + 14)..<(o + 18)]))!
        let tpa = IPAddress(bytes: Array(f[(o + 24)..<(o + 28)]))!
        let len = f.count - o
        switch op {
        case 1: return "ARP, Request who-has \(tpa) tell \(spa), length \(len)"
        case 2: return "ARP, Reply \(spa) is-at \(sha), length \(len)"
        default: return "ARP, op \(op), length \(len)"
        }
    }

    static func ipv4(_ f: [UInt8], _ o: Int) -> String {
        guard f.count >= o + 20 else { return "IP truncated" }
        let ihl = Int(f[o] & 0x0f) * 4
        guard ihl >= 20 else { return "IP bad-hlen \(ihl)" }
        let total = Int(u16(f, o + 2))
        let proto = f[o + 9]
        let src = IPAddress(bytes: Array(f[(o + 12)..<(o + 16)]))!
        let dst = IPAddress(bytes: Array(f[(o + 16)..<(o + 20)]))!
        let p = o + ihl
        let payloadLength = Swift.max(0, Swift.min(total, f.count - o) - ihl)
        guard f.count >= p else { return "IP \(src) > \(dst): truncated" }
        switch proto {
        case 1:
            guard f.count >= p + 8 else { return "IP \(src) > \(dst): ICMP, length \(payloadLength)" }
            let type = f[p], code = f[p + 1]
            let id = u16(f, p + 4), seq = u16(f, p + 6)
            switch type {
            case 8: return "IP \(src) > \(dst): ICMP echo request, id \(id), seq \(seq), length \(payloadLength)"
            case 0: return "IP \(src) > \(dst): ICMP echo reply, id \(id), seq \(seq), length \(payloadLength)"
            case 3:
                let what = ["net", "host", "protocol", "port"][safe: Int(code)] ?? "code \(code)"
                return "IP \(src) > \(dst): ICMP \(what) unreachable, length \(payloadLength)"
            case 11: return "IP \(src) > \(dst): ICMP time exceeded in-transit, length \(payloadLength)"
            default: return "IP \(src) > \(dst): ICMP type-#\(type), length \(payloadLength)"
            }
        case 6: return "IP " + tcp(f, p, src, dst, payloadLength)
        case 17: return "IP " + udp(f, p, src, dst)
        default: return "IP \(src) > \(dst): ip-proto-\(proto) \(payloadLength)"
        }
    }

    static func ipv6(_ f: [UInt8], _ o: Int) -> String {
        guard f.count >= o + 40 else { return "IP6 truncated" }
        let payloadLength = Int(u16(f, o + 4))
        let next = f[o + 6]
        let src = IPAddress(bytes: Array(f[(o + 8)..<(o + 24)]))!
        let dst = IPAddress(bytes: Array(f[(o + 24)..<(o + 40)]))!
        let p = o + 40
        switch next {
        case 58:
            guard f.count >= p + 8 else { return "IP6 \(src) > \(dst): ICMP6, length \(payloadLength)" }
            let type = f[p]
            let id = u16(f, p + 4), seq = u16(f, p + 6)
            let target = f.count >= p + 24 ? IPAddress(bytes: Array(f[(p + 8)..<(p + 24)])) : nil
            let body: String
            switch type {
            case 128: body = "echo request, id \(id), seq \(seq)"
            case 129: body = "echo reply, id \(id), seq \(seq)"
            case 133: body = "router solicitation"
            case 134: body = "router advertisement"
            case 135: body = "neighbor solicitation, who has \(target.map { "\($0)" } ?? "?")"
            case 136: body = "neighbor advertisement, tgt is \(target.map { "\($0)" } ?? "?")"
            case 143: body = "multicast listener report v2"
            case 1: body = "destination unreachable"
            case 3: body = "time exceeded in-transit"
            default: body = "type \(type)"
            }
            return "IP6 \(src) > \(dst): ICMP6, \(body), length \(payloadLength)"
        case 6: return "IP6 " + tcp(f, p, src, dst, payloadLength)
        case 17: return "IP6 " + udp(f, p, src, dst)
        case 0: return "IP6 \(src) > \(dst): HBH, length \(payloadLength)"
        default: return "IP6 \(src) > \(dst): ip-proto-\(next) \(payloadLength)"
        }
    }

    static func udp(_ f: [UInt8], _ p: Int, _ src: IPAddress, _ dst: IPAddress) -> String {
        guard f.count >= p + 8 else { return "\(src) > \(dst): UDP, truncated" }
        let sp = u16(f, p), dp = u16(f, p + 2), len = Int(u16(f, p + 4)) - 8
        return "\(src).\(sp) > \(dst).\(dp): UDP, length \(Swift.max(0, len))"
    }

    static func tcp(_ f: [UInt8], _ p: Int, _ src: IPAddress, _ dst: IPAddress, _ ipPayload: Int) -> String {
        guard f.count >= p + 20 else { return "\(src) > \(dst): TCP, truncated" }
        let sp = u16(f, p), dp = u16(f, p + 2)
        let seq = u32(f, p + 4), ack = u32(f, p + 8)
        let off = Int(f[p + 12] >> 4) * 4
        let flags = f[p + 13]
        let win = u16(f, p + 14)
        var fl = ""
        if flags & 0x01 != 0 { fl += "F" }
        if flags & 0x02 != 0 { fl += "S" }
        if flags & 0x04 != 0 { fl += "R" }
        if flags & 0x08 != 0 { fl += "P" }
        if flags & 0x10 != 0 { fl += "." }
        if fl.isEmpty { fl = "none" }
        let len = Swift.max(0, ipPayload - off)
        var s = "\(src).\(sp) > \(dst).\(dp): Flags [\(fl)], seq \(seq)"
        if flags & 0x10 != 0 { s += ", ack \(ack)" }
        return s + ", win \(win), length \(len)"
    }

    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) << 16 | UInt32(u16(b, i + 2)) }
    static func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}
