"""Client-side `kubectl apply` (last-applied + strategic merge), server-side apply with field
managers, JSON / merge / strategic patches, and the scale subresource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubesim_testkit import Sim, wait_until

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


# ---- server-side apply as the real API server does it (expectations observed on a real
# v1.37 API server with the same kubectl commands; see tests/differential/cases/ssa-*.yaml) ----

PORT80 = 'k:{"port":80,"protocol":"TCP"}'
SVC_SSA = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {{app: web}}
  ports:
  - name: http
    port: 80
    targetPort: {target}
"""


def _managed(sim: Sim, ns: str, what: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    obj = json.loads(sim.kubectl("-n", ns, "get", what, "-o", "json",
                                 "--show-managed-fields").stdout)
    return obj, [(e["manager"], e["operation"], e.get("subresource", ""), e["fieldsV1"])
                 for e in obj["metadata"].get("managedFields") or []]


def test_client_side_apply_then_server_side_apply_and_back(sim: Sim, ns: str,
                                                           tmp_path: Path) -> None:
    """kubectl apply, then apply --server-side (kubectl upgrades the client-side apply
    ownership), a changed value, client-side apply again, another manager's conflict and
    --force-conflicts, then kubectl patch taking the field."""
    s1, s2 = tmp_path / "s1.yaml", tmp_path / "s2.yaml"
    s1.write_text(SVC_SSA.format(target=8080))
    s2.write_text(SVC_SSA.format(target=9090))
    last = "kubectl.kubernetes.io/last-applied-configuration"
    sim.kubectl("-n", ns, "apply", "-f", str(s1))
    obj, mf = _managed(sim, ns, "svc/web")
    assert mf == [("kubectl-client-side-apply", "Update", "", {
        "f:metadata": {"f:annotations": {".": {}, f"f:{last}": {}}},
        "f:spec": {"f:internalTrafficPolicy": {}, "f:ports": {".": {}, PORT80: {
            ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
            "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}}})]
    out = sim.kubectl("-n", ns, "apply", "--server-side", "-f", str(s1)).stdout
    assert out.strip() == "service/web serverside-applied"
    applied = {"f:spec": {"f:ports": {PORT80: {".": {}, "f:name": {}, "f:port": {},
                                               "f:targetPort": {}}}, "f:selector": {}}}
    obj, mf = _managed(sim, ns, "svc/web")
    assert mf == [("kubectl-last-applied", "Apply", "", {
        "f:metadata": {"f:annotations": {f"f:{last}": {}}}}), ("kubectl", "Apply", "", applied)]
    # the API server rewrites the annotation from what kubectl applied
    sim.kubectl("-n", ns, "apply", "--server-side", "-f", str(s2))
    obj, mf = _managed(sim, ns, "svc/web")
    assert obj["metadata"]["annotations"][last] == (
        '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"' + ns +
        '"},"spec":{"ports":[{"name":"http","port":80,"targetPort":9090}],'
        '"selector":{"app":"web"}}}\n')
    assert obj["spec"]["ports"][0]["targetPort"] == 9090
    # client-side apply changes targetPort back: it takes the field (an Update never conflicts)
    sim.kubectl("-n", ns, "apply", "-f", str(s1))
    obj, mf = _managed(sim, ns, "svc/web")
    assert mf == [
        ("kubectl", "Apply", "", {"f:spec": {"f:ports": {PORT80: {
            ".": {}, "f:name": {}, "f:port": {}}}, "f:selector": {}}}),
        ("kubectl-client-side-apply", "Update", "", {
            "f:metadata": {"f:annotations": {f"f:{last}": {}}},
            "f:spec": {"f:ports": {PORT80: {"f:targetPort": {}}}}})]
    done = sim.kubectl("-n", ns, "apply", "--server-side", "--field-manager=other", "-f",
                       str(s2), check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
        'v1: .spec.ports[port=80,protocol="TCP"].targetPort')
    sim.kubectl("-n", ns, "apply", "--server-side", "--field-manager=other",
                "--force-conflicts", "-f", str(s2))
    obj, mf = _managed(sim, ns, "svc/web")
    # kubectl moved the annotation to "other", whose next apply (without it) pruned it
    assert "annotations" not in obj["metadata"]
    assert [m[:2] for m in mf] == [("kubectl", "Apply"), ("other", "Apply")]
    assert mf[1][3] == applied
    sim.kubectl("-n", ns, "patch", "svc", "web", "-p",
                '{"spec":{"ports":[{"port":80,"targetPort":7070}]}}')
    obj, mf = _managed(sim, ns, "svc/web")
    assert mf[2] == ("kubectl-patch", "Update", "", {
        "f:spec": {"f:ports": {PORT80: {"f:targetPort": {}}}}})
    assert mf[1][3]["f:spec"]["f:ports"][PORT80] == {".": {}, "f:name": {}, "f:port": {}}
    done = sim.kubectl("-n", ns, "apply", "--server-side", "-f", str(s1), check=False)
    assert done.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: '
        '.spec.ports[port=80,protocol="TCP"].targetPort')


def test_rollout_status_owned_by_the_controllers(sim: Sim, ns: str) -> None:
    """Status writes are Update operations of the status subresource, under the names the real
    components use; the Deployment's revision annotation is written with its status."""
    sim.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.29", "--replicas=2",
                "--port=80")
    sim.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=30s")

    def settled() -> Any:
        obj, mf = _managed(sim, ns, "deploy/web")
        st = obj.get("status", {})
        return mf if st.get("availableReplicas") == 2 and st.get("updatedReplicas") == 2 and \
            len(mf) == 2 else None

    # (in the API server's order: by time in whole seconds, then by manager)
    mf = sorted(wait_until("the deployment's status written", settled), key=lambda m: m[0],
                reverse=True)
    assert [m[:3] for m in mf] == [("kubectl-create", "Update", ""),
                                   ("kube-controller-manager", "Update", "status")]
    spec = mf[0][3]["f:spec"]
    assert spec["f:selector"] == {}  # LabelSelector is an atomic struct
    assert spec["f:strategy"] == {"f:rollingUpdate": {".": {}, "f:maxSurge": {},
                                                      "f:maxUnavailable": {}}, "f:type": {}}
    assert "f:enableServiceLinks" not in spec["f:template"]["f:spec"]  # only pods default it
    status = mf[1][3]
    assert status["f:metadata"] == {"f:annotations": {
        ".": {}, "f:deployment.kubernetes.io/revision": {}}}
    assert {"f:availableReplicas", "f:conditions", "f:observedGeneration", "f:readyReplicas",
            "f:replicas", "f:updatedReplicas"} <= set(status["f:status"])
    pods = json.loads(sim.kubectl("-n", ns, "get", "pods", "-o", "json",
                                  "--show-managed-fields").stdout)["items"]
    for pod in pods:
        entries = {(e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
                   for e in pod["metadata"]["managedFields"]}
        assert set(entries) == {("kube-controller-manager", "Update", ""),
                                ("kubelet", "Update", "status")}
        created = entries[("kube-controller-manager", "Update", "")]
        # the binding set PodScheduled (no owner); the kubelet's conditions are the others
        conds = entries[("kubelet", "Update", "status")]["f:status"]["f:conditions"]
        assert "." not in conds and 'k:{"type":"PodScheduled"}' not in conds
        assert 'k:{"type":"Ready"}' in conds
        assert "f:nodeName" not in created["f:spec"]  # binding records no owner
        assert "f:enableServiceLinks" in created["f:spec"]
        assert "f:volumes" not in created["f:spec"]  # added by admission, after the owner
    # applying replicas the controller does not own: no conflict; the status is nobody's
    apps = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": [{"name": "nginx",
                                                                          "image": "nginx:1.29"}]}},
                     "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 7}}
    code, out, _ = sim.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web"
                               "?fieldManager=labs", apps,
                               content_type="application/apply-patch+yaml")
    assert code == 409, out
    assert out["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-create" '
                              'using apps/v1: .spec.replicas')


def test_apply_conflicts_with_two_managers_are_all_listed(sim: Sim, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services/web"

    def svc(target: int, app: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": app}, "ports": [
                    {"name": "http", "port": 80, "targetPort": target}], **spec}}

    code, _, _ = sim.request("PATCH", path + "?fieldManager=mgr-a", svc(8080, "web"),
                             content_type="application/apply-patch+yaml")
    assert code == 201
    code, _, _ = sim.request("PATCH", path + "?fieldManager=editor",
                             {"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}},
                             content_type="application/merge-patch+json")
    assert code == 200
    code, out, _ = sim.request("PATCH", path + "?fieldManager=mgr-c",
                               svc(9090, "other", type="ClusterIP"),
                               content_type="application/apply-patch+yaml")
    assert code == 409
    assert out["message"] == (
        'Apply failed with 3 conflicts: conflicts with "editor" using v1:\n- .spec.type\n'
        'conflicts with "mgr-a":\n- .spec.selector\n'
        '- .spec.ports[port=80,protocol="TCP"].targetPort')
    assert sorted((c["message"], c["field"]) for c in out["details"]["causes"]) == [
        ('conflict with "editor" using v1', ".spec.type"),
        ('conflict with "mgr-a"', '.spec.ports[port=80,protocol="TCP"].targetPort'),
        ('conflict with "mgr-a"', ".spec.selector")]


def test_merge_and_field_sets_follow_the_list_types() -> None:
    from kubesim import patching

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "web", "finalizers": ["example.com/a"], "labels": {"a": "1"}},
        "spec": {"selector": {"app": "web"}, "externalIPs": ["192.0.2.1"],
                 "ports": [{"port": 53, "protocol": "UDP"}, {"port": 80}]}}
    assert patching.field_set(svc, "V1Service") == {
        ("f:metadata", "f:finalizers", 'v:"example.com/a"'), ("f:metadata", "f:labels", "f:a"),
        ("f:spec", "f:selector"), ("f:spec", "f:externalIPs"),
        ("f:spec", "f:ports", 'k:{"port":53,"protocol":"UDP"}'),
        ("f:spec", "f:ports", 'k:{"port":53,"protocol":"UDP"}', "f:port"),
        ("f:spec", "f:ports", 'k:{"port":53,"protocol":"UDP"}', "f:protocol"),
        ("f:spec", "f:ports", PORT80), ("f:spec", "f:ports", PORT80, "f:port")}
    # the order a real API server gives two appliers' ports (ssa-list-order)
    assert patching.merge_order(["80", "443", "53"], ["8080", "443", "80"]) == \
        ["8080", "443", "53", "80"]
    live = {"spec": {"selector": {"app": "web", "tier": "x"}, "ports": [{"port": 80}]},
            "metadata": {"finalizers": ["a"]}}
    merged = patching.merge(live, {"spec": {"selector": {"app": "web"}, "ports": [
        {"port": 80, "protocol": "UDP"}]}, "metadata": {"finalizers": ["b"]}}, "V1Service")
    assert merged["spec"]["selector"] == {"app": "web"}  # atomic: replaced
    assert merged["spec"]["ports"] == [{"port": 80}, {"port": 80, "protocol": "UDP"}]
    assert merged["metadata"]["finalizers"] == ["a", "b"]  # a set


