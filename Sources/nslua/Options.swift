/// The command line, parsed the way the standalone `lua` reads it: options
/// first, in order (`-e` and `-l` run in the order given), then the script
/// and its arguments, which go untouched into `arg`.
struct Options: Equatable {
    enum Action: Equatable {
        case execute(String)   // -e CODE
        case require(String)   // -l NAME
    }

    var actions: [Action] = []
    var interactive = false    // -i
    var version = false        // -v / --version
    var help = false           // -h / --help
    var keep = false           // --keep
    var sandbox = false        // --sandbox
    var trace = false          // --trace
    var clean = false          // --clean
    var graph: String?         // --graph FILE
    var tutorial = false
    /// The script: a path, "-" for stdin, or nil.
    var script: String?
    /// Index in argv of the script (arg[0]); everything after is arg[1...].
    var scriptIndex: Int?

    struct UsageError: Error, Equatable {
        let message: String
    }

    static let usage = """
        usage: nslua [options] [script [args...]]
        Runs a network lab written in Lua; with no script, starts the REPL.
          -e CODE     run CODE
          -l NAME     require library NAME (as global NAME)
          -i          enter the REPL after running the script, with the lab still up
          -v          show version information (also --version)
          --keep      leave what the lab made in place at exit
          --sandbox   run inside a private user+network+mount namespace
          --trace     print each primitive as the equivalent iproute2 command
          --clean     remove what runs that died left behind, from the journal
          --graph FILE  draw the lab when the script ends (.dot, .svg or .png)
          --tutorial  print where the tutorial is (English, then Chinese)
          -h, --help  show this help
          --          stop handling options
          -           run stdin as the script
        Exit status: 0 ok, 1 the script raised an error, 2 usage, 3 missing privilege or kernel support.
        """

    static func parse(_ argv: [String]) throws(UsageError) -> Options {
        var o = Options()
        var i = 1
        while i < argv.count {
            let a = argv[i]
            switch a {
            case "--":
                i += 1
                if i < argv.count { o.script = argv[i]; o.scriptIndex = i }
                return o
            case "-":
                o.script = "-"; o.scriptIndex = i
                return o
            case "-i": o.interactive = true
            case "-v", "--version": o.version = true
            case "-h", "--help": o.help = true
            case "--keep": o.keep = true
            case "--sandbox": o.sandbox = true
            case "--trace": o.trace = true
            case "--clean": o.clean = true
            case "--tutorial": o.tutorial = true
            case "--graph":
                i += 1
                guard i < argv.count else { throw UsageError(message: "'--graph' needs a file name (.dot, .svg or .png)") }
                o.graph = argv[i]
            case "-e", "-l":
                // The value may be glued on (`-eCODE`) or the next word.
                i += 1
                guard i < argv.count else { throw UsageError(message: "'\(a)' needs argument") }
                o.actions.append(a == "-e" ? .execute(argv[i]) : .require(argv[i]))
            default:
                if a.hasPrefix("-e") && a.count > 2 {
                    o.actions.append(.execute(String(a.dropFirst(2))))
                } else if a.hasPrefix("-l") && a.count > 2 {
                    o.actions.append(.require(String(a.dropFirst(2))))
                } else if a.hasPrefix("-") {
                    throw UsageError(message: "unrecognized option '\(a)'")
                } else {
                    o.script = a; o.scriptIndex = i
                    return o
                }
            }
            i += 1
        }
        return o
    }
}
