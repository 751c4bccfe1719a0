import CNetSys
import Glibc

/// What a program run with `ns:exec` did.
public struct ExecResult: Sendable {
    /// Exit status, or 128 + signal number if it was killed.
    public var code: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
}

extension Namespace {
    /// Runs `argv` inside this namespace the way `ip netns exec NAME argv...`
    /// does (setns, private mount namespace, fresh /sys, /etc/netns/NAME over
    /// /etc), never through a shell. Waits for it to end, feeding `stdin` and
    /// collecting its output; kills it after `timeout` seconds.
    public func exec(_ argv: [String], stdin input: [UInt8] = [], timeout: Double? = nil) throws(LabError) -> ExecResult {
        guard let program = argv.first, !program.isEmpty else { throw .invalid("no program given") }
        for a in argv where a.utf8.contains(0) { throw .invalid("invalid argument", "arguments cannot contain NUL bytes") }
        if let timeout, !(timeout.isFinite && timeout > 0 && timeout <= 86400) {
            throw .invalid("invalid timeout", "\(timeout) s is outside 0..86400")
        }
        let nsfd = try fd()
        lab?.trace("netns exec \(displayName) " + argv.joined(separator: " "), namespace: nil)

        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], report: [Int32] = [-1, -1]
        defer { for fd in inPipe + outPipe + errPipe + report where fd >= 0 { close(fd) } }
        guard nsys_pipe2(&inPipe) == 0, nsys_pipe2(&outPipe) == 0, nsys_pipe2(&errPipe) == 0,
              nsys_pipe2(&report) == 0 else { throw .errno(errno, "pipe") }

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let pid = cArgs.withUnsafeMutableBufferPointer { buf in
            nsys_spawn_in_netns(nsfd, name, buf.baseAddress, inPipe[0], outPipe[1], errPipe[1], report[1])
        }
        guard pid > 0 else { throw .errno(errno, "fork") }
        // Close the child's ends so that EOF arrives when it exits.
        for fd in [inPipe[0], outPipe[1], errPipe[1], report[1]] { close(fd) }
        inPipe[0] = -1; outPipe[1] = -1; errPipe[1] = -1; report[1] = -1

        // Did exec work? The report pipe closes on exec, or carries "step:errno".
        var msg = [UInt8](repeating: 0, count: 32)
        var n = 0
        repeat { n = read(report[0], &msg, msg.count) } while n < 0 && errno == EINTR
        if n > 0 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let text = String(decoding: msg[0..<n], as: UTF8.self)
            let code = Int32(text.split(separator: ":").last ?? "") ?? 0
            switch text.first {
            case "e":
                if code == ENOENT { throw .notFound("No such file or directory", "there is no program \(program) (PATH: \(getenv("PATH").map { String(cString: $0) } ?? ""))") }
                throw .errno(code, "cannot run \(program)")
            case "n": throw .errno(code, "entering namespace \(displayName)")
            default: throw .errno(code, "preparing to run \(program) in \(displayName)")
            }
        }

        // Feed stdin and drain stdout/stderr together (no deadlock on full pipes).
        var out: [UInt8] = [], err: [UInt8] = []
        var pending = input[...]
        if pending.isEmpty { close(inPipe[1]); inPipe[1] = -1 }
        let start = monotonicSeconds()
        var killed = false
        var open = [outPipe[0], errPipe[0]]
        var chunk = [UInt8](repeating: 0, count: 65536)
        signal(SIGPIPE, SIG_IGN)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if inPipe[1] >= 0 { fds.append(pollfd(fd: inPipe[1], events: Int16(POLLOUT), revents: 0)) }
            let r = poll(&fds, nfds_t(fds.count), 50)
            if !killed, (timeout.map { monotonicSeconds() - start > $0 } ?? false) || Interruption.requested() {
                kill(pid, SIGKILL)
                killed = true
            }
            if r <= 0 { continue }
            for p in fds where p.revents != 0 {
                if p.fd == inPipe[1] {
                    let w = pending.withUnsafeBytes { write(p.fd, $0.baseAddress, $0.count) }
                    if w > 0 { pending = pending.dropFirst(w) }
                    if w < 0 || pending.isEmpty { close(inPipe[1]); inPipe[1] = -1 }
                    continue
                }
                let got = read(p.fd, &chunk, chunk.count)
                if got > 0 {
                    if p.fd == outPipe[0] { out += chunk[0..<got] } else { err += chunk[0..<got] }
                } else if got == 0 || errno != EINTR {
                    open.removeAll { $0 == p.fd }
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if killed {
            if Interruption.requested() { throw .invalid("interrupted", "\(program) was killed") }
            throw LabError(.kernel(ETIMEDOUT), "timed out", "\(program) ran longer than \(timeout!) s and was killed")
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ExecResult(code: code, stdout: out, stderr: err)
    }
}
