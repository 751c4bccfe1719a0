import CLua
import CLuaBridge
import Glibc
import LuaKit

/// Exit statuses (DESIGN.md, "The command line").
enum ExitStatus: Int32 {
    case ok = 0
    case scriptError = 1
    case usage = 2
    case privilege = 3
}

let version = "nslua 0.1.0"

/// Runs what the command line asks for, in lua.c's order: `arg`, then `-e`/`-l`
/// in order, then the script, then the REPL if asked for (or if there is
/// nothing else and stdin is a terminal).
struct Runner {
    let argv: [String]
    let options: Options
    let lua: Lua
    /// The message of the error that ended the run, if one did.
    private(set) var failure: String?

    mutating func run() -> ExitStatus {
        createArgTable()
        setPackagePath()

        for action in options.actions {
            let ok: Bool
            switch action {
            case .execute(let code): ok = runChunk(Array(code.utf8), name: "=(command line)", args: [])
            case .require(let spec): ok = require(spec)
            }
            if !ok { return .scriptError }
        }

        if let script = options.script {
            let scriptArgs = Array(argv[(options.scriptIndex! + 1)...])
            let code: [UInt8]
            let name: String
            if script == "-" {
                code = readAll(STDIN_FILENO)
                name = "=stdin"
            } else {
                guard let bytes = readFile(script) else {
                    report("cannot open \(script): \(String(cString: strerror(errno)))")
                    return .scriptError
                }
                code = bytes
                name = "@" + script
            }
            if !runChunk(code, name: name, args: scriptArgs) { return .scriptError }
        }

        if options.interactive {
            REPL(lua: lua).run()
        } else if options.script == nil && options.actions.isEmpty && !options.version {
            if isatty(STDIN_FILENO) != 0 {
                print("\(version) (Lua \(luaVersion)) -- Ctrl-D to leave, Ctrl-C to interrupt")
                REPL(lua: lua).run()
            } else {
                // As `lua` does: with stdin not a terminal, run it as a script.
                if !runChunk(readAll(STDIN_FILENO), name: "=stdin", args: []) { return .scriptError }
            }
        }
        return .ok
    }

    /// Compiles and runs one chunk with `args` as `...`. Reports an error as
    /// `nslua: message` (with traceback) on stderr and returns false.
    mutating func runChunk(_ code: [UInt8], name: String, args: [String]) -> Bool {
        do {
            var code = code
            if code.first == UInt8(ascii: "#") {   // skip a #! line, keeping line numbers
                let end = code.firstIndex(of: UInt8(ascii: "\n")) ?? code.endIndex
                code.replaceSubrange(code.startIndex..<end, with: [])
            }
            try lua.load(code, name: name)
            guard let L = lua.L else { return false }
            for a in args { lua.push(.string(a), on: L) }
            let n = try lua.pcall(nargs: Int32(args.count))
            nslua_pop(L, n)
            return true
        } catch {
            report(error.message)
            return false
        }
    }

    /// `-l NAME` (global NAME = require "NAME") or `-l g=mod`.
    private mutating func require(_ spec: String) -> Bool {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        let (global, module) = parts.count == 2 ? (parts[0], parts[1]) : (spec, spec)
        let code = "local m = require(...) ; \(global.isEmpty ? "_" : "_G[\(luaQuote(global))]") = m"
        return runChunk(Array(code.utf8), name: "=(command line)", args: [module])
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
    private mutating func setPackagePath() {
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
        let code = "package.path = (...) .. package.path"
        _ = runChunk(Array(code.utf8), name: "=(path)", args: [entries.map { $0 + ";" }.joined()])
    }

    private mutating func report(_ message: String) {
        failure = message
        fputs("nslua: \(message)\n", stderr)
        fflush(stderr)
    }
}

extension Error {
    var message: String {
        if let s = self as? LuaStatus { return s.message }
        return "\(self)"
    }
}

/// The bundled `lua/` folder: beside the build tree (`.build/.../nslua` ->
/// `<repo>/lua`) or under an install prefix (`bin/nslua` -> `share/nslua/lua`).
func bundledLuaDirectory() -> String? {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    guard n > 0 else { return nil }
    var dir = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
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

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return readAll(fd)
}

func readAll(_ fd: Int32) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n > 0 { out += chunk[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
    }
    return out
}
