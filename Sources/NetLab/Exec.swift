import CNetSys
import Glibc
import Synchronization

/// What a program run with `ns:exec` did.
public struct ExecResult: Sendable {
    /// Exit status, or 128 + signal number if it was killed.
    public var code: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
}

/// How `ns:exec` runs a program.
public struct ExecOptions: Sendable {
    /// Fed to its standard input (then closed).
    public var stdin: [UInt8] = []
    /// Seconds before its process group is killed (nil: no limit).
    public var timeout: Double?
    /// Most bytes of output (stdout and stderr together) kept; past that the
    /// program is killed and exec fails.
    public var maxOutput = 16 << 20
    public init() {}
}

extension Namespace {
    /// Runs `argv` inside this namespace the way `ip netns exec NAME argv...`
    /// does (setns, private mount namespace, fresh /sys, /etc/netns/NAME over
    /// /etc), never through a shell. Feeds `stdin` while collecting its
    /// output (no deadlock however much of either), and returns when the
    /// program has exited. What it left running in the background (`cmd &`)
    /// keeps its process group, which teardown ends; on timeout or Ctrl-C the
    /// whole group is killed at once.
    public func exec(_ argv: [String], options: ExecOptions = ExecOptions()) throws(LabError) -> ExecResult {
        guard let program = argv.first, !program.isEmpty else { throw .invalid("no program given") }
        for a in argv where a.utf8.contains(0) { throw .invalid("invalid argument", "arguments cannot contain NUL bytes") }
        if let timeout = options.timeout, !(timeout.isFinite && timeout > 0 && timeout <= 86400) {
            throw .invalid("invalid timeout", "\(timeout) s is outside 0..86400")
        }
        guard options.maxOutput > 0 else { throw .invalid("invalid output limit", "\(options.maxOutput) bytes") }
        try lab?.checkOpen()
        let nsfd = try fd()
        lab?.trace(exec: argv.map(shellQuoted).joined(separator: " "), in: self)

        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], report: [Int32] = [-1, -1]
        defer { for fd in inPipe + outPipe + errPipe + report where fd >= 0 { close(fd) } }
        guard nsys_pipe2(&inPipe) == 0, nsys_pipe2(&outPipe) == 0, nsys_pipe2(&errPipe) == 0,
              nsys_pipe2(&report) == 0 else { throw .errno(errno, "pipe") }

        let child = ChildSetup(namespace: self, argv: argv, environment: [:])
        let pid = lab?.processJail.spawn {
            child.withCArrays { etc, args, env in
                nsys_spawn_in_netns(nsfd, name, etc, args, env, inPipe[0], outPipe[1], errPipe[1], report[1])
            }
        } ?? -1
        guard pid > 0 else { throw .errno(errno, "fork") }
        // Close the child's ends so that EOF arrives when it exits.
        for fd in [inPipe[0], outPipe[1], errPipe[1], report[1]] { close(fd) }
        inPipe[0] = -1; outPipe[1] = -1; errPipe[1] = -1; report[1] = -1

        try checkExec(report: report[0], pid: pid, program: program)
        _ = lab?.processGroups.withLock { $0.insert(pid) }
        var run = ChildIO(pid: pid, stdin: inPipe[1], stdout: outPipe[0], stderr: errPipe[0], options: options)
        inPipe[1] = -1   // ChildIO closes it once fed
        let outcome = run.wait()
        if kill(-pid, 0) != 0 { _ = lab?.processGroups.withLock { $0.remove(pid) } }   // nothing of it runs any more
        switch outcome {
        case .interrupted: throw .invalid("interrupted", "\(Validate.shown(program)) was killed")
        case .timedOut:
            throw LabError(.timeout, "timed out", "\(Validate.shown(program)) ran longer than \(options.timeout!) s and was killed")
        case .tooMuchOutput:
            throw .invalid("output too large", "\(Validate.shown(program)) wrote more than \(options.maxOutput) bytes and was killed (give max_output = to keep more)")
        case .exited(let status):
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return ExecResult(code: code, stdout: run.out, stderr: run.err)
        }
    }
}

