import Glibc
import Netlink

/// The crash journal (DESIGN.md rule 4): one file per run under /run/nslua,
/// written as the run goes, from which `nslua --clean` removes what a run
/// that died (SIGKILL, power loss) left behind.
///
/// A run holds its journal under an exclusive flock for as long as it lives:
/// a journal nobody holds belongs to a dead run, whatever pids it was given
/// (two runs in separate PID namespaces can both be pid 1). Files are named by
/// a random token, created O_EXCL|O_NOFOLLOW in a root-only directory.
///
/// Records, one per line (names are validated when read back; `-`: none):
///
///     nslua-journal 2 <boot id> <pid>
///     host <cookie> <dev> <ino>                  the namespace the run started in (id 0)
///     open <id> <name> <cookie> <dev> <ino>      a named namespace the run opened
///     ns? <id> <name>                            about to create a namespace
///     ns <id> <name> <cookie> <dev> <ino>        created
///     ns- <id>                                   deleted (or never made)
///     link? <serial> <ns id> <mac>               about to make (or move, or re-MAC) a link there
///     link <serial> <ns id> <ifindex> <mac> <name> [<peer serial>]   made (moved, renamed)
///     link- <serial>                             deleted
///     moved <serial> <from id> <name there> <ns id> <ifindex> <mac> <name>
///                                                a link the run did not make, moved
///     moved- <serial>                            put back
///
/// A namespace is known again by its cookie (SO_NETNS_COOKIE: never reused
/// until reboot; its inode number is reused at once). A link is known by the
/// MAC the run gave it when it made it: a link re-created under the same name
/// and even the same ifindex does not have it.
public enum Journal {
    public static let directory = "/run/nslua"
    static let magic = "nslua-journal"
    /// A journal being made (renamed to .journal once locked and headed).
    static let pendingSuffix = ".journal.new"
    static let version = 2

    /// This boot's id: a journal from an earlier boot describes nothing that exists.
    static let bootID: String = {
        guard let b = readFile("/proc/sys/kernel/random/boot_id", limit: 64) else { return "-" }
        let s = String(decoding: b, as: UTF8.self).filter { $0.isHexDigit || $0 == "-" }
        return s.isEmpty ? "-" : s
    }()

    /// Opens (making it if needed) the journal directory: it must be a real
    /// directory, owned by us, writable by nobody else. Anything else is
    /// refused, never repaired.
    static func openDirectory(_ path: String) throws(LabError) -> Int32 {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .errno(errno, "creating \(path)") }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP || errno == ENOTDIR {
                throw .invalid("unsafe journal directory", "\(path) is not a directory (a symlink?); remove it and run again")
            }
            throw .errno(errno, "opening \(path)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            close(fd)
            throw .invalid("unsafe journal directory", "\(path) must be owned by uid \(geteuid()) and writable by it alone; nslua will not use it")
        }
        return fd
    }
}

/// This run's journal file, held under an exclusive flock until it is removed.
final class JournalWriter {
    let path: String
    private var fd: Int32

    init(directory: String, header: [String]) throws(LabError) {
        let dir = try Journal.openDirectory(directory)
        defer { close(dir) }
        // Made under a temporary name, locked, given its header, and only then
        // renamed into place: no reader ever sees an unlocked or empty journal
        // of a live run.
        var token = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            token = randomBytes(8).map { String($0, radix: 16).leftPadded(2) }.joined()
            fd = openat(dir, token + Journal.pendingSuffix, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw .errno(errno, "creating a journal in \(directory)") }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        self.fd = fd
        self.path = "\(directory)/\(token).journal"
        write(header)
        guard renameat(dir, token + Journal.pendingSuffix, dir, token + ".journal") == 0 else {
            let e = errno
            unlinkat(dir, token + Journal.pendingSuffix, 0)
            close(fd)
            self.fd = -1
            throw .errno(e, "creating a journal in \(directory)")
        }
    }

    deinit { finish() }

    /// Appends lines in one write(2), so a record is never torn by a kill
    /// between two system calls.
    func write(_ lines: [String]) {
        guard fd >= 0, !lines.isEmpty else { return }
        let bytes = Array(lines.joined(separator: "\n").utf8) + [10]
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
    }

    /// Removes the journal (then releases the lock).
    func finish() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }
}

