import Glibc
import Netlink

/// What a run has made, opened and changed, kept in one place: the live
/// objects (one Link per namespace and ifindex) and the crash journal, which
/// it updates together. Intent is journalled before each kernel call and
/// settled after it, so a run killed at any moment leaves a journal from
/// which `--clean` can find everything it made and everything of others it
/// moved, renamed or impaired (journal format: Journal.swift).
final class Ledger {
    /// Namespaces created or opened, in order (not the host).
    private(set) var namespaces: [Namespace] = []
    /// Links this run made, by serial (creation order).
    private var ownedBySerial: [Int: Link] = [:]
    /// Links this run did not make but changed (moved, renamed, re-MACed,
    /// impaired), by serial: teardown puts them back as they were.
    private var touchedBySerial: [Int: Link] = [:]
    /// The one Link object per namespace and ifindex, by namespace (so that
    /// deleting a namespace visits its own links only: a lab of a thousand
    /// namespaces tears down in linear time).
    private var live: [ObjectIdentifier: [Int32: Link]] = [:]
    private var serials = 0
    private var namespaceIDs = 0

    /// Where journals go (nil: none, as in the sandbox, where everything
    /// dies with nslua anyway).
    var journalDirectory: String?
    private var journal: JournalWriter?
    /// Bytes written since the journal was last rewritten from the live state.
    private var journalBytes = 0
    static let compactAfter = 1 << 20
    /// The host namespace (journal header).
    weak var host: Namespace?
    /// Told once if the journal cannot be written.
    var onJournalError: ((LabError) -> Void)?

    /// Links this run made and that still exist, in creation order.
    var owned: [Link] { ownedBySerial.values.sorted { $0.serial < $1.serial } }
    /// Links of others this run changed, in the order it first did.
    var touched: [Link] { touchedBySerial.values.sorted { $0.serial < $1.serial } }

    // MARK: Journal

    private func record(_ lines: [String], settled: Bool = false) {
        guard let dir = journalDirectory else { return }
        do {
            if journal == nil {
                journal = try JournalWriter(directory: dir, header: header())
                journalBytes = 0
            }
            journalBytes += try journal!.write(lines)
        } catch {
            // No more records (a full disk): what is written stays, for
            // --clean, until the run ends normally and removes it.
            onJournalError?(error)
            onJournalError = nil
            journalDirectory = nil
            return
        }
        // Rewritten from the live state now and then, so that a long run (a
        // loop changing a MAC) does not grow its journal without end. If that
        // fails, the journal as it is still tells everything.
        if settled && journalBytes > Ledger.compactAfter {
            do {
                try journal!.replace(with: header() + snapshot())
                journalBytes = 0
            } catch {
                journalBytes = 0   // tried again after as many bytes more
            }
        }
    }

    private func header() -> [String] {
        var lines = ["\(Journal.magic) \(Journal.version) \(Journal.bootID) \(getpid())"]
        if let host { lines.append("host \(host.cookie ?? 0) \(host.id.device) \(host.id.inode)") }
        for ns in namespaces where !ns.owned && !ns.isDeleted { lines.append(openLine(ns)) }
        return lines
    }

    /// The live state as journal lines (what a compacted journal holds).
    private func snapshot() -> [String] {
        var lines: [String] = []
        for ns in namespaces where ns.owned && !ns.isDeleted { lines.append(namespaceLine(ns)) }
        for l in owned where !l.isDeleted {
            lines.append("link? \(l.serial) \(l.namespace.journalID) \(l.creationMAC.map { "\($0)" } ?? "-") \(l.kind ?? "-")")
            lines.append(linkLine(l))
        }
        for l in touched where !l.isDeleted {
            lines.append(touchLine(l))
            lines.append(movedLine(l))
            if l.netem != nil || l.rateLimit != nil { lines.append("qdisc \(l.serial)") }
        }
        return lines
    }

    private func openLine(_ ns: Namespace) -> String {
        "open \(ns.journalID) \(ns.name ?? "-") \(ns.cookie ?? 0) \(ns.id.device) \(ns.id.inode)"
    }

    private func namespaceLine(_ ns: Namespace) -> String {
        "ns \(ns.journalID) \(ns.name!) \(ns.cookie ?? 0) \(ns.id.device) \(ns.id.inode)"
    }

    private func linkLine(_ l: Link) -> String {
        "link \(l.serial) \(l.namespace.journalID) \(l.index) \(mac(l)) \(l.givenName)" + (l.peerLink.map { " \($0.serial)" } ?? "")
    }

    private func touchLine(_ l: Link) -> String {
        let o = l.origin!
        return "touch \(l.serial) \(o.namespace.journalID) \(o.index) \(o.name) \(o.mac.map { "\($0)" } ?? "-") \(o.kind)"
    }

    private func movedLine(_ l: Link) -> String {
        "moved \(l.serial) \(l.namespace.journalID) \(l.index) \(mac(l)) \(l.givenName)"
    }

