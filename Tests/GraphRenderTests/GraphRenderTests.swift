import XCTest
import Foundation
import Synchronization
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import GraphRender

/// DOT rendered through libgvc in-process: real SVG and PNG content, and
/// Graphviz's own reasons when it refuses.
final class GraphRenderTests: XCTestCase {
    /// Two clusters, five nodes, labelled edges, one label that XML must escape.
    let lab = """
        digraph lab {
            node [shape=box];
            subgraph cluster_ns1 {
                label = "ns1";
                veth0; lo1 [label = "lo"];
            }
            subgraph cluster_ns2 {
                label = "ns2";
                veth1; br0 [label = "br0: mtu<1500 & up"]; lo2 [label = "lo"];
            }
            veth0 -> veth1 [label = "peer"];
            veth1 -> br0 [label = "master"];
        }
        """

    // MARK: SVG

    func testSVGIsXMLWithClustersNodesAndEdgeLabels() throws {
        let svg = try renderGraph(dot: lab, format: .svg)
        let text = String(decoding: svg, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("<?xml"), String(text.prefix(80)))

        // XMLParser rejects mismatched tags and bad entities (XMLDocument
        // recovers from both); neither notices a missing end, hence the
        // suffix check.
        let parser = XMLParser(data: Data(svg))
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(text.hasSuffix("</svg>\n"), String(text.suffix(80)))

        let doc = try XMLDocument(data: Data(svg))
        let root = try XCTUnwrap(doc.rootElement())
        XCTAssertEqual(root.name, "svg")

        // Every drawn label is a <text>, the escaped one decoded back.
        let texts = try doc.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        for label in ["ns1", "ns2", "veth0", "veth1", "br0: mtu<1500 & up", "peer", "master"] {
            XCTAssertTrue(texts.contains(label), "no <text> \(label) in \(texts)")
        }
        XCTAssertEqual(texts.filter { $0 == "lo" }.count, 2, "\(texts)")

        // Graphviz groups what it draws: 2 clusters, 5 nodes, 2 edges.
        func groups(_ cls: String) throws -> Int {
            try doc.nodes(forXPath: "//*[local-name()='g'][@class='\(cls)']").count
        }
        XCTAssertEqual(try groups("cluster"), 2)
        XCTAssertEqual(try groups("node"), 5)
        XCTAssertEqual(try groups("edge"), 2)
    }

    // MARK: PNG

    func testPNGHasSignatureAndPlausibleSize() throws {
        let png = try renderGraph(dot: lab, format: .png)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 33)
        // First chunk: length 13, "IHDR", big-endian width and height.
        XCTAssertEqual(bigEndian(png, 8), 13)
        XCTAssertEqual(String(decoding: png[12..<16], as: UTF8.self), "IHDR")
        let width = bigEndian(png, 16), height = bigEndian(png, 20)
        // Last chunk: IEND.
        XCTAssertEqual(String(decoding: png[(png.count - 8)..<(png.count - 4)], as: UTF8.self), "IEND")

