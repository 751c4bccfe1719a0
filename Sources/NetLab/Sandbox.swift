import CNetSys
import Glibc
import Netlink

/// `--sandbox`: the whole program moves into private network, mount and PID
/// namespaces (and a user namespace in which it is root, when it is not):
/// nothing it makes is visible on the host, and everything, programs it
/// started included, disappears when it exits, even on SIGKILL.
public enum Sandbox {
    /// Enters the sandbox. Must be called while the process is still
    /// single-threaded. The calling process becomes the sandbox's outer
    /// process, which only waits; this returns in the inner one.
    public static func enter(asUser: Bool) throws(LabError) {
        var step: UnsafePointer<CChar>?
        guard nsys_enter_sandbox(asUser ? 1 : 0, &step) == 0 else {
            let e = errno
            let what = step.map { String(cString: $0) } ?? "unshare"
            throw LabError(e == EPERM || e == EACCES || e == EINVAL || e == ENOSPC ? .privilege : .kernel(e),
                           errnoDescription(e), "cannot make a sandbox: \(what)")
        }
    }

    /// Whether this process holds the capabilities nslua needs without a sandbox.
    public static var isPrivileged: Bool { geteuid() == 0 && LabError.hasAdminCapabilities }
}
