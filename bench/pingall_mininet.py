"""All-pairs ping with Mininet: the star of star_mininet.py, then
net.pingAll(timeout='1'): without a timeout every lost echo waits 10 s.

Mininet's own pingall rows ("h1 -> h2 X h4 ...") go to stdout as they
come, so a run that is stopped still shows how far it got. Prints
"pairs P received R dropped D seconds S" (S: the pingAll alone).
    /usr/bin/python3 -u bench/pingall_mininet.py N
"""
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge


def ip4(i):
    return f"10.0.{i // 250}.{i % 250 + 1}"


def main(n):
    net = Mininet(switch=LinuxBridge, controller=None, build=False, ipBase="10.0.0.0/16")
    s1 = net.addSwitch("s1", inNamespace=True)
    for i in range(1, n + 1):
        net.addLink(net.addHost(f"h{i}", ip=f"{ip4(i)}/16"), s1)
    net.start()

    t0 = time.monotonic()
    loss = net.pingAll(timeout="1")
    seconds = time.monotonic() - t0
    pairs = n * (n - 1)
    dropped = round(loss * pairs / 100)
    print(f"pairs {pairs} received {pairs - dropped} dropped {dropped} seconds {seconds:.3f}")
    net.stop()


setLogLevel("output")
main(int(sys.argv[1]))