        // The same layout as the SVG: points there, 96 dpi pixels here.
        let svg = String(decoding: try renderGraph(dot: lab, format: .svg), as: UTF8.self)
        let svgWidth = try XCTUnwrap(points(svg, "width")), svgHeight = try XCTUnwrap(points(svg, "height"))
        XCTAssertGreaterThan(svgWidth, 100)
        XCTAssertGreaterThan(svgHeight, 100)
        XCTAssertEqual(Double(width), svgWidth * 96 / 72, accuracy: 3, "png \(width)x\(height), svg \(svgWidth)x\(svgHeight)pt")
        XCTAssertEqual(Double(height), svgHeight * 96 / 72, accuracy: 3, "png \(width)x\(height), svg \(svgWidth)x\(svgHeight)pt")
    }

    // MARK: DOT passthrough

    func testDotFormatReturnsTheTextUnchanged() throws {
        XCTAssertEqual(try renderGraph(dot: lab, format: .dot), Array(lab.utf8))
    }

    // MARK: Errors

    func testSyntaxErrorThrowsGraphvizReason() {
        let broken = "digraph {\n  a -> b;\n  c -> ;\n}\n"
        for format in GraphFormat.allCases {
            XCTAssertThrowsError(try renderGraph(dot: broken, format: format)) { error in
                let error = error as! GraphRenderError
                XCTAssertEqual(error.stage, .parse)
                XCTAssertTrue(error.message.contains("syntax error in line 3"), error.message)
                XCTAssertTrue(error.message.contains("near ';'"), error.message)
                XCTAssertTrue(error.description.hasPrefix("DOT syntax: "), error.description)
            }
        }
    }

    func testEmptyTextThrows() {
        XCTAssertThrowsError(try renderGraph(dot: "", format: .svg)) { error in
            XCTAssertEqual((error as! GraphRenderError).stage, .parse)
        }
    }

    func testRendersAgainAfterASyntaxError() throws {
        XCTAssertThrowsError(try renderGraph(dot: "digraph { a -> b ", format: .svg))
        let svg = String(decoding: try renderGraph(dot: "digraph { x -> y }", format: .svg), as: UTF8.self)
        XCTAssertTrue(svg.contains(">x</text>") && svg.contains(">y</text>"), svg)
    }

    func testUnknownFileExtensionThrows() throws {
        XCTAssertThrowsError(try GraphFormat(fileExtension: "jpeg")) { error in
            let error = error as! GraphRenderError
            XCTAssertEqual(error.stage, .format)
            XCTAssertTrue(error.message.contains("\"jpeg\""), error.message)
        }
        XCTAssertEqual(try GraphFormat(fileExtension: "SVG"), .svg)
        XCTAssertEqual(try GraphFormat(fileExtension: "png"), .png)
        XCTAssertEqual(try GraphFormat(fileExtension: "gv"), .dot)
        XCTAssertEqual(try GraphFormat(fileExtension: "dot"), .dot)
    }

    /// What a missing renderer plugin looks like: Graphviz's reason, thrown.
    func testFormatGraphvizCannotRenderThrows() {
        XCTAssertThrowsError(try render(dot: lab, layout: "dot", graphvizFormat: "nosuch")) { error in
            let error = error as! GraphRenderError
            XCTAssertEqual(error.stage, .render)
            XCTAssertTrue(error.message.contains("renderer for nosuch is unavailable"), error.message)
        }
    }

    /// What a missing layout plugin looks like: Graphviz's reason, thrown.
    func testMissingLayoutEngineThrows() {
        XCTAssertThrowsError(try render(dot: lab, layout: "nosuch", graphvizFormat: "svg")) { error in
            let error = error as! GraphRenderError
            XCTAssertEqual(error.stage, .layout)
            XCTAssertTrue(error.message.contains("Layout type: \"nosuch\" not recognized"), error.message)
            XCTAssertTrue(error.message.contains(" dot "), error.message)   // the list of engines it has
        }
    }

    /// Graphviz reports a malformed HTML label as an error but draws the
    /// node anyway, with the raw text: that still throws.
    func testErrorThatGraphvizRecoversFromStillThrows() {
        XCTAssertThrowsError(try renderGraph(dot: "digraph { a [label=<<b>x</i>>] }", format: .svg)) { error in
            let error = error as! GraphRenderError
            XCTAssertEqual(error.stage, .layout)
            XCTAssertTrue(error.message.contains("mismatched tag"), error.message)
            XCTAssertTrue(error.message.contains("in label of node a"), error.message)
        }
    }

    /// A warning (an unknown arrowhead, drawn as none) does not throw.
    /// (Not every warning will do: Graphviz says some, like an unknown
    /// colour or shape, once per process.)
    func testWarningDoesNotThrow() throws {
        let (bytes, warnings) = try render(dot: "digraph { a -> b [arrowhead=nosuch] }", layout: "dot", graphvizFormat: "svg")
        XCTAssertTrue(warnings.contains("Warning: Arrow type \"nosuch\" unknown"), warnings)
        let svg = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(svg.contains(">a</text>") && svg.contains(">b</text>"), svg)
        XCTAssertEqual(try render(dot: lab, layout: "dot", graphvizFormat: "svg").warnings, "")
    }

    /// Graphviz's messages are captured, not printed to stderr.
    func testErrorsDoNotReachStderr() throws {
        let written = try capturingStderr {
            XCTAssertThrowsError(try renderGraph(dot: "digraph { a -> ; }", format: .svg))
            XCTAssertThrowsError(try render(dot: lab, layout: "nosuch", graphvizFormat: "svg"))
            XCTAssertThrowsError(try render(dot: lab, layout: "dot", graphvizFormat: "nosuch"))
            XCTAssertThrowsError(try renderGraph(dot: "digraph { a [label=<<b>x</i>>] }", format: .png))
            XCTAssertNoThrow(try renderGraph(dot: "digraph { a -> b [arrowhead=nosuch] }", format: .svg))
        }
        XCTAssertEqual(written, "")
    }

    /// Concurrent callers are serialized by the lock: all succeed, alike.
    /// (Compared as sorted lines: Graphviz 2.42 orders subgraphs by the
    /// address of their interned name, so the clusters' <g> blocks may come
    /// in another order from one call to the next in a process.)
    func testConcurrentCallsAllSucceed() throws {
        let lab = self.lab
        func lines(_ svg: [UInt8]) -> [Substring] {
            String(decoding: svg, as: UTF8.self).split(separator: "\n").sorted()
        }
        let expected = lines(try renderGraph(dot: lab, format: .svg))
        let results = Mutex<[Result<[UInt8], GraphRenderError>]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let r = Result { () throws(GraphRenderError) in
                try renderGraph(dot: i.isMultiple(of: 4) ? "digraph { a -> ; }" : lab, format: .svg)
            }
            results.withLock { $0.append(r) }
        }
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, 16)
        XCTAssertEqual(all.filter { (try? $0.get()).map(lines) == expected }.count, 12)
        XCTAssertEqual(all.filter { if case .failure(let e) = $0 { e.stage == .parse } else { false } }.count, 4)
    }

    // MARK: Helpers

    func bigEndian(_ b: [UInt8], _ at: Int) -> UInt32 {
        b[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The value of `<svg name="123pt">`.
    func points(_ svg: String, _ name: String) -> Double? {
        guard let tag = svg.range(of: "<svg"),
              let start = svg.range(of: " \(name)=\"", range: tag.upperBound..<svg.endIndex),
              let end = svg.range(of: "pt\"", range: start.upperBound..<svg.endIndex)
        else { return nil }
        return Double(svg[start.upperBound..<end.lowerBound])
    }

    /// What `body` wrote to file descriptor 2.
    func capturingStderr(_ body: () throws -> Void) throws -> String {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let saved = dup(2)
        fflush(nil)
        dup2(fds[1], 2)
        close(fds[1])
        defer { close(fds[0]) }
        do {
            try body()
        } catch {
            fflush(nil); dup2(saved, 2); close(saved)
            throw error
        }
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
