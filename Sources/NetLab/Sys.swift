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

/// Starts a thread of our own running `body` (joinable).
func startThread(_ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var thread = pthread_t()
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

/// The (device, inode) of a namespace file: its identity.
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

/// Seconds on the monotonic clock (for timeouts and measurements).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
