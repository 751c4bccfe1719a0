import CLuaBridge
import CNetSys
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

// The sandbox first, while the process is still single-threaded (unshare of a
// user namespace requires it). Without root, nslua goes into it by itself.
let rootless = geteuid() != 0
let sandboxed = options.sandbox || rootless
if sandboxed {
    if options.clean {
        fputs("nslua: --clean works on the host's journal: run it as root, without --sandbox\n", stderr)
        exit(ExitStatus.usage.rawValue)
    }
    if rootless && !options.sandbox {
        fputs("nslua: not running as root: using a private sandbox (user, network and mount namespaces); nothing in it is visible on the host\n", stderr)
    }
    var step: UnsafePointer<CChar>?
    if nsys_enter_sandbox(rootless ? 1 : 0, &step) != 0 {
        let e = errno
        let what = step.map { String(cString: $0) } ?? "unshare"
        var message = "nslua: cannot make a sandbox: \(what): \(String(cString: strerror(e)))\n"
        if rootless && (e == EPERM || e == EINVAL || e == ENOSPC || e == EACCES) {
            message += "  Unprivileged user namespaces seem to be disabled on this machine (kernel.unprivileged_userns_clone = 0,\n"
                + "  user.max_user_namespaces = 0, or an AppArmor/SELinux policy). Run nslua as root (sudo nslua ...),\n"
                + "  or allow them: sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000\n"
        }
        fputs(message, stderr)
        exit(ExitStatus.privilege.rawValue)
    }
}

let lab: Lab
do {
    lab = try Lab()
} catch {
    fputs("nslua: cannot open the host network namespace: \(error)\n", stderr)
    exit(ExitStatus.privilege.rawValue)
}
if sandboxed { try? lab.link(named: "lo", in: lab.host)?.up() }

if options.clean {
    exit(clean(lab))
}

// The crash journal (not in the sandbox: everything there dies with nslua).
if !sandboxed {
    let stale = Journal.staleRuns()
    if !stale.isEmpty {
        let names = stale.map(\.summary).filter { !$0.isEmpty }.joined(separator: ", ")
        fputs("nslua: warning: runs that died left objects behind\(names.isEmpty ? "" : " (\(names))"); `nslua --clean` removes them\n", stderr)
    }
    do {
        lab.recorder = try Journal(lab: lab)
    } catch {
        fputs("nslua: warning: no crash journal (\(error)); `nslua --clean` cannot help if this run is killed\n", stderr)
    }
}
lab.keep = options.keep
if options.trace { lab.tracer = { fputs("+ \($0)\n", stderr) } }

let lua = Lua()
let net = NetModule(lua: lua, lab: lab)
Interruption.check = { LuaInterrupt.pending }
signal(SIGPIPE, SIG_IGN)
nslua_install_terminate_handlers()

/// Tears the lab down (with the termination signals held off, so that a
/// second Ctrl-C cannot cut it short) and reports what could not be removed.
func teardown() {
    nslua_block_signals(1)
    fflush(stdout)
    for problem in net.teardown() { fputs("nslua: teardown: \(problem)\n", stderr) }
    nslua_block_signals(0)
}

// os.exit tears down first (Lua's own would skip it).
lua.setGlobal("__nslua_exit", lua.function("exit") { call in
    let code: Int32
    switch try call.value(1) {
    case .nil, .bool(true): code = 0
    case .bool(false): code = 1
    case .integer(let i): code = Int32(truncatingIfNeeded: i)
    default: throw call.typeError(1, "boolean or integer")
    }
    teardown()
    exit(code)
})
_ = try? lua.run("os.exit = __nslua_exit; __nslua_exit = nil", name: "=init")

var runner = Runner(argv: argv, options: options, lua: lua)
var status = runner.run()
if status == .scriptError, let failure = runner.failure, net.privilegeFailures.contains(where: { failure.contains($0) }) {
    status = .privilege   // the script died of a missing privilege or kernel feature
}
teardown()
lua.close()
let signalled = nslua_terminate_signal()
exit(signalled != 0 ? 128 + signalled : status.rawValue)

/// `nslua --clean`: removes what dead runs left, verifying each identity.
func clean(_ lab: Lab) -> Int32 {
    let runs = Journal.staleRuns()
    if runs.isEmpty {
        print("nslua --clean: nothing to clean")
        return 0
    }
    for run in runs {
        let (removed, kept) = Journal.clean(run, lab: lab)
        print("nslua --clean: run \(run.pid): removed \(removed.isEmpty ? "nothing" : removed.joined(separator: ", "))")
        for k in kept { print("nslua --clean: run \(run.pid): left alone \(k)") }
    }
    lab.keep = true   // never tear down what --clean opened
    return 0
}