extension String {
    func leftPadded(_ n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}

/// What a dead run left, read back from its journal.
public struct StaleRun: Sendable {
    public var path: String
    public var pid: Int32
    var bootID: String
    var host: RecordedNamespace?
    /// Namespaces by journal id: created (owned) or opened.
    var namespaces: [Int: RecordedNamespace] = [:]
    /// Namespaces the run was about to create (`ns?` without `ns`).
    var intended: [Int: String] = [:]
    var links: [Int: RecordedLink] = [:]

    struct RecordedNamespace: Sendable {
        var name: String?
        var cookie: UInt64
        var id: NamespaceID
        var owned: Bool
        var removed = false
    }

    struct RecordedLink: Sendable {
        var serial: Int
        /// Every namespace and MAC it was recorded with: it is in one of them.
        var places: [Int] = []
        var macs: [MACAddress] = []
        var name: String?
        var index: Int32?
        /// For a link the run did not make: where to put it back, as what.
        var origin: (namespace: Int, name: String)?
        /// The other end of a veth the run made.
        var peer: Int?
    }

    var isFromThisBoot: Bool { bootID == Journal.bootID }

    /// Names, for the warning a new run prints.
    public var summary: String {
        let ns = namespaces.sorted { $0.key < $1.key }.filter { $0.value.owned && !$0.value.removed }
            .map { "netns \($0.value.name ?? "?")" }
        let ls = links.values.sorted { $0.serial < $1.serial }.filter { l in
            l.origin != nil || !(l.places.last.map { namespaces[$0]?.owned ?? false } ?? false)
        }.map { "\($0.name ?? "?")@\(namespaceName($0.places.last))" }
        return (ns + ls).joined(separator: ", ")
    }

    func namespaceName(_ id: Int?) -> String {
        guard let id else { return "?" }
        return id == 0 ? "host" : (namespaces[id]?.name ?? intended[id] ?? "?")
    }
}

/// A journal that could not be used (empty, garbled, not a regular file).
public struct UnreadableJournal: Sendable {
    public var path: String
    public var reason: String
    /// Empty, or never finished: its run died before it made anything.
    var nothingMade = false
}

extension Journal {
    /// Journals whose run is gone (SIGKILL, crash), read back; and those that
    /// cannot be read, to be reported.
    public static func staleRuns(in directory: String = Journal.directory) -> (runs: [StaleRun], unreadable: [UnreadableJournal]) {
        var runs: [StaleRun] = [], unreadable: [UnreadableJournal] = []
        for name in directoryEntries(directory) where name.hasSuffix(".journal") || name.hasSuffix(pendingSuffix) {
            let path = "\(directory)/\(name)"
            switch inspect(path) {
            case .alive: continue
            case .stale(let run): runs.append(run)
            case .unreadable(let why, let nothingMade):
                unreadable.append(UnreadableJournal(path: path, reason: why, nothingMade: nothingMade))
            }
        }
        return (runs, unreadable)
    }

    enum Inspection { case alive, stale(StaleRun), unreadable(String, nothingMade: Bool = false) }

    /// Opens without following links or blocking (a FIFO named *.journal must
    /// not hang anyone), checks the lock, reads and parses.
    static func inspect(_ path: String) -> Inspection {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return .unreadable("cannot open it: \(errnoDescription(errno))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return .unreadable("not a regular file")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return .alive   // a live run holds it
        }
        if path.hasSuffix(pendingSuffix) {
            close(fd)
            return .unreadable("a journal its run never finished making: that run died before it made anything", nothingMade: true)
        }
        guard let bytes = readAll(fd, limit: 1 << 26) else {
            close(fd)
            return .unreadable("cannot read it (or larger than 64 MB)")
        }
        let result: Inspection
        if bytes.isEmpty {
            result = .unreadable("empty: its run died before it made anything", nothingMade: true)
        } else if let run = parse(String(decoding: bytes, as: UTF8.self), path: path) {
            result = .stale(run)
        } else {
            result = .unreadable("not an nslua journal of version \(version)")
        }
        close(fd)
        return result
    }

