import Foundation
import Testing
import TestSupport

/// Every spec in Examples/ applied by the built `netform` in a sandbox of its own and
/// checked with iproute2 and ping (through Tests/Support/ifsummary.py, which prints
/// one line per interface and route), then re-planned (converged) and destroyed
/// (nothing of the project left). `seed.yaml` is covered by ApplyTests.
/// Rules are enforced (multi-network: what they deny is checked with forwarding
/// on); Tests/EndToEndTests/IsolationTests.swift covers the firewall in depth.
func example(_ script: String) throws -> TestSupport.Output {
    try sandboxed("""
    S() { python3 Tests/Support/ifsummary.py "$@"; }
    # ping from inside a namespace (`ip netns` name, or pid:N / path:FILE), for traffic
    # that must get through: retried until a reply comes or the deadline passes
    # (`eventually`, ApplyTests), as a single packet with a fixed -W fails on a loaded
    # machine. Prints "ping NS ARGS ok" or "... FAILED".
    pingfrom() { _ping eventually "$@"; }
    # The same for traffic that must be dropped: one try, never retried into a pass.
    pingonce() { _ping "" "$@"; }
    _ping() {
      local retry=$1 ns=$2; shift 2
      local run
      case $ns in
        pid:*) run=(nsenter -t "${ns#pid:}" -n) ;;
        path:*) run=(nsenter "--net=${ns#path:}") ;;
        *) run=(ip netns exec "$ns") ;;
      esac
      if $retry "${run[@]}" ping "$@" >/dev/null 2>&1; then echo "ping $ns $* ok"; else echo "ping $ns $* FAILED"; fi
    }
    # What is left of a project: links marked netform:PROJECT/ in the host and every
    # named namespace (and in the namespace files given), and PROJECT.* namespaces.
    leftovers() {
      local p=$1; shift
      local n
      n=$(ip -o link show | grep -c "netform:$p/" || true)
      for ns in $(ip netns list | awk '{print $1}'); do
        n=$((n + $(ip -n "$ns" -o link show | grep -c "netform:$p/" || true)))
      done
      for f in "$@"; do n=$((n + $(nsenter "--net=$f" ip -o link show | grep -c "netform:$p/" || true))); done
      n=$((n + $(ip netns list | grep -c "^$p\\\\." || true)))
      echo "leftovers $p: $n"
    }

    """ + script)
}

/// The lines between `== NAME` and the next `== ` line.
func section(_ out: String, _ name: String) -> String {
    guard let start = out.range(of: "== \(name)\n") else { return "" }
    let rest = out[start.upperBound...]
    let end = rest.range(of: "\n== ")?.lowerBound ?? rest.endIndex
    return String(rest[..<end]) + "\n"
}

/// The `ifsummary.py links` line of interface `name` in a section.
func link(_ text: String, _ name: String) -> String {
    text.split(separator: "\n").first { $0.hasPrefix("\(name) ") }.map(String.init) ?? "(no \(name) in:\n\(text))"
}

/// The `ifsummary.py links` line of the host link carrying `alias`, without its
/// hash-derived name and the alias.
func hostLink(_ text: String, alias: String) -> String {
    guard let line = text.split(separator: "\n").first(where: { $0.contains(" alias=\(alias) ") }) else {
        return "(no link with alias \(alias) in:\n\(text))"
    }
    return line.split(separator: " ").dropFirst(2).joined(separator: " ")
}

