import Glibc
import Netlink

/// The crash journal (DESIGN.md rule 4): one file per run under /run/nslua,
/// appended as each object is made or removed, naming it with an identity
/// that a later object of the same name cannot have (a namespace's device and
/// inode; a link's ifindex within its namespace's inode). Removed when
/// teardown finishes; read by `nslua --clean` when the run died instead.
///
/// Records, one per line:
///   nslua-journal 1 <pid> <process start time> <netns dir>
///   host <dev> <ino>
///   ns <name> <dev> <ino>           ns- <name>
///   link <serial> <ns name or -> <ns dev> <ns ino> <ifindex> <ifname>
///   link- <serial>
public final class Journal: OwnershipRecorder {
    public static let directory = "/run/nslua"
    public let path: String
    private var fd: Int32 = -1
    private let header: [String]

    /// Creates this run's journal (and /run/nslua, root-only, 0700).
    public init(lab: Lab) throws(LabError) {
        if mkdir(Journal.directory, 0o700) != 0 && errno != EEXIST {
            throw .errno(errno, "creating \(Journal.directory)")
        }
        chmod(Journal.directory, 0o700)
        let pid = getpid()
        path = "\(Journal.directory)/\(pid).journal"
        header = ["nslua-journal 1 \(pid) \(processStartTime(pid) ?? 0) \(lab.netnsDirectory)",
                  "host \(lab.host.id.device) \(lab.host.id.inode)"]
        guard open() else { throw .errno(errno, "creating \(path)") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// (Re)creates the file with its header: after `net.cleanup()` a run
    /// may go on making things.
    private func open() -> Bool {
        if fd >= 0 { return true }
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        for line in header { append(line) }
        return true
    }

    private func append(_ line: String) {
        guard fd >= 0 || open() else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    public func created(namespace ns: Namespace) {
        append("ns \(ns.name ?? "-") \(ns.id.device) \(ns.id.inode)")
    }

    public func removed(namespace ns: Namespace) { if fd >= 0 { append("ns- \(ns.name ?? "-")") } }

    public func created(link: Link) { record(link) }
    public func moved(link: Link) { record(link) }
    public func removed(link: Link) { if fd >= 0 { append("link- \(link.serial)") } }

    private func record(_ link: Link) {
        let ns = link.namespace
        append("link \(link.serial) \(ns.name ?? "-") \(ns.id.device) \(ns.id.inode) \(link.index) \(link.lastName)")
    }

    /// Teardown finished (or the lab is kept): the journal is no longer needed.
    public func finished(kept: Bool) {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(path)
    }
}

/// The start time of a process (field 22 of /proc/PID/stat), which tells a
/// live run from a dead one whose pid was reused.
func processStartTime(_ pid: pid_t) -> UInt64? {
    guard let text = readFileText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? UInt64(fields[19]) : nil
}

func readFileText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// What a dead run left, read back from its journal.
public struct StaleRun: Sendable {
    public var path: String
    public var pid: Int32
    public var netnsDirectory: String
    public var host: NamespaceID?
    public var namespaces: [(name: String, id: NamespaceID)] = []
    public var links: [(serial: Int, nsName: String?, ns: NamespaceID, index: Int32, name: String)] = []

    /// Names, for the warning a new run prints.
    public var summary: String {
        (namespaces.map { "netns \($0.name)" } + links.map { "\($0.name)@\($0.nsName ?? "host")" }).joined(separator: ", ")
    }
}

extension Journal {
    /// Journals whose process is gone (SIGKILL, crash), replayed.
    public static func staleRuns() -> [StaleRun] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var runs: [StaleRun] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasSuffix(".journal"), let text = readFileText("\(directory)/\(name)") else { continue }
            if let run = parse(text, path: "\(directory)/\(name)"), !isAlive(run, text: text) { runs.append(run) }
        }
        return runs.sorted { $0.path < $1.path }
    }

    private static func isAlive(_ run: StaleRun, text: String) -> Bool {
        let header = text.split(separator: "\n").first?.split(separator: " ") ?? []
        guard header.count >= 4, let started = UInt64(header[3]) else { return false }
        return run.pid == getpid() || (processStartTime(run.pid).map { $0 == started } ?? false)
    }

    static func parse(_ text: String, path: String) -> StaleRun? {
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        guard let h = lines.first, h.count >= 5, h[0] == "nslua-journal", let pid = Int32(h[2]) else { return nil }
        var run = StaleRun(path: path, pid: pid, netnsDirectory: h[4])
        var namespaces: [String: NamespaceID] = [:]
        var order: [String] = []
        var links: [Int: (String?, NamespaceID, Int32, String)] = [:]
        var linkOrder: [Int] = []
        for f in lines.dropFirst() {
            switch f.first {
            case "host" where f.count == 3:
                if let d = UInt64(f[1]), let i = UInt64(f[2]) { run.host = NamespaceID(device: d, inode: i) }
            case "ns" where f.count == 4:
                if let d = UInt64(f[2]), let i = UInt64(f[3]) {
                    if namespaces[f[1]] == nil { order.append(f[1]) }
                    namespaces[f[1]] = NamespaceID(device: d, inode: i)
                }
            case "ns-" where f.count == 2:
                namespaces[f[1]] = nil
            case "link" where f.count == 7:
                if let s = Int(f[1]), let d = UInt64(f[3]), let i = UInt64(f[4]), let x = Int32(f[5]) {
                    if links[s] == nil { linkOrder.append(s) }
                    links[s] = (f[2] == "-" ? nil : f[2], NamespaceID(device: d, inode: i), x, f[6])
                }
            case "link-" where f.count == 2:
                if let s = Int(f[1]) { links[s] = nil }
            default:
                continue   // a torn last line of a killed run
            }
        }
        run.namespaces = order.compactMap { n in namespaces[n].map { (n, $0) } }
        run.links = linkOrder.compactMap { s in links[s].map { (s, $0.0, $0.1, $0.2, $0.3) } }
        return run
    }

    /// Removes what `run` left, each object only if its identity still
    /// matches; returns (removed, left alone) descriptions. Idempotent.
    public static func clean(_ run: StaleRun, lab: Lab) -> (removed: [String], kept: [String]) {
        var removed: [String] = [], kept: [String] = []
        var gone: Set<NamespaceID> = []
        for (name, id) in run.namespaces {
            let path = "\(run.netnsDirectory)/\(name)"
            var st = stat()
            guard stat(path, &st) == 0 else { gone.insert(id); continue }   // already gone
            guard UInt64(st.st_dev) == id.device && UInt64(st.st_ino) == id.inode else {
                kept.append("netns \(name) (re-created since: not the one that run made)")
                continue
            }
            if umount2(path, Int32(MNT_DETACH)) == 0 || errno == EINVAL, unlink(path) == 0 {
                removed.append("netns \(name)")
                gone.insert(id)
            } else {
                kept.append("netns \(name) (\(errnoDescription(errno)))")
            }
        }
        for link in run.links {
            if gone.contains(link.ns) { continue }   // freed with its namespace
            let ns: Namespace?
            if let name = link.nsName {
                ns = try? lab.openNamespace(name)
            } else {
                ns = run.host == lab.host.id ? lab.host : nil
            }
            guard let ns, ns.id == link.ns else {
                kept.append("\(link.name)@\(link.nsName ?? "host") (its namespace is not the one recorded)")
                continue
            }
            guard let m = try? ns.linkMessage(index: link.index) else {
                // Gone; if its name is back, that is someone else's link now.
                if (try? ns.linkMessage(named: link.name)) != nil {
                    kept.append("\(link.name)@\(ns.displayName) (re-created since: not the one that run made)")
                }
                continue
            }
            guard m.name == link.name else {
                kept.append("\(link.name)@\(ns.displayName) (ifindex \(link.index) is now \(m.name))")
                continue
            }
            do {
                try ns.request(Requests.deleteLink(index: link.index))
                removed.append("\(link.name)@\(ns.displayName)")
            } catch where error.kind == .kernel(ENODEV) {
                continue   // went with its peer's namespace meanwhile
            } catch {
                kept.append("\(link.name)@\(ns.displayName) (\(error))")
            }
        }
        unlink(run.path)
        return (removed, kept)
    }
}