    private func mac(_ l: Link) -> String { l.identityMAC.map { "\($0)" } ?? "-" }

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
        record([namespaceLine(ns)], settled: true)
    }

    func abandoned(namespaceID id: Int) { record(["ns- \(id)"]) }

    func opened(_ ns: Namespace) {
        record([openLine(ns)])   // (in the header instead, if this starts the journal)
        namespaces.append(ns)
    }

    /// An owned namespace was deleted (journalled once it is unmounted): its
    /// links went with it, and so did the other ends of its veths (the
    /// journal's readers know that a link in a removed namespace, or one
    /// that cannot be found, is gone).
    func removed(_ ns: Namespace) {
        // Taken out first: forgetting a peer in the same namespace must not
        // change the table being walked.
        for link in (live.removeValue(forKey: ObjectIdentifier(ns)) ?? [:]).values {
            forget(link, journal: false)
            if let peer = link.peerLink { forget(peer, journal: false) }
        }
        record(["ns- \(ns.journalID)"], settled: true)
    }

    /// The live namespaces, in order.
    var liveNamespaces: [Namespace] { namespaces.filter { !$0.isDeleted } }

    // MARK: Links this run makes

    func newSerial() -> Int {
        serials += 1
        return serials
    }

    /// The one Link object for a link (made, not owned, if this is the first time it is seen).
    func link(in ns: Namespace, message m: LinkMessage) -> Link {
        if let l = live[ObjectIdentifier(ns)]?[m.index], !l.isDeleted {
            l.lastName = m.name
            return l
        }
        let l = Link(namespace: ns, index: m.index, name: m.name, owned: false, serial: newSerial())
        live[ObjectIdentifier(ns), default: [:]][m.index] = l
        return l
    }

    /// Before the kernel is asked to make links: their serial, namespace,
    /// kind and the MAC they are made with.
    func willCreate(links: [(serial: Int, namespace: Namespace, mac: MACAddress?, kind: String)]) {
        record(links.map { "link? \($0.serial) \($0.namespace.journalID) \($0.mac.map { "\($0)" } ?? "-") \($0.kind)" })
    }

    func created(_ links: [Link]) {
        for l in links {
            live[ObjectIdentifier(l.namespace), default: [:]][l.index] = l
            ownedBySerial[l.serial] = l
        }
        record(links.map(linkLine), settled: true)
    }

    func abandoned(serials: [Int]) { record(serials.map { "link- \($0)" }) }

    // MARK: Changes to any link

    /// Before the first change this run makes to a link it did not make: where
    /// it is, under what name, and how to know it again (ifindex, MAC, kind).
    func touch(_ l: Link) throws(LabError) {
        guard !l.owned, l.origin == nil else { return }
        let m = try l.message()
        let kind = m.kind ?? "device"
        l.origin = Link.Origin(namespace: l.namespace, index: m.index, name: m.name, mac: m.mac, kind: kind)
        l.identityMAC = m.mac
        l.kind = kind
        l.givenName = m.name
        touchedBySerial[l.serial] = l
        record([touchLine(l)])
    }

    /// Before a MAC change: the new MAC may be the link's by then.
    func willChange(_ l: Link, mac: MACAddress) throws(LabError) {
        try touch(l)
        record(["mac? \(l.serial) \(mac)"])
    }

    /// A rename or a MAC change, settled.
    func changed(_ l: Link) {
        if l.owned { record([linkLine(l)], settled: true) } else if l.origin != nil { record([movedLine(l)], settled: true) }
    }

    /// Before a move: it may be in `ns` by then, under an ifindex not known yet.
    func willMove(_ l: Link, to ns: Namespace) throws(LabError) {
        try touch(l)
        record(["move? \(l.serial) \(ns.journalID)"])
    }

    /// A link moved (and maybe renamed), settled.
    func moved(_ l: Link, to ns: Namespace, index: Int32) {
        if live[ObjectIdentifier(l.namespace)]?[l.index] === l { live[ObjectIdentifier(l.namespace)]?[l.index] = nil }
        l.namespace = ns
        l.index = index
        live[ObjectIdentifier(ns), default: [:]][index] = l
        changed(l)
    }

    /// An impairment put on (or taken off) a link this run did not make.
    func impaired(_ l: Link) throws(LabError) {
        guard !l.owned else { return }
        try touch(l)
        record(["qdisc \(l.serial)"])
    }

    func unimpaired(_ l: Link) {
        guard !l.owned, l.origin != nil else { return }
        record(["qdisc- \(l.serial)"])
    }

    /// A link of others is as it was again (or gone): nothing to put back.
    func putBack(_ l: Link) {
        l.origin = nil
        touchedBySerial[l.serial] = nil
        record(["moved- \(l.serial)"], settled: true)
    }

    func deleted(_ l: Link) { forget(l) }

    private func forget(_ l: Link, journal: Bool = true) {
        l.markDeleted()
        if live[ObjectIdentifier(l.namespace)]?[l.index] === l { live[ObjectIdentifier(l.namespace)]?[l.index] = nil }
        if l.owned {
            ownedBySerial[l.serial] = nil
            if journal { record(["link- \(l.serial)"], settled: true) }
        } else if l.origin != nil {
            touchedBySerial[l.serial] = nil
            if journal { record(["moved- \(l.serial)"], settled: true) }
        }
    }

    /// Every live link object (for impairments to take off at teardown).
    var liveLinks: [Link] { live.values.flatMap(\.values).filter { !$0.isDeleted } }

    // MARK: The end

    /// Teardown is over (or the lab is kept): the registry is emptied and the
    /// journal removed. Opened namespaces are released.
    /// `keepJournal`: something it lists could not be removed, so the
    /// journal stays (closed and unlocked) for `--clean`.
    func finished(keepJournal: Bool = false) {
        for ns in namespaces where !ns.owned { ns.release() }
        namespaces.removeAll()
        live.removeAll()
        ownedBySerial.removeAll()
        touchedBySerial.removeAll()
        if keepJournal { journal?.keep() } else { journal?.finish() }
        journal = nil
    }
}
