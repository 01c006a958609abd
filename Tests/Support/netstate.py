#!/usr/bin/env python3
"""Prints the network state of this namespace and every named namespace as one
normalised JSON document, read with iproute2 (`ip -j`, `bridge -j`), independently
of netform. Tests compare dumps taken before and after a scenario.

Fields that change without a real change (interface indexes, counters, address
lifetimes, kernel-assigned IPv6 link-local addresses, carrier state, timers) are
dropped, and everything is sorted, so two dumps are equal exactly when the objects
are. The files under /etc/netns are included as "(etc/netns)" (NAME/FILE: text).
Kept: link flags (administrative ones: UP, NOARP, PROMISC, ...), the interface
group, bridge-port settings (`info_slave_data`: isolated, learning, flood, ...),
static and permanent neighbours (`ip -j neigh`) and static/permanent FDB entries
(`bridge -j fdb`); learned entries and multicast memberships come and go with
traffic and are not state anyone configured.

  netstate.py [--only NS[,NS...]] [--exclude-prefix PREFIX]
"""
import json
import os
import subprocess
import sys

VOLATILE = {"ifindex", "link_index", "link_netnsid", "valid_life_time", "preferred_life_time",
            "stats", "stats64", "min_mtu", "max_mtu", "num_tx_queues", "num_rx_queues",
            "gso_max_size", "gso_max_segs", "gro_max_size", "tso_max_size", "tso_max_segs",
            "gro_ipv4_max_size", "gso_ipv4_max_size", "operstate", "linkmode", "inet6_addr_gen_mode",
            "addr_gen_mode", "parentbus", "parentdev", "proto_down", "qdisc", "txqlen",
            "promiscuity", "allmulti", "carrier_changes", "carrier_up_count", "carrier_down_count",
            "dynamic", "forwarding", "gc_timer", "hello_timer", "tcn_timer",
            "topology_change_timer", "forward_delay_timer", "hold_timer", "message_age_timer",
            "topology_change", "topology_change_detected", "tentative"}


def ip(ns, *args):
    cmd = (["ip", "-n", ns] if ns else ["ip"]) + ["-j", "-d"] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout or "[]")


# Link flags that follow the carrier (a peer coming up, a port joining), not config.
CARRIER_FLAGS = {"LOWER_UP", "NO-CARRIER", "M-DOWN", "DORMANT", "ECHO"}
# Bridge-port settings someone configured (the rest of info_slave_data is STP
# state, timers and ids that the kernel changes on its own).
PORT_SETTINGS = {"isolated", "hairpin", "guard", "root_block", "fastleave", "learning", "flood",
                 "mcast_flood", "bcast_flood", "mcast_to_unicast", "neigh_suppress", "vlan_tunnel",
                 "proxy_arp", "proxy_arp_wifi", "locked", "mab", "mcast_router"}


def bridge(ns, *args):
    cmd = (["bridge", "-n", ns] if ns else ["bridge"]) + ["-j"] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout or "[]")


def clean(value):
    if isinstance(value, dict):
        return {k: clean(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def namespace_state(ns):
    links = clean(ip(ns, "link", "show"))
    for l in links:
        # link/peer names of veths in other namespaces show as ifNN: drop them.
        l.pop("link", None)
        l["flags"] = sorted(f for f in l.get("flags", []) if f not in CARRIER_FLAGS)
        info = l.get("linkinfo", {})
        if "info_slave_data" in info:
            info["info_slave_data"] = {k: v for k, v in info["info_slave_data"].items() if k in PORT_SETTINGS}
    addrs = []
    for entry in ip(ns, "addr", "show"):
        for a in entry.get("addr_info", []):
            if a.get("scope") == "link" and a.get("family") == "inet6":
                continue
            addrs.append({"dev": entry["ifname"], "local": a.get("local"), "prefixlen": a.get("prefixlen")})
    routes = [r for r in clean(ip(ns, "route", "show", "table", "all")) if r.get("table") != "local"]
    routes += [r for r in clean(ip(ns, "-6", "route", "show", "table", "all"))
               if r.get("table") != "local" and not str(r.get("dst", "")).startswith(("fe80", "ff00", "multicast"))]
    # Neighbours someone configured (permanent or noarp); reachable/stale ones come
    # and go with traffic.
    neighbours = []
    for n in ip(ns, "neigh", "show", "nud", "all"):
        state = n.get("state", [])
        # Multicast groups (IGMP/MLD joins) are the kernel's, not configuration.
        if str(n.get("dst", "")).startswith(("224.", "239.", "ff0")):
            continue
        if "PERMANENT" in state or "NOARP" in state:
            neighbours.append({"dev": n.get("dev"), "dst": n.get("dst"), "lladdr": n.get("lladdr"), "state": sorted(state),
                               "proxy": n.get("proxy") is not None})
    # FDB entries someone configured (static, or permanent ones that are not the
    # kernel's multicast memberships of an address); learned ones age out.
    fdb = []
    for e in bridge(ns, "fdb", "show"):
        mac = e.get("mac", "")
        if mac.startswith(("33:33:", "01:00:5e:")):
            continue
        if e.get("state") not in ("permanent", "static") and not e.get("dst"):
            continue
        fdb.append({k: e.get(k) for k in ("mac", "ifname", "master", "state", "dst", "vlan", "flags") if e.get(k) is not None})
    key = lambda x: json.dumps(x, sort_keys=True)
    return {"links": sorted(links, key=lambda l: l.get("ifname", "")),
            "addresses": sorted(addrs, key=key), "routes": sorted(routes, key=key),
            "neighbours": sorted(neighbours, key=key), "fdb": sorted(fdb, key=key)}


def main():
    only = None
    exclude = None
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--only":
            only = set(args.pop(0).split(","))
        elif a == "--exclude-prefix":
            exclude = args.pop(0)
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    names = sorted(n["name"] for n in json.loads(out or "[]"))
    state = {}
    for ns in [""] + names:
        label = ns or "(host)"
        if only is not None and label not in only:
            continue
        if exclude and ns.startswith(exclude):
            continue
        state[label] = namespace_state(ns)
    # The files under /etc/netns (netform's hosts and resolv.conf, and anyone's), read
    # as plain files: "(etc/netns)" maps NAME/FILE to its text.
    if only is None or "(etc/netns)" in only:
        files = {}
        for root, _, names in os.walk("/etc/netns"):
            for name in names:
                path = os.path.join(root, name)
                rel = os.path.relpath(path, "/etc/netns")
                if exclude and rel.startswith(exclude):
                    continue
                with open(path, errors="replace") as f:
                    files[rel] = f.read()
        state["(etc/netns)"] = files
    json.dump(state, sys.stdout, indent=1, sort_keys=True)
    print()


main()
