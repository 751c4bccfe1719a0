"""Peak memory of a process tree, sampled: memsample.py ROOT [INTERVAL]

Every INTERVAL seconds (default 0.05) sums VmRSS and Pss over the
descendants of ROOT (not ROOT itself: run.sh passes GNU time's pid) until
ROOT has exited, then prints "tree_rss_kb=R tree_pss_kb=P samples=K".
RSS counts pages shared by several processes once per process; PSS divides
them among the processes that share them.
"""
import os
import sys
import time


def parents():
    """pid -> parent pid, for every process we can see."""
    result = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        result[int(name)] = int(fields[1])
    return result


def descendants(root):
    children = {}
    for pid, ppid in parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def memory(pid):
    """(rss_kb, pss_kb) of one process, 0s if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def main():
    root = int(sys.argv[1])
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    peak_rss = peak_pss = samples = 0
    while alive(root):
        rss = pss = 0
        for pid in descendants(root):
            r, p = memory(pid)
            rss += r
            pss += p
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        samples += 1
        time.sleep(interval)
    print(f"tree_rss_kb={peak_rss} tree_pss_kb={peak_pss} samples={samples}")


main()
