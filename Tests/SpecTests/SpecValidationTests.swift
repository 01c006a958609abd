import Addressing
import Testing
@testable import Spec

/// Each case: a spec fragment and the exact diagnostics it must produce.
@Suite struct Validation {
    static let header = "version: 1\n"

    @Test func unknownKeyWithSuggestion() {
        #expect(problems("""
        version: 1
        networks:
          aislada: {subnett: [{subnet: 172.18.0.0/16}]}
        """) == [
            "3:3: error: network 'aislada' has no 'subnets'; add for example `subnets: [{subnet: 172.18.0.0/16}]`",
            "3:13: error: unknown key 'subnett' in network 'aislada'; did you mean 'subnets'?",
        ])
    }

    @Test func unknownTopLevelKeyListsAllowedWhenNoCloseMatch() {
        #expect(problems("version: 1\nzzzzzzzzzz: 1\n") == [
            "2:1: error: unknown key 'zzzzzzzzzz' in the spec (allowed: version, project, networks, containers, rules, cluster)",
        ])
    }

    @Test func collectsAllErrorsNotJustTheFirst() {
        let p = problems("""
        version: 2
        networks:
          a: {mtu: 67, subnets: [{subnet: 10.0.0.0/33}]}
          b: {mtu: "big", subnets: [{subnet: 10.1.0.0/24, gateway: 10.1.0.255}]}
        """)
        #expect(p == [
            "1:10: error: unsupported spec version 2; this netform reads version 1",
            "3:12: error: 'mtu' in network 'a' must be from 68 to 65535, got 67",
            "3:35: error: invalid subnet '10.0.0.0/33': prefix length '33' must be a number from 0 to 32",
            "4:12: error: 'mtu' in network 'b' must be an integer, got a string",
            "4:60: error: gateway 10.1.0.255 is the broadcast address of 10.1.0.0/24",
        ])
    }

    @Test func missingVersion() {
        #expect(problems("project: x\n") == ["1:1: error: missing key 'version' (add `version: 1` at the top)"])
    }

    @Test func emptyFile() {
        #expect(problems("# nothing\n") == ["1:1: error: the spec is empty; it needs at least `version: 1`"])
    }

    @Test func badProjectNames() {
        #expect(problems("version: 1\nproject: Lab\n") == [
            "2:10: error: project name 'Lab' must be 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
        ])
        #expect(problems("version: 1\n", file: "/tmp/My Lab.yaml") == [
            "1:1: error: the project name defaults to the file name 'My Lab', which is not a valid project name (1-32 characters of a-z, 0-9, '_', '-'); set `project:`",
        ])
    }

    @Test func hostBitsInSubnet() {
        #expect(problems(Self.header + "networks: {a: {subnets: [{subnet: 172.18.0.1/16}]}}\n") == [
            "2:35: error: invalid subnet '172.18.0.1/16': host bits are set; did you mean 172.18.0.0/16?",
        ])
    }

    @Test func gatewayProblems() {
        #expect(problems(Self.header + """
        networks:
          a: {subnets: [{subnet: 10.0.0.0/24, gateway: 10.0.1.1}]}
          b: {subnets: [{subnet: 10.0.2.0/24, gateway: 10.0.2.0}]}
          c: {subnets: [{subnet: 10.0.3.0/24, gateway: nonsense}]}
        """) == [
            "3:48: error: gateway 10.0.1.1 is outside subnet 10.0.0.0/24",
            "4:48: error: gateway 10.0.2.0 is the network address of 10.0.2.0/24",
            "5:48: error: gateway 'nonsense' is not an IP address",
        ])
    }

    @Test func overlappingSubnets() {
        #expect(problems(Self.header + """
        networks:
          a: {subnets: [{subnet: 10.0.0.0/16}]}
          b: {subnets: [{subnet: 10.0.5.0/24}]}
          c: {subnets: [{subnet: 10.1.0.0/24}, {subnet: 10.1.0.128/25}]}
        """) == [
            "4:26: error: subnet 10.0.5.0/24 overlaps 10.0.0.0/16 of network 'a'",
            "5:49: error: subnet 10.1.0.128/25 overlaps 10.1.0.0/24 of another subnet of the same network",
        ])
    }

    @Test func staticAddressProblems() {
        #expect(problems(Self.header + """
        networks:
          n: {subnets: [{subnet: 10.0.0.0/24, aux_addresses: {r: 10.0.0.254}}]}
        containers:
          a: {networks: {n: {ipv4: 10.0.1.5}}}
          b: {networks: {n: {ipv4: 10.0.0.1}}}
          c: {networks: {n: {ipv4: 10.0.0.254}}}
          d: {networks: {n: {ipv4: 10.0.0.9}}}
          e: {networks: {n: {ipv4: 10.0.0.9}}}
          f: {networks: {n: {ipv6: "fd00::1"}}}
          g: {networks: {n: {ipv4: 10.0.0.300}}}
        """) == [
            "5:28: error: address 10.0.1.5 is outside subnet 10.0.0.0/24 of network 'n'",
            "6:28: error: address 10.0.0.1 is the gateway of network 'n'",
            "7:28: error: address 10.0.0.254 is reserved as aux address 'r' of network 'n'",
            "9:28: error: duplicate address 10.0.0.9 on network 'n': container 'd' has it (line 8)",
            "10:28: error: network 'n' has no IPv6 subnet for fd00::1",
            "11:28: error: '10.0.0.300' is not an IPv4 address",
        ])
    }

    @Test func duplicateMACs() {
        #expect(problems(Self.header + """
        networks:
          n: {subnets: [{subnet: 172.17.0.0/16}]}
        containers:
          a: {networks: {n: {ipv4: 172.17.0.2}}}
          b: {networks: {n: {mac: "02:42:ac:11:00:02"}}}
          c: {networks: {n: {mac: "01:00:5e:00:00:01"}}}
          d: {networks: {n: {mac: "02:42:ac:11:00"}}}
        """) == [
            "6:27: error: duplicate MAC 02:42:ac:11:00:02 on network 'n': container 'a' has it too",
            "7:27: error: MAC 01:00:5e:00:00:01 cannot be an interface address (it is multicast)",
            "8:27: error: '02:42:ac:11:00' is not a MAC address (expected six hex pairs, e.g. 02:42:ac:11:00:02)",
        ])
    }

    @Test func deviceNames() {
        #expect(problems(Self.header + """
        networks:
          a: {bridge: br-0123456789abc, subnets: [{subnet: 10.0.0.0/24}]}
          b: {bridge: "br/0", subnets: [{subnet: 10.0.1.0/24}]}
          c: {bridge: docker0, subnets: [{subnet: 10.0.2.0/24}]}
          d: {bridge: docker0, subnets: [{subnet: 10.0.3.0/24}]}
        """) == [
            "3:15: error: bridge name 'br-0123456789abc' is 16 bytes long; the kernel allows at most 15",
            "4:15: error: bridge name 'br/0' contains '/', which the kernel refuses in interface names",
            "6:15: error: bridge name 'docker0' is already used by network 'c'",
        ])
    }

    @Test func unknownReferences() {
        #expect(problems(Self.header + """
        networks:
          backend: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          a: {networks: [backnd]}
          b: {}
        rules:
          - allow: {from: a, to: x}
          - deny: {from: "network:frontend"}
        """) == [
            "5:18: error: unknown network 'backnd' in container 'a'; did you mean 'backend'?",
            "6:3: error: container 'b' has no 'networks', so it joins Docker's default network 'bridge', which this spec does not define; define it or write `networks: []` for loopback only",
            "8:26: error: unknown container 'x' in rule 1",
            "9:18: error: unknown network 'frontend' in rule 2",
        ])
    }

    @Test func vniRules() {
        #expect(problems(Self.header + """
        networks:
          a: {driver: overlay, vni: 4100, subnets: [{subnet: 10.0.0.0/24}]}
          b: {driver: overlay, vni: 4100, subnets: [{subnet: 10.0.1.0/24}]}
          c: {driver: overlay, vni: 0, subnets: [{subnet: 10.0.2.0/24}]}
          d: {vni: 5000, subnets: [{subnet: 10.0.3.0/24}]}
        """) == [
            "4:29: error: duplicate VNI 4100: network 'a' uses it too",
            "5:29: error: 'vni' in network 'c' must be from 1 to 16777215, got 0",
            "6:7: error: 'vni' applies only to driver overlay, not bridge",
        ])
    }

    @Test func internalNetworkCannotPublish() {
        #expect(problems(Self.header + """
        networks:
          db: {internal: true, masquerade: true, subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          pg: {networks: [db], ports: ["5432:5432"]}
        """) == [
            "3:36: warning: 'masquerade' is ignored on an internal network",
            "5:32: error: container 'pg' is only on internal network 'db', so it cannot publish ports",
        ])
    }

    @Test func hostNetworkCannotMix() {
        #expect(problems(Self.header + """
        networks:
          bridge: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          a: {networks: [host, bridge]}
          b: {networks: [host], ports: ["80:80"]}
        """) == [
            "5:18: error: container 'a' uses the host network, which cannot be combined with other networks",
            "6:33: error: container 'b' uses the host network; its ports are already the host's, so 'ports' does nothing",
        ])
    }

    @Test func reservedNetworkNames() {
        #expect(problems(Self.header + "networks:\n  host: {subnets: [{subnet: 10.0.0.0/24}]}\n") == [
            "3:3: error: 'host' is a built-in network (Docker's host); it cannot be defined, only used by containers",
        ])
    }

    @Test func portSyntaxAndClashes() {
        #expect(problems(Self.header + """
        networks:
          bridge: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          a: {ports: ["80", "70000:80", "8080:80/icmp", "1.2.3:80:80", 8080]}
          b: {ports: ["8080:80"]}
          c: {ports: ["127.0.0.1:8080:80"]}
        """) == [
            "5:15: error: invalid port '80': give both ports, HOST_PORT:CONTAINER_PORT (netform does not pick random host ports)",
            "5:21: error: invalid port '70000:80': host port '70000' must be a number from 1 to 65535",
            "5:33: error: invalid port '8080:80/icmp': unknown protocol 'icmp'; expected tcp, udp or sctp",
            "5:49: error: invalid port '1.2.3:80:80': '1.2.3' is not an IPv4 address (IPv6 goes in brackets)",
            "5:64: error: a published port is a string like \"8080:80/tcp\", got a number",
            "7:15: error: host port 8080/tcp on 127.0.0.1 is already published by container 'b'",
        ])
    }

    @Test func ruleShapes() {
        #expect(problems(Self.header + """
        rules:
          - {allow: {}, deny: {}}
          - {}
          - allow: {from: "label:novalue", ports: [80], protocols: [tcp]}
          - deny: {protocols: [icmpp]}
        """) == [
            "3:17: error: rule 1 has both 'allow' and 'deny'; write two rules",
            "4:5: error: rule 2 needs 'allow' or 'deny'",
            "5:19: error: invalid selector 'label:novalue': a label selector is label:KEY=VALUE",
            "5:49: error: rule 3 gives both 'ports' and 'protocols'; ports already name their protocol",
            "6:24: error: unknown protocol 'icmpp'; expected one of tcp, udp, sctp, icmp, icmpv6; did you mean 'icmp'?",
        ])
    }

    @Test func netnsShapes() {
        #expect(problems(Self.header + """
        containers:
          a: {networks: [], netns: {name: x, pid: 3}}
          b: {networks: [], netns: {path: relative/path}}
          c: {networks: [], netns: {pid: 0}}
        """) == [
            "3:38: error: 'netns' takes exactly one of 'name', 'path' or 'pid', not 'name' and 'pid'",
            "4:35: error: namespace path 'relative/path' must be absolute",
            "5:34: error: 'pid' in 'netns' of container 'c' must be from 1 to 2147483647, got 0",
        ])
    }

    @Test func bridgeCapacity() {
        var text = Self.header + "networks:\n  big: {subnets: [{subnet: 10.0.0.0/16}]}\ncontainers:\n"
        for i in 0..<1024 { text += "  c\(i): {networks: [big]}\n" }
        #expect(problems(text) == ["1028:22: error: container 'c1023' would be port 1024 of network 'big' (1024 containers); a Linux bridge holds at most 1023 ports"])
    }

    @Test func addressPoolExhaustion() {
        #expect(problems(Self.header + """
        networks:
          small: {subnets: [{subnet: 10.0.0.0/29, ip_range: 10.0.0.0/30}]}
        containers:
          a: {networks: [small]}
          b: {networks: [small]}
          c: {networks: [small]}
        """) == [
            "7:18: error: no free IPv4 address for container 'c' on network 'small': ip_range 10.0.0.0/30 has 2 free for 3 containers",
        ])
    }

    @Test func wrongTypes() {
        #expect(problems(Self.header + """
        networks: [a, b]
        containers:
          a: {networks: {}, labels: {version: 2}, ports: "80:80"}
        """) == [
            "2:11: error: 'networks' must be a mapping of network names to networks, got a list",
            "4:39: error: value of 'version' in 'labels' must be a string, got a number; quote it",
            "4:50: error: 'ports' in container 'a' must be a list, got a string",
        ])
    }

    @Test func yamlErrorsCarryPositions() {
        #expect(problems("version: 1\nnetworks:\n  a: {x: 1\n") .count == 1)
        #expect(problems("version: 1\nversion: 1\n") == ["2:1: error: duplicate key 'version' (first defined at line 1)"])
    }

    @Test func renderedWithSourceLineAndCaret() {
        let r = load("version: 1\nnetworks:\n  aislada: {subnets: [{subnet: 172.18.0.0/16}], icc: maybe}\n")
        #expect(r.rendered() == [
            """
            lab.yaml:3:54: error: 'icc' in network 'aislada' must be true or false, got a string
             3 |   aislada: {subnets: [{subnet: 172.18.0.0/16}], icc: maybe}
               |                                                      ^
            """,
        ])
        #expect(r.spec == nil, "an invalid spec yields no Spec")
    }

    @Test("the source line under a diagnostic is the line its position counts, whatever ends the lines")
    func renderedLineWithEveryLineEnding() {
        let expected = """
            lab.yaml:3:54: error: 'icc' in network 'aislada' must be true or false, got a string
             3 |   aislada: {subnets: [{subnet: 172.18.0.0/16}], icc: maybe}
               |                                                      ^
            """
        for end in ["\r\n", "\r", "\n"] {
            let r = load("version: 1\(end)networks:\(end)  aislada: {subnets: [{subnet: 172.18.0.0/16}], icc: maybe}\(end)")
            #expect(r.rendered() == [expected], "\(end.unicodeScalars.map { $0.value })")
        }
        // A line separator (U+2028) ends a line for the YAML reader too (here it ends
        // the comment, and what follows it is a key without a value): the line shown
        // is the one the position names.
        let r = load("version: 1\nnetworks: # a comment\u{2028}that goes on\n  aislada: {subnets: [{subnet: 172.18.0.0/16}], icc: maybe}\n")
        let block = r.rendered().first ?? ""
        #expect(block.hasPrefix("lab.yaml:4:") && block.contains("\n 4 |   aislada: {subnets"), "\(block)")
    }
}

/// The `cluster:` section's shape (what its strings mean is the cluster module's:
/// `ClusterSectionTests` in PlanTests).
@Suite struct ClusterSection {
    @Test func isDecodedAsWrittenWithNumbersAsText() throws {
        let spec = try #require(load("""
        version: 1
        cluster:
          store: etcds://10.0.0.1:2379,10.0.0.2
          advertise: eth0
          options: {kv.ttl: 600, kv.timeout: 2.5, kv.cacertfile: /etc/ca.pem}
        """).spec)
        #expect(spec.cluster == ClusterSpec(store: "etcds://10.0.0.1:2379,10.0.0.2", advertise: "eth0",
                                            options: ["kv.ttl": "600", "kv.timeout": "2.5", "kv.cacertfile": "/etc/ca.pem"]))
        #expect(try #require(load("version: 1\n").spec).cluster == nil)
    }

    @Test func shapeMistakesAreErrorsAtTheirPosition() {
        #expect(problems("version: 1\ncluster: {advertise: eth0}\n") == [
            "2:10: error: 'cluster' needs 'store' (etcd://HOST:PORT[,HOST:PORT…], etcds://… or file:/PATH)",
        ])
        #expect(problems("version: 1\ncluster: {store: file:/s.json, advertize: eth0}\n") == [
            "2:32: error: unknown key 'advertize' in 'cluster'; did you mean 'advertise'?",
        ])
        #expect(problems("version: 1\ncluster: {store: file:/s.json, options: [kv.ttl=5]}\n") == [
            "2:41: error: 'options' in 'cluster' must be a mapping of option names (kv.timeout, …) to values, got a list",
        ])
        #expect(problems("version: 1\ncluster: {store: file:/s.json, options: {kv.ttl: true}}\n") == [
            "2:50: error: the value of 'kv.ttl' in 'cluster.options' must be a string or a number, got true/false",
        ])
        #expect(problems("version: 1\ncluster: {store: 2379}\n") == [
            "2:18: error: 'store' in 'cluster' must be a string, got a number",
        ])
        #expect(problems("version: 1\ncluster: {store: file:/s.json, advertise: ''}\n") == [
            "2:43: error: 'advertise' in 'cluster' is empty; give an address or an interface name, or leave it out",
        ])
        #expect(problems("version: 1\ncluster: etcd://h:2379\n") == ["2:10: error: 'cluster' must be a mapping, got a string"])
    }
}

/// Hints that say what was meant.
@Suite struct Hints {
    @Test func yaml11BooleansSayWhatToWrite() {
        #expect(problems("version: 1\nnetworks: {a: {masquerade: no, subnets: [{subnet: 10.1.0.0/24}]}}\n") == [
            "2:28: error: 'masquerade' in network 'a' must be true or false, got a string ('no' is a string in YAML 1.2; write false)",
        ])
    }

    @Test func theMissingSubnetHintProposesAFreeOne() {
        #expect(problems("version: 1\nnetworks:\n  b: {subnets: [{subnet: 172.18.0.0/16}, {subnet: 172.19.0.0/24}]}\n  a: {mtu: 1500}\n") == [
            "4:3: error: network 'a' has no 'subnets'; add for example `subnets: [{subnet: 172.20.0.0/16}]`",
        ])
    }
}

/// `dns`, `dns_search`, `dns_options`, `extra_hosts`: Docker's `--dns`, `--dns-search`,
/// `--dns-option`, `--add-host`.
@Suite struct ResolverSettings {
    @Test func theyAreReadAndCheckedWhereTheyAre() throws {
        #expect(problems("""
        version: 1
        networks:
          n: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          a: {networks: [n], dns: [192.0.2.1, "2001:db8::53", nine], dns_search: [example.org, "bad domain"], dns_options: ["ndots:2", "two words"]}
          b: {networks: [n], extra_hosts: {db.local: 10.0.0.9, "bad host": 10.0.0.8, gw: not-an-ip}}
          c: {netns: {name: legacy}, networks: [n], dns: [192.0.2.1]}
          d: {networks: [host], extra_hosts: {x: 10.0.0.1}}
          e: {networks: [n], dns: 192.0.2.1}
        """) == [
            "5:55: error: invalid nameserver 'nine': an IPv4 or IPv6 address, as `docker run --dns`",
            "5:88: error: invalid search domain 'bad domain': a DNS name (letters, digits and '-', in dot-separated labels)",
            "5:128: error: invalid resolver option 'two words': one word such as ndots:2 or edns0 (resolv.conf(5))",
            "6:56: error: invalid host name 'bad host' in extra_hosts: letters, digits and '-', in dot-separated labels",
            "6:82: error: invalid address 'not-an-ip' for 'gw' in extra_hosts: an IPv4 or IPv6 address",
            "7:45: error: 'dns' needs a namespace netform creates: container 'c' adopts its netns, whose /etc is its own",
            "8:25: error: 'extra_hosts' needs a namespace of the container's own: container 'd' shares the host's network",
            "9:27: error: 'dns' in container 'e' must be a list, got a string",
        ])
        let spec = try #require(load("""
            version: 1
            networks:
              n: {subnets: [{subnet: 10.0.0.0/24}]}
            containers:
              a: {networks: [n], dns: [192.0.2.1], dns_search: [example.org], dns_options: ["ndots:2"], extra_hosts: {db.local: 10.0.0.9}}
            """).spec)
        let a = try #require(spec.container(named: "a"))
        #expect(a.dns == ContainerSpec.DNSSettings(nameservers: [IPAddress("192.0.2.1")!], search: ["example.org"], options: ["ndots:2"]))
        #expect(a.extraHosts == [ContainerSpec.ExtraHost(name: "db.local", address: IPAddress("10.0.0.9")!)])
    }
}
