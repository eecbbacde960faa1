"""Client-side `kubectl apply` (last-applied + strategic merge), server-side apply with field
managers, JSON / merge / strategic patches, and the scale subresource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubesim_testkit import Sim

SVC = """apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {{tier: front}}
spec:
  selector: {{app: web}}
  ports:
  - name: http
    port: 80
{extra}"""


def test_client_side_apply_updates_with_strategic_merge(sim: Sim, ns: str,
                                                        tmp_path: Path) -> None:
    f = tmp_path / "svc.yml"
    f.write_text(SVC.format(extra=""))
    assert sim.kubectl("-n", ns, "apply", "-f", str(f)).stdout.strip() == "service/web created"
    first = json.loads(sim.kubectl("-n", ns, "get", "svc", "web", "-o", "json").stdout)
    last = json.loads(first["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["ports"] == [{"name": "http", "port": 80}]
    # someone else labels it; the next apply adds a port and keeps their label
    sim.kubectl("-n", ns, "label", "svc", "web", "owner=ops")
    f.write_text(SVC.format(extra="  - name: https\n    port: 443\n"))
    assert sim.kubectl("-n", ns, "apply", "-f", str(f)).stdout.strip() == \
        "service/web configured"
    svc = json.loads(sim.kubectl("-n", ns, "get", "svc", "web", "-o", "json").stdout)
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http", "https"]
    assert svc["spec"]["clusterIP"] == first["spec"]["clusterIP"]
    assert svc["metadata"]["labels"] == {"tier": "front", "owner": "ops"}
    assert sim.kubectl("-n", ns, "apply", "-f", str(f)).stdout.strip() == \
        "service/web unchanged"
    # dropping the port in the file removes it
    f.write_text(SVC.format(extra=""))
    sim.kubectl("-n", ns, "apply", "-f", str(f))
    svc = json.loads(sim.kubectl("-n", ns, "get", "svc", "web", "-o", "json").stdout)
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http"]


def test_kubectl_server_side_apply_and_conflict_free_reapply(sim: Sim, ns: str,
                                                             tmp_path: Path) -> None:
    f = tmp_path / "svc.yml"
    f.write_text(SVC.format(extra="  - name: https\n    port: 443\n"))
    out = sim.kubectl("-n", ns, "apply", "--server-side", "-f", str(f)).stdout.strip()
    assert out == "service/web serverside-applied"
    f.write_text(SVC.format(extra=""))
    sim.kubectl("-n", ns, "apply", "--server-side", "-f", str(f))
    svc = json.loads(sim.kubectl("-n", ns, "get", "svc", "web", "-o", "json",
                                 "--show-managed-fields").stdout)
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http"]  # the manager dropped https
    managers = {(m["manager"], m["operation"]) for m in svc["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


def test_python_client_server_side_apply(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
            "data": {"a": "1", "b": "2"}}
    created = core.patch_namespaced_config_map(
        "cfg", ns, body, field_manager="labs", force=True,
        _content_type="application/apply-patch+yaml")
    assert created.data == {"a": "1", "b": "2"}
    core.patch_namespaced_config_map("cfg", ns, {"data": {"c": "3"}})  # another manager
    body["data"] = {"a": "10"}
    after = core.patch_namespaced_config_map(
        "cfg", ns, body, field_manager="labs", force=True,
        _content_type="application/apply-patch+yaml")
    assert after.data == {"a": "10", "c": "3"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("cfg", ns, body,
                                         _content_type="application/apply-patch+yaml")
    assert err.value.status == 400 and "fieldManager" in err.value.body


def test_json_merge_and_strategic_patches(sim: Sim, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "containers": [{"name": "a", "image": "nginx:1.29"},
                                       {"name": "b", "image": "busybox"}]}}}}
    assert sim.request("POST", path, dep)[0] == 201
    code, out, _ = sim.request("PATCH", path + "/web", {"spec": {"template": {"spec": {
        "containers": [{"name": "b", "image": "busybox:1.37"}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert code == 200, out
    assert [(c["name"], c["image"]) for c in out["spec"]["template"]["spec"]["containers"]] == \
        [("a", "nginx:1.29"), ("b", "busybox:1.37")]
    assert out["metadata"]["generation"] == 2
    code, out, _ = sim.request("PATCH", path + "/web", {"spec": {"template": {"spec": {
        "containers": [{"name": "b", "image": "x"}]}}}},
        content_type="application/merge-patch+json")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["b"]
    code, out, _ = sim.request("PATCH", path + "/web", [
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}],
        content_type="application/json-patch+json")
    assert code == 200 and out["spec"]["replicas"] == 2 and out["metadata"]["labels"] == {"x": "y"}
    code, out, _ = sim.request("PATCH", path + "/web", [
        {"op": "test", "path": "/spec/replicas", "value": 5}],
        content_type="application/json-patch+json")
    assert code == 422
    # the scale subresource (kubectl scale, autoscaling/v1 Scale)
    code, scale, _ = sim.request("GET", path + "/web/scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    code, scale, _ = sim.request("PATCH", path + "/web/scale", {"spec": {"replicas": 0}},
                                 content_type="application/merge-patch+json")
    assert code == 200 and scale["spec"]["replicas"] == 0


def test_list_selectors_and_chunking(sim: Sim, ns: str) -> None:
    for i in range(7):
        sim.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"c{i}", "labels": {"parity": "even" if i % 2 == 0 else "odd"}}})
    base = f"/api/v1/namespaces/{ns}/configmaps"
    _, body, _ = sim.request("GET", base + "?labelSelector=parity%3Deven")
    assert [o["metadata"]["name"] for o in body["items"]] == ["c0", "c2", "c4", "c6"]
    _, body, _ = sim.request("GET", base + "?labelSelector=parity+in+(odd),parity!%3Deven")
    assert [o["metadata"]["name"] for o in body["items"]] == ["c1", "c3", "c5"]
    _, body, _ = sim.request("GET", base + "?fieldSelector=metadata.name%3Dc3")
    assert [o["metadata"]["name"] for o in body["items"]] == ["c3"]
    names, cont = [], ""
    while True:
        _, body, _ = sim.request("GET", base + f"?limit=3&continue={cont}")
        names += [o["metadata"]["name"] for o in body["items"]]
        cont = body["metadata"].get("continue", "")
        if not cont:
            break
    assert sorted(n for n in names if n.startswith("c")) == [f"c{i}" for i in range(7)]
    out = sim.kubectl("-n", ns, "get", "cm", "-l", "parity=odd", "-o", "name").stdout.split()
    assert out == ["configmap/c1", "configmap/c3", "configmap/c5"]


def test_server_side_apply_conflicts(sim: Sim, api: Any, ns: str) -> None:
    apps = client.AppsV1Api(api)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "containers": [{"name": "nginx", "image": "nginx:1.29"}]}}}}

    def ssa(manager: str, body: dict[str, Any], force: bool = False) -> Any:
        return apps.patch_namespaced_deployment("web", ns, body, field_manager=manager,
                                                force=force,
                                                _content_type="application/apply-patch+yaml")
    ssa("labs", dep)
    sim.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4")
    dep["spec"]["replicas"] = 3
    with pytest.raises(ApiException) as err:
        ssa("labs", dep)
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Apply failed with 1 conflict: conflict with "kubectl" with '
                               'subresource "scale" using apps/v1: .spec.replicas')
    assert body["details"]["causes"] == [{
        "reason": "FieldManagerConflict", "field": ".spec.replicas",
        "message": 'conflict with "kubectl" with subresource "scale" using apps/v1'}]
    # the same value is no conflict; forcing takes the field over
    dep["spec"]["replicas"] = 4
    ssa("labs", dep)
    dep["spec"]["replicas"] = 3
    assert ssa("labs", dep, force=True).spec.replicas == 3
    # another applier setting a field "labs" owns to another value conflicts too
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "nginx", "image": "nginx:1.30"}]}}}}
    with pytest.raises(ApiException) as err:
        ssa("someone-else", other)
    assert json.loads(err.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "labs": '
        '.spec.template.spec.containers[name="nginx"].image')
