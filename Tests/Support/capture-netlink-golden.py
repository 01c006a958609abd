#!/usr/bin/env python3
"""Captures the kernel's own rtnetlink dump replies as golden fixtures.

Builds a small, fixed topology with iproute2 (and, for what iproute2 6.1 cannot
set, one raw RTM_NEWADDR carrying IFA_PROTO), then sends the same dump requests
netform's Observe sends (same socket options: NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK,
NETLINK_CAP_ACK) on a plain Python netlink socket and writes every datagram the
kernel answers with, as hex, one datagram per line. Nothing here is encoded by
netform: the bytes under test are the kernel's.

Run it only inside the sandbox (it creates links and a namespace):

    Scripts/sandbox python3 Tests/Support/capture-netlink-golden.py Tests/Fixtures/netlink-golden

Tests/NetlinkTests/GoldenTests.swift and Tests/ObserveTests/GoldenRecordTests.swift
decode the files and assert what a user would see.
"""
import os
import socket
import struct
import subprocess
import sys

if os.environ.get("NETFORM_SANDBOX") != "1":
    sys.exit("capture-netlink-golden: run me inside Scripts/sandbox (I create links and namespaces)")
if len(sys.argv) not in (2, 4):
    sys.exit("usage: capture-netlink-golden.py OUTDIR")
outdir = sys.argv[1] if len(sys.argv) == 2 else sys.argv[2]

SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH = 18, 20, 22, 26, 30
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS, IFA_PROTO = 1, 2, 8, 11
IFA_F_NODAD = 0x02
RTA_TABLE = 15
AF_UNSPEC, AF_INET, AF_INET6, AF_BRIDGE = 0, 2, 10, 7


def ip(*args, netns=None):
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    subprocess.run(cmd, check=True)


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * ((4 - len(data) % 4) % 4)


class Socket:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        for opt in (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_CAP_ACK):
            self.s.setsockopt(SOL_NETLINK, opt, 1)
        self.s.bind((0, 0))
        self.seq = 1

    def send(self, kind, flags, payload):
        self.seq += 1
        self.s.send(struct.pack("=IHHII", 16 + len(payload), kind, flags | NLM_F_REQUEST, self.seq, 0) + payload)
        return self.seq

    def execute(self, kind, flags, payload):
        """A request with NLM_F_ACK; raises on an error ACK."""
        seq = self.send(kind, flags | NLM_F_ACK, payload)
        while True:
            data = self.s.recv(1 << 16)
            length, mtype, _, mseq, _ = struct.unpack_from("=IHHII", data, 0)
            if mtype == NLMSG_ERROR and mseq == seq:
                (err,) = struct.unpack_from("=i", data, 16)
                if err != 0:
                    raise OSError(-err, os.strerror(-err))
                return

    def dump(self, kind, payload):
        """Every datagram of a dump, as received (retried when NLM_F_DUMP_INTR)."""
        for _ in range(10):
            seq = self.send(kind, NLM_F_DUMP, payload)
            datagrams, interrupted, done = [], False, False
            while not done:
                data = self.s.recv(1 << 20)
                datagrams.append(data)
                off = 0
                while off + 16 <= len(data):
                    length, mtype, mflags, mseq, _ = struct.unpack_from("=IHHII", data, off)
                    if mseq != seq:
                        raise RuntimeError("reply to another request")
                    if mflags & NLM_F_DUMP_INTR:
                        interrupted = True
                    if mtype == NLMSG_ERROR:
                        (err,) = struct.unpack_from("=i", data, off + 16)
                        raise OSError(-err, os.strerror(-err))
                    if mtype == NLMSG_DONE:
                        done = True
                    off += (length + 3) & ~3
            if not interrupted:
                return datagrams
        raise RuntimeError("dump interrupted 10 times")


def ifindex(name):
    return socket.if_nametoindex(name)  # this namespace's (the sandbox's /sys is the machine's)


def add_marked_address(nl, dev, family, addr, prefix):
    """RTM_NEWADDR with IFA_PROTO 78 (netform's mark; iproute2 6.1 has no `proto`)."""
    raw = socket.inet_pton(family, addr)
    flags = IFA_F_NODAD if family == socket.AF_INET6 else 0
    payload = struct.pack("=BBBBI", family, prefix, 0, 0, ifindex(dev))
    payload += attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
    payload += attr(IFA_FLAGS, struct.pack("=I", flags)) + attr(IFA_PROTO, struct.pack("=B", 78))
    nl.execute(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, payload)


def write(name, datagrams):
    with open(os.path.join(outdir, name), "w") as f:
        for d in datagrams:
            f.write(d.hex() + "\n")


def dump_links(nl):
    return nl.dump(RTM_GETLINK, struct.pack("=BBHiII", AF_UNSPEC, 0, 0, 0, 0, 0)
                   + attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS)))


if len(sys.argv) == 4:  # --links OUTDIR FILE: the link dump of the namespace this runs in
    write(sys.argv[3], dump_links(Socket()))
    sys.exit(0)

GROUP = "0x4e46a1b2"  # netform's interface-group range 0x4e46xxxx

# The topology (the interface group and aliases are netform's marks for project
# "golden"; the kernel of this machine has no dummy driver, so the "plain link with
# a group and an alias" is a macvlan).
ip("netns", "add", "golden.c1")
ip("link", "add", "br0", "address", "02:4e:46:00:00:01", "mtu", "1400", "group", GROUP, "type", "bridge")
ip("link", "set", "br0", "alias", "netform:golden/net/front", "up")
ip("link", "add", "nfv0", "address", "02:4e:46:00:00:02", "mtu", "1400", "group", GROUP, "type", "veth",
   "peer", "name", "eth0", "address", "02:42:ac:1e:00:02", "group", GROUP, "netns", "golden.c1")