def test_kubectl_computes_patches_from_openapi_v3(sim: Sim, ns: str, tmp_path: Path) -> None:
    """kubectl apply/diff/edit read /openapi/v3 only, as against a real API server: the PATCH
    operation lists strategic merge patch (without it kubectl asks for /openapi/v2 in
    protobuf)."""
    f = tmp_path / "svc.yml"
    f.write_text(SVC.format(extra=""))
    sim.kubectl("-n", ns, "apply", "-f", str(f))
    f.write_text(SVC.format(extra="  - name: https\n    port: 443\n"))
    done = sim.kubectl("-n", ns, "apply", "-f", str(f), "-v=6")
    urls = [line for line in done.stderr.splitlines() if "/openapi/" in line]
    assert urls and not [u for u in urls if "/openapi/v2" in u]
    assert "does not support strategic merge patch" not in done.stderr
    code, doc, _ = sim.request("GET", "/openapi/v2")
    assert code == 200 and doc["swagger"] == "2.0"
    ports = doc["definitions"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["port", "protocol"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"


def test_explain_with_openapi_v2_in_protobuf(sim: Sim) -> None:
    """The one command that reads /openapi/v2 asks for gnostic's protobuf only; a real server
    lists these fields (and -required-) for service.spec.ports."""
    done = sim.kubectl("explain", "service.spec.ports", "--output=plaintext-openapiv2")
    fields = [line.strip() for line in done.stdout.splitlines() if line.startswith("   ") and
              not line.startswith("    ")]
    assert fields == ["appProtocol\t<string>", "name\t<string>", "nodePort\t<integer>",
                      "port\t<integer> -required-", "protocol\t<string>",
                      "targetPort\t<string>"]
    assert done.stdout.startswith("KIND:     Service\nVERSION:  v1\n\nRESOURCE: ports <[]Object>")


def test_status_apply_conflicts_with_the_controller(sim: Sim, ns: str, tmp_path: Path) -> None:
    """An apply to the status subresource of a field the deployment controller wrote: the
    real server's message (kube-controller-manager, subresource status, apps/v1)."""
    sim.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.29")
    sim.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=30s")
    f = tmp_path / "st.yaml"
    f.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                 "status: {replicas: 5}\n")
    done = sim.kubectl("-n", ns, "apply", "--server-side", "--subresource=status",
                       "--field-manager=me", "-f", str(f), check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kube-controller-manager" with '
        'subresource "status" using apps/v1: .status.replicas')
    # the main resource ignores status: applying it there is no conflict and changes nothing
    code, out, _ = sim.request(
        "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web?fieldManager=me",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "status": {"replicas": 5}}, content_type="application/apply-patch+yaml")
    assert code == 200 and out["status"]["replicas"] == 1
    assert "me" not in [e["manager"] for e in out["metadata"]["managedFields"]]


