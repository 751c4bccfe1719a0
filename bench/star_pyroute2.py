"""star-N with pyroute2 (see star.lua for the topology).

Every namespace is made and configured with IPRoute(netns=NAME); the ring
ping is iputils ping started inside the host's namespace with
netns.pushns/popns; teardown is netns.remove. Prints "ring OK/N build S ping S" (see star.lua).
    bench/.venv/bin/python bench/star_pyroute2.py N
"""
import subprocess
import sys
import time

from pyroute2 import IPRoute, netns


def ip4(i):
    return f"10.0.{i // 250}.{i % 250 + 1}"


def main(n):
    t0 = time.monotonic()
    sw = IPRoute(netns="sw")  # creates the namespace
    sw.link("add", ifname="br0", kind="bridge")
    br = sw.link_lookup(ifname="br0")[0]
    sw.link("set", index=br, state="up")
    for i in range(1, n + 1):
        with IPRoute(netns=f"h{i}") as h:  # creates the namespace
            sw.link("add", ifname=f"p{i}", kind="veth",
                    peer={"ifname": "eth0", "net_ns_fd": f"h{i}"})
            port = sw.link_lookup(ifname=f"p{i}")[0]
            sw.link("set", index=port, master=br, state="up")
            eth = h.link_lookup(ifname="eth0")[0]
            h.addr("add", index=eth, address=ip4(i), prefixlen=16)
            h.link("set", index=eth, state="up")
            h.link("set", index=h.link_lookup(ifname="lo")[0], state="up")
    sw.close()

    t1 = time.monotonic()
    ok = 0
    for i in range(1, n + 1):
        netns.pushns(f"h{i}")
        try:
            r = subprocess.run(["ping", "-c1", "-W1", "-q", ip4(i % n + 1)],
                               stdout=subprocess.DEVNULL)
        finally:
            netns.popns()
        ok += r.returncode == 0

    t2 = time.monotonic()
    for i in range(1, n + 1):
        netns.remove(f"h{i}")
    netns.remove("sw")
    print(f"ring {ok}/{n} build {t1 - t0:.3f} ping {t2 - t1:.3f}")


main(int(sys.argv[1]))