extension Namespace {
    /// Equivalent to `ip netns exec NAME $SHELL` (or `argv`): an interactive
    /// program inside this namespace, with the terminal handed over to it
    /// (Ctrl-C and Ctrl-Z go to it), and NSLUA_NS=NAME in its environment for
    /// a prompt to show. Returns its exit status once it ends; the terminal
    /// is then nslua's again, settings and all.
    public func shell(_ argv: [String] = []) throws(LabError) -> Int32 {
        let shell = getenv("SHELL").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/bin/sh"
        let argv = argv.isEmpty ? [shell] : argv
        guard let program = argv.first, !program.isEmpty else { throw .invalid("no program given") }
        for a in argv where a.utf8.contains(0) { throw .invalid("invalid argument", "arguments cannot contain NUL bytes") }
        try lab?.checkOpen()
        let nsfd = try fd()
        lab?.trace(exec: argv.map(shellQuoted).joined(separator: " "), in: self)
        var report: [Int32] = [-1, -1]
        guard nsys_pipe2(&report) == 0 else { throw .errno(errno, "pipe") }
        defer { for fd in report where fd >= 0 { close(fd) } }
        var env = ["NSLUA_NS": displayName]
        if let shellName = argv.first?.split(separator: "/").last, ["sh", "dash", "ash", "ksh", "mksh"].contains(shellName) {
            env["PS1"] = "[\(displayName)] $ "   // these take their prompt from the environment
        }
        let child = ChildSetup(namespace: self, argv: argv, environment: env)
        fflush(nil)
        nsys_terminal_save()
        let pid = lab?.processJail.spawn {
            child.withCArrays { etc, args, envp in nsys_spawn_interactive_in_netns(nsfd, name, etc, args, envp, report[1]) }
        } ?? -1
        guard pid > 0 else { nsys_terminal_restore(); throw .errno(errno, "fork") }
        close(report[1]); report[1] = -1
        _ = lab?.processGroups.withLock { $0.insert(pid) }
        defer {
            nsys_terminal_restore()
            if kill(-pid, 0) != 0 { _ = lab?.processGroups.withLock { $0.remove(pid) } }
        }
        try checkExec(report: report[0], pid: pid, program: program)
        // Ctrl-C goes to it, not to nslua; a SIGTERM to nslua hangs it up.
        var status: Int32 = 0
        var hungUp = false
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if !hungUp && Interruption.requested() {
                hungUp = true
                kill(-pid, SIGHUP)
                kill(-pid, SIGCONT)
            }
            usleep(20_000)
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Whether exec worked: the report pipe closes on exec, or carries "step:errno".
    func checkExec(report: Int32, pid: pid_t, program: String) throws(LabError) {
        var msg = [UInt8](repeating: 0, count: 32)
        var n = 0
        repeat { n = read(report, &msg, msg.count) } while n < 0 && errno == EINTR
        guard n > 0 else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: msg[0..<n], as: UTF8.self)
        let code = Int32(text.split(separator: ":").last ?? "") ?? 0
        switch text.first {
        case "e" where code == ENOENT:
            throw .notFound("No such file or directory", "there is no program \(Validate.shown(program)) (PATH: \(getenv("PATH").map { String(cString: $0) } ?? ""))")
        case "e" where code == EACCES:
            throw LabError(.kernel(EACCES), "Permission denied", "\(Validate.shown(program)) is not an executable program")
        case "e": throw .errno(code, "cannot run \(Validate.shown(program))")
        case "n": throw .errno(code, "entering namespace \(displayName)")
        default: throw .errno(code, "preparing to run \(Validate.shown(program)) in \(displayName)")
        }
    }
}

/// The PID namespace the programs exec starts are born in, made at the first
/// exec: its pid 1 is a reaper, and killing it (teardown) makes the kernel
/// kill everything in it, a program that left its process group (setsid,
/// setpriv, a daemon's double fork) included. Where it cannot be made (no
/// CAP_SYS_ADMIN), programs are born in nslua's own, and teardown ends their
/// process groups only.
final class ProcessJail: @unchecked Sendable {
    private struct State {
        var reaper: pid_t = -1
        var namespaceFD: Int32 = -1
        var aliveFD: Int32 = -1
        var unavailable = false
    }
    /// Locked: teardown may end it from the watchdog thread while the main
    /// thread is starting a program.
    private let state = Mutex(State())
    /// nslua's own PID namespace (where its threads' children go back to).
    private static let ownFD = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC)

    /// Runs `fork` (which forks once) with its child born in the namespace.
    func spawn(_ fork: () -> pid_t) -> pid_t {
        state.withLock { s in
            if s.reaper <= 0 && !s.unavailable { ProcessJail.start(&s) }
            guard s.reaper > 0, nsys_setns(s.namespaceFD, NSYS_CLONE_NEWPID) == 0 else { return fork() }
            let pid = fork()
            let e = errno
            nsys_setns(ProcessJail.ownFD, NSYS_CLONE_NEWPID)
            errno = e
            return pid
        }
    }

    private static func start(_ s: inout State) {
        guard ownFD >= 0 else { s.unavailable = true; return }
        var ns: Int32 = -1, alive: Int32 = -1
        let pid = nsys_start_pid_namespace(ownFD, &ns, &alive)
        guard pid > 0 else { s.unavailable = true; return }
        (s.reaper, s.namespaceFD, s.aliveFD) = (pid, ns, alive)
    }

    /// Kills everything in it; the next exec makes a new one.
    func end() {
        state.withLock { s in
            guard s.reaper > 0 else { return }
            kill(s.reaper, SIGKILL)
            var status: Int32 = 0
            while waitpid(s.reaper, &status, 0) < 0 && errno == EINTR {}
            close(s.namespaceFD)
            close(s.aliveFD)
            (s.reaper, s.namespaceFD, s.aliveFD) = (-1, -1, -1)
        }
    }
}

