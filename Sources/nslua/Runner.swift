import Glibc
import LuaKit
import NSLua

/// Exit statuses (DESIGN.md, "The command line").
enum ExitStatus: Int32 {
    case ok = 0
    case scriptError = 1
    case usage = 2
    case privilege = 3
}

let version = "nslua 0.2.0"

/// Runs what the command line asks for, in lua.c's order: `arg`, then `-e`/`-l`
/// in order, then the script, then the REPL if asked for (or if there is
/// nothing else and stdin is a terminal).
final class Runner {
    let argv: [String]
    let options: Options
    let lua: Lua
    let net: NetModule
    /// The kind of the error object that ended the run, if one did ("privilege", ...).
    private(set) var failureKind: String?

    init(argv: [String], options: Options, lua: Lua, net: NetModule) {
        self.argv = argv
        self.options = options
        self.lua = lua
        self.net = net
    }

    func run() -> ExitStatus {
        createArgTable()
        setPackagePath()

        for action in options.actions {
            let ok: Bool
            switch action {
            case .execute(let code): ok = attempt { try lua.run(Array(code.utf8), name: "=(command line)", args: []) }
            case .require(let spec): ok = require(spec)
            }
            if !ok { return .scriptError }
        }

        if let script = options.script {
            let scriptArgs = argv[(options.scriptIndex! + 1)...].map(LuaValue.string)
            // luaL_loadfilex, as lua.c: a first line starting with '#' is skipped.
            if !attempt({ try lua.run(file: script == "-" ? nil : script, args: scriptArgs) }) { return .scriptError }
        }

        if options.interactive {
            let (namespaces, bridges) = net.exposeLab()
            if isatty(STDIN_FILENO) != 0 {
                var banner = "\(version) (Lua \(luaVersion)) -- the lab is up"
                var parts: [String] = []
                if !namespaces.isEmpty { parts.append(namespaces.joined(separator: " ") + " (namespaces)") }
                if !bridges.isEmpty { parts.append(bridges.joined(separator: " ") + " (bridges)") }
                if !parts.isEmpty { banner += "; as globals: " + parts.joined(separator: ", ") }
                print(banner + "\nhelp() lists what you can do, Ctrl-D tears the lab down and leaves")
            }
            REPL(lua: lua, net: net).run()
        } else if options.script == nil && options.actions.isEmpty && !options.version {
            if isatty(STDIN_FILENO) != 0 {
                print("\(version) (Lua \(luaVersion)) -- help() lists what you can do; the tutorial: \(tutorialPaths().first ?? "nslua --tutorial")\nCtrl-D leaves, Ctrl-C interrupts")
                REPL(lua: lua, net: net).run()
            } else {
                // As `lua` does: with stdin not a terminal, run it as a script.
                if !attempt({ try lua.run(file: nil, args: []) }) { return .scriptError }
            }
        }
        return .ok
    }

    /// Runs `body`; an error is reported as `nslua: message` (with traceback)
    /// on stderr, and false returned.
    private func attempt(_ body: () throws -> [LuaValue]) -> Bool {
        do {
            _ = try body()
            return true
        } catch {
            failureKind = (error as? LuaStatus)?.kind
            fputs("nslua: \(error.message)\n", stderr)
            fflush(stderr)
            return false
        }
    }

    /// `-l NAME` (global NAME = require "NAME") or `-l g=mod`.
    private func require(_ spec: String) -> Bool {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        let (global, module) = parts.count == 2 ? (parts[0], parts[1]) : (spec, spec)
        let code = "local m = require(...) ; \(global.isEmpty ? "_" : "_G[\(luaQuote(global))]") = m"
        return attempt { try lua.run(Array(code.utf8), name: "=(command line)", args: [.string(module)]) }
    }

    /// `arg` exactly as the standalone `lua` makes it: arg[0] is the script,
    /// arg[1...] its arguments, arg[-n...-1] the interpreter and its options.
    private func createArgTable() {
        let scriptIndex = options.scriptIndex ?? 0
        var table = LuaTable()
        for (i, a) in argv.enumerated() {
            table.hash[.integer(Int64(i - scriptIndex))] = .string(a)
        }
        lua.setGlobal("arg", .table(table))
    }

    /// package.path: the script's folder, NSLUA_PATH, the bundled lua/, then
    /// Lua's default (which has ./?.lua).
    private func setPackagePath() {
        var entries: [String] = []
        if let script = options.script, script != "-" {
            let dir = script.contains("/") ? String(script[..<script.lastIndex(of: "/")!]) : "."
            entries += ["\(dir)/?.lua", "\(dir)/?/init.lua"]
        }
        if let env = getenv("NSLUA_PATH") {
            for item in String(cString: env).split(whereSeparator: { $0 == ";" || $0 == ":" }) where !item.isEmpty {
                entries += item.contains("?") ? [String(item)] : ["\(item)/?.lua", "\(item)/?/init.lua"]
            }
        }
        if let bundled = bundledLuaDirectory() {
            entries += ["\(bundled)/?.lua", "\(bundled)/?/init.lua"]
        }
        let prefix = LuaValue.string(entries.map { $0 + ";" }.joined())
        _ = attempt { try lua.run(Array("package.path = (...) .. package.path".utf8), name: "=(path)", args: [prefix]) }
    }
}

/// The bundled `lua/` folder: beside the build tree (`.build/.../nslua` ->
/// `<repo>/lua`) or under an install prefix (`bin/nslua` -> `share/nslua/lua`).
func bundledLuaDirectory() -> String? {
    var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = buf.withUnsafeMutableBufferPointer { b in
        b.withMemoryRebound(to: CChar.self) { readlink("/proc/self/exe", $0.baseAddress!, $0.count - 1) }
    }
    guard n > 0 else { return nil }
    var dir = String(decoding: buf[0..<n], as: UTF8.self)
    for _ in 0..<5 {
        guard let slash = dir.lastIndex(of: "/") else { break }
        dir = String(dir[..<slash])
        for candidate in ["\(dir)/share/nslua/lua", "\(dir)/lua"] {
            var st = stat()
            if stat(candidate + "/nslua", &st) == 0 { return candidate }
        }
    }
    return nil
}

/// The tutorials (English, then Chinese) beside the bundled lua/: `<repo>/docs`
/// or `share/nslua/docs` (make install copies docs/ there).
func tutorialPaths() -> [String] {
    guard let lua = bundledLuaDirectory(), let slash = lua.lastIndex(of: "/") else { return [] }
    let docs = String(lua[..<slash]) + "/docs"
    return ["tutorial.md", "tutorial.zh.md"].map { "\(docs)/\($0)" }.filter { access($0, R_OK) == 0 }
}

func luaQuote(_ s: String) -> String {
    var out = "\""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += "\\" + String(UnicodeScalar(b))
        case 32..<127: out += String(UnicodeScalar(b))
        default: out += "\\\(b)"
        }
    }
    return out + "\""
}

extension Error {
    var message: String {
        if let s = self as? LuaStatus { return s.message }
        if let u = self as? Options.UsageError { return u.message }
        return "\(self)"
    }
}
