import CPcap
import Glibc
import Synchronization

/// One captured frame.
public struct CapturedPacket: Sendable {
    /// Seconds since the epoch (tcpdump -tt).
    public var time: Double
    /// Length on the wire.
    public var length: Int
    /// The bytes captured (up to the snap length).
    public var data: [UInt8]
}

/// A libpcap capture on a device inside a namespace, collecting in the
/// background from the moment it is made until `stop()`.
///
/// The pcap handle's packet socket is opened on a thread switched into the
/// namespace (DESIGN.md rule 2) and then read by a thread of its own.
public final class Capture: @unchecked Sendable {
    public let device: String
    public let namespace: Namespace
    public let filter: String?
    public let linkType: Int32
    private let handle: OpaquePointer
    private var closed = false
    /// Stop after this many packets (`count`).
    private let count: Int?
    /// Keep at most this many packets and bytes; past that, count what is not kept.
    public let limit: Int
    static let byteLimit = 64 << 20
    private let state = Mutex(State())
    private var thread: pthread_t?
    private struct State {
        var packets: [CapturedPacket] = []
        var bytes = 0
        var notKept = 0
        var stopRequested = false
        var finished = false
        var error: String?
    }

    static let snapLength: Int32 = 262_144

    /// Print each packet as it arrives, as tcpdump does.
    private let live: Bool

