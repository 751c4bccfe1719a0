import CNetSys
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
/// Records, one per line (names are validated when read back; `-`: none).
/// Intent (`?`) is written before a kernel call, the settled record after it:
///
///     nslua-journal 2 <boot id> <pid>
///     host <cookie> <dev> <ino>                  the namespace the run started in (id 0)
///     open <id> <name> <cookie> <dev> <ino>      a named namespace the run opened
///     ns? <id> <name>                            about to create a namespace
///     ns <id> <name> <cookie> <dev> <ino>        created
///     ns- <id>                                   deleted (or never made)
///     link? <serial> <ns id> <mac> <kind>        about to make a link there, with that MAC
///     link <serial> <ns id> <ifindex> <mac> <name> [<peer serial>]   made (renamed, moved)
///     link- <serial>                             deleted
///     touch <serial> <ns id> <ifindex> <name> <mac> <kind>
///                                                a link of others, as it was before the run changed it
///     move? <serial> <ns id>                     about to move a link there
///     mac? <serial> <mac>                        about to give a link that MAC
///     moved <serial> <ns id> <ifindex> <mac> <name>   a link of others, changed (moved, renamed, re-MACed)
///     qdisc <serial> / qdisc- <serial>           an impairment put on a link of others / taken off
///     moved- <serial>                            a link of others, put back (or gone)
///
/// A namespace is known again by its cookie (SO_NETNS_COOKIE: never reused
/// until reboot; its inode number is reused at once; kernels before 5.14
/// have no cookies, and then the inode must do). A link is known by its MAC
/// and kind: one the run made has a random MAC it chose, which nothing
/// re-created under the same name or ifindex has.
public enum Journal {
    public static let directory = "/run/nslua"
    static let magic = "nslua-journal"
    /// A journal being made (renamed to .journal once locked and headed).
    static let pendingSuffix = ".journal.new"
    /// A compacted journal about to replace its run's journal.
    static let replacementSuffix = ".journal.next"
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
    private let directory: String
    private let token: String
    private var fd: Int32

    init(directory: String, header: [String]) throws(LabError) {
        self.directory = directory
        // Locked and given its header before it has a name: no reader ever
        // sees an unlocked or empty journal of a live run.
        (token, fd) = try JournalWriter.make(in: directory, suffix: ".journal", lines: header)
        path = "\(directory)/\(token).journal"
    }

    deinit { finish() }

    /// A file `<random token><suffix>` holding `lines`, locked before its name
    /// appears (O_TMPFILE, flock, write, linkat). With `token` given, an old
    /// file of that name is replaced.
    private static func make(in directory: String, suffix: String, token given: String? = nil,
                             lines: [String]) throws(LabError) -> (String, Int32) {
        let dir = try Journal.openDirectory(directory)
        defer { close(dir) }
        let fd = openat(dir, ".", NSYS_O_TMPFILE | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .errno(errno, "creating a journal in \(directory)") }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        do {
            _ = try write(lines, to: fd, directory: directory)
        } catch let e as LabError {
            close(fd)
            throw e
        } catch {
            close(fd)
            throw .invalid("journal", "\(error)")
        }
        for _ in 0..<8 {
            let token = given ?? randomBytes(8).map { String($0, radix: 16).leftPadded(2) }.joined()
            if given != nil { unlinkat(dir, token + suffix, 0) }
            if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", dir, token + suffix, AT_SYMLINK_FOLLOW) == 0 { return (token, fd) }
            if errno != EEXIST { break }
        }
        let e = errno
        close(fd)
        throw .errno(e, "naming a journal in \(directory)")
    }

    private static func rename(in directory: String, _ from: String, to: String) throws(LabError) {
        let dir = try Journal.openDirectory(directory)
        defer { close(dir) }
        guard renameat(dir, from, dir, to) == 0 else { throw .errno(errno, "renaming a journal in \(directory)") }
    }

    /// Appends lines in one write(2), so a record is never torn by a kill
    /// between two system calls; returns the bytes written. A full disk or
    /// a short write is an error: the journal no longer tells the truth.
    @discardableResult
    func write(_ lines: [String]) throws(LabError) -> Int {
        guard fd >= 0, !lines.isEmpty else { return 0 }
        return try JournalWriter.write(lines, to: fd, directory: directory)
    }

