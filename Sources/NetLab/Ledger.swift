import Glibc
import Netlink

/// What a run has made, opened and moved, kept in one place: the live
/// objects (one Link per namespace and ifindex) and the crash journal, which
/// it updates together. Intent is journalled before each kernel call and
/// settled after it, so a run killed at any moment leaves a journal from
/// which `--clean` can find everything it made (journal format: Journal.swift).
final class Ledger {
    /// Namespaces created or opened, in order (not the host).
    private(set) var namespaces: [Namespace] = []
    /// Links this run made, in creation order.
    private(set) var owned: [Link] = []
    /// Links this run did not make but moved: teardown puts them back.
    private(set) var moved: [Link] = []
    private var live: [LinkKey: Link] = [:]
    private var serials = 0
    private var namespaceIDs = 0

    /// Where journals go (nil: none, as in the sandbox, where everything
    /// dies with nslua anyway).
    var journalDirectory: String?
    private var journal: JournalWriter?
    /// The host namespace (journal header).
    weak var host: Namespace?
    /// Told once if the journal cannot be written.
    var onJournalError: ((LabError) -> Void)?

    struct LinkKey: Hashable {
        let namespace: ObjectIdentifier
        let index: Int32
    }

    // MARK: Journal

    private func record(_ lines: [String]) {
        guard let dir = journalDirectory else { return }
        if journal == nil {
            do {
                journal = try JournalWriter(directory: dir, header: header())
            } catch {
                onJournalError?(error)
                onJournalError = nil
                journalDirectory = nil
                return
            }
        }
        journal?.write(lines)
    }

    private func header() -> [String] {
        var lines = ["\(Journal.magic) \(Journal.version) \(Journal.bootID) \(getpid())"]
        if let host { lines.append("host \(host.cookie ?? 0) \(host.id.device) \(host.id.inode)") }
        for ns in namespaces where !ns.owned && !ns.isDeleted { lines.append(openLine(ns)) }
        return lines
    }

    private func openLine(_ ns: Namespace) -> String {
        "open \(ns.journalID) \(ns.name ?? "-") \(ns.cookie ?? 0) \(ns.id.device) \(ns.id.inode)"
    }

    private func linkLine(_ l: Link) -> String {
        "link \(l.serial) \(l.namespace.journalID) \(l.index) \(l.identityMAC.map { "\($0)" } ?? "-") \(l.lastName)"
            + (l.peerLink.map { " \($0.serial)" } ?? "")
    }

    /// The path of the current journal, if one is open.
    var journalPath: String? { journal?.path }

    // MARK: Namespaces

    func newNamespaceID() -> Int {
        namespaceIDs += 1
        return namespaceIDs
    }

    func willCreate(namespace name: String, id: Int) { record(["ns? \(id) \(name)"]) }

    func created(_ ns: Namespace) {
        namespaces.append(ns)
        record(["ns \(ns.journalID) \(ns.name!) \(ns.cookie ?? 0) \(ns.id.device) \(ns.id.inode)"])
    }

    func abandoned(namespaceID id: Int) { record(["ns- \(id)"]) }

    func opened(_ ns: Namespace) {
        namespaces.append(ns)
        record([openLine(ns)])
    }

    /// An owned namespace was deleted: its links went with it (and so did
    /// the other ends of its veths; the journal's readers know that a link
    /// in a removed namespace, or one that cannot be found, is gone).
    func removed(_ ns: Namespace) {
        for (key, link) in live where key.namespace == ObjectIdentifier(ns) {
            forget(link, journal: false)
            if let peer = link.peerLink { forget(peer, journal: false) }
        }
        record(["ns- \(ns.journalID)"])
    }

    /// The live namespaces, in order.
    var liveNamespaces: [Namespace] { namespaces.filter { !$0.isDeleted } }

    // MARK: Links

    func newSerial() -> Int {
        serials += 1
        return serials
    }

