#!/usr/bin/python3
"""The star of bench/iproute2-star.sh, built with pyroute2 (Debian's python3-pyroute2).

A bridge br0 (172.16.0.1/16) in namespace <prefix>lab and N namespaces <prefix>1..N, each
joined to the bridge by a veth whose inner end is eth0 with an address in 172.16.0.0/16,
everything up; then every namespace deleted. The steps are the article's (create the pair
in the lab, enslave, up, move the peer, rename it eth0, up, address, lo up); what differs
is how pyroute2 reaches a namespace:

  netns   pyroute2.NetNS: a proxy process per namespace, requests piped to it
  pushns  pyroute2.netns.pushns/popns: this process enters the namespace, opens an
          IPRoute socket there (the socket stays in it) and comes back

Only build and teardown are timed. Between them the script checks what it built (N+1
namespaces with the prefix, N ports on br0, a TCP connect from node 1 to node 2) and after
teardown that nothing with the prefix is left; it exits non-zero if any check fails.

With IPV4ONLY=1 in the environment IPv6 is turned off in every namespace before its
interfaces exist (net.ipv6.conf.{all,default}.disable_ipv6=1, written from inside it after
pushns), as the other methods do with it.

usage: [IPV4ONLY=1] pyroute2-star.py N PREFIX [netns|pushns]
prints: pyroute2-<mode> star n=N build_s=B teardown_s=T
"""

import os
import socket
import sys
import time

from pyroute2 import IPRoute, NetNS, netns


def addr(i):
    return "172.16.%d.%d" % (i // 250, i % 250 + 2)


IPV4ONLY = os.environ.get("IPV4ONLY") == "1"


def disable_ipv6():
    for key in ("all", "default"):
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % key, "w") as f:
            f.write("1")


def open_ns(mode, name):
    """Create namespace name and return a netlink handle inside it."""
    if mode == "netns":
        ns = NetNS(name, flags=os.O_CREAT)
        if IPV4ONLY:
            netns.pushns(name)
            try:
                disable_ipv6()
            finally:
                netns.popns()
        return ns
    netns.create(name)
    netns.pushns(name)
    try:
        if IPV4ONLY:
            disable_ipv6()
        return IPRoute()
    finally:
        netns.popns()


def one(ipr, **kw):
    return ipr.link_lookup(**kw)[0]


def build(mode, n, prefix):
    lab = open_ns(mode, prefix + "lab")
    lab.link("set", index=one(lab, ifname="lo"), state="up")
    lab.link("add", ifname="br0", kind="bridge")
    br = one(lab, ifname="br0")
    lab.addr("add", index=br, address="172.16.0.1", prefixlen=16)
    lab.link("set", index=br, state="up")
    for i in range(1, n + 1):
        name = "%s%d" % (prefix, i)
        ns = open_ns(mode, name)
        try:
            v, p = "v%d" % i, "v%dp" % i
            lab.link("add", ifname=v, kind="veth", peer=p)
            lab.link("set", index=one(lab, ifname=v), master=br, state="up")
            lab.link("set", index=one(lab, ifname=p), net_ns_fd=name)
            e = one(ns, ifname=p)
            ns.link("set", index=e, ifname="eth0")
            ns.link("set", index=e, state="up")
            ns.link("set", index=one(ns, ifname="lo"), state="up")
            ns.addr("add", index=e, address=addr(i), prefixlen=16)
        finally:
            ns.close()
    return lab


def teardown(lab, n, prefix):
    lab.close()
    for i in range(1, n + 1):
        netns.remove("%s%d" % (prefix, i))
    netns.remove(prefix + "lab")


def mine(prefix):
    return [x for x in netns.listnetns() if x == prefix + "lab" or (x.startswith(prefix) and x[len(prefix):].isdigit())]


def sock_in(name):
    netns.pushns(name)
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        netns.popns()


def check(lab, n, prefix):
    got = len(mine(prefix))
    if got != n + 1:
        raise SystemExit("pyroute2-star: %d namespaces with prefix %r, want %d" % (got, prefix, n + 1))
    br = one(lab, ifname="br0")
    ports = sum(1 for link in lab.get_links() if link.get_attr("IFLA_MASTER") == br)
    if ports != n:
        raise SystemExit("pyroute2-star: %d ports on br0, want %d" % (ports, n))
    # node 1 connects to node 2 (or to the bridge's address if N is 1); the listener
    # needs no accept: the kernel completes the handshake into the backlog.
    to, target = (prefix + "2", addr(2)) if n > 1 else (prefix + "lab", "172.16.0.1")
    srv, cli = sock_in(to), sock_in(prefix + "1")
    try:
        srv.bind((target, 0))
        srv.listen(1)
        cli.settimeout(5)
        cli.connect((target, srv.getsockname()[1]))
    finally:
        cli.close()
        srv.close()
    return "%d namespaces, %d ports on br0, TCP %s -> %s ok" % (got, ports, addr(1), target)


def main():
    if len(sys.argv) < 3 or sys.argv[3:] not in ([], ["netns"], ["pushns"]):
        raise SystemExit("usage: [IPV4ONLY=1] pyroute2-star.py N PREFIX [netns|pushns]")
    n, prefix = int(sys.argv[1]), sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "netns"
    if mine(prefix):
        raise SystemExit("pyroute2-star: namespaces with prefix %r exist already" % prefix)
    done = False
    try:
        t0 = time.monotonic()
        lab = build(mode, n, prefix)
        t1 = time.monotonic()
        print("pyroute2-%s star n=%d check: %s" % (mode, n, check(lab, n, prefix)), flush=True)
        t2 = time.monotonic()
        teardown(lab, n, prefix)
        t3 = time.monotonic()
        done = True
    finally:
        if not done:  # a failed build or check: remove what was made
            for name in mine(prefix):
                netns.remove(name)
    left = mine(prefix)
    if left:
        raise SystemExit("pyroute2-star: left behind: %s" % " ".join(left))
    print("pyroute2-%s star n=%d build_s=%.4f teardown_s=%.4f" % (mode, n, t1 - t0, t3 - t2))


if __name__ == "__main__":
    main()
