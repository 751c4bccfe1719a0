"""Writes RESULTS.md (to stdout) from run.sh's meta file and raw.tsv.

    python3 bench/report.py meta.txt raw.tsv > RESULTS.md

raw.tsv has one line per run: section method n rep status seconds rss_kb
cleanup_s info, where info is key=value words. Medians are over the runs
that finished; a ratio is computed per repetition (method / nslua in the
same repetition), then its median is taken.
"""
import statistics
import sys

NAMES = {
    "nslua": "nslua",
    "bash": "bash, one `ip` per step",
    "ipbatch": "`ip -batch`",
    "pyroute2": "pyroute2 (IPRoute/netns)",
    "mininet": "Mininet (LinuxBridge, no controller)",
}


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    return meta


def read_raw(path):
    runs = []
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 9:
                cols += [""] * (9 - len(cols))
            section, method, n, rep, status, seconds, rss, cleanup, info = cols[:9]
            runs.append({
                "section": section, "method": method, "n": int(n), "rep": int(rep),
                "status": status, "seconds": number(seconds), "rss_kb": number(rss),
                "cleanup": number(cleanup), "info": parse_info(info), "raw_info": info,
            })
    return runs


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def parse_info(text):
    info = {}
    for word in text.split():
        key, _, value = word.partition("=")
        info[key] = value
    return info


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=2, unit=""):
    if value is None:
        return "–"
    return f"{value:.{digits}f}{unit}"


def mb(kb):
    return None if kb is None else kb / 1024


def ratios(runs, method, base, key):
    """Per repetition: key(method run) / key(base run), when both finished."""
    by_rep = {r["rep"]: r for r in runs if r["method"] == base and r["status"] == "ok"}
    out = []
    for r in runs:
        if r["method"] != method or r["status"] != "ok" or r["rep"] not in by_rep:
            continue
        a, b = key(r), key(by_rep[r["rep"]])
        if a is not None and b:
            out.append(a / b)
    return out


def status_note(runs):
    bad = [f"rep {r['rep']}: {r['status']}" for r in runs if r["status"] != "ok"]
    return "; ".join(bad)


def machine(meta):
    return [
        "## Machine",
        "",
        f"- kernel `{meta['kernel']}`, {meta['os']}",
        f"- CPU: {meta['cpu']}, {meta['cores']} cores; memory {meta['memory']}",
        f"- started {meta['started']}, whole run {meta['duration_s']} s: `{meta['command']}`",
        f"- load average at start {meta['load']}, at end {meta.get('load_end', '?')}; other "
        f"processes keeping a core busy (lifetime %CPU ≥ 50) at start: {meta.get('busy_start', '?')}; "
        f"at end: {meta.get('busy_end', '?')}",
        f"- nslua {meta['nslua']}",
        f"- {meta['iproute2']}; {meta['iputils']}; {meta['lua']}; {meta['python']}; "
        f"pyroute2 {meta['pyroute2']} (PyPI); Mininet {meta['mininet']} (Debian)",
        "",
    ]