/// What a child needs, made before fork (nothing is allocated after it, in a
/// process with threads): its argv, its environment, and the names in
/// /etc/netns/NAME to bind over /etc, as `ip netns exec` does.
private struct ChildSetup {
    let etc: [String]
    let argv: [String]
    let env: [String]

    init(namespace: Namespace, argv: [String], environment extra: [String: String]) {
        etc = namespace.name.map { directoryEntries("/etc/netns/\($0)") } ?? []
        self.argv = argv
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let key = s.split(separator: "=", maxSplits: 1).first, extra[String(key)] != nil { p += 1; continue }
            env.append(s)
            p += 1
        }
        env += extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        self.env = env
    }

    func withCArrays<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>, UnsafePointer<UnsafeMutablePointer<CChar>?>,
                                 UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let lists = [etc, argv, env].map { $0.map { strdup($0) } + [nil] }
        defer { for l in lists { for p in l { free(p) } } }
        return lists[0].withUnsafeBufferPointer { e in
            lists[1].withUnsafeBufferPointer { a in
                lists[2].withUnsafeBufferPointer { v in body(e.baseAddress!, a.baseAddress!, v.baseAddress!) }
            }
        }
    }
}

/// The parent's side of a running child: feeds stdin, drains stdout and
/// stderr, notices its exit (pidfd), enforces the timeout and output limit.
private struct ChildIO {
    enum Outcome { case exited(Int32), timedOut, interrupted, tooMuchOutput }

    let pid: pid_t
    var stdin: Int32
    var open: [Int32]
    let stdoutFD: Int32
    let options: ExecOptions
    var pending: ArraySlice<UInt8>
    var out: [UInt8] = [], err: [UInt8] = []
    let pidfd: Int32

    init(pid: pid_t, stdin: Int32, stdout: Int32, stderr: Int32, options: ExecOptions) {
        self.pid = pid
        self.stdin = stdin
        self.open = [stdout, stderr]
        self.stdoutFD = stdout
        self.options = options
        self.pending = options.stdin[...]
        self.pidfd = nsys_pidfd_open(pid)
        for fd in [stdin, stdout, stderr] { nsys_set_nonblocking(fd) }
        if pending.isEmpty { closeStdin() }
    }

    mutating func closeStdin() {
        if stdin >= 0 { close(stdin) }
        stdin = -1
    }

    /// How long, once the program has exited, to keep reading what it (or a
    /// background process holding its pipes) still writes: until it has been
    /// quiet this long, and never longer than `drainAtMost` (a background
    /// process that never stops writing must not keep exec from returning).
    static let drainAfterExit = 0.1
    static let drainAtMost = 1.0

    mutating func wait() -> Outcome {
        defer {
            closeStdin()
            if pidfd >= 0 { close(pidfd) }
        }
        let start = monotonicSeconds()
        var status: Int32?
        var exitedAt = 0.0
        var lastData = 0.0
        var killed: Outcome?
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if status == nil { status = reap(block: false) }
            let now = monotonicSeconds()
            if let s = status {
                if exitedAt == 0 { exitedAt = now; lastData = now }
                // Done when its pipes are closed, or quiet for a moment after
                // it exited, or draining too long, or asked to stop.
                if open.isEmpty || now - lastData >= ChildIO.drainAfterExit || now - exitedAt >= ChildIO.drainAtMost
                    || Interruption.requested() || options.timeout.map({ now - start > $0 }) == true {
                    return killed ?? .exited(s)
                }
            } else if killed == nil {
                if let timeout = options.timeout, now - start > timeout { killed = .timedOut }
                else if Interruption.requested() { killed = .interrupted }
                if killed != nil { kill(-pid, SIGKILL) }
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdin >= 0 { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            if pidfd >= 0 && status == nil { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            let timeoutMS: Int32 = status != nil ? 20 : (pidfd >= 0 ? 50 : 10)
            if poll(&fds, nfds_t(fds.count), timeoutMS) <= 0 { continue }
            for p in fds where p.revents != 0 {
                if p.fd == pidfd { continue }   // reaped at the top of the loop
                if p.fd == stdin {
                    let w = pending.withUnsafeBytes { write(p.fd, $0.baseAddress, $0.count) }
                    if w > 0 { pending = pending.dropFirst(w) }
                    if (w < 0 && errno != EAGAIN && errno != EINTR) || pending.isEmpty { closeStdin() }
                    continue
                }
                let got = read(p.fd, &chunk, chunk.count)
                if got > 0 {
                    lastData = monotonicSeconds()
                    if p.fd == stdoutFD { out += chunk[0..<got] } else { err += chunk[0..<got] }
                    if out.count + err.count > options.maxOutput && killed == nil {
                        killed = .tooMuchOutput
                        kill(-pid, SIGKILL)
                    }
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == p.fd }
                }
            }
        }
    }

    /// The child's wait status once it has exited (reaped), else nil.
    func reap(block: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r == pid { return status }
            if r < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