@Suite struct ExamplesCoverage {
    /// A new example needs a test here (seed.yaml: ApplyTests).
    @Test func everyExampleHasAnApplyTest() throws {
        let dir = TestSupport.repoRoot.appendingPathComponent("Examples").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["cluster.yaml", "dual-stack.yaml", "macvlan.yaml", "multi-network.yaml", "overlay.yaml", "seed.yaml"])
    }
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ExamplesApply {
    @Test func dualStack() throws {
        let r = try example("""
        netform apply --yes Examples/dual-stack.yaml | tail -1
        # Straight after apply, no settling: netform's IPv6 addresses are usable at once
        # (nodad): none is tentative (waiting for DAD) or failed DAD. Checked before the
        # pings, which retry until a deadline and so could outwait a DAD. (The kernel's
        # own link-local addresses do DAD; they are not netform's.)
        echo "== tentative"
        for c in app1 app2 app3 nfs; do
          ip -n dualstack.$c -6 addr show scope global tentative; ip -n dualstack.$c -6 addr show scope global dadfailed
        done; echo "end"
        echo "== ping"
        pingfrom dualstack.app1 -6 -c1 -W2 fd3c:5e71:a2b4:1::20
        pingfrom dualstack.app1 -6 -c1 -W2 fd3c:5e71:a2b4:1:8000::
        pingfrom dualstack.app3 -6 -c1 -W2 fd3c:5e71:a2b4:1::1
        pingfrom dualstack.app2 -6 -c1 -W2 fd3c:5e71:a2b4:2::10
        pingfrom dualstack.nfs -6 -c1 -W2 fd3c:5e71:a2b4:2::3
        pingfrom dualstack.app1 -4 -c1 -W2 10.2.0.129
        pingfrom dualstack.nfs -4 -c1 -W2 10.2.1.2
        echo "== host"; S links -
        for c in app1 app2 app3 nfs; do echo "== $c"; S links dualstack.$c; S routes dualstack.$c; done
        echo "== plan"
        netform plan --detailed-exitcode Examples/dual-stack.yaml >/dev/null && echo "converged"
        echo "== destroy"
        netform destroy --yes Examples/dual-stack.yaml | tail -1
        leftovers dualstack
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("Apply complete: 7 added"))
        #expect(!out.contains("FAILED") && section(out, "ping").components(separatedBy: " ok\n").count == 8, "\(section(out, "ping"))")
        #expect(!out.contains("!tentative") && !out.contains("!dadfailed"), "no address waits for (or failed) DAD")
        #expect(section(out, "tentative") == "end\n", "no address tentative straight after apply: \(section(out, "tentative"))")

        // Both families on the bridges: the gateways.
        let host = section(out, "host")
        #expect(hostLink(host, alias: "netform:dualstack/net/lab")
            .hasPrefix("kind=bridge master=- mtu=1500 state=up addrs=10.2.0.1/24,fd3c:5e71:a2b4:1::1/64 "))
        #expect(hostLink(host, alias: "netform:dualstack/net/storage")
            .hasPrefix("kind=bridge master=- mtu=1500 state=up addrs=10.2.1.1/24,fd3c:5e71:a2b4:2::1/64 "))
        for (ep, net) in [("app1", "lab"), ("app2", "lab"), ("app2", "storage"), ("app3", "lab"), ("app3", "storage"), ("nfs", "storage")] {
            #expect(hostLink(host, alias: "netform:dualstack/ep/\(ep)/\(net)")
                .hasPrefix("kind=veth master=netform:dualstack/net/\(net) mtu=1500 state=up addrs=- "))
        }

        // Containers: static addresses as given; dynamic ones the lowest of each
        // ip_range (10.2.0.128/25, fd3c:5e71:a2b4:1:8000::/65), never an aux address
        // (10.2.0.250, 10.2.0.254, fd3c:5e71:a2b4:1::fe); MACs from the IPv4 address.
        let v6gw = "route v6 default via fd3c:5e71:a2b4:1::1 dev eth0 proto 78\n"
        let v4gw = "route v4 default via 10.2.0.1 dev eth0 proto 78\n"
        let app1 = section(out, "app1")
        #expect(link(app1, "eth0") == "eth0 alias=netform:dualstack/ep/app1/lab kind=veth master=- mtu=1500 state=up addrs=10.2.0.10/24,fd3c:5e71:a2b4:1::10/64 mac=02:42:0a:02:00:0a")
        #expect(app1.hasSuffix(v4gw + v6gw), "IPv4 and IPv6 default routes via the lab gateways:\n\(app1)")
        let app2 = section(out, "app2")
        #expect(link(app2, "eth0") == "eth0 alias=netform:dualstack/ep/app2/lab kind=veth master=- mtu=1500 state=up addrs=10.2.0.128/24,fd3c:5e71:a2b4:1::20/64 mac=02:42:0a:02:00:80")
        #expect(link(app2, "eth1") == "eth1 alias=netform:dualstack/ep/app2/storage kind=veth master=- mtu=1500 state=up addrs=10.2.1.2/24,fd3c:5e71:a2b4:2::2/64 mac=02:42:0a:02:01:02")
        #expect(app2.hasSuffix(v4gw + v6gw), "defaults only via lab (storage is internal):\n\(app2)")
        let app3 = section(out, "app3")
        #expect(link(app3, "eth0") == "eth0 alias=netform:dualstack/ep/app3/lab kind=veth master=- mtu=1500 state=up addrs=10.2.0.129/24,fd3c:5e71:a2b4:1:8000::/64 mac=02:42:0a:02:00:81")
        #expect(link(app3, "eth1") == "eth1 alias=netform:dualstack/ep/app3/storage kind=veth master=- mtu=1500 state=up addrs=10.2.1.3/24,fd3c:5e71:a2b4:2::3/64 mac=02:42:0a:02:01:03")
        #expect(app3.hasSuffix(v4gw + v6gw))
        let nfs = section(out, "nfs")
        #expect(nfs == "eth0 alias=netform:dualstack/ep/nfs/storage kind=veth master=- mtu=1500 state=up addrs=10.2.1.10/24,fd3c:5e71:a2b4:2::10/64 mac=02:00:00:02:01:0a\n",
                "only the internal network: no default route of either family")
        for aux in ["10.2.0.250/", "10.2.0.254/", "fd3c:5e71:a2b4:1::fe/"] {
            #expect(!out.contains(aux))
        }

        #expect(section(out, "plan").contains("converged"))
        #expect(section(out, "destroy").contains("Destroy complete: 0 added, 0 changed, 7 destroyed"))
        #expect(section(out, "destroy").contains("leftovers dualstack: 0"))
    }

    @Test func multiNetwork() throws {
        let r = try example("""
        netform apply --yes Examples/multi-network.yaml | tail -1
        echo "== ping"
        pingfrom shop.web1 -c1 -W2 10.1.0.12
        pingfrom shop.api -c1 -W2 10.1.1.11
        pingfrom shop.web2 -c1 -W2 10.1.1.2
        pingfrom shop.toolbox -c1 -W2 10.1.1.20
        pingfrom shop.postgres -c1 -W2 10.1.2.1
        echo "== blocked"
        sysctl -qw net.ipv4.ip_forward=1
        pingonce shop.proxy -c1 -W1 10.1.0.12
        pingonce shop.web1 -c1 -W1 10.1.1.20
        pingonce shop.api -c1 -W1 10.1.2.3
        pingonce shop.toolbox -c1 -W1 10.1.0.10
        echo "== host"; S links -
        for c in proxy web1 web2 api postgres toolbox; do echo "== $c"; S links shop.$c; S routes shop.$c; done
        echo "== plan"
        netform plan --detailed-exitcode Examples/multi-network.yaml >/dev/null && echo "converged"
        echo "== destroy"
        netform destroy --yes Examples/multi-network.yaml | tail -1
        leftovers shop
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("Apply complete: 10 added"))
        #expect(!section(out, "ping").contains("FAILED") && section(out, "ping").components(separatedBy: " ok\n").count == 6, "\(section(out, "ping"))")
        // What the rules deny (ICMP is no allowed port), with forwarding on.
        #expect(section(out, "blocked").components(separatedBy: " FAILED\n").count == 5 && !section(out, "blocked").contains(" ok"),
                "\(section(out, "blocked"))")

        let host = section(out, "host")
        for (net, gw) in [("frontend", "10.1.0.1/24"), ("backend", "10.1.1.1/24"), ("db", "10.1.2.1/24")] {
            #expect(hostLink(host, alias: "netform:shop/net/\(net)").hasPrefix("kind=bridge master=- mtu=1500 state=up addrs=\(gw) "))
        }
        // Each endpoint's host end is a port of its network's bridge.
        let endpoints = [("proxy", "frontend"), ("web1", "frontend"), ("web1", "backend"), ("web2", "frontend"), ("web2", "backend"),
                         ("api", "backend"), ("api", "db"), ("postgres", "db"), ("toolbox", "backend")]
        for (c, net) in endpoints {
            #expect(hostLink(host, alias: "netform:shop/ep/\(c)/\(net)").hasPrefix("kind=veth master=netform:shop/net/\(net) mtu=1500 state=up "))
        }
        #expect(host.split(separator: "\n").filter { $0.contains("kind=veth") }.count == endpoints.count)

        func ep(_ c: String, _ net: String, _ iface: String, _ addr: String, _ mac: String) -> String {
            "\(iface) alias=netform:shop/ep/\(c)/\(net) kind=veth master=- mtu=1500 state=up addrs=\(addr) mac=\(mac)"
        }
        // Static IPs and MACs as given, interface names from the spec (or eth0, eth1 in order).
        let proxy = section(out, "proxy")
        #expect(proxy == ep("proxy", "frontend", "eth0", "10.1.0.10/24", "02:00:00:01:00:0a") + "\nroute v4 default via 10.1.0.1 dev eth0 proto 78\n")
        for (c, n) in [("web1", "b"), ("web2", "c")] {
            let s = section(out, c)
            #expect(s == [ep(c, "backend", "back0", "10.1.1.1\(n == "b" ? 1 : 2)/24", "02:00:00:01:01:0\(n)"),
                          ep(c, "frontend", "eth0", "10.1.0.1\(n == "b" ? 1 : 2)/24", "02:00:00:01:00:0\(n)"),
                          "route v4 default via 10.1.0.1 dev eth0 proto 78", ""].joined(separator: "\n"))
        }
        // api: backend first (eth0, the default route), then db (eth1, internal: no route through it).
        #expect(section(out, "api") == [ep("api", "backend", "eth0", "10.1.1.20/24", "02:42:0a:01:01:14"),
                                        ep("api", "db", "eth1", "10.1.2.2/24", "02:42:0a:01:02:02"),
                                        "route v4 default via 10.1.1.1 dev eth0 proto 78", ""].joined(separator: "\n"))
        #expect(section(out, "postgres") == ep("postgres", "db", "eth0", "10.1.2.3/24", "02:42:0a:01:02:03") + "\n",
                "only on the internal network: no default route")
        #expect(section(out, "toolbox") == ep("toolbox", "backend", "eth0", "10.1.1.2/24", "02:42:0a:01:01:02")
                + "\nroute v4 default via 10.1.1.1 dev eth0 proto 78\n")

        #expect(section(out, "plan").contains("converged"))
        #expect(section(out, "destroy").contains("Destroy complete: 0 added, 0 changed, 10 destroyed"))
        #expect(section(out, "destroy").contains("leftovers shop: 0"))
    }

    @Test func overlayOnEachHost() throws {
        let r = try example("""
        for h in node1 node2 node3; do
          echo "== $h apply"
          netform apply --yes --host-name $h Examples/overlay.yaml | tail -1
          echo "== $h namespaces"; ip netns list | awk '{print $1}' | sort
          echo "== $h host"; S links -
          for ns in $(ip netns list | awk '{print $1}' | sort); do echo "== $h $ns"; S links $ns; S routes $ns; done
          echo "== $h ping"
          case $h in
            node1) pingfrom swarm.lb -c1 -W2 10.3.0.1 ;;
            node2) pingfrom swarm.web1 -c1 -W2 10.3.1.1 ;;
            node3) pingfrom swarm.cache -c1 -W2 10.3.1.22 ;;
          esac
          echo "== $h plan"
          netform plan --detailed-exitcode --host-name $h Examples/overlay.yaml >/dev/null && echo "converged"
          set +e; netform plan --detailed-exitcode --host-name other Examples/overlay.yaml >/dev/null; echo "other host: exit $?"; set -e
          echo "== $h destroy"
          netform destroy --yes --host-name $h Examples/overlay.yaml | tail -1
          leftovers swarm
        done
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        // Only the containers placed on each host.
        #expect(section(out, "node1 namespaces") == "swarm.lb\n")
        #expect(section(out, "node2 namespaces") == "swarm.web1\n")
        #expect(section(out, "node3 namespaces") == "swarm.cache\nswarm.web2\n")
        for h in ["node1", "node2", "node3"] {
            let host = section(out, "\(h) host")
            // The overlay bridge holds the gateway; the VXLAN device is its port: VNI as
            // given (front) or derived (back), UDP 4789, no learning; MTU 1450 throughout.
            #expect(hostLink(host, alias: "netform:swarm/net/front").hasPrefix("kind=bridge master=- mtu=1450 state=up addrs=10.3.0.1/24 "))
            #expect(hostLink(host, alias: "netform:swarm/net/back").hasPrefix("kind=bridge master=- mtu=1450 state=up addrs=10.3.1.1/24 "))
            let vxlans = host.split(separator: "\n").filter { $0.contains("kind=vxlan") }.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
            #expect(vxlans.count == 2, "\(host)")
            #expect(vxlans.contains { $0.hasPrefix("alias=netform:swarm/net/front kind=vxlan master=netform:swarm/net/front mtu=1450 state=up vni=4100 port=4789 learning=off addrs=- ") })
            #expect(vxlans.contains { $0.hasPrefix("alias=netform:swarm/net/back kind=vxlan master=netform:swarm/net/back mtu=1450 state=up vni=") && $0.contains(" port=4789 learning=off addrs=- ") })
            #expect(!host.contains("kind=veth") || host.split(separator: "\n").filter { $0.contains("kind=veth") }.allSatisfy { $0.contains(" mtu=1450 ") })
            #expect(section(out, "\(h) ping").hasSuffix(" ok\n"), "\(section(out, "\(h) ping"))")
            #expect(section(out, "\(h) plan") == "converged\nother host: exit 2\n", "converged here; another host would build other containers")
            #expect(section(out, "\(h) destroy").contains("Destroy complete:") && section(out, "\(h) destroy").contains("leftovers swarm: 0"))
        }
        func ep(_ c: String, _ net: String, _ iface: String, _ addr: String, _ mac: String) -> String {
            "\(iface) alias=netform:swarm/ep/\(c)/\(net) kind=veth master=- mtu=1450 state=up addrs=\(addr) mac=\(mac)"
        }
        #expect(section(out, "node1 swarm.lb") == ep("lb", "front", "eth0", "10.3.0.2/24", "02:42:0a:03:00:02")
                + "\nroute v4 default via 10.3.0.1 dev eth0 proto 78\n")
        #expect(section(out, "node2 swarm.web1") == [ep("web1", "front", "eth0", "10.3.0.21/24", "02:42:0a:03:00:15"),
                                                     ep("web1", "back", "eth1", "10.3.1.21/24", "02:42:0a:03:01:15"),
                                                     "route v4 default via 10.3.0.1 dev eth0 proto 78", ""].joined(separator: "\n"))
        #expect(section(out, "node3 swarm.web2") == [ep("web2", "front", "eth0", "10.3.0.22/24", "02:42:0a:03:00:16"),
                                                     ep("web2", "back", "eth1", "10.3.1.22/24", "02:42:0a:03:01:16"),
                                                     "route v4 default via 10.3.0.1 dev eth0 proto 78", ""].joined(separator: "\n"))
        #expect(section(out, "node3 swarm.cache") == ep("cache", "back", "eth0", "10.3.1.2/24", "02:42:0a:03:01:02") + "\n",
                "only on the internal overlay: no default route")
    }

    @Test func macvlanWithAnAdoptedNamespace() throws {
        let r = try example("""
        # What the example expects on the host: eth1 and eth1.20 (veths here; this kernel
        # has no 8021q), and the namespace `legacy`, which already has an eth0 of its own.
        ip link add eth1 type veth peer name eth1-peer
        ip link set eth1 up; ip link set eth1-peer up
        ip netns add legacy
        ip link add legacy-h type veth peer name eth0 netns legacy
        ip -n legacy addr add 10.77.0.2/24 dev eth0
        ip -n legacy link set eth0 up; ip -n legacy link set lo up
        echo "== missing parent"
        set +e; netform plan Examples/macvlan.yaml 2>&1; echo "exit $?"; set -e
        ip link add eth1.20 type veth peer name eth1.20-peer
        ip link set eth1.20 up; ip link set eth1.20-peer up
        legacy_before=$(S links legacy; S routes legacy; ip -n legacy -j addr show eth0)
        parents_before=$(S links - | grep '^eth1')
        echo "== apply"
        netform apply --yes Examples/macvlan.yaml | tail -1
        echo "== ping"
        pingfrom lan.gateway-proxy -c1 -W2 192.168.50.192
        pingfrom legacy -c1 -W2 192.168.50.210
        echo "== namespaces"; ip netns list | awk '{print $1}' | sort
        for ns in legacy lan.gateway-proxy lan.sensor1 lan.sensor2; do echo "== $ns"; S links $ns; S routes $ns; done
        echo "== plan"
        netform plan --detailed-exitcode Examples/macvlan.yaml >/dev/null && echo "converged"
        echo "== destroy"
        netform destroy --yes Examples/macvlan.yaml | tail -1
        leftovers lan
        ip netns list | awk '{print $1}' | sort
        [ "$legacy_before" = "$(S links legacy; S routes legacy; ip -n legacy -j addr show eth0)" ] && echo "legacy as before"
        [ "$parents_before" = "$(S links - | grep '^eth1')" ] && echo "parents as before"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(section(out, "missing parent").contains("macvlan parent eth1.20 does not exist on this host (eth0 in namespace lan.sensor1)"))
        #expect(section(out, "missing parent").contains("exit 1"))
        #expect(section(out, "apply").contains("Apply complete: 4 added"))
        #expect(!out.contains("FAILED") && section(out, "ping").components(separatedBy: " ok\n").count == 3, "\(section(out, "ping"))")
        #expect(section(out, "namespaces") == "lan.gateway-proxy\nlan.sensor1\nlan.sensor2\nlegacy\n")

        // The adopted namespace keeps its own eth0; netform's interface is lan0, with a
        // dynamic address: the lowest of ip_range 192.168.50.192/27.
        let legacy = section(out, "legacy")
        #expect(link(legacy, "eth0").hasPrefix("eth0 alias=- kind=veth master=- mtu=1500 state=up addrs=10.77.0.2/24 mac="))
        #expect(link(legacy, "lan0") == "lan0 alias=netform:lan/ep/legacy-app/lan kind=macvlan master=- mtu=1500 state=up mode=bridge parent=eth1 addrs=192.168.50.192/24 mac=02:42:c0:a8:32:c0")
        #expect(legacy.hasSuffix("route v4 default via 192.168.50.1 dev lan0 proto 78\n"))
        #expect(section(out, "lan.gateway-proxy") == "eth0 alias=netform:lan/ep/gateway-proxy/lan kind=macvlan master=- mtu=1500 state=up mode=bridge parent=eth1 addrs=192.168.50.210/24 mac=02:00:00:32:00:d2\nroute v4 default via 192.168.50.1 dev eth0 proto 78\n")
        // No subnets: no addresses, no routes; private mode on the VLAN device.
        #expect(section(out, "lan.sensor1") == "eth0 alias=netform:lan/ep/sensor1/sensors kind=macvlan master=- mtu=1500 state=up mode=private parent=eth1.20 addrs=- mac=02:00:00:14:00:01\n")
        #expect(section(out, "lan.sensor2") == "eth0 alias=netform:lan/ep/sensor2/sensors kind=macvlan master=- mtu=1500 state=up mode=private parent=eth1.20 addrs=- mac=02:00:00:14:00:02\n")

        #expect(section(out, "plan").contains("converged"))
        let destroy = section(out, "destroy")
        #expect(destroy.contains("Destroy complete:") && destroy.contains("leftovers lan: 0"))
        #expect(destroy.contains("leftovers lan: 0\nlegacy\n"), "the adopted namespace survives, netform's own are gone")
        #expect(destroy.contains("legacy as before") && destroy.contains("parents as before"))
    }

    /// Adoption by name, by path (a namespace under /run/netns, and a bind mount
    /// elsewhere) and by PID (a process in a namespace of its own, and one started
    /// with `ip netns exec`): netform puts its veth, address and route there, and
    /// destroy removes only those; every namespace survives.
    @Test func adoptedNamespacesByNamePathAndPID() throws {
        let r = try example("""
        ip netns add legacy
        ip netns add yns
        ip netns add zz
        mkdir -p /run/elsewhere; touch /run/elsewhere/zns; unshare --net=/run/elsewhere/zns true
        unshare --net sleep 300 & solo=$!
        ip netns exec zz sleep 300 & inzz=$!
        trap 'kill $solo $inzz 2>/dev/null || true' EXIT
        # A foreign address in one of them, to show it is left alone.
        ip -n legacy link set lo up; ip -n legacy addr add 10.88.0.1/32 dev lo
        for _ in $(seq 1 100); do [ "$(readlink /proc/$solo/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.01; done
        cat > /run/adopt.yaml <<SPEC
        version: 1
        project: adopt
        networks:
          net: {subnets: [{subnet: 10.9.0.0/24}]}
        containers:
          byname: {netns: {name: legacy}, networks: [net]}
          bypath: {netns: {path: /run/netns/yns}, networks: [net]}
          bybind: {netns: {path: /run/elsewhere/zns}, networks: {net: {interface: nf0}}}
          bypid: {netns: {pid: $solo}, networks: [net]}
          bypid2: {netns: {pid: $inzz}, networks: [net]}
          own: {networks: [net]}
        SPEC
        snapshot() { for ns in legacy yns zz path:/run/elsewhere/zns pid:$solo; do S links $ns; S routes $ns; done; ip -n legacy -j addr show lo; }
        before=$(snapshot)
        echo "== apply"
        netform apply --yes /run/adopt.yaml
        echo "== ping"
        for a in 10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6; do pingfrom adopt.own -c1 -W2 $a; done
        pingfrom pid:$solo -c1 -W2 10.9.0.7
        pingfrom path:/run/elsewhere/zns -c1 -W2 10.9.0.1
        for ns in legacy yns zz path:/run/elsewhere/zns pid:$solo; do echo "== ${ns%%:*}"; S links $ns; S routes $ns; done
        echo "== plan"
        netform plan --detailed-exitcode /run/adopt.yaml >/dev/null && echo "converged"
        echo "== show"
        netform show --json /run/adopt.yaml | python3 -c 'import json,sys; print(" ".join(sorted(n["name"] for n in json.load(sys.stdin)["namespaces"])))' | sed "s#/proc/$solo/#/proc/PID/#"
        echo "== destroy"
        netform destroy --yes /run/adopt.yaml | tail -1
        leftovers adopt /run/elsewhere/zns /proc/$solo/ns/net
        ip netns list | awk '{print $1}' | sort | tr '\\n' ' '; echo
        kill -0 $solo && kill -0 $inzz && echo "processes alive"
        [ "$before" = "$(snapshot)" ] && echo "adopted namespaces as before"
        echo "== process gone"
        # Destroy still works when an adopted namespace has gone away with its process.
        netform apply --yes /run/adopt.yaml | tail -1
        kill $solo; wait $solo 2>/dev/null || true
        # The namespace dies with its process and takes the veth with it, but
        # asynchronously (the kernel's namespace teardown): wait until it has gone, so
        # this is the scenario above and not a race with the teardown.
        for _ in $(seq 1 600); do grep -q 'netform:adopt/ep/bypid/' <(ip -o link show) || break; sleep 0.1; done
        netform destroy --yes /run/adopt.yaml | tail -1
        leftovers adopt /run/elsewhere/zns
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        let apply = section(out, "apply")
        #expect(apply.contains("Apply complete: 8 added"))
        // The path /run/netns/yns and the process in zz are planned under their names.
        #expect(apply.contains("↔ eth0 in yns ") && apply.contains("↔ eth0 in zz "), "\(apply)")
        #expect(!out.contains("FAILED") && section(out, "ping").components(separatedBy: " ok\n").count == 8, "\(section(out, "ping"))")
        func ep(_ c: String, _ iface: String, _ last: Int) -> String {
            let hex = String(format: "%02x", last)
            return "\(iface) alias=netform:adopt/ep/\(c)/net kind=veth master=- mtu=1500 state=up addrs=10.9.0.\(last)/24 mac=02:42:0a:09:00:\(hex)\n"
                + "route v4 default via 10.9.0.1 dev \(iface) proto 78\n"
        }
        #expect(section(out, "legacy") == ep("byname", "eth0", 2))
        #expect(section(out, "yns") == ep("bypath", "eth0", 3))
        #expect(section(out, "path") == ep("bybind", "nf0", 4))
        #expect(section(out, "pid") == ep("bypid", "eth0", 5))
        #expect(section(out, "zz") == ep("bypid2", "eth0", 6))
        #expect(section(out, "plan").contains("converged"))
        #expect(section(out, "show") == "/proc/PID/ns/net /run/elsewhere/zns adopt.own host legacy yns zz\n", "each namespace once")
        let destroy = section(out, "destroy")
        #expect(destroy.contains("Destroy complete:") && destroy.contains("leftovers adopt: 0"))
        #expect(destroy.contains("\nlegacy yns zz \n"), "adopted namespaces survive; adopt.own is gone: \(destroy)")
        #expect(destroy.contains("processes alive") && destroy.contains("adopted namespaces as before"))
        let gone = section(out, "process gone")
        #expect(gone.contains("Apply complete: 8 added") && gone.contains("Destroy complete:") && gone.contains("leftovers adopt: 0"), "\(gone)")
    }
}