    /// Removes a journal whose run died before it made anything, if nobody
    /// holds it. Anything else unreadable is left for a person to look at.
    public static func removeIfNothingWasMade(_ j: UnreadableJournal) -> Bool {
        guard j.nothingMade else { return false }
        let fd = open(j.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        if !j.path.hasSuffix(pendingSuffix) && st.st_size != 0 { return false }
        return unlink(j.path) == 0
    }

    /// Reads a journal. Every name is validated as the primitives validate
    /// them (a hostile `ns ../../etc/x` is dropped); unknown or torn lines
    /// (the last one of a killed run) are skipped. nil if the header is wrong.
    static func parse(_ text: String, path: String) -> StaleRun? {
        let lines = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: false).map(String.init) }
        guard let h = lines.first, h.count == 4, h[0] == magic, h[1] == String(version), let pid = Int32(h[3]) else { return nil }
        var run = StaleRun(path: path, pid: pid, bootID: h[2])
        func nsName(_ s: String) -> String? { (try? Validate.namespaceName(s)) != nil ? s : nil }
        func ifName(_ s: String) -> String? { (try? Validate.interfaceName(s)) != nil ? s : nil }
        func recorded(_ f: [String], owned: Bool) -> (Int, StaleRun.RecordedNamespace)? {
            guard f.count == 6, let id = Int(f[1]), id > 0, let name = nsName(f[2]), let cookie = UInt64(f[3]),
                  let dev = UInt64(f[4]), let ino = UInt64(f[5]) else { return nil }
            return (id, .init(name: name, cookie: cookie, id: NamespaceID(device: dev, inode: ino), owned: owned))
        }
        for f in lines.dropFirst() {
            switch f.first {
            case "host" where f.count == 4:
                if let c = UInt64(f[1]), let d = UInt64(f[2]), let i = UInt64(f[3]) {
                    run.host = .init(name: nil, cookie: c, id: NamespaceID(device: d, inode: i), owned: false)
                }
            case "open":
                if let (id, ns) = recorded(f, owned: false) { run.namespaces[id] = ns }
            case "ns?" where f.count == 3:
                if let id = Int(f[1]), id > 0, let name = nsName(f[2]) { run.intended[id] = name }
            case "ns":
                if let (id, ns) = recorded(f, owned: true) {
                    run.namespaces[id] = ns
                    run.intended[id] = nil
                }
            case "ns-" where f.count == 2:
                if let id = Int(f[1]) {
                    run.namespaces[id]?.removed = true
                    run.intended[id] = nil
                }
            case "link?" where f.count == 4:
                if let s = Int(f[1]), let id = Int(f[2]), let mac = MACAddress(f[3]) {
                    var l = run.links[s] ?? .init(serial: s)
                    l.places.append(id); l.macs.append(mac)
                    run.links[s] = l
                }
            case "link" where f.count == 6 || f.count == 7, "moved" where f.count == 8:
                let moved = f[0] == "moved"
                let o = moved ? 2 : 0
                guard let s = Int(f[1]), let id = Int(f[2 + o]), let index = Int32(f[3 + o]), let name = ifName(f[5 + o]) else { continue }
                var l = run.links[s] ?? .init(serial: s)
                l.places.append(id)
                if let mac = MACAddress(f[4 + o]) { l.macs.append(mac) }
                l.index = index
                l.name = name
                if !moved && f.count == 7 { l.peer = Int(f[6]) }
                if moved {
                    guard let from = Int(f[2]), let there = ifName(f[3]) else { continue }
                    l.origin = (from, there)
                }
                run.links[s] = l
            case "link-" where f.count == 2, "moved-" where f.count == 2:
                if let s = Int(f[1]) { run.links[s] = nil }
            default:
                continue
            }
        }
        return run
    }

