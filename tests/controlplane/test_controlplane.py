"""The real control plane itself: version, nodes, a Deployment with ready pods behind a Service,
loopback-only listeners, private credential files, and the `python -m controlplane` CLI."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from controlplane import versions
from controlplane.cluster import kind_nodes
from controlplane.testing import wait_for

pytestmark = pytest.mark.controlplane
REPO = Path(__file__).resolve().parents[2]


def test_version_is_the_pinned_release(control_plane, k8s):
    info = client.VersionApi(k8s).get_code()
    assert info.git_version == versions.KUBERNETES
    assert (int(info.major), int(info.minor)) >= (1, 36)
    print(f"real control plane: Kubernetes {info.git_version}")


def test_three_kind_like_kwok_nodes(control_plane, k8s):
    nodes = {n.metadata.name: n for n in client.CoreV1Api(k8s).list_node().items}
    expected = kind_nodes("k8s-service-labs")
    assert set(nodes) == {n.name for n in expected}
    for want in expected:
        node = nodes[want.name]
        assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True", node.status.conditions
        ips = {a.type: a.address for a in node.status.addresses}
        assert ips.get("InternalIP") == want.ip
        assert node.spec.pod_cidr == want.pod_cidr
        assert node.status.allocatable["pods"] == "110"
        is_cp = "node-role.kubernetes.io/control-plane" in node.metadata.labels
        assert is_cp == want.control_plane


@pytest.fixture
def namespace(k8s):
    core = client.CoreV1Api(k8s)
    name = f"cp-test-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def test_deployment_gets_ready_pods_with_ips_and_endpoints(control_plane, k8s, namespace):
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="web", image="nginx:1.27",
                    ports=[client.V1ContainerPort(name="http", container_port=80)])])))))
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector=labels, ports=[client.V1ServicePort(
            name="http", port=80, target_port="http")])))

    def ready_pods():
        pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
        ready = [p for p in pods if p.status.pod_ip and any(
            c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
        return ready if len(ready) == 3 else None

    pods = wait_for("3 ready pods", ready_pods, timeout=60)
    cidrs = {n.name: ipaddress.ip_network(n.pod_cidr) for n in kind_nodes("k8s-service-labs")}
    for p in pods:
        assert p.status.phase == "Running"
        assert not p.spec.node_name.endswith("control-plane"), "control plane node is tainted"
        assert ipaddress.ip_address(p.status.pod_ip) in cidrs[p.spec.node_name]
    pod_ips = {p.status.pod_ip for p in pods}

    def endpoints():
        ep = core.read_namespaced_endpoints("web", namespace)
        addrs = {a.ip for s in (ep.subsets or []) for a in (s.addresses or [])}
        return ep if addrs == pod_ips else None

    ep = wait_for("Endpoints listing the 3 pods", endpoints, timeout=60)
    assert [(p.name, p.port, p.protocol) for p in ep.subsets[0].ports] == [("http", 80, "TCP")]

    disc = client.DiscoveryV1Api(k8s)

    def slices():
        items = disc.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web").items
        ips = {a for s in items for e in (s.endpoints or []) if e.conditions.ready
               for a in e.addresses}
        return items if ips == pod_ips else None

    items = wait_for("an EndpointSlice listing the 3 pods", slices, timeout=60)
    assert items[0].metadata.labels["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert {e.node_name for s in items for e in s.endpoints} <= {
        "k8s-service-labs-worker", "k8s-service-labs-worker2"}


def _listening_sockets(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket owned by one of pids."""
    inode_pid = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                m = re.fullmatch(r"socket:\[(\d+)\]", link)
                if m:
                    inode_pid[m.group(1)] = pid
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inode_pid:  # 0A = LISTEN
                continue
            addr_hex = f[1].split(":")[0]
            raw = bytes.fromhex(addr_hex)
            if width == 4:
                addr = str(ipaddress.IPv4Address(raw[::-1]))
            else:
                words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                addr = str(ipaddress.IPv6Address(b"".join(words)))
            found.append((inode_pid[f[9]], addr))
    return found


def test_servers_listen_on_loopback_only_and_credentials_are_private(control_plane):
    cp = control_plane.control_plane
    if cp is None:
        pytest.fail("this test checks the control plane the fixture started; "
                    "unset CONTROLPLANE_KUBECONFIG to run it")
    pids = {p.pid for p in cp.procs.values()}
    sockets = _listening_sockets(pids)
    assert len({pid for pid, _ in sockets}) == len(pids), f"every component listens: {sockets}"
    assert all(addr in ("127.0.0.1", "::ffff:127.0.0.1") for _, addr in sockets), sockets
    private = [cp.kubeconfig, *cp.run_dir.glob("*.kubeconfig"), *cp.run_dir.glob("pki/*.key")]
    assert len(private) >= 9
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_cli_up_reuse_and_down(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "controlplane"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args, check=True):
        p = subprocess.run([*cmd, *args, "--run-dir", str(run_dir), "--name", "cli"], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=300)
        assert not check or p.returncode == 0, p.stdout + p.stderr
        return p

    try:
        up = run("up")
        last = up.stdout.strip().splitlines()[-1]
        assert last == f"export KUBECONFIG={run_dir.resolve() / 'kubeconfig'}", up.stdout
        assert f"Kubernetes {versions.KUBERNETES}" in up.stdout
        assert stat.S_IMODE((run_dir / "kubeconfig").stat().st_mode) == 0o600
        state = json.loads((run_dir / "state.json").read_text())
        kubectl = REPO / ".venv" / "bin" / "kubectl"
        if kubectl.exists():
            nodes = subprocess.run([str(kubectl), "--kubeconfig", str(run_dir / "kubeconfig"),
                                    "get", "nodes", "-o", "name"], capture_output=True, text=True,
                                   timeout=60)
            assert nodes.stdout.split() == ["node/cli-control-plane", "node/cli-worker",
                                            "node/cli-worker2"], nodes.stderr
        again = run("up")
        assert "reusing" in again.stdout
        assert again.stdout.strip().splitlines()[-1] == last
        assert json.loads((run_dir / "state.json").read_text())["supervisor"] == state["supervisor"]
    finally:
        down = run("down", check=False)
    assert down.returncode == 0, down.stderr
    for pid in [state["supervisor"], *state["pids"].values()]:
        wait_for(f"pid {pid} to exit", lambda pid=pid: not _pid_alive(pid), timeout=30)
    assert not run_dir.exists()


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
