import CNetSys
import Glibc
import Netlink

/// Why a lab operation failed, in words a person can act on: the kernel's (or
/// the system's) reason, and what it means here.
public struct LabError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The kernel (or the system) refused, with this errno.
        case kernel(Int32)
        /// Input rejected before the kernel saw it.
        case invalid
        /// No such namespace, link, program, ...
        case notFound
        /// nslua lacks a privilege it needs: run as root or with --sandbox.
        case privilege
        /// This kernel lacks the feature.
        case unsupported
        /// It took longer than it was given.
        case timeout
    }

    public let kind: Kind
    /// "File exists", "invalid interface name", ...
    public let reason: String
    /// What it means here: "a link named veth0 already exists in host".
    public let detail: String?

    public init(_ kind: Kind, _ reason: String, _ detail: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.detail = detail
    }

    public var description: String {
        guard let detail, !detail.isEmpty else { return reason }
        return "\(reason) (\(detail))"
    }

    /// The kind as scripts see it (`err.kind`).
    public var kindName: String {
        switch kind {
        case .kernel(EEXIST): return "exists"
        case .kernel: return "kernel"
        case .invalid: return "invalid"
        case .notFound: return "notfound"
        case .privilege: return "privilege"
        case .unsupported: return "unsupported"
        case .timeout: return "timeout"
        }
    }

    /// The errno behind it, if any.
    public var errno: Int32? {
        if case .kernel(let e) = kind { return e }
        return nil
    }

    /// Missing privilege or missing kernel support (exit status 3).
    public var isPrivilegeOrSupport: Bool { kind == .privilege || kind == .unsupported }

    static func invalid(_ reason: String, _ detail: String? = nil) -> LabError { LabError(.invalid, reason, detail) }
    static func notFound(_ reason: String, _ detail: String? = nil) -> LabError { LabError(.notFound, reason, detail) }

    /// Whether this process holds CAP_NET_ADMIN and CAP_SYS_ADMIN: if it does,
    /// EPERM is the kernel refusing the operation, not a missing privilege.
    static let hasAdminCapabilities = nsys_has_admin_caps() == 1

    /// From errno. EPERM and EACCES mean missing privilege only when nslua
    /// lacks its capabilities; then the message says what to do.
    static func errno(_ code: Int32, _ detail: String? = nil) -> LabError {
        let reason = errnoDescription(code)
        if (code == EPERM || code == EACCES) && !hasAdminCapabilities {
            let hint = "nslua needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root, or with --sandbox"
            return LabError(.privilege, reason, [detail, hint].compactMap { $0 }.joined(separator: "; "))
        }
        return LabError(.kernel(code), reason, detail)
    }

    /// From a kernel reply: strerror, the kernel's extended ack, and `detail`.
    static func netlink(_ e: NetlinkError, _ detail: String? = nil) -> LabError {
        let parts = [e.message, detail].compactMap { $0 }.filter { !$0.isEmpty }
        return errno(e.errno, parts.isEmpty ? nil : parts.joined(separator: "; "))
    }

    /// Any error thrown below NetLab, as a LabError.
    static func wrap(_ error: Error, _ detail: String? = nil) -> LabError {
        switch error {
        case let e as LabError: return e
        case let e as NetlinkError: return netlink(e, detail)
        case let e as SystemError: return errno(e.errno, detail ?? e.call)
        case let e as AddressError: return invalid(e.description)
        case let e as MalformedReply: return LabError(.kernel(EPROTO), e.description, detail)
        case let e as DumpInterrupted: return LabError(.kernel(EINTR), e.description, detail)
        default: return LabError(.kernel(0), "\(error)", detail)
        }
    }
}

/// Runs `body`, turning whatever it throws into a LabError with `detail`.
func labbing<T>(_ detail: @autoclosure () -> String? = nil, _ body: () throws -> T) throws(LabError) -> T {
    do { return try body() } catch { throw LabError.wrap(error, detail()) }
}

extension LabError {
    /// The kernel has no driver for a kind of link: which option it needs.
    static func missingKind(_ kind: String, _ error: LabError) -> LabError {
        let option = ["vxlan": "CONFIG_VXLAN", "macvlan": "CONFIG_MACVLAN", "bridge": "CONFIG_BRIDGE", "veth": "CONFIG_VETH",
                      "vlan": "CONFIG_VLAN_8021Q", "gre": "CONFIG_NET_IPGRE", "wireguard": "CONFIG_WIREGUARD",
                      "tun": "CONFIG_TUN"][kind] ?? "its driver"
        return LabError(.unsupported, "\(kind) is not available",
                        "this kernel cannot make \(kind) links (it said: \(error.detail ?? error.reason)); "
                        + "it needs \(option), built in or loaded (modprobe \(kind))")
    }
}
