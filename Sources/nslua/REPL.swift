import CEditLine
import Glibc
import LuaKit
import NSLua

/// The interactive loop, as lua.c's: a line is tried as `return <line>`, then
/// as a statement; a syntax error at <eof> asks for more with the second
/// prompt. Results are printed; errors are printed with their traceback.
final class REPL {
    let lua: Lua
    let net: NetModule
    let interactive: Bool
    private let historyPath: String?

    init(lua: Lua, net: NetModule) {
        self.lua = lua
        self.net = net
        self.interactive = isatty(STDIN_FILENO) != 0
        if let home = getenv("HOME") {
            historyPath = String(cString: home) + "/.nslua_history"
        } else {
            historyPath = nil
        }
        if interactive { setUpLineEditing() }
    }

    /// Reads, evaluates and prints until end of input. Returns when stdin is
    /// closed (Ctrl-D).
    func run() {
        while true {
            switch readStatement() {
            case .compiled(let chunk): evaluate(chunk)
            case .failed(let message): report(message)
            case .dropped: continue
            case .end:
                if interactive { fputs("\n", stdout) }
                fflush(stdout)
                return
            }
        }
    }

    // MARK: Evaluation

    private enum Statement {
        case compiled(LuaValue)   // ready to run
        case failed(String)       // a syntax error that more input cannot fix
        case dropped              // Ctrl-C while it was being typed
        case end
    }

    /// Reads one statement, compiled: `return <line>` first, then the line as
    /// a statement, reading more lines while the error is at <eof>.
    private func readStatement() -> Statement {
        var text: String
        switch readLine(prompt: "nslua> ") {
        case .line(let l): text = l
        case .interrupted: return .dropped
        case .end: return .end
        }
        if text.hasPrefix("=") { text = "return " + text.dropFirst() }   // Lua 5.1 habit
        if let chunk = try? lua.compile("return " + text, name: "=stdin") {
            remember(text)
            return .compiled(chunk)
        }
        while true {
            do {
                let chunk = try lua.compile(text, name: "=stdin")
                remember(text)
                return .compiled(chunk)
            } catch let status {
                guard case .syntax(let message) = status, message.hasSuffix("<eof>") else {
                    remember(text)
                    return .failed(status.message)
                }
                switch readLine(prompt: ">> ") {
                case .line(let more): text += "\n" + more
                case .interrupted: return .dropped   // Ctrl-C drops the unfinished statement
                case .end: return .end
                }
            }
        }
    }

    /// Runs a compiled statement and prints its results.
    private func evaluate(_ chunk: LuaValue) {
        net.interactive = true
        defer { net.interactive = false }
        do {
            try lua.evaluate(chunk)
        } catch {
            report(error.message)
        }
        fflush(stdout)
    }

    private func report(_ message: String) {
        fputs("nslua: \(message)\n", stderr)
        fflush(stderr)
    }

    // MARK: Line input

    private enum Input {
        case line(String)
        case interrupted   // Ctrl-C: the line (and any unfinished statement) is dropped
        case end           // Ctrl-D or end of input
    }

    private func readLine(prompt: String) -> Input {
        if LuaInterrupt.terminateSignal != 0 { return .end }   // SIGTERM/SIGHUP: leave, tearing down
        guard interactive else {
            // Not a terminal: plain lines, no prompts (as `lua -` reads stdin).
            return Swift.readLine(strippingNewline: true).map(Input.line) ?? .end
        }
        let line = CEditLine.readline(prompt)
        defer { free(line) }
        if REPL.interruptedAtPrompt {
            REPL.interruptedAtPrompt = false
            fputs("^C\n", stdout)
            fflush(stdout)
            return .interrupted
        }
        guard let line else { return .end }
        return .line(String(cString: line))
    }

    private func remember(_ text: String) {
        guard interactive, !text.isEmpty else { return }
        add_history(text)
        if let historyPath {
            _ = write_history(historyPath)
            chmod(historyPath, 0o600)
        }
    }

    // MARK: libedit

    nonisolated(unsafe) static var current: REPL?
    nonisolated(unsafe) static var interruptedAtPrompt = false
    /// Characters to hand to libedit before reading the terminal again (the rest of a unique completion).
    nonisolated(unsafe) static var typeAhead: [UInt8] = []

    /// One byte of the terminal; nil at end of input, Ctrl-C (the line is
    /// dropped) or SIGTERM/SIGHUP (the REPL ends, tearing down).
    static func readByte() -> UInt8? {
        var c: UInt8 = 0
        while true {
            let n = Glibc.read(STDIN_FILENO, &c, 1)
            if n == 1 { return c }
            if n < 0 && errno == EINTR {
                if LuaInterrupt.terminateSignal != 0 { return nil }
                if LuaInterrupt.take() != 0 {
                    REPL.interruptedAtPrompt = true
                    return nil
                }
                continue
            }
            return nil
        }
    }

    private func setUpLineEditing() {
        REPL.current = self
        rl_readline_name = UnsafePointer(strdup("nslua"))
        rl_basic_word_break_characters = UnsafePointer(strdup(" \t\n\"\\'><=;+-*/%^~#&|{}()[],"))
        rl_catch_signals = 0
        // libedit works in wide characters: a UTF-8 locale, and whole code
        // points from the function below (it takes each int as one character).
        if setlocale(LC_CTYPE, "") == nil || String(cString: nl_langinfo(nl_item(CODESET))) != "UTF-8" {
            setlocale(LC_CTYPE, "C.UTF-8")
        }
        rl_getc_function = { _ in
            if !REPL.typeAhead.isEmpty { return Int32(REPL.typeAhead.removeFirst()) }
            guard let first = REPL.readByte() else { return EOF }
            // A UTF-8 sequence, decoded (anything malformed: U+FFFD).
            let more = first < 0x80 ? 0 : first >= 0xF0 && first < 0xF8 ? 3 : first >= 0xE0 ? 2 : first >= 0xC0 ? 1 : -1
            guard more >= 0 else { return 0xFFFD }
            var code = more == 0 ? Int32(first) : Int32(first) & (0x3F >> more)
            for _ in 0..<more {
                guard let b = REPL.readByte() else { return EOF }
                guard b & 0xC0 == 0x80 else { return 0xFFFD }
                code = code << 6 | Int32(b & 0x3F)
            }
            return code
        }
        rl_attempted_completion_function = { text, _, _ in
            rl_attempted_completion_over = 1
            guard let text, let repl = REPL.current else { return nil }
            let word = String(cString: text)
            let matches = repl.lua.completions(for: word)
            guard !matches.isEmpty else { return nil }
            // One match: the rest of it is typed for the user (libedit rings
            // the bell after any completion it makes itself, even a unique one).
            if matches.count == 1, matches[0].hasPrefix(word) {
                REPL.typeAhead += Array(matches[0].utf8.dropFirst(word.utf8.count))
                return nil
            }
            // readline's contract, all malloc'd: [common prefix, match..., NULL]
            // (libedit reads two entries past the first, so two NULLs end it).
            let entries = [commonPrefix(matches)] + matches
            let slots = entries.count + 2
            let list = malloc(MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * slots)!
                .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: slots)
            for i in 0..<slots { list[i] = i < entries.count ? strdup(entries[i]) : nil }
            return list
        }
        stifle_history(1000)
        if let historyPath { _ = read_history(historyPath) }
    }
}

func commonPrefix(_ words: [String]) -> String {
    guard var prefix = words.first else { return "" }
    for w in words.dropFirst() {
        while !w.hasPrefix(prefix) { prefix.removeLast() }
    }
    return prefix
}
