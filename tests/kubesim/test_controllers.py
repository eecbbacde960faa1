"""Deployment -> ReplicaSet -> Pods, the scheduler and kubelet, Endpoints and EndpointSlices,
garbage collection and namespace deletion, through the official Python client."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubernetes import client
from kubesim_testkit import Sim, wait_until

SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
CIDRS = {"kubesim-worker": "10.244.1.0/24", "kubesim-worker2": "10.244.2.0/24"}


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.29",
               probe: bool = True) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "nginx", "image": image,
                         "ports": [{"name": "http", "containerPort": 80}]}
    if probe:
        c["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [c]}}}}


def ready_pods(core: Any, ns: str, selector: str) -> list[Any]:
    pods = core.list_namespaced_pod(ns, label_selector=selector).items
    return [p for p in pods if not p.metadata.deletion_timestamp and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


def wait_ready(core: Any, ns: str, selector: str, n: int) -> list[Any]:
    return wait_until(f"{n} ready pods ({selector})",
                      lambda: (lambda ps: ps if len(ps) == n and len(core.list_namespaced_pod(
                          ns, label_selector=selector).items) == n else None)(
                          ready_pods(core, ns, selector)))


def test_deployment_replicaset_pods(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment())
    pods = wait_ready(core, ns, "app=web", 3)
    [rs] = apps.list_namespaced_replica_set(ns).items
    h = rs.metadata.labels["pod-template-hash"]
    assert re.fullmatch(f"web-{SAFE}{{9,10}}", rs.metadata.name)
    assert rs.metadata.name == f"web-{h}"
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    for p in pods:
        assert re.fullmatch(f"web-{h}-{SAFE}{{5}}", p.metadata.name)
        assert p.metadata.owner_references[0].name == rs.metadata.name
        assert p.spec.node_name in CIDRS  # the control-plane is tainted
        assert ipaddress.ip_address(p.status.pod_ip) in ipaddress.ip_network(
            CIDRS[p.spec.node_name])
        assert p.status.phase == "Running"
        assert p.status.host_ip in ("172.18.0.3", "172.18.0.4")
    assert {p.spec.node_name for p in pods} == set(CIDRS)
    d = wait_until("deployment status", lambda: (lambda d: d if d.status.available_replicas == 3
                                                  else None)(
        apps.read_namespaced_deployment("web", ns)))
    assert (d.status.replicas, d.status.ready_replicas, d.status.updated_replicas) == (3, 3, 3)
    events = core.list_namespaced_event(ns).items
    reasons = {(e.involved_object.kind, e.reason) for e in events}
    assert {("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"),
            ("Pod", "Scheduled"), ("Pod", "Started")} <= reasons


def test_pods_are_ephemeral_replacement_has_new_name_and_ip(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment(replicas=2))
    before = wait_ready(core, ns, "app=web", 2)
    victim = before[0]
    core.delete_namespaced_pod(victim.metadata.name, ns)
    after = wait_until("a replacement pod", lambda: (lambda ps: ps if len(ps) == 2 and victim.
                                                     metadata.name not in {
                                                         p.metadata.name for p in ps} else None)(
        ready_pods(core, ns, "app=web")))
    new = [p for p in after if p.metadata.name not in {b.metadata.name for b in before}]
    assert len(new) == 1
    assert new[0].status.pod_ip not in {b.status.pod_ip for b in before}


def test_scale_and_rolling_update(sim: Sim, api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment(replicas=2))
    wait_ready(core, ns, "app=web", 2)
    sim.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4")
    wait_ready(core, ns, "app=web", 4)
    sim.kubectl("-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.30")
    wait_until("rollout", lambda: (lambda ps: len(ps) == 4 and all(
        p.spec.containers[0].image == "nginx:1.30" for p in ps))(
        core.list_namespaced_pod(ns, label_selector="app=web").items))
    rss = {r.metadata.name: r for r in apps.list_namespaced_replica_set(ns).items}
    assert len(rss) == 2
    revs = sorted((r.metadata.annotations["deployment.kubernetes.io/revision"], r.spec.replicas)
                  for r in rss.values())
    assert revs == [("1", 0), ("2", 4)]
    out = sim.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s").stdout
    assert 'deployment "web" successfully rolled out' in out


def test_endpoints_and_slices_follow_ready_pods(sim: Sim, api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    dv1 = client.DiscoveryV1Api(api)
    core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    # a pod that matches but cannot be scheduled: never an endpoint
    core.create_namespaced_pod(ns, {"metadata": {"name": "stuck", "labels": {"app": "web"}},
                                    "spec": {"nodeSelector": {"disk": "none"}, "containers": [
                                        {"name": "c", "image": "nginx"}]}})
    apps.create_namespaced_deployment(ns, deployment(replicas=3))
    pods = wait_ready(core, ns, "app=web,pod-template-hash", 3)

    def endpoints() -> Any:
        ep = core.read_namespaced_endpoints("web", ns)
        addrs = [a for s in ep.subsets or [] for a in s.addresses or []]
        return ep if len(addrs) == 3 else None
    ep = wait_until("3 endpoint addresses", endpoints)
    [subset] = ep.subsets
    assert sorted(a.ip for a in subset.addresses) == sorted(p.status.pod_ip for p in pods)
    assert {a.target_ref.name for a in subset.addresses} == {p.metadata.name for p in pods}
    assert [(p.port, p.protocol) for p in subset.ports] == [(80, "TCP")]  # "http" resolved
    [sl] = dv1.list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=web"
                                              ).items
    assert sl.metadata.name.startswith("web-")
    assert sl.metadata.owner_references[0].kind == "Service"
    assert sl.address_type == "IPv4"
    assert [p.port for p in sl.ports] == [80]
    assert sorted(e.addresses[0] for e in sl.endpoints) == sorted(p.status.pod_ip for p in pods)
    assert all(e.conditions.ready and e.conditions.serving for e in sl.endpoints)
    events = core.list_namespaced_event(ns, field_selector="involvedObject.name=stuck").items
    assert any(e.reason == "FailedScheduling" for e in events)
    # a deleted pod leaves the endpoints (its replacement joins)
    gone = pods[0]
    core.delete_namespaced_pod(gone.metadata.name, ns)
    wait_until("endpoints without the deleted pod", lambda: (lambda ep: gone.status.pod_ip not in [
        a.ip for s in ep.subsets or [] for a in s.addresses or []] and len(
        [a for s in ep.subsets or [] for a in s.addresses or []]) == 3)(
        core.read_namespaced_endpoints("web", ns)))
    code, _, headers = sim.request("GET", f"/api/v1/namespaces/{ns}/endpoints/web")
    assert headers["Warning"] == ('299 - "v1 Endpoints is deprecated in v1.33+; use '
                                  'discovery.k8s.io/v1 EndpointSlice"')


def test_a_selector_with_two_keys_picks_only_pods_with_both(api: Any, ns: str) -> None:
    """Every key of a Service's selector must match: a pod with one of the two labels (either
    one) is not an endpoint."""
    core = client.CoreV1Api(api)
    dv1 = client.DiscoveryV1Api(api)
    for name, labels in (("both", {"app": "web", "tier": "front"}), ("app-only", {"app": "web"}),
                         ("tier-only", {"tier": "front"})):
        core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": labels}, "spec": {
            "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}})
    for selector in ("app=web,tier=front", "app=web", "tier=front"):
        wait_ready(core, ns, selector, 2 if "," not in selector else 1)
    core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web", "tier": "front"}, "ports": [{"port": 80}]}})

    def targets() -> Any:
        slices = dv1.list_namespaced_endpoint_slice(
            ns, label_selector="kubernetes.io/service-name=web").items
        in_slices = sorted(e.target_ref.name for s in slices for e in s.endpoints or [])
        ep = core.list_namespaced_endpoints(ns, field_selector="metadata.name=web").items
        in_endpoints = sorted(a.target_ref.name for e in ep for s in e.subsets or []
                              for a in s.addresses or [])
        return (in_slices, in_endpoints) if in_slices and in_endpoints else None
    assert wait_until("the Service's endpoints", targets) == (["both"], ["both"])


def test_named_target_port_per_pod_and_selectorless(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    for name, port in (("a", 8080), ("b", 9090)):
        core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": {"app": "mix"}},
                                        "spec": {"containers": [{"name": "c", "image": "nginx",
                                                                 "ports": [{"name": "web",
                                                                            "containerPort": port}]
                                                                 }]}})
    core.create_namespaced_pod(ns, {"metadata": {"name": "c", "labels": {"app": "mix"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    core.create_namespaced_service(ns, {"metadata": {"name": "mix"}, "spec": {
        "selector": {"app": "mix"}, "ports": [{"port": 80, "targetPort": "web"}]}})
    wait_ready(core, ns, "app=mix", 3)

    def pairs() -> Any:
        ep = core.read_namespaced_endpoints("mix", ns)
        got = sorted((a.target_ref.name, s.ports[0].port) for s in ep.subsets or []
                     for a in s.addresses or [])
        return got if len(got) == 2 else None
    assert wait_until("per-pod ports", pairs) == [("a", 8080), ("b", 9090)]  # c has no "web"
    # a Service without a selector: its Endpoints belong to the user
    core.create_namespaced_service(ns, {"metadata": {"name": "manual"}, "spec": {
        "ports": [{"port": 80}]}})
    core.create_namespaced_endpoints(ns, {"metadata": {"name": "manual"}, "subsets": [
        {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]})
    core.patch_namespaced_service("manual", ns, {"metadata": {"labels": {"touched": "yes"}}})
    ep = core.read_namespaced_endpoints("manual", ns)
    assert ep.subsets[0].addresses[0].ip == "192.0.2.10"


def test_garbage_collection_and_orphans(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment(replicas=2))
    wait_ready(core, ns, "app=web", 2)
    apps.delete_namespaced_deployment("web", ns)
    wait_until("replica sets and pods collected", lambda: not apps.list_namespaced_replica_set(
        ns).items and not core.list_namespaced_pod(ns).items)
    apps.create_namespaced_deployment(ns, deployment(name="keep", replicas=1))
    wait_ready(core, ns, "app=keep", 1)
    apps.delete_namespaced_deployment("keep", ns, propagation_policy="Orphan")
    wait_until("deployment gone", lambda: not apps.list_namespaced_deployment(ns).items)
    [rs] = apps.list_namespaced_replica_set(ns).items
    assert not rs.metadata.owner_references
    assert len(core.list_namespaced_pod(ns).items) == 1


def test_namespace_deletion_removes_everything(sim: Sim, api: Any) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": "doomed"}})
    apps.create_namespaced_deployment("doomed", deployment(replicas=2))
    core.create_namespaced_service("doomed", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}], "type": "NodePort"}})
    # a finalizer holds one object (and so the namespace) until it is removed
    core.create_namespaced_config_map("doomed", {"metadata": {
        "name": "held", "finalizers": ["example.com/hold"]}})
    wait_ready(core, "doomed", "app=web", 2)
    code, body, _ = sim.request("DELETE", "/api/v1/namespaces/doomed")
    assert code == 200 and body["status"]["phase"] == "Terminating"
    wait_until("everything but the held object gone", lambda: not core.list_namespaced_pod(
        "doomed").items and not core.list_namespaced_service("doomed").items)
    held = core.read_namespaced_config_map("held", "doomed")
    assert held.metadata.deletion_timestamp is not None
    assert core.read_namespace("doomed").status.phase == "Terminating"
    code, body, _ = sim.request("POST", "/api/v1/namespaces/doomed/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
    assert code == 403 and "because it is being terminated" in body["message"]
    core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    wait_until("namespace gone", lambda: sim.request("GET", "/api/v1/namespaces/doomed")[0] == 404)
    assert not core.list_namespaced_pod("doomed").items


def test_pod_waits_for_its_configmap_volume(sim: Sim, api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(ns, {"metadata": {"name": "web"}, "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.29", "volumeMounts": [
            {"name": "conf", "mountPath": "/etc/nginx/conf.d"}]}],
        "volumes": [{"name": "conf", "configMap": {"name": "web-conf"}}]}})

    def failed_mount() -> Any:
        evs = core.list_namespaced_event(ns, field_selector="involvedObject.name=web").items
        return [e for e in evs if e.reason == "FailedMount"]
    [ev] = wait_until("a FailedMount event", failed_mount)
    assert ev.type == "Warning"
    assert ev.message == ('MountVolume.SetUp failed for volume "conf" : configmap "web-conf" '
                          "not found")
    out = sim.kubectl("-n", ns, "get", "pod", "web", "--no-headers").stdout.split()
    assert out[1:3] == ["0/1", "ContainerCreating"]
    core.create_namespaced_config_map(ns, {"metadata": {"name": "web-conf"}})
    wait_ready(core, ns, "", 1)


def test_unknown_fields_warn_by_default(sim: Sim, ns: str) -> None:
    code, _, headers = sim.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "dta": {"a": "b"}})
    assert code == 201
    assert headers["Warning"] == '299 - "unknown field \\"dta\\""'


def test_readiness_probe_on_a_port_nothing_serves(sim: Sim, api: Any, ns: str) -> None:
    """The kubelet asks the data plane whether a probe would pass: nginx serves port 80, so a
    probe on 8080 keeps the pod NotReady and out of the Service's endpoints."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    for name, port in (("good", 80), ("bad", 8080)):
        core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": {"app": "web"}},
                                        "spec": {"containers": [{
                                            "name": "nginx", "image": "nginx:1.29",
                                            "readinessProbe": {"httpGet": {"path": "/",
                                                                           "port": port}}}]}})

    def unhealthy() -> Any:
        evs = core.list_namespaced_event(ns, field_selector="involvedObject.name=bad").items
        return [e for e in evs if e.reason == "Unhealthy"]
    [ev] = wait_until("an Unhealthy event for the bad pod", unhealthy)
    assert ev.type == "Warning" and ev.message.startswith("Readiness probe failed")
    ep = wait_until("one ready endpoint", lambda: (lambda e: e if e.subsets and len(
        e.subsets[0].addresses or []) == 1 and e.subsets[0].not_ready_addresses else None)(
        core.read_namespaced_endpoints("web", ns)))
    assert ep.subsets[0].addresses[0].target_ref.name == "good"
    assert ep.subsets[0].not_ready_addresses[0].target_ref.name == "bad"
    out = sim.kubectl("-n", ns, "get", "pod", "bad", "--no-headers").stdout.split()
    assert out[1:3] == ["0/1", "Running"]


def test_foreground_deletion_waits_for_dependents(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    d = deployment(replicas=2, probe=False)
    d["spec"]["template"]["metadata"]["finalizers"] = ["example.com/hold"]  # pods linger
    apps.create_namespaced_deployment(ns, d)
    wait_ready(core, ns, "app=web", 2)
    apps.delete_namespaced_deployment("web", ns, propagation_policy="Foreground")
    pods = wait_until("pods terminating", lambda: (lambda ps: ps if ps and all(
        p.metadata.deletion_timestamp for p in ps) else None)(
        core.list_namespaced_pod(ns).items))
    dep = apps.read_namespaced_deployment("web", ns)  # still there, waiting for them
    assert dep.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in dep.metadata.finalizers
    for p in pods:
        core.patch_namespaced_pod(p.metadata.name, ns, {"metadata": {"finalizers": None}})
    wait_until("deployment, replica set and pods gone", lambda: not apps.list_namespaced_deployment(
        ns).items and not apps.list_namespaced_replica_set(ns).items and not
        core.list_namespaced_pod(ns).items)
