"""star-N with Mininet's Python API (see star.lua for the topology).

One LinuxBridge switch in a namespace of its own (inNamespace=True), no
controller, hosts with the same addresses as the other methods. The ring
ping is Mininet's host.cmd('ping ...'); teardown is net.stop().
Prints "ring OK/N build S ping S" (see star.lua).
    /usr/bin/python3 bench/star_mininet.py N
"""
import re
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge


def ip4(i):
    return f"10.0.{i // 250}.{i % 250 + 1}"


def main(n):
    t0 = time.monotonic()
    net = Mininet(switch=LinuxBridge, controller=None, build=False, ipBase="10.0.0.0/16")
    s1 = net.addSwitch("s1", inNamespace=True)
    hosts = [net.addHost(f"h{i}", ip=f"{ip4(i)}/16") for i in range(1, n + 1)]
    for h in hosts:
        net.addLink(h, s1)
    net.start()

    t1 = time.monotonic()
    ok = 0
    for i, h in enumerate(hosts, start=1):
        out = h.cmd(f"ping -c1 -W1 -q {ip4(i % n + 1)}")
        ok += re.search(r"\b1 received", out) is not None

    t2 = time.monotonic()
    net.stop()
    print(f"ring {ok}/{n} build {t1 - t0:.3f} ping {t2 - t1:.3f}")


setLogLevel("warning")
main(int(sys.argv[1]))
