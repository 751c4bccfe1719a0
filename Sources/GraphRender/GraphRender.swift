import CGraphviz
import Synchronization

/// What `renderGraph` produces from DOT text.
public enum GraphFormat: String, CaseIterable, Sendable {
    /// The DOT text itself, byte for byte. It is still parsed, so a syntax
    /// error throws just as it would for a picture.
    case dot
    /// An SVG document (Graphviz's core `svg` renderer).
    case svg
    /// A PNG image (Graphviz's `png` device: cairo, else gd).
    case png

    /// The format a file name's extension asks for: `dot` or `gv`, `svg`,
    /// `png` (any case). Anything else throws `GraphRenderError.Stage.format`.
    public init(fileExtension: String) throws(GraphRenderError) {
        switch fileExtension.lowercased() {
        case "dot", "gv": self = .dot
        case "svg": self = .svg
        case "png": self = .png
        default:
            throw GraphRenderError(.format, "unknown graph format \"\(fileExtension)\" (use dot, gv, svg or png)")
        }
    }

    /// Graphviz's `-T` name, nil for the DOT passthrough.
    var graphvizName: String? {
        switch self {
        case .dot: nil
        case .svg: "svg"
        case .png: "png"
        }
    }
}

/// A graph that could not be rendered. `message` is Graphviz's own text
/// where it said something (its "Error: " / "Warning: " prefixes kept).
public struct GraphRenderError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case format     // no such output format (ours or Graphviz's)
        case context    // Graphviz could not be set up
        case parse      // the DOT text is not a graph
        case layout     // the layout engine failed or is missing
        case render     // the renderer failed or is missing
    }
    public let stage: Stage
    public let message: String

    public init(_ stage: Stage, _ message: String) {
        self.stage = stage
        self.message = message
    }

    public var description: String {
        let what = switch stage {
        case .format: "graph format"
        case .context: "graphviz"
        case .parse: "DOT syntax"
        case .layout: "graph layout"
        case .render: "graph rendering"
        }
        return "\(what): \(message)"
    }
}

/// Lays `dot` out with Graphviz's `dot` engine and renders it as `format`,
/// in this process, through libgvc (no `dot` program is run). The engine
/// and renderers are Graphviz plugins, loaded on first use from the list
/// in /usr/lib/<arch>/graphviz/config6a (Debian's libgvc6 ships them).
///
/// Anything Graphviz reports as an error throws, even where Graphviz would
/// draw on with a fallback; its warnings are dropped. Nothing is printed.
///
/// Thread safety: Graphviz keeps process-wide state (the DOT parser, layout
/// globals, the error hook, LC_NUMERIC switched to "C" while it lays out
/// and renders), so calls are serialized by a lock here. Nothing else in
/// the process may call libgvc/libcgraph directly at the same time.
///
/// Graphviz 2.42 (Debian 12) orders subgraphs by the address of their
/// interned name, so clusters can be emitted in another order by a later
/// call in the same process: compare outputs by content, not byte for
/// byte. Its dot layout also leaks a few KB per render of a graph with
/// clusters (internal virtual edges), which no caller can free.
public func renderGraph(dot: String, format: GraphFormat) throws(GraphRenderError) -> [UInt8] {
    try render(dot: dot, layout: "dot", graphvizFormat: format.graphvizName).bytes
}

// MARK: - Graphviz

/// Held around every call into Graphviz.
private let graphviz = Mutex(())

/// One Graphviz context for the process, made on first use and kept: it
/// holds the plugin list read from Graphviz's config file, and Graphviz
/// 2.42 leaks about 3.6 KB of it per context even after gvFreeContext.
/// Touched only while `graphviz` is held.
nonisolated(unsafe) private var context: OpaquePointer?

/// Text that Graphviz reported through its error hook during the current
/// call. Touched only while `graphviz` is held.
nonisolated(unsafe) private var reported = ""

/// Graphviz's error hook: it calls it with "Error" / "Warning", then ": ",
/// then the formatted message; continuation lines come without a prefix.
private let collect: agusererrf = { text in
    if let text { reported += String(cString: text) }
    return 0
}

/// `renderGraph` with the layout engine and Graphviz format named, so tests
/// can reach the "not recognized" paths a missing plugin takes, and with
/// the warnings Graphviz reported (empty if none).
/// `graphvizFormat` nil: parse only and return `dot` unchanged.
func render(dot: String, layout: String, graphvizFormat: String?)
    throws(GraphRenderError) -> (bytes: [UInt8], warnings: String) {
    try graphviz.withLock { _ throws(GraphRenderError) in
        reported = ""
        let previousHook = agseterrf(collect)
        defer {
            agseterrf(previousHook)
            reported = ""
        }

        // gvContext first: it also sets the default node label that the
        // graph read next inherits.
        if context == nil { context = gvContext() }
        guard let gvc = context else {
            throw failure(.context, "could not create a Graphviz context")
        }

        // Each step can fail outright, or report an error and go on with a
        // fallback (a malformed HTML or record label is drawn as plain
        // text): either way it throws here. Warnings alone do not.
        guard let graph = agmemread(dot) else {
            throw failure(.parse, "no graph in the DOT text")
        }
        defer { agclose(graph) }
        if errorReported() { throw failure(.parse, "the DOT text was not read cleanly") }

        guard let graphvizFormat else { return (Array(dot.utf8), reported) }

        let laidOut = gvLayout(gvc, graph, layout) == 0
        // Also after a failed layout: gvFreeLayout leaves a graph that never
        // got layout data alone, and frees what a partial layout made.
        defer { gvFreeLayout(gvc, graph) }
        if !laidOut || errorReported() {
            throw failure(.layout, "layout \"\(layout)\" failed")
        }

        var data: UnsafeMutablePointer<CChar>? = nil
        var length: UInt32 = 0
        guard gvRenderData(gvc, graph, graphvizFormat, &data, &length) == 0, let data else {
            // gvRenderData fails either before allocating (data stays nil)
            // or, from its render step, before writing anything: the buffer
            // is then still the one it allocated, and ours to free.
            if let data { gvFreeRenderData(data) }
            throw failure(.render, "rendering as \"\(graphvizFormat)\" failed")
        }
        defer { gvFreeRenderData(data) }
        if errorReported() { throw failure(.render, "rendering as \"\(graphvizFormat)\" reported an error") }
        return (Array(UnsafeRawBufferPointer(start: data, count: Int(length))), reported)
    }
}

/// Whether Graphviz reported an error (not just a warning) in this call.
private func errorReported() -> Bool {
    reported.split(separator: "\n").contains { $0.hasPrefix("Error") }
}

/// The error for `stage`, with what Graphviz said, or `fallback` if it said
/// nothing.
private func failure(_ stage: GraphRenderError.Stage, _ fallback: String) -> GraphRenderError {
    var text = reported
    while let last = text.last, last.isWhitespace { text.removeLast() }
    return GraphRenderError(stage, text.isEmpty ? fallback : text)
}
