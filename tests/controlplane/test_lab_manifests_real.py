"""The lab manifests on the real control plane: every lab's setup and solution manifests apply
with server-side apply (the real kubectl 1.37) into the lab's namespace, its Deployments and
StatefulSets get 3 ready pods (KWOK), and every Service with a selector lists exactly those pods
in its Endpoints and EndpointSlices."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from controlplane.testing import wait_for
from labs.kube import PART_OF

pytestmark = pytest.mark.controlplane
REPO = Path(__file__).resolve().parents[2]
KUBECTL = REPO / ".venv" / "bin" / "kubectl"


def _labs() -> list:
    from labs import catalog

    return [catalog.load(name) for name in catalog.names()]


def _lab_ids() -> list[str]:
    try:
        return [lab.name for lab in _labs()]
    except Exception as e:  # noqa: BLE001 - reported by test_labs_exist instead
        return [f"<labs catalog failed: {e}>"]


def test_labs_exist():
    labs = _labs()
    assert {lab.name for lab in labs} >= {"clusterip", "nodeport", "loadbalancer", "externalname"}
    for lab in labs:
        assert lab.manifests(), lab.name
        for path in lab.manifests():
            assert path.exists(), path


def _fill(text: str, values: dict[str, str], path: Path) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            pytest.fail(f"{path}: placeholder ${{{m.group(1)}}} has no value in this test")
        return values[m.group(1)]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


def _selector(sel: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))


@pytest.mark.parametrize("lab_name", _lab_ids())
def test_lab_manifests_apply_and_serve(lab_name, control_plane, k8s):
    lab = next(lab for lab in _labs() if lab.name == lab_name)
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    disc = client.DiscoveryV1Api(k8s)
    ns = lab.namespace
    cp_node = next(n for n in core.list_node().items if n.metadata.name.endswith("control-plane"))
    node_ip = next(a.address for a in cp_node.status.addresses if a.type == "InternalIP")
    try:
        core.delete_namespace(ns)
        wait_for(f"old namespace {ns} to go", lambda: ns not in {
            n.metadata.name for n in core.list_namespace().items}, timeout=60)
    except client.ApiException as e:
        assert e.status == 404
    # labelled as the labs label theirs, so the labs' own reset may delete what this test leaves
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns,
                                                                         labels=dict(PART_OF))))
    wait_for("the namespace's default ServiceAccount",
             lambda: core.read_namespaced_service_account("default", ns), timeout=30)

    try:
        docs = []
        for path in lab.manifests():
            text = _fill(path.read_text(), {"NODE_IP": node_ip}, path)
            docs += [d for d in yaml.safe_load_all(text) if d]
            proc = subprocess.run(
                [str(KUBECTL), "--kubeconfig", str(control_plane.kubeconfig), "apply",
                 "--server-side", "--field-manager=k8s-service-labs-test", "-n", ns, "-f", "-"],
                input=text, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, f"{path}: {proc.stderr}"

        pods_by_workload: dict[str, set[str]] = {}
        status = {"Deployment": apps.read_namespaced_deployment_status,
                  "StatefulSet": apps.read_namespaced_stateful_set_status}
        for d in (d for d in docs if d["kind"] in status):
            name, replicas = d["metadata"]["name"], d["spec"].get("replicas", 1)
            assert replicas == 3, f"{name}: the labs use 3 replicas"
            wait_for(f"{d['kind']} {name} to have 3 ready replicas", lambda d=d, name=name: (
                status[d["kind"]](name, ns).status.ready_replicas == 3), timeout=90)
            sel = _selector(d["spec"]["selector"]["matchLabels"])
            pods = [p for p in core.list_namespaced_pod(ns, label_selector=sel).items
                    if p.status.pod_ip and p.metadata.deletion_timestamp is None]
            assert len(pods) == 3 and all(p.status.phase == "Running" for p in pods)
            pods_by_workload[name] = {p.status.pod_ip for p in pods}
        for d in (d for d in docs if d["kind"] == "Pod"):
            name = d["metadata"]["name"]
            wait_for(f"Pod {name} ready", lambda name=name: any(
                c.type == "Ready" and c.status == "True"
                for c in core.read_namespaced_pod(name, ns).status.conditions or []), timeout=60)

        for d in (d for d in docs if d["kind"] == "Service"):
            name, spec = d["metadata"]["name"], d["spec"]
            svc = core.read_namespaced_service(name, ns)
            assert svc.spec.type == spec.get("type", "ClusterIP")
            if not spec.get("selector"):
                continue
            sel = _selector(spec["selector"])
            expected = {p.status.pod_ip for p in core.list_namespaced_pod(ns, label_selector=sel).items
                        if p.status.pod_ip}
            assert len(expected) == 3, f"{name} selects {sel}: {expected}"

            def endpoint_ips(name=name):
                ep = core.read_namespaced_endpoints(name, ns)
                return {a.ip for s in ep.subsets or [] for a in s.addresses or []}

            wait_for(f"Endpoints {name} to list the 3 pods", lambda e=expected: endpoint_ips() == e,
                     timeout=60)

            def slice_ips(name=name):
                items = disc.list_namespaced_endpoint_slice(
                    ns, label_selector=f"kubernetes.io/service-name={name}").items
                return {a for s in items for e in s.endpoints or [] if e.conditions.ready
                        for a in e.addresses}

            wait_for(f"EndpointSlices of {name} to list the 3 pods",
                     lambda e=expected: slice_ips() == e, timeout=60)
        assert pods_by_workload, f"lab {lab_name} has no Deployment or StatefulSet"
    finally:  # never leave an unlabelled lab namespace to the tests after this one
        core.delete_namespace(ns)
