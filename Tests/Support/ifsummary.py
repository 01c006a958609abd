#!/usr/bin/env python3
"""One line per interface, address check and route of a namespace, read with iproute2
(`ip -j -d`), independently of netform; end-to-end tests match these lines.

  ifsummary.py links NS      NAME alias=A kind=K master=M mtu=N state=up|down
                             [mode=M parent=P] [vni=N port=N learning=on|off]
                             addrs=A/P,... mac=M
  ifsummary.py routes NS     route v4|v6 default|DST [via GW] dev D proto P
                             (default routes and netform's proto-78 routes)

NS is `-` for the namespace this runs in, `path:FILE` for a namespace file
(nsenter --net=FILE), `pid:N` for a process's namespace, or an `ip netns` name.
`master` and a macvlan's `parent` are shown as the master's alias when it has one
(netform's bridges are named by a hash), else by name; the parent is looked up in the
namespace this runs in. Addresses are the global ones, sorted, IPv4 first; a
tentative or DAD-failed address is marked `!tentative` / `!dadfailed`. `lo` is left out.
"""
import ipaddress
import json
import subprocess
import sys


def ip(ns, *args):
    if ns == "-":
        prefix = ["ip"]
    elif ns.startswith("path:"):
        prefix = ["nsenter", "--net=" + ns[5:], "ip"]
    elif ns.startswith("pid:"):
        prefix = ["nsenter", "-t", ns[4:], "-n", "ip"]
    else:
        prefix = ["ip", "-n", ns]
    out = subprocess.run(prefix + ["-j", "-d"] + list(args), capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def links(ns):
    here = {l["ifindex"]: l for l in ip("-", "link", "show")}
    entries = ip(ns, "addr", "show")
    by_index = {l["ifindex"]: l for l in entries}

    def label(index, local):
        table = by_index if local else here
        other = table.get(index)
        if other is None:
            return f"if{index}"
        return other.get("ifalias") or other["ifname"]

    for l in sorted(entries, key=lambda l: l["ifname"]):
        if l["ifname"] == "lo":
            continue
        info = l.get("linkinfo", {})
        kind = info.get("info_kind", "-")
        data = info.get("info_data", {})
        master = "-"
        if "master" in l:
            master = next((m.get("ifalias") or m["ifname"] for m in entries if m["ifname"] == l["master"]), l["master"])
        parts = [l["ifname"], f"alias={l.get('ifalias', '-')}", f"kind={kind}", f"master={master}", f"mtu={l['mtu']}",
                 "state=" + ("up" if "UP" in l.get("flags", []) else "down")]
        if kind == "macvlan":
            # The parent lives in another namespace (link_netnsid) or in this one.
            parent = label(l["link_index"], "link_netnsid" not in l) if "link_index" in l else l.get("link", "-")
            parts += [f"mode={data.get('mode')}", f"parent={parent}"]
        if kind == "vxlan":
            parts += [f"vni={data.get('id')}", f"port={data.get('port')}", "learning=" + ("on" if data.get("learning") else "off")]
        addrs = []
        for a in l.get("addr_info", []):
            if a.get("scope") != "global":
                continue
            mark = "".join(f"!{flag}" for flag in ("tentative", "dadfailed") if a.get(flag))
            addrs.append((a["family"] != "inet", ipaddress.ip_address(a["local"]).packed, f"{a['local']}/{a['prefixlen']}{mark}"))
        parts.append("addrs=" + (",".join(x[2] for x in sorted(addrs)) or "-"))
        parts.append(f"mac={l.get('address', '-')}")
        print(" ".join(parts))


def routes(ns):
    for family, flag in (("v4", "-4"), ("v6", "-6")):
        for r in ip(ns, flag, "route", "show"):
            if r.get("dst") != "default" and str(r.get("protocol")) != "78":
                continue
            line = f"route {family} {r['dst']}"
            if "gateway" in r:
                line += f" via {r['gateway']}"
            line += f" dev {r.get('dev', '-')} proto {r.get('protocol')}"
            print(line)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("links", "routes"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    {"links": links, "routes": routes}[sys.argv[1]](sys.argv[2])