ip("link", "set", "nfv0", "alias", "netform:golden/ep/c1/front", "master", "br0", "up")
ip("link", "set", "nfv0", "type", "bridge_slave", "isolated", "on", "learning", "off")
ip("link", "set", "eth0", "alias", "netform:golden/ep/c1/front", "up", netns="golden.c1")
ip("link", "add", "ul0", "address", "02:00:00:00:00:10", "type", "veth", "peer", "name", "ul1", "address", "02:00:00:00:00:11")
ip("link", "set", "ul0", "up")
ip("link", "set", "ul1", "up")
ip("addr", "add", "192.0.2.1/24", "dev", "ul0")
ip("link", "add", "vx0", "address", "02:4e:46:00:00:03", "mtu", "1450", "group", GROUP, "type", "vxlan", "id", "4100",
   "local", "192.0.2.1", "dstport", "4789", "nolearning", "dev", "ul0")
ip("link", "set", "vx0", "alias", "netform:golden/net/over", "master", "br0", "up")
ip("link", "add", "mv0", "link", "ul0", "address", "02:4e:46:00:00:04", "mtu", "1500", "group", GROUP,
   "type", "macvlan", "mode", "bridge")
ip("link", "set", "mv0", "alias", "netform:golden/net/lan")

nl = Socket()
add_marked_address(nl, "br0", socket.AF_INET, "172.30.0.1", 24)
add_marked_address(nl, "br0", socket.AF_INET6, "fd00:30::1", 64)
ip("route", "add", "10.99.0.0/16", "via", "172.30.0.254", "dev", "br0", "proto", "78")
ip("-6", "route", "add", "fd00:99::/64", "via", "fd00:30::fe", "dev", "br0", "proto", "78")
# Not in the main table: the kernel filters it out of a table-main dump.
ip("route", "add", "10.98.0.0/16", "via", "172.30.0.254", "dev", "br0", "table", "100")
ip("neigh", "add", "172.30.0.9", "lladdr", "02:42:ac:1e:00:09", "dev", "br0", "nud", "permanent")
ip("-6", "neigh", "add", "fd00:30::9", "lladdr", "02:42:ac:1e:00:09", "dev", "br0", "nud", "permanent")
ip("neigh", "add", "172.30.0.10", "lladdr", "02:42:ac:1e:00:0a", "dev", "br0", "nud", "stale")
# The remote VTEPs' underlay neighbours, static (as netform programs them): no ARP
# for them starts between the dumps and iproute2's listing.
ip("neigh", "add", "192.0.2.7", "lladdr", "02:00:00:00:00:07", "dev", "ul0", "nud", "permanent")
ip("neigh", "add", "192.0.2.8", "lladdr", "02:00:00:00:00:08", "dev", "ul0", "nud", "permanent")
subprocess.run(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", "192.0.2.7", "self", "permanent"], check=True)
subprocess.run(["bridge", "fdb", "append", "02:42:0a:0a:00:05", "dev", "vx0", "dst", "192.0.2.8", "self", "permanent"], check=True)

os.makedirs(outdir, exist_ok=True)
# The requests of Sources/Observe/NamespaceReader.swift.
write("links.hex", dump_links(nl))
write("addresses.hex", nl.dump(RTM_GETADDR, struct.pack("=BBBBI", AF_UNSPEC, 0, 0, 0, 0)))
rtmsg_main = struct.pack("=BBBBBBBBI", AF_UNSPEC, 0, 0, 0, 254, 0, 0, 0, 0)
write("routes.hex", nl.dump(RTM_GETROUTE, rtmsg_main + attr(RTA_TABLE, struct.pack("=I", 254))))
write("neighbours.hex", nl.dump(RTM_GETNEIGH, struct.pack("=BBHiHBB", AF_UNSPEC, 0, 0, 0, 0, 0, 0)))
write("fdb-vx0.hex", nl.dump(RTM_GETNEIGH, struct.pack("=BBHiHBB", AF_BRIDGE, 0, 0, ifindex("vx0"), 0, 0, 0)))

# The container's side: eth0 names its peer by index in the host's namespace (by nsid).
subprocess.run(["ip", "netns", "exec", "golden.c1", sys.executable, __file__, "--links", outdir, "links-c1.hex"], check=True)

# What iproute2 says about the same objects, for the tests to compare against.
for name, args in [("ip-links.json", ["-d", "link", "show"]), ("ip-addresses.json", ["addr", "show"]),
                   ("ip-routes.json", ["route", "show", "table", "main"]), ("ip6-routes.json", ["-6", "route", "show", "table", "main"]),
                   ("ip-neighbours.json", ["neigh", "show"])]:
    with open(os.path.join(outdir, name), "w") as f:
        subprocess.run(["ip", "-j"] + args, stdout=f, check=True)
with open(os.path.join(outdir, "bridge-fdb-vx0.json"), "w") as f:
    subprocess.run(["bridge", "-j", "fdb", "show", "dev", "vx0"], stdout=f, check=True)
with open(os.path.join(outdir, "ip-links-c1.json"), "w") as f:
    subprocess.run(["ip", "-n", "golden.c1", "-j", "-d", "link", "show"], stdout=f, check=True)

with open(os.path.join(outdir, "KERNEL"), "w") as f:
    f.write(os.uname().release + "\n")
print(f"captured into {outdir} on kernel {os.uname().release}")
