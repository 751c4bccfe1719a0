import Glibc
import LuaKit

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
let status = Runner(argv: argv, options: options, lua: lua).run()
lua.close()
exit(status.rawValue)
