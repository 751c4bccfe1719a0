/// One netlink message as received.
public struct NetlinkMessage: Equatable, Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var seq: UInt32
    public var pid: UInt32
    /// Everything after the 16-byte header.
    public var payload: ArraySlice<UInt8>
}

/// A reply that cannot be parsed: too short, or a length that runs past the
/// buffer. Malformed input never crashes the reader.
public struct MalformedReply: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { "malformed netlink reply: \(reason)" }
}

extension NetlinkMessage {
    /// Splits one datagram into messages (NLMSG_OK / NLMSG_NEXT).
    public static func parse(_ buffer: ArraySlice<UInt8>) throws(MalformedReply) -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var i = buffer.startIndex
        while i < buffer.endIndex {
            guard buffer.endIndex - i >= 16 else { throw MalformedReply(reason: "truncated header") }
            let h = Array(buffer[i..<(i + 16)])
            let len = Int(read(h, 0) as UInt32)
            guard len >= 16, i + len <= buffer.endIndex else {
                throw MalformedReply(reason: "message length \(len) out of bounds")
            }
            out.append(NetlinkMessage(type: read(h, 4), flags: read(h, 6), seq: read(h, 8), pid: read(h, 12),
                                      payload: buffer[(i + 16)..<(i + len)]))
            i += (len + 3) & ~3
        }
        return out
    }
}

/// Attributes (struct nlattr / rtattr list) of a message or a nest.
public struct Attributes: Sendable {
    public private(set) var items: [(type: UInt16, value: ArraySlice<UInt8>)] = []

    public init(_ data: ArraySlice<UInt8>) throws(MalformedReply) {
        var i = data.startIndex
        while data.endIndex - i >= 4 {
            let len = Int(UInt16(data[i]) | UInt16(data[i + 1]) << 8)
            let type = (UInt16(data[i + 2]) | UInt16(data[i + 3]) << 8) & 0x3fff
            guard len >= 4, i + len <= data.endIndex else {
                throw MalformedReply(reason: "attribute length \(len) out of bounds")
            }
            items.append((type, data[(i + 4)..<(i + len)]))
            i += (len + 3) & ~3
        }
    }

    public subscript(type: UInt16) -> ArraySlice<UInt8>? {
        items.first(where: { $0.type == type })?.value
    }

    public func string(_ type: UInt16) -> String? {
        guard let v = self[type] else { return nil }
        return String(decoding: v.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    public func u32(_ type: UInt16) -> UInt32? {
        guard let v = self[type], v.count >= 4 else { return nil }
        return read(Array(v), 0)
    }

    public func u8(_ type: UInt16) -> UInt8? { self[type]?.first }

    public func nested(_ type: UInt16) throws(MalformedReply) -> Attributes? {
        guard let v = self[type] else { return nil }
        return try Attributes(v)
    }
}

/// An error the kernel returned for a request: errno plus the extended-ack text.
public struct NetlinkError: Error, Equatable, CustomStringConvertible {
    public let errno: Int32
    /// The kernel's explanation (NLMSGERR_ATTR_MSG), when it gave one.
    public let message: String?

    public init(errno: Int32, message: String? = nil) {
        self.errno = errno
        self.message = message
    }

    /// strerror text, then the kernel's reason: "File exists (...)".
    public var description: String {
        let base = errnoDescription(errno)
        if let message, !message.isEmpty { return "\(base) (\(message))" }
        return base
    }

    public var isNotFound: Bool { errno == 2 || errno == 19 || errno == 3 }   // ENOENT, ENODEV, ESRCH
}

/// The dump was interrupted by a concurrent change (NLM_F_DUMP_INTR): its
/// content may be inconsistent and the caller should retry.
public struct DumpInterrupted: Error, Equatable, CustomStringConvertible {
    public var description: String { "netlink dump interrupted by a concurrent change" }
}

/// Outcome of reading the replies to one request.
public enum ReplyStatus: Equatable {
    /// Still waiting for more (a dump without NLMSG_DONE yet).
    case more
    /// Finished.
    case done
}

/// Collects the replies to one request, checking sequence and sender.
public struct ReplyCollector {
    public let seq: UInt32
    public let isDump: Bool
    public private(set) var messages: [NetlinkMessage] = []
    public private(set) var interrupted = false

    public init(seq: UInt32, isDump: Bool) {
        self.seq = seq
        self.isDump = isDump
    }

    /// Feeds one datagram from `senderPid` (0 is the kernel). Throws the
    /// kernel's error; returns `.done` once the reply is complete.
    public mutating func feed(_ datagram: ArraySlice<UInt8>, senderPid: UInt32) throws -> ReplyStatus {
        guard senderPid == 0 else { return .more }   // not from the kernel: ignore
        return try feed(try NetlinkMessage.parse(datagram))
    }

    /// Feeds the messages of one datagram from the kernel; those of other
    /// requests (another sequence number) are skipped.
    public mutating func feed(_ incoming: [NetlinkMessage]) throws -> ReplyStatus {
        for m in incoming {
            guard m.seq == seq else { continue }     // a stale reply to an earlier request
            if m.flags & NL.F_DUMP_INTR != 0 { interrupted = true }
            switch m.type {
            case NL.ERROR:
                let err = try NetlinkMessage.decodeError(m)
                if err.errno != 0 { throw err }
                return .done                         // errno 0: the ACK
            case NL.DONE:
                if interrupted { throw DumpInterrupted() }
                return .done
            case NL.NOOP:
                continue
            case NL.OVERRUN:
                throw MalformedReply(reason: "overrun")
            default:
                messages.append(m)
                if !isDump && m.flags & NL.F_MULTI == 0 { continue }
            }
        }
        return .more
    }
}

extension NetlinkMessage {
    /// The fixed struct at the start of the payload (`size` bytes, checked)
    /// and the attributes that follow it.
    public func fixedAndAttributes(_ size: Int, _ what: String) throws(MalformedReply) -> (ArraySlice<UInt8>, Attributes) {
        guard payload.count >= size else { throw MalformedReply(reason: "short \(what)") }
        return (payload.prefix(size), try Attributes(payload.dropFirst(size)))
    }

    /// Decodes struct nlmsgerr and its extended-ack attributes.
    public static func decodeError(_ m: NetlinkMessage) throws(MalformedReply) -> NetlinkError {
        guard m.payload.count >= 4 + 16 else { throw MalformedReply(reason: "short error message") }
        let p = Array(m.payload)
        let code: Int32 = read(p, 0)
        var message: String?
        if m.flags & NL.F_ACK_TLVS != 0 {
            // The original request follows: its header only when capped.
            var offset = 4
            let origLen = Int(read(p, 4) as UInt32)
            offset += m.flags & NL.F_CAPPED != 0 ? 16 : (origLen + 3) & ~3
            if offset <= p.count, let attrs = try? Attributes(m.payload[(m.payload.startIndex + offset)...]) {
                message = attrs.string(NL.ERR_ATTR_MSG)
            }
        }
        return NetlinkError(errno: -code, message: message)
    }
}
