import GraphRender
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
if options.tutorial {
    let paths = tutorialPaths()
    guard !paths.isEmpty else {
        fputs("nslua: the tutorial is not installed beside this nslua (docs/tutorial.md of the source tree; make install copies it)\n", stderr)
        exit(ExitStatus.usage.rawValue)
    }
    for p in paths { print(p) }
    exit(0)
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
    do {
        try Sandbox.enter(asUser: rootless)
    } catch {
        var message = "nslua: \(error)\n"
        if rootless && error.kind == .privilege {
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
    let (stale, unreadable) = Journal.staleRuns()
    if !stale.isEmpty {
        let names = stale.map(\.summary).filter { !$0.isEmpty }.joined(separator: ", ")
        fputs("nslua: warning: runs that died left objects behind\(names.isEmpty ? "" : " (\(names))"); `nslua --clean` removes them\n", stderr)
    }
    for j in unreadable {
        fputs("nslua: warning: \(j.path): \(j.reason); `nslua --clean` deals with it\n", stderr)
    }
    lab.journal(in: Journal.directory) { error in
        fputs("nslua: warning: no crash journal (\(error)); `nslua --clean` cannot help if this run is killed\n", stderr)
    }
}
lab.keep = options.keep
if options.trace { lab.tracer = { fputs("+ \($0)\n", stderr) } }

/// A script still running seconds after SIGTERM/SIGHUP (its hook removed, a
/// finalizer that loops): the watchdog thread tears down and exits. The main
/// thread is then in Lua code, not in the lab (primitives return at once
/// when a signal is pending).
func stuckAfterSignal(_ sig: Int32) {
    fputs("nslua: the script did not end after \(sig == SIGHUP ? "SIGHUP" : "SIGTERM"); tearing down and exiting\n", stderr)
    finalTeardown()
    _exit(128 + sig)
}
LuaInterrupt.install(grace: 5, onStuck: { stuckAfterSignal($0) })
signal(SIGPIPE, SIG_IGN)
let lua = Lua()
let net = NetModule(lua: lua, lab: lab)
Interruption.check = { LuaInterrupt.pending }

/// Tears the lab down for good (with the termination signals held off, so
/// that a second Ctrl-C cannot cut it short) and reports what went wrong.
/// Once: whoever comes second (main thread, watchdog) waits for the first.
let teardownLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
pthread_mutex_init(teardownLock, nil)
nonisolated(unsafe) var tornDown = false
func finalTeardown() {
    LuaInterrupt.block(true)
    pthread_mutex_lock(teardownLock)
    if !tornDown {
        tornDown = true
        fflush(stdout)
        for problem in net.teardown(final: true) { fputs("nslua: teardown: \(problem)\n", stderr) }
    }
    pthread_mutex_unlock(teardownLock)
    LuaInterrupt.block(false)
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
    finalTeardown()
    exit(code)
})
_ = try? lua.run("os.exit = __nslua_exit; __nslua_exit = nil", name: "=init")

let runner = Runner(argv: argv, options: options, lua: lua, net: net)
var status = runner.run()
if status == .scriptError, let kind = runner.failureKind, kind == "privilege" || kind == "unsupported" {
    status = .privilege   // the script died of a missing privilege or kernel feature
}
if let path = options.graph, !drawGraph(lab, to: path) && status == .ok { status = .scriptError }
// The lab first: Lua's finalizers run no hooks, so one that loops could not
// be interrupted, and nothing must stand between a signal and teardown.
// They run after it (what they try to make fails: the lab is closed), and a
// signal now ends the process at once.
finalTeardown()
LuaInterrupt.exitNow()
let signalled = LuaInterrupt.terminateSignal
if signalled != 0 { _exit(128 + signalled) }
lua.close()
exit(status.rawValue)

/// `nslua --clean`: removes what dead runs left, verifying each identity.
func clean(_ lab: Lab) -> Int32 {
    let (runs, unreadable) = Journal.staleRuns()
    for j in unreadable {
        print("nslua --clean: \(j.path): \(j.reason)" + (Journal.removeIfNothingWasMade(j) ? "; removed" : "; left alone (look at it, then remove it by hand)"))
    }
    if runs.isEmpty && unreadable.isEmpty {
        print("nslua --clean: nothing to clean")
        return 0
    }
    for run in runs {
        let (done, kept) = Journal.clean(run, lab: lab)
        print("nslua --clean: run \(run.pid): removed \(done.isEmpty ? "nothing" : done.joined(separator: ", "))")
        for k in kept { print("nslua --clean: run \(run.pid): left alone \(k)") }
    }
    lab.keep = true   // never tear down what --clean opened
    return 0
}

/// `--graph FILE`: the lab as it is when the script ends, before teardown:
/// DOT text, or a picture rendered in-process by Graphviz's library.
func drawGraph(_ lab: Lab, to path: String) -> Bool {
    do {
        let ext = path.split(separator: ".").last.map(String.init) ?? ""
        let format = try GraphFormat(fileExtension: ext)
        let bytes = try renderGraph(dot: try lab.dot(), format: format)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LabError(.kernel(errno), String(cString: strerror(errno)), path) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { throw LabError(.kernel(errno), String(cString: strerror(errno)), path) }
            done += n
        }
        return true
    } catch {
        fputs("nslua: --graph \(path): \(error)\n", stderr)
        return false
    }
}