    /// The one Link object for a link (made, not owned, if this is the first time it is seen).
    func link(in ns: Namespace, message m: LinkMessage) -> Link {
        let key = LinkKey(namespace: ObjectIdentifier(ns), index: m.index)
        if let l = live[key], !l.isDeleted {
            l.lastName = m.name
            return l
        }
        let l = Link(namespace: ns, index: m.index, name: m.name, owned: false, serial: newSerial())
        live[key] = l
        return l
    }

    /// Before the kernel is asked to make links: their serial, namespace and MAC.
    func willCreate(links: [(serial: Int, namespace: Namespace, mac: MACAddress)]) {
        record(links.map { "link? \($0.serial) \($0.namespace.journalID) \($0.mac)" })
    }

    func created(_ links: [Link]) {
        for l in links {
            live[LinkKey(namespace: ObjectIdentifier(l.namespace), index: l.index)] = l
            owned.append(l)
        }
        record(links.map(linkLine))
    }

    func abandoned(serials: [Int]) { record(serials.map { "link- \($0)" }) }

    /// Before a MAC change: the new MAC is a candidate identity too.
    func willChange(_ l: Link, mac: MACAddress) {
        guard l.owned || l.origin != nil else { return }
        record(["link? \(l.serial) \(l.namespace.journalID) \(mac)"])
    }

    /// A rename or a MAC change, settled.
    func changed(_ l: Link) {
        if l.owned { record([linkLine(l)]) } else if l.origin != nil { record([movedLine(l)]) }
    }

    func willMove(_ l: Link, to ns: Namespace) {
        guard let mac = l.identityMAC ?? (l.owned ? nil : (try? l.message())?.mac) else { return }
        record(["link? \(l.serial) \(ns.journalID) \(mac)"])
    }

    /// A link moved (and maybe renamed). A foreign link remembers where it
    /// came from the first time, so that teardown can put it back.
    func moved(_ l: Link, from: Namespace, name originalName: String, to ns: Namespace, index: Int32, mac: MACAddress?) {
        live[LinkKey(namespace: ObjectIdentifier(l.namespace), index: l.index)] = nil
        l.namespace = ns
        l.index = index
        live[LinkKey(namespace: ObjectIdentifier(ns), index: index)] = l
        if l.owned {
            record([linkLine(l)])
            return
        }
        if l.origin == nil {
            l.origin = (from, originalName)
            l.identityMAC = mac
            moved.append(l)
        }
        if l.origin?.namespace === ns && l.origin?.name == l.lastName {
            putBack(l)   // it is home again
        } else {
            record([movedLine(l)])
        }
    }

    private func movedLine(_ l: Link) -> String {
        "moved \(l.serial) \(l.origin!.namespace.journalID) \(l.origin!.name) \(l.namespace.journalID) \(l.index) \(l.identityMAC.map { "\($0)" } ?? "-") \(l.lastName)"
    }

    /// A foreign link is back where it came from.
    func putBack(_ l: Link) {
        l.origin = nil
        moved.removeAll { $0 === l }
        record(["moved- \(l.serial)"])
    }

    func deleted(_ l: Link) {
        l.markDeleted()
        forget(l)
    }

    private func forget(_ l: Link, journal: Bool = true) {
        l.markDeleted()
        let key = LinkKey(namespace: ObjectIdentifier(l.namespace), index: l.index)
        if live[key] === l { live[key] = nil }
        if l.owned {
            owned.removeAll { $0 === l }
            if journal { record(["link- \(l.serial)"]) }
        } else if l.origin != nil {
            moved.removeAll { $0 === l }
            if journal { record(["moved- \(l.serial)"]) }
        }
    }

    /// Every live link object (for impairments to take off at teardown).
    var liveLinks: [Link] { live.values.filter { !$0.isDeleted } }

    // MARK: The end

    /// Teardown is over (or the lab is kept): the registry is emptied and the
    /// journal removed. Opened namespaces are released.
    func finished() {
        for ns in namespaces where !ns.owned { ns.release() }
        namespaces.removeAll()
        live.removeAll()
        owned.removeAll()
        moved.removeAll()
        journal?.finish()
        journal = nil
    }
}