    /// Removes what `run` left, each object only if it is provably the one
    /// the run made, and puts back what it moved; returns (done, left alone)
    /// descriptions. Idempotent. `lab` is the cleaner's own (for the host and
    /// to open namespaces); `netnsDirectory` is never taken from the journal.
    public static func clean(_ run: StaleRun, lab: Lab) -> (done: [String], kept: [String]) {
        var done: [String] = [], kept: [String] = []
        // Held while cleaning: a second `nslua --clean` leaves this one alone.
        let lock = open(run.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            if lock >= 0 { close(lock) }
            return ([], ["everything: its journal is busy (another nslua --clean?)"])
        }
        defer { close(lock) }
        guard run.isFromThisBoot else {
            unlink(run.path)
            return (["nothing: its journal is from an earlier boot"], [])
        }

        // Each recorded namespace, opened only if it is the one recorded.
        var resolved: [Int: Namespace] = [:]
        if let h = run.host {
            if h.cookie == (lab.host.cookie ?? 0) && (h.cookie != 0 || h.id == lab.host.id) {
                resolved[0] = lab.host
            } else {
                kept.append("what it made in its host namespace (that is not this namespace)")
            }
        }
        for (id, r) in run.namespaces.sorted(by: { $0.key < $1.key }) where !r.removed {
            guard let name = r.name, let ns = try? lab.openNamespace(name) else { continue }
            let same = r.cookie != 0 ? ns.cookie == r.cookie : ns.id == r.id
            if same { resolved[id] = ns } else {
                if r.owned { kept.append("netns \(name) (re-created since: not the one that run made)") }
            }
        }

        // Where each link is now: looked up by MAC in every place it was recorded.
        var dumps: [Int: [LinkMessage]] = [:]
        func find(_ l: StaleRun.RecordedLink) -> (Int, Namespace, LinkMessage)? {
            for place in Array(Set(l.places)).sorted() {
                guard let ns = resolved[place] else { continue }
                if dumps[place] == nil { dumps[place] = (try? ns.linkMessages()) ?? [] }
                if let m = dumps[place]!.first(where: { m in m.mac.map { l.macs.contains($0) } ?? false }) {
                    return (place, ns, m)
                }
            }
            return nil
        }

        // 1. Links it did not make go back where they came from.
        for l in run.links.values.sorted(by: { $0.serial < $1.serial }) {
            guard let origin = l.origin else { continue }
            guard let (_, ns, m) = find(l) else { continue }
            guard let home = resolved[origin.namespace] else {
                kept.append("\(m.name)@\(ns.displayName) (the namespace it came from is gone)")
                continue
            }
            let rename = m.name == origin.name ? nil : origin.name
            do {
                try ns.request(Requests.setLink(index: m.index, .init(name: rename, namespaceFD: try home.fd())))
                done.append("put back \(origin.name)@\(home.displayName)")
            } catch {
                kept.append("\(m.name)@\(ns.displayName) (could not put it back: \(error))")
            }
        }

        // 2. Its namespaces (and everything in them). One it was killed
        // before mounting is an empty file that is not a mount.
        for (id, r) in run.namespaces.sorted(by: { $0.key < $1.key }) where r.owned && !r.removed {
            guard let name = r.name else { continue }
            guard let ns = resolved[id] else {
                if lab.removeUnmountedNamespaceFile(name) { done.append("netns \(name) (half-made)") }
                continue
            }
            ns.release()
            switch lab.unmountNamespace(name) {
            case nil: done.append("netns \(name)")
            case let problem?: kept.append("netns \(name) (\(problem))")
            }
        }
        // A namespace it was making when it died: only an empty file that is
        // not a mount can be its (a mount there is someone else's).
        for (_, name) in run.intended.sorted(by: { $0.key < $1.key }) {
            if lab.removeUnmountedNamespaceFile(name) { done.append("netns \(name) (half-made)") }
        }

        // 3. Its links in namespaces it did not make (not a veth whose other
        // end was in one of its namespaces: the kernel removes that one).
        func inOwnedNamespace(_ serial: Int?) -> Bool {
            guard let serial, let p = run.links[serial]?.places.last else { return false }
            return run.namespaces[p]?.owned == true
        }
        for l in run.links.values.sorted(by: { $0.serial < $1.serial }) where l.origin == nil {
            guard let (place, ns, m) = find(l) else {
                // Not there by its MAC; if its name is back, that is someone else's link now.
                if let place = l.places.last, run.namespaces[place]?.owned != true, let ns = resolved[place], let name = l.name,
                   (try? ns.linkMessage(named: name)) != nil, !inOwnedNamespace(l.peer) {
                    kept.append("\(name)@\(ns.displayName) (re-created since: not the one that run made)")
                }
                continue
            }
            if run.namespaces[place]?.owned == true || inOwnedNamespace(l.peer) { continue }   // went with its namespace
            do {
                try ns.request(Requests.deleteLink(index: m.index))
                done.append("\(m.name)@\(ns.displayName)" + (l.name.map { $0 != m.name ? " (made as \($0))" : "" } ?? ""))
            } catch where error.kind == .kernel(ENODEV) {
                continue   // went with its peer meanwhile
            } catch {
                kept.append("\(m.name)@\(ns.displayName) (\(error))")
            }
        }
        for (id, ns) in resolved where id != 0 && run.namespaces[id]?.owned != true { ns.release() }
        unlink(run.path)
        return (done, kept)
    }
}
