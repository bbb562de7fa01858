#!/usr/bin/python3
"""The star of bench/iproute2-star.sh, built with Mininet (Debian's mininet).

One LinuxBridge switch, no controller, N hosts on it, host i's interface eth0 with the
address the other methods give node i (172.16.0.0/16), everything up; then net.stop().
Mininet's way differs from the other methods in two places, as Mininet works: a host is
an unnamed network namespace held by a shell process (mnexec), not a name under
/var/run/netns, and the switch lives in the initial namespace, so its ports are named
there (<prefix>s<i>, the switch <prefix>s) and it gets no address (that would put a route into the host).

Only build (Mininet() to net.start()) and teardown (net.stop()) are timed. Between them
the script checks what it built (N hosts, each in a namespace of its own, N ports on the
bridge, one ping from host 1 to host 2) and after teardown that nothing is left (no link
with the prefix, no shell of its hosts); it exits non-zero if any check fails.
It never runs `mn -c`, which would clean other runs' leftovers too.

With IPV4ONLY=1 in the environment each host turns IPv6 off (net.ipv6.conf.{all,default}.
disable_ipv6=1, one sysctl in its shell) before its link exists, as the other methods do
with it; the switch's ports stay as they are, in the host's namespace, which this script
does not change.

usage: [IPV4ONLY=1] mininet-star.py N PREFIX     (PREFIX + 's' + N must fit an interface name: <= 15 chars)
prints: mininet star n=N build_s=B teardown_s=T
"""

import os
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge


def addr(i):
    return "172.16.%d.%d" % (i // 250, i % 250 + 2)


def links(prefix):
    return [x for x in os.listdir("/sys/class/net") if x.startswith(prefix)]


def build(net, n, prefix, ipv4only):
    sw = net.addSwitch(prefix + "s", dpid="1")
    for i in range(1, n + 1):
        h = net.addHost("%sh%d" % (prefix, i), ip=addr(i) + "/16")
        if ipv4only:
            h.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        net.addLink(h, sw, intfName1="eth0", intfName2="%ss%d" % (prefix, i))  # LinuxBridge enslaves names containing its own
    net.build()
    net.start()


def check(net, n, prefix):
    hosts = net.hosts
    if len(hosts) != n:
        raise SystemExit("mininet-star: %d hosts, want %d" % (len(hosts), n))
    root = os.readlink("/proc/self/ns/net")
    spaces = {os.readlink("/proc/%d/ns/net" % h.pid) for h in hosts}
    if len(spaces) != n or root in spaces:
        raise SystemExit("mininet-star: %d hosts in %d namespaces of their own" % (n, len(spaces - {root})))
    sw = prefix + "s"
    ports = len(os.listdir("/sys/class/net/%s/brif" % sw))
    if ports != n:
        raise SystemExit("mininet-star: %d ports on %s, want %d" % (ports, sw, n))
    what = "%d hosts in %d namespaces, %d ports on %s" % (n, len(spaces), ports, sw)
    if n > 1:
        out = hosts[0].cmd("ping -c1 -W5", addr(2))
        if " 0% packet loss" not in out:
            raise SystemExit("mininet-star: ping %s from %s failed: %s" % (addr(2), addr(1), out))
        what += ", ping %s -> %s ok" % (addr(1), addr(2))
    return what, [h.pid for h in hosts] + [sw_.pid for sw_ in net.switches]


def alive(pids):
    left = []
    for p in pids:
        try:
            os.kill(p, 0)
            left.append(p)
        except ProcessLookupError:
            pass
    return left


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: mininet-star.py N PREFIX")
    n, prefix = int(sys.argv[1]), sys.argv[2]
    if len(prefix + "s" + str(n)) > 15:
        raise SystemExit("mininet-star: prefix %r too long for interface names of N=%d" % (prefix, n))
    if links(prefix):
        raise SystemExit("mininet-star: links with prefix %r exist already" % prefix)
    setLogLevel("error")
    pids, done = [], False
    t0 = time.monotonic()
    net = Mininet(topo=None, switch=LinuxBridge, controller=None, build=False,
                  autoSetMacs=False, autoStaticArp=False, waitConnected=False)
    try:
        build(net, n, prefix, os.environ.get("IPV4ONLY") == "1")
        t1 = time.monotonic()
        what, pids = check(net, n, prefix)
        print("mininet star n=%d check: %s" % (n, what), flush=True)
        t2 = time.monotonic()
        net.stop()
        t3 = time.monotonic()
        done = True
    finally:
        if not done:  # a failed or interrupted build or check: stop what was made
            net.stop()
    time.sleep(0.2)  # the shells exit after their hangup
    left = links(prefix)
    procs = alive(pids)
    if left or procs:
        raise SystemExit("mininet-star: left behind: links %s, processes %s" % (left, procs))
    print("mininet star n=%d build_s=%.4f teardown_s=%.4f" % (n, t1 - t0, t3 - t2))


if __name__ == "__main__":
    main()
