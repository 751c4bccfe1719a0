import Glibc
import LuaKit
import NSLua
import NetLab

setvbuf(stdout, nil, _IOLBF, 0)
let argv = CommandLine.arguments
let options: Options
do {
    options = try Options.parse(argv)
} catch {
    fputs("nslua: \(error.message)\n\(Options.usage)\n", stderr)
    exit(ExitStatus.usage.rawValue)
}
if options.help {
    print(Options.usage)
    exit(0)
}
if options.version {
    print("\(version) (Lua \(luaVersion))")
}

let lua = Lua()
let lab: Lab
do {
    lab = try Lab()
} catch {
    fputs("nslua: cannot open the host network namespace: \(error)\n", stderr)
    exit(ExitStatus.privilege.rawValue)
}
lab.keep = options.keep
if options.trace { lab.tracer = { fputs("+ \($0)\n", stderr) } }
let net = NetModule(lua: lua, lab: lab)
Interruption.check = { LuaInterrupt.pending }
signal(SIGPIPE, SIG_IGN)

/// Tears the lab down once, reporting what could not be removed.
func finish(_ status: ExitStatus) -> Never {
    for problem in net.teardown() { fputs("nslua: teardown: \(problem)\n", stderr) }
    lua.close()
    exit(status.rawValue)
}

// os.exit tears down first (Lua's own would skip it).
lua.setGlobal("__nslua_exit", lua.function { call in
    let code: Int32
    switch try call.value(1) {
    case .nil, .bool(true): code = 0
    case .bool(false): code = 1
    case .integer(let i): code = Int32(truncatingIfNeeded: i)
    default: throw call.typeError(1, "boolean or integer")
    }
    fflush(stdout)
    for problem in net.teardown() { fputs("nslua: teardown: \(problem)\n", stderr) }
    exit(code)
})
_ = try? lua.run("os.exit = __nslua_exit; __nslua_exit = nil", name: "=init")

var status = Runner(argv: argv, options: options, lua: lua).run()
if status == .scriptError && net.privilegeFailure { status = .privilege }
finish(status)