    init(namespace: Namespace, device: String, filter: String?, count: Int?, limit: Int = 100_000, live: Bool = false) throws(LabError) {
        if device != "any" { try Validate.interfaceName(device) }
        if let count, count < 1 { throw .invalid("invalid count", "\(count) must be at least 1") }
        guard limit >= 1 else { throw .invalid("invalid limit", "\(limit) must be at least 1") }
        if let filter, filter.utf8.contains(0) { throw .invalid("invalid capture filter", "it contains a NUL byte") }
        let fd = try namespace.fd()
        if device != "any", try namespace.linkMessage(named: device) == nil {
            throw .notFound("No such device", "there is no link named \(device) in \(namespace.displayName)")
        }
        let handle: OpaquePointer = try labbing("capture on \(device) in \(namespace.displayName)") {
            try onNamespaceThread(fd) { () throws -> OpaquePointer in
                var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
                guard let h = pcap_create(device, &errbuf) else {
                    throw LabError(.kernel(0), "cannot capture", NetLab.cString(errbuf))
                }
                pcap_set_snaplen(h, Capture.snapLength)
                pcap_set_promisc(h, 1)
                pcap_set_immediate_mode(h, 1)
                pcap_set_timeout(h, 100)
                let rc = pcap_activate(h)
                if rc < 0 {
                    let msg = String(cString: pcap_geterr(h))
                    pcap_close(h)
                    let kind: LabError.Kind = rc == PCAP_ERROR_PERM_DENIED ? .privilege : .kernel(0)
                    throw LabError(kind, "cannot capture", msg.isEmpty ? "pcap_activate failed (\(rc))" : msg)
                }
                return h
            }
        }
        if let filter, !filter.isEmpty {
            var program = bpf_program()
            guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                let msg = String(cString: pcap_geterr(handle))
                pcap_close(handle)
                throw .invalid("invalid capture filter", msg)
            }
            defer { pcap_freecode(&program) }
            guard pcap_setfilter(handle, &program) == 0 else {
                let msg = String(cString: pcap_geterr(handle))
                pcap_close(handle)
                throw .invalid("invalid capture filter", msg)
            }
        }
        self.handle = handle
        self.device = device
        self.namespace = namespace
        self.filter = filter
        self.count = count
        self.limit = limit
        self.live = live
        self.linkType = pcap_datalink(handle)
        try start()
    }

    deinit {
        _ = stop()
    }

    private func start() throws(LabError) {
        do { thread = try startThread { self.loop() } } catch { throw .errno(error.errno, "starting the capture thread") }
    }

    /// The reader: pcap_next_ex with a 100 ms timeout, until asked to stop or
    /// `count` packets have arrived. On stop, what is already queued in the
    /// packet socket is drained, so nothing seen before `stop()` is lost.
    private func loop() {
        var draining = false
        while true {
            let (stop, enough) = state.withLock { s in
                (s.stopRequested, count.map { s.packets.count >= $0 } ?? false)
            }
            if enough { break }
            if stop && !draining {
                draining = true
                var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
                pcap_setnonblock(handle, 1, &errbuf)
            }
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            let rc = pcap_next_ex(handle, &header, &data)
            // A read woken by pcap_breakloop may already have handed over a
            // frame (libpcap's one-shot callback ran): keep it.
            if rc == 1 || rc == PCAP_ERROR_BREAK, let header, let data {
                let h = header.pointee
                let packet = CapturedPacket(time: Double(h.ts.tv_sec) + Double(h.ts.tv_usec) / 1e6,
                                            length: Int(h.len),
                                            data: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))))
                let kept = state.withLock { s -> Bool in
                    if count.map({ s.packets.count >= $0 }) ?? false { return false }
                    if s.packets.count >= limit || s.bytes + packet.data.count > Capture.byteLimit {
                        s.notKept += 1
                    } else {
                        s.packets.append(packet)
                        s.bytes += packet.data.count
                    }
                    return true
                }
                if live && kept {
                    let line = "\(PacketSummary.timestamp(packet.time)) \(PacketSummary.describe(packet.data, linkType: linkType))\n"
                    let bytes = Array(line.utf8)
                    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }   // one write: never cut
                }
            }
            if rc == PCAP_ERROR_BREAK || rc == 1 {
                continue   // on break, stop() woke us: drain next time round
            } else if rc < 0 {
                let msg = String(cString: pcap_geterr(handle))
                state.withLock { $0.error = msg }
                break
            } else if draining {
                break      // nothing more queued
            }
        }
        state.withLock { $0.finished = true }
    }

    /// Whether `count` packets have been captured (or the capture ended).
    public var isDone: Bool { state.withLock { $0.finished } }

    /// Packets so far.
    public var packets: [CapturedPacket] { state.withLock { $0.packets } }

    /// Packets seen but not kept because the limit was reached.
    public var notKept: Int { state.withLock { $0.notKept } }

    /// Why the capture ended early, if it did (libpcap's reason).
    public var failure: String? { state.withLock { $0.error } }

    /// Waits until `count` packets have arrived or `timeout` seconds pass.
    public func wait(timeout: Double) {
        let end = monotonicSeconds() + timeout
        while !isDone && monotonicSeconds() < end && !Interruption.requested() { usleep(10_000) }
    }

    /// Stops capturing (idempotent) and returns everything captured.
    @discardableResult
    public func stop() -> [CapturedPacket] {
        let running = state.withLock { s -> Bool in
            let was = !s.stopRequested
            s.stopRequested = true
            return was
        }
        if running, let thread {
            pcap_breakloop(handle)
            if pthread_equal(thread, pthread_self()) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
            self.thread = nil
        }
        if !closed {
            // Closing the packet socket lets the namespace go when it is deleted.
            closed = true
            pcap_close(handle)
        }
        return packets
    }

    /// Writes what was captured as a pcap file (tcpdump -r, Wireshark): "-"
    /// is standard output. An existing file is replaced only when
    /// `overwrite` is set, and a symlink is never followed. Write errors
    /// (a full disk) are reported.
    public func save(_ path: String, overwrite: Bool = false) throws(LabError) {
        guard !path.isEmpty, !path.utf8.contains(0) else { throw .invalid("invalid path", "'\(Validate.shown(path))'") }
        let fd: Int32
        if path == "-" {
            fflush(nil)
            fd = dup(STDOUT_FILENO)   // closing the dump must not close stdout
        } else {
            var made = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL), 0o644)
            var st = stat()
            if made < 0 && errno == EEXIST && lstat(path, &st) == 0 && st.st_mode & S_IFMT != S_IFREG && st.st_mode & S_IFMT != S_IFLNK {
                made = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)   // a device or a FIFO: nothing to overwrite
            }
            fd = made
        }
        guard fd >= 0 else {
            if errno == EEXIST { throw LabError(.kernel(EEXIST), "File exists", "\(Validate.shown(path)) exists; save(path, {overwrite = true}) replaces it") }
            if errno == ELOOP { throw LabError(.kernel(ELOOP), "Too many levels of symbolic links", "\(Validate.shown(path)) is a symlink; nslua does not write through one") }
            throw .errno(errno, "writing \(Validate.shown(path))")
        }
        guard let file = fdopen(fd, "w") else { let e = errno; close(fd); throw .errno(e, "writing \(Validate.shown(path))") }
        guard let dead = pcap_open_dead(linkType, Capture.snapLength) else { fclose(file); throw .errno(ENOMEM, "pcap_open_dead") }
        defer { pcap_close(dead) }
        guard let dumper = pcap_dump_fopen(dead, file) else {
            let msg = String(cString: pcap_geterr(dead))
            fclose(file)
            throw .errno(errno, "\(msg) (writing \(Validate.shown(path)))")
        }
        for p in packets {
            var h = pcap_pkthdr()
            h.ts.tv_sec = Int(p.time)
            h.ts.tv_usec = Int(((p.time - Double(Int(p.time))) * 1e6).rounded())
            if h.ts.tv_usec >= 1_000_000 { h.ts.tv_sec += 1; h.ts.tv_usec -= 1_000_000 }
            h.caplen = bpf_u_int32(p.data.count)
            h.len = bpf_u_int32(p.length)
            p.data.withUnsafeBufferPointer { buf in
                withUnsafePointer(to: &h) { hp in dumperWrite(dumper, hp, buf.baseAddress!) }
            }
        }
        let flushed = pcap_dump_flush(dumper) == 0 && ferror(file) == 0
        let e = errno
        let synced = path == "-" || fsync(fileno(file)) == 0 || errno == EINVAL
        pcap_dump_close(dumper)   // closes the file
        guard flushed && synced else { throw .errno(flushed ? errno : e, "writing \(Validate.shown(path))") }
    }
}

/// A C string buffer as a Swift string.
func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func dumperWrite(_ dumper: OpaquePointer, _ h: UnsafePointer<pcap_pkthdr>, _ data: UnsafePointer<UInt8>) {
    pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), h, data)
}

extension Namespace {
    /// Equivalent to `ip netns exec NS tcpdump -i DEV FILTER` in the background.
    public func capture(_ device: String, filter: String? = nil, count: Int? = nil, limit: Int = 100_000,
                        live: Bool = false) throws(LabError) -> Capture {
        try lab?.checkOpen()
        lab?.trace(exec: "tcpdump -n -i \(shellQuoted(device))" + (count.map { " -c \($0)" } ?? "")
                   + (filter.map { " \(shellQuoted($0))" } ?? "") + " &", in: self)
        let capture = try Capture(namespace: self, device: device, filter: filter, count: count, limit: limit, live: live)
        lab?.captures.append(capture)
        return capture
    }
}
