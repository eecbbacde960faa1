"""The source material's kubectl walkthroughs (ClusterIP, NodePort, LoadBalancer, ExternalName),
run with real kubectl 1.37; outputs compared column by column with what the material shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kubesim_testkit import Sim, wait_until

MANIFESTS = Path(__file__).parent / "manifests"
POD = re.compile(r"^deploy-test01-[bcdfghjklmnpqrstvwxz2456789]{9,10}-"
                 r"[bcdfghjklmnpqrstvwxz2456789]{5}$")
RS = re.compile(r"^deploy-test01-[bcdfghjklmnpqrstvwxz2456789]{9,10}$")
CLUSTER_IP = re.compile(r"^10\.96\.\d{1,3}\.\d{1,3}$")


def table(out: str) -> list[list[list[str]]]:
    """`kubectl get` output split into blocks of rows of columns (runs of 2+ spaces separate)."""
    blocks: list[list[list[str]]] = [[]]
    for line in out.splitlines():
        if not line.strip():
            blocks.append([])
            continue
        blocks[-1].append(re.split(r"\s{2,}", line.strip()))
    return [b for b in blocks if b]


def apply(sim: Sim, ns: str, name: str, expect: str) -> None:
    out = sim.kubectl("-n", ns, "apply", "-f", str(MANIFESTS / name)).stdout
    assert out.strip() == expect


def wait_ready(sim: Sim, ns: str, ready: int) -> None:
    def ok() -> bool:
        out = sim.kubectl("-n", ns, "get", "deploy", "deploy-test01", "--no-headers").stdout
        return out.split()[1] == f"{ready}/{ready}"
    wait_until("deploy-test01 ready", ok)


def pods_wide(sim: Sim, ns: str) -> list[list[str]]:
    [rows] = table(sim.kubectl("-n", ns, "get", "pod", "-o", "wide").stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]
    return rows[1:]


def check_common_blocks(blocks: list[list[list[str]]], pods: int) -> None:
    """The pod, deployment and replicaset blocks of `kubectl get all` after deploy-test01."""
    pod_block = blocks[0]
    assert pod_block[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    deploy_rows = [r for r in pod_block[1:] if r[0].startswith("pod/deploy-test01")]
    assert len(deploy_rows) == pods
    for row in deploy_rows:
        assert POD.match(row[0].removeprefix("pod/")), row
        assert row[1:4] == ["1/1", "Running", "0"]
    dep = blocks[2]
    assert dep[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert dep[1][:4] == ["deployment.apps/deploy-test01", "3/3", "3", "3"]
    rs = blocks[3]
    assert rs[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert RS.match(rs[1][0].removeprefix("replicaset.apps/"))
    assert rs[1][1:4] == ["3", "3", "3"]


def test_clusterip_walkthrough(sim: Sim, ns: str) -> None:
    apply(sim, ns, "deploy-test01.yml", "deployment.apps/deploy-test01 created")
    apply(sim, ns, "service-clusterip.yml", "service/web-service created")
    wait_ready(sim, ns, 3)
    blocks = table(sim.kubectl("-n", ns, "get", "all").stdout)
    assert len(blocks) == 4
    check_common_blocks(blocks, 3)
    svc = blocks[1]
    assert svc[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert len(svc) == 2
    name, typ, ip, ext, ports, _age = svc[1]
    assert (name, typ, ext, ports) == ("service/web-service", "ClusterIP", "<none>", "80/TCP")
    assert CLUSTER_IP.match(ip)

    apply(sim, ns, "nginx-test01.yml", "pod/nginx01 created")
    wait_until("nginx01 running", lambda: "1/1     Running" in sim.kubectl(
        "-n", ns, "get", "pod", "nginx01").stdout)
    blocks = table(sim.kubectl("-n", ns, "get", "all").stdout)
    assert ["pod/nginx01", "1/1", "Running", "0"] == blocks[0][-1][:4]

    # kubectl get endpoints web-service: the three pod IPs on port 80
    pods = pods_wide(sim, ns)
    ips = sorted(r[5] for r in pods if r[0].startswith("deploy-test01"))
    ep = sim.kubectl("-n", ns, "get", "endpoints", "web-service")
    assert "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 " \
        "EndpointSlice" in ep.stderr
    [rows] = table(ep.stdout)
    assert rows[0] == ["NAME", "ENDPOINTS", "AGE"]
    assert rows[1][0] == "web-service"
    assert rows[1][1] == ",".join(f"{ip}:80" for ip in ips)

    for f, out in (("service-clusterip.yml", 'service "web-service" deleted'),
                   ("deploy-test01.yml", 'deployment.apps "deploy-test01" deleted'),
                   ("nginx-test01.yml", 'pod "nginx01" deleted')):
        done = sim.kubectl("-n", ns, "delete", "-f", str(MANIFESTS / f))
        assert done.stdout.strip().startswith(out)
    wait_until("namespace emptied", lambda: sim.kubectl(
        "-n", ns, "get", "pod").stderr.strip() == f"No resources found in {ns} namespace.")


def test_nodeport_walkthrough(sim: Sim, ns: str) -> None:
    apply(sim, ns, "deploy-test01.yml", "deployment.apps/deploy-test01 created")
    apply(sim, ns, "service-nodeport.yml", "service/web-service-nodeport created")
    wait_ready(sim, ns, 3)
    blocks = table(sim.kubectl("-n", ns, "get", "all").stdout)
    check_common_blocks(blocks, 3)
    _, typ, ip, ext, ports, _ = blocks[1][1]
    assert (typ, ext, ports) == ("NodePort", "<none>", "80:31001/TCP")
    assert CLUSTER_IP.match(ip)
    nodes = set()
    for row in pods_wide(sim, ns):
        _, ready, status, restarts, _, ip, node, nominated, gates = row
        assert (ready, status, restarts, nominated, gates) == ("1/1", "Running", "0", "<none>",
                                                               "<none>")
        assert node in ("kubesim-worker", "kubesim-worker2")
        cidr = "10.244.1." if node == "kubesim-worker" else "10.244.2."
        assert ip.startswith(cidr)
        nodes.add(node)
    assert nodes == {"kubesim-worker", "kubesim-worker2"}  # spread over both workers


def test_loadbalancer_walkthrough(sim: Sim, ns: str) -> None:
    apply(sim, ns, "deploy-test01.yml", "deployment.apps/deploy-test01 created")
    apply(sim, ns, "service-loadbalancer.yml", "service/web-service-loadbalancer created")
    wait_ready(sim, ns, 3)
    blocks = table(sim.kubectl("-n", ns, "get", "all").stdout)
    check_common_blocks(blocks, 3)
    name, typ, ip, ext, ports, _ = blocks[1][1]
    assert (name, typ, ext, ports) == ("service/web-service-loadbalancer", "LoadBalancer",
                                       "10.0.2.4", "80:31002/TCP")
    # without externalIPs and without a load-balancer controller: <pending>, nodePort allocated
    sim.kubectl("-n", ns, "create", "service", "loadbalancer", "plain-lb", "--tcp=80:80")
    [rows] = table(sim.kubectl("-n", ns, "get", "svc", "plain-lb").stdout)
    _, typ, ip, ext, ports, _ = rows[1]
    assert (typ, ext) == ("LoadBalancer", "<pending>")
    assert re.match(r"^80:3\d{4}/TCP$", ports)


def test_externalname_walkthrough(sim: Sim, ns: str) -> None:
    apply(sim, ns, "service-externalname.yml", "service/web-service-externalname created")
    apply(sim, ns, "nginx-test01.yml", "pod/nginx01 created")
    wait_until("nginx01 running", lambda: "Running" in sim.kubectl(
        "-n", ns, "get", "pod", "nginx01").stdout)
    blocks = table(sim.kubectl("-n", ns, "get", "all").stdout)
    assert blocks[0][1][:4] == ["pod/nginx01", "1/1", "Running", "0"]
    assert blocks[1][0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert blocks[1][1][:5] == ["service/web-service-externalname", "ExternalName", "<none>",
                                "www.google.com", "<none>"]
    [rows] = table(sim.kubectl("-n", ns, "get", "pod", "-o", "wide").stdout)
    assert rows[1][0] == "nginx01" and rows[1][6].startswith("kubesim-worker")


def test_describe_service(sim: Sim, ns: str) -> None:
    apply(sim, ns, "deploy-test01.yml", "deployment.apps/deploy-test01 created")
    apply(sim, ns, "service-nodeport.yml", "service/web-service-nodeport created")
    wait_ready(sim, ns, 3)
    out = sim.kubectl("-n", ns, "describe", "service", "web-service-nodeport").stdout
    fields = dict(re.split(r":\s+", line, maxsplit=1) for line in out.splitlines()
                  if re.match(r"^[A-Z][A-Za-z ]+:\s+\S", line))
    assert fields["Name"] == "web-service-nodeport"
    assert fields["Namespace"] == ns
    assert fields["Selector"] == "app.kubernetes.io/name=web-deploy"
    assert fields["Type"] == "NodePort"
    assert fields["IP Family Policy"] == "SingleStack"
    assert fields["IP Families"] == "IPv4"
    assert fields["Port"] == "<unset>  80/TCP"
    assert fields["TargetPort"] == "80/TCP"
    assert fields["NodePort"] == "<unset>  31001/TCP"
    assert fields["Session Affinity"] == "None"
    assert fields["External Traffic Policy"] == "Cluster"
    assert fields["Internal Traffic Policy"] == "Cluster"
    assert len(fields["Endpoints"].split(",")) == 3


@pytest.mark.parametrize("args,header", [
    (("get", "endpointslices"), ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]),
    (("get", "deploy", "-o", "wide"), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                                       "CONTAINERS", "IMAGES", "SELECTOR"]),
    (("get", "rs", "-o", "wide"), ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS",
                                   "IMAGES", "SELECTOR"]),
    (("get", "svc", "-o", "wide"), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                                    "AGE", "SELECTOR"]),
])
def test_table_headers(sim: Sim, ns: str, args: tuple[str, ...], header: list[str]) -> None:
    apply(sim, ns, "deploy-test01.yml", "deployment.apps/deploy-test01 created")
    apply(sim, ns, "service-clusterip.yml", "service/web-service created")
    wait_ready(sim, ns, 3)
    [rows] = table(sim.kubectl("-n", ns, *args).stdout)
    assert rows[0] == header
    if args[1] == "endpointslices":
        name, atype, ports, eps, _ = rows[1]
        assert name.startswith("web-service-") and atype == "IPv4" and ports == "80"
        assert len(eps.split(",")) == 3


def test_kubectl_explain_uses_the_openapi_descriptions(sim: Sim) -> None:
    out = sim.kubectl("explain", "service.spec.type").stdout
    assert "FIELD: type <string>" in out
    assert "type determines how the Service is exposed. Defaults to ClusterIP." in out


def test_get_all_in_default_shows_the_kubernetes_service(sim: Sim) -> None:
    """The material's last `kubectl get all`: only the API server's own Service is left."""
    blocks = table(sim.kubectl("-n", "default", "get", "all").stdout)
    svc = [b for b in blocks if b[0][:2] == ["NAME", "TYPE"]][0]
    row = [r for r in svc[1:] if r[0] == "service/kubernetes"][0]
    assert row[1:5] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