def star_section(meta, runs):
    n = int(meta["n"])
    runs = [r for r in runs if r["section"] == "star"]
    methods = meta["methods"].split()
    lines = [
        f"## star-{n}: build, ring ping, teardown ({meta['reps']} repetition(s), alternated)",
        "",
        f"{n} namespaces h1..h{n}, each with an eth0 (veth) whose peer is a port of one bridge in a",
        "namespace of its own, addresses in 10.0.0.0/16, everything up; then host i pings host i+1",
        "(one echo, 1 s timeout); then teardown. Time: the whole process, from start to exit. Each",
        "method also clocks its build and its ring ping itself; the rest is its start (interpreter,",
        "imports) and its teardown.",
        "",
        "| method | median s | × nslua (median of per-rep ratios) | build s | ring ping s "
        "| start + teardown s | CPU user s | CPU system s | ring echoes lost, per rep "
        "| peak RSS of largest process, MB | runs not ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        ok = [r for r in mine if r["status"] == "ok"]
        ratio = median(ratios(runs, m, "nslua", lambda r: r["seconds"]))
        lost = []
        for r in mine:
            ring = r["info"].get("ring")
            if ring and "/" in ring:
                got, total = ring.split("/")
                lost.append(str(int(total) - int(got)))
            else:
                lost.append("?")
        build = [number(r["info"].get("build_s", "")) for r in ok]
        ping = [number(r["info"].get("ping_s", "")) for r in ok]
        rest = [r["seconds"] - b - p for r, b, p in zip(ok, build, ping) if b is not None and p is not None]
        user = [number(r["info"].get("user_s", "")) for r in ok]
        system = [number(r["info"].get("sys_s", "")) for r in ok]
        lines.append(
            f"| {NAMES.get(m, m)} | {fmt(median(r['seconds'] for r in ok))} | {fmt(ratio, 1, '×')} "
            f"| {fmt(median(build))} | {fmt(median(ping))} | {fmt(median(rest))} "
            f"| {fmt(median(user))} | {fmt(median(system))} | {', '.join(lost)} | {fmt(mb(median(r['rss_kb'] for r in ok)), 1)} "
            f"| {status_note(mine)} |"
        )
    lines += [
        "",
        "Peak RSS here is GNU time's `%M`: the largest single process of the tree (for bash and",
        "`ip -batch` that is one `ip` or bash; for Mininet its Python). Whole trees: see Memory.",
        "A lost ring echo costs its 1 s timeout. Echoes are lost, whatever the tool, when the machine",
        "is busy with something else: a broadcast (an ARP request) on a 250-port bridge is 250 packets",
        "in one CPU's input backlog, which holds 1000. The ring ping of bash and `ip -batch` is one `ip netns exec`",
        "and one `ping` process per host, the same for both.",
        "CPU user and system: GNU time's `%U` and `%S`, summed over the process and its children",
        "(every `ip` and `ping` of bash and `ip -batch`). System time is the kernel's work on the",
        "method's behalf (making namespaces and links, sending the pings); user time is the",
        "method's own: the most a method could still save by being faster itself (short of",
        "asking the kernel for less). Packets are forwarded in softirq on either core, not always",
        "counted to the process that sent them.",
        "The time ends when the process exits; the kernel may still be freeing namespaces then. The",
        "next run waits until the kernel's namespace count stops falling (the \"cleanup s\" column",
        "of Every run), so no run pays for the one before.",
        "",
    ]
    return lines


def scale_section(meta, runs):
    runs = [r for r in runs if r["section"] == "scale"]
    sizes = sorted({r["n"] for r in runs})
    if len(sizes) < 2:
        return []
    small, big = sizes[0], sizes[-1]
    lines = [
        f"## Growth: nslua's `topo.star(N)`, build and teardown ({meta['reps']} repetition(s), alternated)",
        "",
        "`bench/scale.lua N`: `topo.star(N)` (the bridge in a namespace of its own, brought up after",
        "its ports; each host with an address; everything up), then `net.cleanup()`. No traffic.",
        "",
        "| hosts | whole run median s | build s | teardown s | CPU user s | CPU system s "
        "| peak RSS, MB | runs not ok |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n in sizes:
        mine = [r for r in runs if r["n"] == n]
        ok = [r for r in mine if r["status"] == "ok"]
        def col(key):
            return fmt(median(number(r["info"].get(key, "")) for r in ok))
        lines.append(
            f"| {n} | {fmt(median(r['seconds'] for r in ok))} | {col('build_s')} | {col('teardown_s')} "
            f"| {col('user_s')} | {col('sys_s')} | {fmt(mb(median(r['rss_kb'] for r in ok)), 1)} "
            f"| {status_note(mine)} |")
    by_rep = {}
    for r in runs:
        if r["status"] == "ok":
            by_rep.setdefault(r["rep"], {})[r["n"]] = r
    whole = [d[big]["seconds"] / d[small]["seconds"] for d in by_rep.values() if small in d and big in d]
    work = []
    for d in by_rep.values():
        if small in d and big in d:
            a = [number(d[k]["info"].get(x, "")) for k in (big, small) for x in ("build_s", "teardown_s")]
            if None not in a and a[2] + a[3] > 0:
                work.append((a[0] + a[1]) / (a[2] + a[3]))
    lines += [
        "",
        f"star-{big} against star-{small}, median of per-repetition ratios: whole run "
        f"{fmt(median(whole), 1, '×')}, build + teardown {fmt(median(work), 1, '×')} "
        f"(linear growth would be {big / small:.0f}×).",
        "The whole run includes the start of nslua; neither includes the kernel's freeing of the",
        "namespaces after the process has exited.",
        "",
    ]
    return lines


def memory_section(meta, runs):
    runs = [r for r in runs if r["section"] == "memory"]
    if not runs:
        return []
    lines = [
        "## Memory (one more run of each, its process tree sampled every 0.05 s)",
        "",
        f"star-{meta['n']} as in the first table; nslua at {meta['big_n'] or '–'} hosts is "
        "`bench/scale.lua` (no ring ping).",
        "",
        "| method | hosts | peak RSS of largest process, MB | peak RSS of the tree, MB "
        "| peak PSS of the tree, MB | time of this run, s | ring lost | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        info = r["info"]
        lost = "–" if "ring" not in info else "?"
        if "/" in info.get("ring", ""):
            got, total = info["ring"].split("/")
            lost = str(int(total) - int(got))
        lines.append(
            f"| {NAMES.get(r['method'], r['method'])} | {r['n']} | {fmt(mb(r['rss_kb']), 1)} "
            f"| {fmt(mb(number(info.get('tree_rss_kb', ''))), 1)} "
            f"| {fmt(mb(number(info.get('tree_pss_kb', ''))), 1)} | {fmt(r['seconds'])} | {lost} "
            f"| {r['status']} |"
        )
    lines += [
        "",
        "Tree RSS sums every process's resident pages (pages shared between processes, such as",
        "those of bash, count once per process); PSS shares them out, so it is the fairer sum (it",
        "also shares pages with unrelated processes using the same libraries, so it varies a little",
        "with what else runs on the machine).",
        "Sampling misses peaks shorter than 0.05 s, and these runs are slower than the timed ones.",
    ]
    for r in runs:
        ring = r["info"].get("ring", "")
        if r["n"] > 500 and "/" in ring and ring.split("/")[0] != ring.split("/")[1]:
            got, total = ring.split("/")
            lines.append(
                f"At {total} hosts the ring ping lost {int(total) - int(got)} echoes, each costing its 1 s "
                f"timeout: a ring of {total} hosts needs {2 * int(total)} neighbour entries, more than the "
                "kernel's shared ARP table holds (see All-pairs ping), so most of that run's time is "
                "waiting.")
    lines.append("")
    return lines


def startup_section(meta, runs):
    runs = [r for r in runs if r["section"] == "startup" and r["method"] in ("nslua", "lua5.4")]
    if not runs:
        return ["## Startup", "", "No numbers: the startup run failed.", ""]
    lines = [
        f"## Startup: `nslua -e ''` against `lua5.4 -e ''` ({meta['startup_reps']} runs each, alternated)",
        "",
        "| command | median ms | min ms | × lua5.4 (median of per-run ratios) |",
        "|---|---:|---:|---:|",
    ]
    for m, label in (("lua5.4", "`lua5.4 -e ''`"), ("nslua", "`nslua -e ''`")):
        mine = [r["seconds"] * 1000 for r in runs if r["method"] == m]
        ratio = median(ratios(runs, m, "lua5.4", lambda r: r["seconds"]))
        lines.append(f"| {label} | {fmt(median(mine))} | {fmt(min(mine) if mine else None)} "
                     f"| {fmt(ratio, 1, '×')} |")
    lines += ["", "Time: bash's clock around each run (fork and exec included, for both).", ""]
    return lines


def pingall_section(meta, runs):
    runs = [r for r in runs if r["section"] == "pingall"]
    if not runs:
        return []
    lines = [
        f"## All-pairs ping ({meta['pingall_reps']} repetition(s) of each)",
        "",
        "The same star (without the ring ping), then every host pings every other one: nslua's",
        "`net.pingall(hosts)` against Mininet's `net.pingAll(timeout='1')` (one `ping -c1 -W 1`",
        "after the other, through each host's shell). nslua pings from many sources at once, each",
        "destination asked up to 5 times 0.2 s apart, then 1 s more; in rounds planned to fit the",
        "kernel's shared neighbour table, removing after each round the entries that round made;",
        "pairs that failed while the kernel dropped packets from a full input backlog are tried",
        "once more (\"rounds\" and \"retried\" in Every run).",
        "",
        "| hosts | method | pairs | dropped, per rep | pingall median s | × nslua | whole run median s "
        "| runs not ok |",
        "|---:|---|---:|---|---:|---:|---:|---|",
    ]
    for n in sorted({r["n"] for r in runs}):
        at_n = [r for r in runs if r["n"] == n]
        for m in ("nslua", "mininet"):
            mine = [r for r in at_n if r["method"] == m]
            if not mine:
                continue
            ok = [r for r in mine if r["status"] == "ok"]
            dropped = []
            for r in mine:
                if r["status"] == "ok":
                    dropped.append(r["info"].get("dropped", "?"))
                elif "pairs_tried" in r["info"]:
                    i = r["info"]
                    dropped.append(f"stopped after {fmt(r['seconds'], 0)} s: {i['rows_done']} of {n} "
                                   f"sources done, {i['dropped_so_far']} of {i['pairs_tried']} pairs "
                                   "dropped so far")
                else:
                    dropped.append(r["status"])
            pairs = ok[0]["info"].get("pairs", "?") if ok else str(n * (n - 1))
            ratio = median(ratios(at_n, m, "nslua", lambda r: number(r["info"].get("pingall_s", ""))))
            lines.append(
                f"| {n} | {NAMES.get(m, m)} | {pairs} | {'; '.join(dropped)} "
                f"| {fmt(median(number(r['info'].get('pingall_s', '')) for r in ok))} "
                f"| {fmt(ratio, 1, '×')} | {fmt(median(r['seconds'] for r in ok))} | {status_note(mine)} |"
            )
    lines += [
        "",
        "Drops are recorded as they happened. The kernel's neighbour (ARP) table is shared by all",
        "namespaces and holds at most gc_thresh3 entries (1024 by default, not raisable from inside",
        "a private namespace, and forced garbage collection spares entries younger than 5 s); all",
        "pairs of more than about 30 hosts need more, which is why nslua plans rounds. Mininet,",
        f"pinging one pair at a time, lets old entries age out. Mininet is run up to "
        f"{meta.get('mininet_pingall_max', '100')} hosts only (its 100 take about 12 minutes).",
        "",
    ]
    return lines


def notes(meta):
    lines = ["## What was run, and what was skipped", ""]
    if meta["smoke"] == "1":
        lines.append("- **Smoke run**: every method once at a small size, no thresholds. "
                     "These numbers say nothing about speed.")
    lines += [
        "- Every run had fresh network, mount and pid namespaces of its own (`unshare --net --mount "
        "--propagation private --pid --kill-child --mount-proc`) with a private tmpfs on /run/netns "
        "and /run/nslua, `lo` up, and a read-only /proc/sys (Mininet otherwise raises the host's "
        "global kernel.pty.max; it warns \"Error setting resource limits\" and goes on). The pid "
        "namespace makes sure a stopped run leaves no process behind.",
        f"- Time limits: star {meta['star_timeout']} s, nslua pingall {meta['pingall_timeout']} s, "
        f"Mininet pingall {meta['mininet_pingall_timeout']} s. A run stopped at its limit is "
        "reported as such, not as a number.",
    ]
    if int(meta["pingall_reps"]) < int(meta["reps"]):
        lines.append(f"- Pingall is run {meta['pingall_reps']} time(s) per size and method, not "
                     f"{meta['reps']}: Mininet's takes minutes (set PINGALL_REPS for more).")
    lines += [
        "- Pingall compares only nslua and Mininet (the other tools have no pingall of their own).",
    ]
    if meta["big_n"]:
        lines.append(f"- Growth and {meta['big_n']} hosts are run for nslua only (`bench/scale.lua`).")
    else:
        lines.append("- Growth and the big lab were skipped (BIG_N empty).")
    lines += [
        "- Mininet is Debian's package installed without Open vSwitch; its LinuxBridge switch is put "
        "in a namespace of its own with `inNamespace=True`, like the bridge of the other methods.",
        f"- Nothing of the run was left in the namespace run.sh ran in: {meta['host_clean']}.",
        "",
    ]
    return lines


def raw_section(runs):
    lines = [
        "## Every run",
        "",
        "| section | method | hosts | rep | status | seconds | peak RSS kB | cleanup s | details |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in runs:
        if r["section"] == "startup" and r["method"] != "both":
            continue
        lines.append(
            f"| {r['section']} | {r['method']} | {r['n']} | {r['rep']} | {r['status']} "
            f"| {fmt(r['seconds'], 3)} | {fmt(r['rss_kb'], 0)} | {fmt(r['cleanup'], 1)} "
            f"| {r['raw_info'].replace('|', '/')} |"
        )
    lines += ["", "(The startup runs, one line each, are in raw.tsv.)", ""]
    return lines


def main():
    meta = read_meta(sys.argv[1])
    runs = read_raw(sys.argv[2])
    lines = ["# nslua benchmark results", "",
             "Written by `bench/run.sh`; the raw numbers are in `raw.tsv` beside this file.", ""]
    lines += machine(meta)
    lines += star_section(meta, runs)
    lines += scale_section(meta, runs)
    lines += pingall_section(meta, runs)
    lines += startup_section(meta, runs)
    lines += memory_section(meta, runs)
    lines += notes(meta)
    lines += raw_section(runs)
    print("\n".join(lines))


main()