    private static func write(_ lines: [String], to fd: Int32, directory: String) throws(LabError) -> Int {
        let bytes = Array(lines.joined(separator: "\n").utf8) + [10]
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else {
                throw .errno(n < 0 ? errno : ENOSPC, "writing the journal in \(directory)")
            }
        }
        return done
    }

    /// Replaces the journal with `lines` (the live state, compacted): a new
    /// file, locked, renamed over the old one. A reader that opened the old
    /// file sees, once it has the lock, that the path is no longer that file.
    func replace(with lines: [String]) throws(LabError) {
        guard fd >= 0 else { return }
        let (_, newFD) = try JournalWriter.make(in: directory, suffix: Journal.replacementSuffix, token: token, lines: lines)
        do {
            try JournalWriter.rename(in: directory, token + Journal.replacementSuffix, to: token + ".journal")
        } catch {
            unlink("\(directory)/\(token)\(Journal.replacementSuffix)")
            close(newFD)
            throw error
        }
        close(fd)
        fd = newFD
    }

    /// Removes the journal (then releases the lock).
    func finish() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    /// Closes it and leaves it in place (unlocked): what it lists is still
    /// there, for `--clean` to finish.
    func keep() {
        guard fd >= 0 else { return }
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
        /// Made by the run (else: a link of others it changed).
        var owned = true
        var kind: String?
        /// Every namespace and MAC it was recorded with: it is in one of
        /// them, with one of them.
        var places: [Int] = []
        var macs: Set<MACAddress> = []
        /// The MACs that only this link can have: the random ones nslua made
        /// it with (and, for a link of others, the MAC it had). A MAC a script
        /// chose (02:00:00:00:00:01) is no identity: any lab may use it.
        var ownMACs: Set<MACAddress> = []
        /// Its last settled ifindex, and where.
        var index: Int32?
        var indexPlace: Int?
        var name: String?
        /// For a link of others: where it was, as what, before the run changed it.
        var origin: Origin?
        /// An impairment the run put on it (a link of others).
        var impaired = false
        /// The other end of a veth the run made.
        var peer: Int?

        struct Origin: Sendable {
            var namespace: Int
            var index: Int32
            var name: String
            var mac: MACAddress?
        }

        mutating func seen(in place: Int, mac: MACAddress?) {
            if !places.contains(place) { places.append(place) }
            if let mac { macs.insert(mac) }
        }
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
        for name in directoryEntries(directory) where name.hasSuffix(replacementSuffix) {
            // A compacted journal its run died before putting in place: the
            // journal it was to replace still tells everything.
            let fd = open("\(directory)/\(name)", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            var st = stat()
            if fd >= 0, fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 {
                unlink("\(directory)/\(name)")
            }
            if fd >= 0 { close(fd) }
        }
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
        // Replaced (compacted) by its run since it was opened: that run lives.
        var now = stat()
        if lstat(path, &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev {
            close(fd)
            return .alive
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
        var lines = text.split(separator: "\n").makeIterator()
        guard let first = lines.next() else { return nil }
        let h = first.split(separator: " ", omittingEmptySubsequences: false)
        guard h.count == 4, h[0] == magic, h[1] == String(version), let pid = Int32(h[3]) else { return nil }
        var run = StaleRun(path: path, pid: pid, bootID: String(h[2]))
        func nsName(_ s: Substring) -> String? { (try? Validate.namespaceName(String(s))) != nil ? String(s) : nil }
        func ifName(_ s: Substring) -> String? { (try? Validate.interfaceName(String(s))) != nil ? String(s) : nil }
        func kind(_ s: Substring) -> String? { s.count <= 16 && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } ? String(s) : nil }
        func recorded(_ f: [Substring], owned: Bool) -> (Int, StaleRun.RecordedNamespace)? {
            guard f.count == 6, let id = Int(f[1]), id > 0, let name = nsName(f[2]), let cookie = UInt64(f[3]),
                  let dev = UInt64(f[4]), let ino = UInt64(f[5]) else { return nil }
            return (id, .init(name: name, cookie: cookie, id: NamespaceID(device: dev, inode: ino), owned: owned))
        }
        while let line = lines.next() {
            let f = line.split(separator: " ", omittingEmptySubsequences: false)
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
            case "link?" where f.count == 5:
                guard let s = Int(f[1]), let id = Int(f[2]), f[3] == "-" || MACAddress(String(f[3])) != nil else { continue }
                run.links[s, default: .init(serial: s)].seen(in: id, mac: MACAddress(String(f[3])))
                if let mac = MACAddress(String(f[3])) { run.links[s]!.ownMACs.insert(mac) }
                run.links[s]!.kind = kind(f[4])
            case "link" where f.count == 6 || f.count == 7, "moved" where f.count == 6:
                guard let s = Int(f[1]), let id = Int(f[2]), let index = Int32(f[3]), let name = ifName(f[5]) else { continue }
                guard f[0] == "link" || run.links[s]?.origin != nil else { continue }
                run.links[s, default: .init(serial: s)].seen(in: id, mac: MACAddress(String(f[4])))
                run.links[s]!.index = index
                run.links[s]!.indexPlace = id
                run.links[s]!.name = name
                if f.count == 7 { run.links[s]!.peer = Int(f[6]) }
            case "touch" where f.count == 7:
                guard let s = Int(f[1]), let id = Int(f[2]), let index = Int32(f[3]), let name = ifName(f[4]) else { continue }
                let mac = MACAddress(String(f[5]))
                var l = StaleRun.RecordedLink(serial: s, owned: false, kind: kind(f[6]))
                l.origin = .init(namespace: id, index: index, name: name, mac: mac)
                l.seen(in: id, mac: mac)
                if let mac { l.ownMACs.insert(mac) }
                l.index = index
                l.indexPlace = id
                l.name = name
                run.links[s] = l
            case "move?" where f.count == 3:
                if let s = Int(f[1]), let id = Int(f[2]), run.links[s] != nil { run.links[s]!.seen(in: id, mac: nil) }
            case "mac?" where f.count == 3:
                if let s = Int(f[1]), let mac = MACAddress(String(f[2])), let l = run.links[s] {
                    run.links[s]!.seen(in: l.places.last ?? 0, mac: mac)
                }
            case "qdisc" where f.count == 2, "qdisc-" where f.count == 2:
                if let s = Int(f[1]), run.links[s]?.origin != nil { run.links[s]!.impaired = f[0] == "qdisc" }
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
        var st = stat(), now = stat()
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0, fstat(lock, &st) == 0, lstat(run.path, &now) == 0,
              st.st_ino == now.st_ino, st.st_dev == now.st_dev else {
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

        // Where each link is now: at its last ifindex if that has its MAC and
        // kind; else the one link with one of its MACs and its kind, in the
        // places it was recorded. Two candidates: nobody can tell.
        var dumps: [Int: [LinkMessage]] = [:]
        func links(at place: Int) -> [LinkMessage] {
            if dumps[place] == nil { dumps[place] = resolved[place].flatMap { try? $0.linkMessages() } ?? [] }
            return dumps[place]!
        }
        func matches(_ l: StaleRun.RecordedLink, _ m: LinkMessage) -> Bool {
            (l.kind == nil || (m.kind ?? "device") == l.kind) && m.mac.map(l.macs.contains) ?? false
        }
        enum Whereabouts { case at(Int, Namespace, LinkMessage), gone, ambiguous }
        func find(_ l: StaleRun.RecordedLink) -> Whereabouts {
            if let place = l.indexPlace, let index = l.index, let ns = resolved[place],
               let m = links(at: place).first(where: { $0.index == index }) {
                // A bridge of others takes the lowest MAC of its ports: its kind
                // must do. A tun has no MAC: its kind and name at its ifindex.
                if matches(l, m) || (!l.owned && l.kind == "bridge" && m.kind == "bridge")
                    || (l.macs.isEmpty && l.kind != nil && m.kind == l.kind && m.name == l.name) { return .at(place, ns, m) }
            }
            // Elsewhere (moved, or its ifindex not settled): only by a MAC that
            // is its own, never by one a script chose.
            var found: [(Int, LinkMessage)] = []
            for place in l.places where resolved[place] != nil {
                found += links(at: place).filter { m in
                    (l.kind == nil || (m.kind ?? "device") == l.kind) && m.mac.map(l.ownMACs.contains) ?? false
                }.map { (place, $0) }
            }
            if found.count > 1 { return .ambiguous }
            guard let (place, m) = found.first else { return .gone }
            return .at(place, resolved[place]!, m)
        }
        // Namespaces of the run that still hold a link of others: not deleted
        // (that would destroy the link).
        var holding: [Int: [String]] = [:]
        func hold(_ places: [Int], _ what: String) {
            for p in places where run.namespaces[p]?.owned == true { holding[p, default: []].append(what) }
        }

        // 1. Links of others go back as they were.
        for l in run.links.values.sorted(by: { $0.serial < $1.serial }) where !l.owned {
            guard let origin = l.origin else { continue }
            switch find(l) {
            case .gone:
                continue
            case .ambiguous:
                kept.append("\(origin.name) of \(run.namespaceName(origin.namespace)) (several links have its MAC; cannot tell which)")
                hold(l.places, origin.name)
            case .at(let place, let ns, let m):
                guard let home = resolved[origin.namespace] else {
                    kept.append("\(m.name)@\(ns.displayName) (the namespace it came from is gone)")
                    hold([place], m.name)
                    continue
                }
                do {
                    let (note, _, _) = try lab.restore(m, in: ns, to: home, name: origin.name, mac: origin.mac, removingQdisc: l.impaired)
                    done.append("put back \(origin.name)@\(home.displayName)" + (l.impaired ? " (impairment removed)" : ""))
                    if let note { kept.append(note) }
                } catch {
                    kept.append("\(m.name)@\(ns.displayName) (could not put it back: \(error))")
                    hold([place], m.name)
                }
            }
        }

        // 2. Its namespaces (and everything in them). One it was killed
        // before mounting is an empty file that is not a mount.
        for (id, r) in run.namespaces.sorted(by: { $0.key < $1.key }) where r.owned && !r.removed {
            guard let name = r.name else { continue }
            guard let ns = resolved[id] else {
                if lab.removeUnmountedNamespaceFile(name) { done.append("netns \(name) (the empty file a killed run left)") }
                continue
            }
            if let held = holding[id] {
                kept.append("netns \(name) (it holds \(held.joined(separator: ", ")) of others)")
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
            guard let serial, let p = run.links[serial]?.indexPlace else { return false }
            return run.namespaces[p]?.owned == true && holding[p] == nil
        }
        for l in run.links.values.sorted(by: { $0.serial < $1.serial }) where l.owned {
            switch find(l) {
            case .gone:
                // Its name back: someone else's link now.
                if let place = l.indexPlace, run.namespaces[place]?.owned != true, let ns = resolved[place], let name = l.name,
                   (try? ns.linkMessage(named: name)) != nil, !inOwnedNamespace(l.peer) {
                    kept.append("\(name)@\(ns.displayName) (re-created since: not the one that run made)")
                }
            case .ambiguous:
                kept.append("\(l.name ?? "?") (several links have its MAC; cannot tell which)")
            case .at(let place, let ns, let m):
                if (run.namespaces[place]?.owned == true && holding[place] == nil) || inOwnedNamespace(l.peer) { continue }   // went with its namespace
                do {
                    try ns.request(Requests.deleteLink(index: m.index))
                    done.append("\(m.name)@\(ns.displayName)" + (l.name.map { $0 != m.name ? " (made as \($0))" : "" } ?? ""))
                } catch where error.kind == .kernel(ENODEV) {
                    continue   // went with its peer meanwhile
                } catch {
                    kept.append("\(m.name)@\(ns.displayName) (\(error))")
                }
            }
        }
        for (id, ns) in resolved where id != 0 && run.namespaces[id]?.owned != true { ns.release() }
        unlink(run.path)
        return (done, kept)
    }
}