def test_gen_ssa_reads_list_types_as_the_api_server_does() -> None:
    """kube-openapi's schemaconv: x-kubernetes-list-type first, then a merge patch strategy
    (with a key: a map list; without: a set), anything else atomic."""
    from kubesim.gen_ssa import list_relationship

    assert list_relationship({"x-kubernetes-list-type": "map",
                              "x-kubernetes-list-map-keys": ["port", "protocol"],
                              "x-kubernetes-patch-merge-key": "port",
                              "x-kubernetes-patch-strategy": "merge"}) == ["map", "port", "protocol"]
    assert list_relationship({"x-kubernetes-list-type": "atomic",
                              "x-kubernetes-patch-merge-key": "ip",
                              "x-kubernetes-patch-strategy": "merge"}) == ["atomic"]
    assert list_relationship({"x-kubernetes-patch-strategy": "merge,retainKeys",
                              "x-kubernetes-patch-merge-key": "name"}) == ["map", "name"]
    assert list_relationship({"x-kubernetes-patch-strategy": "merge"}) == ["set"]
    assert list_relationship({"x-kubernetes-patch-strategy": "retainKeys"}) == ["atomic"]
    assert list_relationship({}) == ["atomic"]
    from kubesim import schema
    assert schema.SSA["V1ObjectMeta"]["finalizers"] == ["set"]
    assert schema.SSA["V1ServiceSpec"]["selector"] == ["atomic"]
    assert schema.SSA["V1LabelSelector"][""] == ["atomic"]
    assert schema.KEY_DEFAULTS["V1ServicePort"]["protocol"] == "TCP"


def test_kubelet_keeps_the_binding_condition() -> None:
    from kubesim.kubelet import creating_status

    when = "2020-01-01T00:00:00Z"
    pod = {"spec": {"containers": [{"name": "c", "image": "nginx:1.29"}]},
           "status": {"conditions": [{"type": "PodScheduled", "status": "True",
                                      "lastProbeTime": None, "lastTransitionTime": when}]}}
    st = creating_status(pod, "172.18.0.2")
    scheduled = [c for c in st["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled == [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": when}]
