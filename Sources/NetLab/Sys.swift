import CNetSys
import Glibc
import Netlink
import Synchronization

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public init(_ call: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(errnoDescription(errno)) (\(call))" }
}

/// -1/errno to a thrown SystemError, retrying on EINTR (swift-system's valueOrErrno).
@discardableResult
func sys<T: FixedWidthInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        if errno == EINTR { continue }
        throw SystemError(call())
    }
}

/// Runs `body` on a new thread that first joins the network namespace `fd`
/// (or, with `fd` nil, unshares a new one), then ends. The calling thread's
/// namespace is never touched (DESIGN.md rule 2): sockets made in `body` stay
/// bound to that namespace after the thread is gone.
func onNamespaceThread<T>(_ fd: Int32?, _ body: @escaping () throws -> T) throws -> T {
    var result: Result<T, Error>?
    let thread = try startThread {
        do {
            if let fd {
                try sys("setns") { nsys_setns(fd, NSYS_CLONE_NEWNET) }
            } else {
                try sys("unshare(CLONE_NEWNET)") { nsys_unshare(NSYS_CLONE_NEWNET) }
            }
            result = .success(try body())
        } catch {
            result = .failure(error)
        }
    }
    pthread_join(thread, nil)
    return try result!.get()
}

/// Starts a thread of our own running `body` (joinable). SIGINT, SIGTERM and
/// SIGHUP are blocked in it, so that they always reach the thread that runs
/// Lua (and are held off with it during teardown).
func startThread(_ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var thread = pthread_t()
    var blocked = sigset_t(), previous = sigset_t()
    sigemptyset(&blocked)
    for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, s) }
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)   // inherited by the new thread
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    let arg = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, arg)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(arg).release()
        throw SystemError("pthread_create", errno: rc)
    }
    return thread
}

/// The (device, inode) of a namespace file. While an fd on the namespace is
/// held, no other namespace can have it; once the namespace is freed, the
/// kernel reuses the inode number (the cookie is what identifies it then).
public struct NamespaceID: Hashable, Sendable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64
    public var description: String { "net:[\(inode)]" }

    init(fd: Int32) throws(SystemError) {
        var st = stat()
        try sys("fstat") { fstat(fd, &st) }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// Runs `body(i)` for i in 0..<count on up to `width` threads of our own
/// (Dispatch's concurrentPerform would cap this at the number of cores, and
/// pings spend their time waiting, not computing).
func runParallel(count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 0 else { return }
    final class Work: @unchecked Sendable {
        let next = Atomic<Int>(0)
        let count: Int
        let body: @Sendable (Int) -> Void
        init(count: Int, body: @escaping @Sendable (Int) -> Void) { self.count = count; self.body = body }
        func drain() {
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= count { return }
                body(i)
            }
        }
    }
    let work = Work(count: count, body: body)
    var threads: [pthread_t] = []
    for _ in 0..<Swift.max(1, Swift.min(width, count)) {
        if let t = try? startThread({ work.drain() }) { threads.append(t) }
    }
    if threads.isEmpty { work.drain() }
    for t in threads { pthread_join(t, nil) }
}

/// One result slot per index, filled by runParallel's workers.
final class ParallelResults<T>: @unchecked Sendable {
    private let lock = Mutex(())
    private var values: [T]
    init(count: Int, initial: T) { values = Array(repeating: initial, count: count) }
    subscript(i: Int) -> T {
        get { lock.withLock { _ in values[i] } }
        set { lock.withLock { _ in values[i] = newValue } }
    }
}

/// Seconds on the monotonic clock (for timeouts and measurements).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Reads a whole file (at most `limit` bytes: nil beyond that). With
/// `regularOnly`, refuses anything but a regular file, without blocking on a
/// FIFO and without following a symlink.
func readFile(_ path: String, limit: Int = 1 << 24, regularOnly: Bool = false) -> [UInt8]? {
    let flags = O_RDONLY | O_CLOEXEC | (regularOnly ? O_NOFOLLOW | O_NONBLOCK : 0)
    let fd = open(path, flags)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return readAll(fd, limit: limit, regularOnly: regularOnly)
}

func readAll(_ fd: Int32, limit: Int, regularOnly: Bool = false) -> [UInt8]? {
    if regularOnly {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
    }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n > 0 {
            out += chunk[0..<n]
            if out.count > limit { return nil }
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return n < 0 ? nil : out
        }
    }
}

/// The names in a directory (without "." and ".."), sorted; empty if it cannot be read.
func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Random bytes from the kernel (getrandom).
func randomBytes(_ n: Int) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: n)
    var filled = 0
    while filled < n {
        let r = b.withUnsafeMutableBytes { nsys_getrandom($0.baseAddress! + filled, UInt(n - filled)) }
        if r > 0 { filled += r } else if errno != EINTR { break }
    }
    return b
}

/// A MAC address for a link nslua makes: random, unicast, locally
/// administered. Chosen before the link exists and journalled, it is how the
/// run knows its links again (a link re-created under the same name and
/// ifindex gets another).
func freshMAC() -> MACAddress {
    var b = randomBytes(6)
    b[0] = (b[0] & 0xfc) | 0x02
    return MACAddress(bytes: b)!
}
