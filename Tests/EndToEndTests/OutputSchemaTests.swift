import Foundation
import Testing
import TestSupport

/// Every JSON netform prints matches its published schema (Schemas/), checked by
/// python3-jsonschema for every example: `plan --json` (and `show PLANFILE --json`),
/// `show --json`, `network inspect`, `validate --format json` (valid and invalid files).
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct OutputSchemas {
    @Test func everyJSONOutputOfEveryExampleMatchesItsSchema() throws {
        let r = try sandboxed("""
        # What the examples expect on the host: macvlan.yaml's parents eth1 and eth1.20
        # and its adopted namespace `legacy` with an eth0 of its own; cluster.yaml's
        # advertise interface eth0 with an IPv4 address.
        ip link add eth1 type veth peer name eth1-peer; ip link set eth1 up; ip link set eth1-peer up
        ip link add eth1.20 type veth peer name eth1.20-peer; ip link set eth1.20 up; ip link set eth1.20-peer up
        ip netns add legacy
        ip link add legacy-h type veth peer name eth0 netns legacy
        ip -n legacy addr add 10.77.0.2/24 dev eth0; ip -n legacy link set eth0 up; ip -n legacy link set lo up
        ip link add eth0 type veth peer name eth0-peer; ip addr add 192.168.99.1/24 dev eth0; ip link set eth0 up; ip link set eth0-peer up
        T=$(mktemp -d); n=0
        for f in Examples/*.yaml; do
          b=$(basename $f .yaml)
          netform plan --json --host-name node1 $f > $T/plan-$b.json 2>$T/err || { echo "plan $b failed"; cat $T/err; }
          netform plan --out $T/$b.plan --host-name node1 $f >/dev/null 2>&1 && netform show --json $T/$b.plan > $T/plan-saved-$b.json
          netform apply --yes --host-name node1 $f >/dev/null 2>$T/err || { echo "apply $b failed"; cat $T/err; }
          netform show --json $f > $T/show-$b.json || echo "show $b failed"
          netform network inspect --spec $f $(netform network ls --project $(python3 -c "import yaml,sys; print(yaml.safe_load(open('$f'))['project'])") --format json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["Name"] for l in sys.stdin if json.loads(l)["Driver"] not in ("host","null")))') > $T/inspect-$b.json
          netform destroy --yes --host-name node1 $f >/dev/null 2>&1 || echo "destroy $b failed"
          n=$((n + 1))
        done
        netform validate --format json Examples/*.yaml Tests/Fixtures/invalid/semantic/*.yaml > $T/validate.json || true
        echo "version: 2" > $T/v2.yaml; netform plan --json $T/v2.yaml > $T/validate-plan.json || true
        # check SCHEMA FILES...: the number of documents that fail (their errors on stderr).
        check() { local s=$1; shift; local out; out=$(Scripts/check-json Schemas/$s "$@" 2>&1 || true); grep -v ": ok$" <<<"$out" >&2 || true; grep -vc ": ok$" <<<"$out" || true; }
        echo "== checks ($n examples)"
        check netform-plan-v1.schema.json $T/plan-*.json
        check netform-show-v1.schema.json $T/show-*.json
        check netform-network-inspect.schema.json $T/inspect-*.json
        check netform-validate-v1.schema.json $T/validate.json $T/validate-plan.json
        ls $T/*.json | wc -l
        echo "== end"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stdout.contains("failed"), "\(r.stdout)")
        // Four documents per example (plan, saved plan, show, inspect) and two validate reports.
        #expect(section(r.stdout, "checks (6 examples)") == "0\n0\n0\n0\n26\n", "no document fails its schema: \(r.stdout)\n\(r.stderr)")
    }
}
