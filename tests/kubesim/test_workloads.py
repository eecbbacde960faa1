"""StatefulSets, DaemonSets, Ingresses and IngressClasses: what kubectl and the Python client see.

The orders (pods created one at a time, removed and updated highest ordinal first) are read from
a watch, so a test fails if a pod appears or goes out of turn. The expectations come from a real
v1.37 control plane (tests/differential/cases/sts-*, ds-*, ingress-*).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from kubernetes import client, watch
from kubesim_testkit import Sim, wait_until

SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
WORKERS = {"kubesim-worker", "kubesim-worker2"}
CONTROL_PLANE_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                            "effect": "NoSchedule"}


def statefulset(name: str = "web", replicas: int = 3, image: str = "nginx:1.27",
                **spec: Any) -> dict[str, Any]:
    s = {"serviceName": "nginx", "replicas": replicas,
         "selector": {"matchLabels": {"app": name}},
         "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
             {"name": "nginx", "image": image, "ports": [{"name": "web", "containerPort": 80}]}]}}}
    s.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": s}


def daemonset(name: str = "agent", tolerations: list[Any] | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "agent", "image": "busybox:1.36",
                                           "command": ["sleep", "3600"]}]}
    if tolerations:
        pod["tolerations"] = tolerations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def headless(name: str = "nginx", app: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": "None", "selector": {"app": app},
                     "ports": [{"name": "web", "port": 80}]}}


def is_ready(p: Any) -> bool:
    return not p.metadata.deletion_timestamp and any(
        c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))


def mark(core: Any, ns: str) -> str:
    """The pods' resourceVersion now: a watch from here sees everything that follows."""
    return str(core.list_namespaced_pod(ns).metadata.resource_version)


def pod_events(core: Any, ns: str, until: Any, since: str,
               timeout: int = 20) -> list[tuple[str, str, bool]]:
    """(type, pod name, ready) for every pod watch event after ``since``, until
    ``until(events)`` holds."""
    events: list[tuple[str, str, bool]] = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_pod, namespace=ns, timeout_seconds=timeout,
                       resource_version=since):
        p = ev["object"]
        events.append((ev["type"], p.metadata.name, is_ready(p)))
        if until(events):
            w.stop()
            break
    assert until(events), f"the watch ended before the condition held: {events}"
    return events


def first(events: list[tuple[str, str, bool]], kind: str, name: str,
          ready: bool | None = None) -> int:
    for i, (t, n, r) in enumerate(events):
        if t == kind and n == name and (ready is None or r == ready):
            return i
    raise AssertionError(f"no {kind} event for {name} (ready={ready}) in {events}")


def ready_set(events: list[tuple[str, str, bool]]) -> set[str]:
    state: dict[str, bool] = {}
    for t, n, r in events:
        state[n] = r and t != "DELETED"
    return {n for n, r in state.items() if r}


def apply(sim: Sim, ns: str, *objs: dict[str, Any]) -> str:
    return sim.kubectl("-n", ns, "apply", "-f", "-",
                       input="\n---\n".join(json.dumps(o) for o in objs)).stdout


# ---- discovery ----
def test_discovery_serves_the_new_kinds(sim: Sim) -> None:
    code, body, headers = sim.request(
        "GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;"
        "as=APIGroupDiscoveryList")
    assert code == 200
    found = {(g["metadata"]["name"], r["resource"]): r for g in body["items"]
             for v in g["versions"] for r in v["resources"]}
    sts = found[("apps", "statefulsets")]
    assert sts["shortNames"] == ["sts"] and sts["categories"] == ["all"]
    assert sts["scope"] == "Namespaced"
    assert {s["subresource"]: s["responseKind"]["kind"] for s in sts["subresources"]} == {
        "scale": "Scale", "status": "StatefulSet"}
    ds = found[("apps", "daemonsets")]
    assert ds["shortNames"] == ["ds"] and ds["categories"] == ["all"]
    assert [s["subresource"] for s in ds["subresources"]] == ["status"]
    ing = found[("networking.k8s.io", "ingresses")]
    assert ing["shortNames"] == ["ing"] and "categories" not in ing
    assert found[("networking.k8s.io", "ingressclasses")]["scope"] == "Cluster"
    assert "shortNames" not in found[("apps", "controllerrevisions")]
    # apps resources in the API server's (alphabetical) order: `get all` prints in this order
    apps = [r["resource"] for g in body["items"] if g["metadata"]["name"] == "apps"
            for r in g["versions"][0]["resources"]]
    assert apps == ["controllerrevisions", "daemonsets", "deployments", "replicasets",
                    "statefulsets"]
    out = sim.kubectl("api-resources", "--api-group=networking.k8s.io").stdout.splitlines()
    assert re.match(r"NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND", out[0])
    assert re.match(r"ingressclasses\s+networking.k8s.io/v1\s+false\s+IngressClass$", out[1])
    assert re.match(r"ingresses\s+ing\s+networking.k8s.io/v1\s+true\s+Ingress$", out[2])


def test_kubectl_explain_statefulset(sim: Sim) -> None:
    out = sim.kubectl("explain", "statefulset.spec.serviceName").stdout
    assert "GROUP:      apps" in out and "KIND:       StatefulSet" in out
    assert "FIELD: serviceName <string>" in out


# ---- StatefulSet ----
def test_statefulset_pods_come_one_at_a_time_in_order(sim: Sim, api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, headless(), statefulset())
    events = pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1", "web-2"},
                        since)
    # OrderedReady: web-1 only once web-0 is Running and Ready, web-2 only after web-1
    assert first(events, "ADDED", "web-1") > first(events, "MODIFIED", "web-0", ready=True)
    assert first(events, "ADDED", "web-2") > first(events, "MODIFIED", "web-1", ready=True)
    pods = {p.metadata.name: p for p in core.list_namespaced_pod(ns).items}
    assert set(pods) == {"web-0", "web-1", "web-2"}
    for i in range(3):
        p = pods[f"web-{i}"]
        assert p.spec.hostname == f"web-{i}" and p.spec.subdomain == "nginx"
        assert p.metadata.labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert p.metadata.labels["apps.kubernetes.io/pod-index"] == str(i)
        assert p.metadata.owner_references[0].kind == "StatefulSet"
        assert p.metadata.generate_name == "web-"
    # the revision a real v1.37 cluster names for this very manifest (FNV-1 of the revision)
    rev = "web-6f4747bc89"
    assert {p.metadata.labels["controller-revision-hash"] for p in pods.values()} == {rev}
    sts = client.AppsV1Api(api).read_namespaced_stateful_set("web", ns)
    wait_until("status caught up", lambda: client.AppsV1Api(api).read_namespaced_stateful_set(
        "web", ns).status.ready_replicas == 3)
    st = client.AppsV1Api(api).read_namespaced_stateful_set("web", ns).status
    assert (st.replicas, st.ready_replicas, st.current_replicas, st.updated_replicas,
            st.available_replicas) == (3, 3, 3, 3, 3)
    assert st.current_revision == st.update_revision == rev
    assert st.observed_generation == sts.metadata.generation and st.collision_count == 0
    # the headless Service publishes each pod under its own name
    ep = core.read_namespaced_endpoints("nginx", ns)
    assert sorted(a.hostname for a in ep.subsets[0].addresses) == ["web-0", "web-1", "web-2"]


def test_parallel_statefulset_creates_all_pods_at_once(sim: Sim, api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(podManagementPolicy="Parallel"))
    events = pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1", "web-2"},
                        since)
    first_ready = min(i for i, (_, _, r) in enumerate(events) if r)
    assert all(first(events, "ADDED", f"web-{i}") < first_ready for i in range(3)), events


def test_deleted_pod_comes_back_with_the_same_name(sim: Sim, api: Any, ns: str) -> None:
    """The teaching point: a StatefulSet pod keeps its identity; a Deployment's does not."""
    core = client.CoreV1Api(api)
    apply(sim, ns, statefulset(replicas=2))
    wait_until("2 ready", lambda: len([p for p in core.list_namespaced_pod(ns).items
                                       if is_ready(p)]) == 2)
    old = core.read_namespaced_pod("web-1", ns)
    sim.kubectl("-n", ns, "delete", "pod", "web-1")
    new = wait_until("web-1 back", lambda: (lambda p: p if p.metadata.uid != old.metadata.uid
                                             and is_ready(p) else None)(
        core.read_namespaced_pod("web-1", ns)))
    assert new.spec.hostname == "web-1"
    assert sorted(p.metadata.name for p in core.list_namespaced_pod(ns).items) == [
        "web-0", "web-1"]
    out = sim.kubectl("-n", ns, "get", "events", "--field-selector",
                      "involvedObject.kind=StatefulSet").stdout
    assert "Create Pod web-1 in StatefulSet web successful" in out
    # contrast: a Deployment's replacement pod gets a new random name
    sim.kubectl("-n", ns, "create", "deployment", "dep", "--image=nginx:1.27")
    dep = wait_until("deployment pod", lambda: [p for p in core.list_namespaced_pod(
        ns, label_selector="app=dep").items if is_ready(p)])
    sim.kubectl("-n", ns, "delete", "pod", dep[0].metadata.name)
    repl = wait_until("replacement", lambda: [p for p in core.list_namespaced_pod(
        ns, label_selector="app=dep").items if is_ready(p)
        and p.metadata.name != dep[0].metadata.name])
    assert repl[0].metadata.name != dep[0].metadata.name


def test_scale_down_removes_the_highest_ordinal_first(sim: Sim, api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=3))
    pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1", "web-2"}, since)
    since = mark(core, ns)
    out = sim.kubectl("-n", ns, "scale", "sts", "web", "--replicas=1").stdout
    assert out.strip() == "statefulset.apps/web scaled"
    events = pod_events(core, ns, lambda ev: sum(1 for t, _, _ in ev if t == "DELETED") == 2,
                        since)
    deleted = [n for t, n, _ in events if t == "DELETED"]
    assert deleted == ["web-2", "web-1"]
    code, scale, _ = sim.request("GET", f"/apis/apps/v1/namespaces/{ns}/statefulsets/web/scale")
    assert code == 200 and scale["kind"] == "Scale" and scale["spec"] == {"replicas": 1}
    assert scale["status"]["selector"] == "app=web"


def test_rolling_update_goes_in_reverse_ordinal_order(sim: Sim, api: Any, ns: str) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=3))
    pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1", "web-2"}, since)
    sim.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.28")
    out = sim.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s").stdout
    assert "partitioned roll out complete: 3 new pods have been updated..." in out
    st = apps.read_namespaced_stateful_set("web", ns).status
    assert st.current_revision == st.update_revision and st.updated_replicas == 3
    revs = sorted(apps.list_namespaced_controller_revision(ns).items, key=lambda r: r.revision)
    assert [r.revision for r in revs] == [1, 2]
    assert revs[1].metadata.name == st.update_revision
    out = sim.kubectl("-n", ns, "get", "events", "--sort-by=.lastTimestamp",
                      "--field-selector", "reason=SuccessfulDelete").stdout
    order = re.findall(r"delete Pod (web-\d) in StatefulSet web successful", out)
    assert order == ["web-2", "web-1", "web-0"]
    history = sim.kubectl("-n", ns, "rollout", "history", "sts/web").stdout
    assert re.search(r"REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>", history)
    # undo: revision 1's template comes back (as revision 3) and the pods follow
    sim.kubectl("-n", ns, "rollout", "undo", "sts/web")
    sim.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    images = {p.spec.containers[0].image for p in core.list_namespaced_pod(ns).items}
    assert images == {"nginx:1.27"}
    assert [r.revision for r in sorted(apps.list_namespaced_controller_revision(ns).items,
                                       key=lambda r: r.revision)] == [2, 3]


def test_ondelete_waits_for_pods_to_be_deleted(sim: Sim, api: Any, ns: str) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=2, updateStrategy={"type": "OnDelete"}))
    pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1"}, since)
    sim.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.28")
    wait_until("new revision", lambda: apps.read_namespaced_stateful_set(
        "web", ns).status.update_revision != apps.read_namespaced_stateful_set(
        "web", ns).status.current_revision)
    assert {p.spec.containers[0].image for p in core.list_namespaced_pod(ns).items} == {
        "nginx:1.27"}
    sim.kubectl("-n", ns, "delete", "pod", "web-0")
    wait_until("web-0 on the new image", lambda: is_ready(p := core.read_namespaced_pod(
        "web-0", ns)) and p.spec.containers[0].image == "nginx:1.28")
    assert core.read_namespaced_pod("web-1", ns).spec.containers[0].image == "nginx:1.27"


def test_get_and_describe_statefulset(sim: Sim, api: Any, ns: str) -> None:
    apply(sim, ns, headless(), statefulset(replicas=2))
    wait_until("2/2", lambda: "2/2" in sim.kubectl("-n", ns, "get", "sts").stdout)
    lines = sim.kubectl("-n", ns, "get", "sts").stdout.splitlines()
    assert re.fullmatch(r"NAME\s+READY\s+AGE", lines[0])
    assert re.fullmatch(r"web\s+2/2\s+\d+s", lines[1])
    lines = sim.kubectl("-n", ns, "get", "sts", "-o", "wide").stdout.splitlines()
    assert re.fullmatch(r"NAME\s+READY\s+AGE\s+CONTAINERS\s+IMAGES", lines[0])
    assert re.fullmatch(r"web\s+2/2\s+\d+s\s+nginx\s+nginx:1.27", lines[1])
    out = sim.kubectl("-n", ns, "describe", "sts", "web").stdout
    for line in ("Service Name:           nginx", "Pod Management Policy:  OrderedReady",
                 "Replicas:               2 desired | 2 total",
                 "Update Strategy:        RollingUpdate", "  Partition:            0",
                 "Pods Status:    2 Running / 0 Waiting / 0 Succeeded / 0 Failed",
                 "Create Pod web-0 in StatefulSet web successful"):
        assert line in out, out
    out = sim.kubectl("-n", ns, "get", "all").stdout
    assert re.search(r"^statefulset\.apps/web\s+2/2\s+", out, re.M), out
    assert re.search(r"^pod/web-1\s+1/1\s+Running", out, re.M)


def test_deleting_a_statefulset_collects_its_pods_and_revisions(sim: Sim, api: Any,
                                                                ns: str) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=2))
    pod_events(core, ns, lambda ev: ready_set(ev) == {"web-0", "web-1"}, since)
    assert len(apps.list_namespaced_controller_revision(ns).items) == 1
    sim.kubectl("-n", ns, "delete", "sts", "web")
    wait_until("pods and revisions gone", lambda: not core.list_namespaced_pod(ns).items
               and not apps.list_namespaced_controller_revision(ns).items)


def test_statefulset_validation(sim: Sim, ns: str) -> None:
    bad = statefulset(replicas=-1, podManagementPolicy="Sometimes",
                      updateStrategy={"type": "Whenever"})
    code, body, _ = sim.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", bad)
    assert code == 422 and body["reason"] == "Invalid"
    assert body["details"] == {"name": "web", "group": "apps", "kind": "StatefulSet", "causes": [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "Sometimes": must be '
         "'OrderedReady' or 'Parallel'", "field": "spec.podManagementPolicy"},
        {"reason": "FieldValueInvalid", "message": 'Invalid value: {"Type":"Whenever",'
         "\"RollingUpdate\":null}: must be 'RollingUpdate' or 'OnDelete'",
         "field": "spec.updateStrategy"},
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or "
         "equal to 0", "field": "spec.replicas"}]}
    assert body["message"].startswith('StatefulSet.apps "web" is invalid: [')
    apply(sim, ns, statefulset(replicas=0))
    done = sim.kubectl("-n", ns, "patch", "sts", "web", "--type=merge", "-p",
                       '{"spec":{"serviceName":"other"}}', check=False)
    assert done.returncode == 1
    assert 'spec.serviceName: Invalid value: "other": field is immutable' in done.stderr


# ---- DaemonSet ----
def test_daemonset_runs_one_pod_per_untainted_node(sim: Sim, api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    apply(sim, ns, daemonset())
    pods = wait_until("2 ready", lambda: (lambda ps: ps if len(ps) == 2 and all(
        map(is_ready, ps)) else None)(core.list_namespaced_pod(ns).items))
    assert {p.spec.node_name for p in pods} == WORKERS  # not the tainted control-plane
    for p in pods:
        assert re.fullmatch(f"agent-{SAFE}{{5}}", p.metadata.name)
        terms = p.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        [field] = terms.node_selector_terms[0].match_fields
        assert (field.key, field.operator, field.values) == ("metadata.name", "In",
                                                            [p.spec.node_name])
        assert p.metadata.labels["pod-template-generation"] == "1"
        keys = [(t.key, t.effect) for t in p.spec.tolerations]
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
        assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    wait_until("status", lambda: "2         2         2" in sim.kubectl(
        "-n", ns, "get", "ds").stdout)
    lines = sim.kubectl("-n", ns, "get", "ds", "-o", "wide").stdout.splitlines()
    assert re.fullmatch(r"NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+"
                        r"NODE SELECTOR\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR", lines[0])
    assert re.fullmatch(r"agent\s+2\s+2\s+2\s+2\s+2\s+<none>\s+\d+s\s+agent\s+busybox:1.36\s+"
                        r"app=agent", lines[1])
    out = sim.kubectl("-n", ns, "describe", "ds", "agent").stdout
    for line in ("Desired Number of Nodes Scheduled: 2",
                 "Number of Nodes Scheduled with Up-to-date Pods: 2",
                 "Number of Nodes Misscheduled: 0",
                 "Annotations:    deprecated.daemonset.template.generation: 1",
                 "daemonset-controller  Created pod: agent-"):
        assert line in out, out
    assert re.search(r"^daemonset\.apps/agent\s+2\s+2\s+2\s+2\s+2\s+<none>",
                     sim.kubectl("-n", ns, "get", "all").stdout, re.M)


def test_daemonset_tolerating_the_control_plane_runs_there_too(sim: Sim, api: Any,
                                                                ns: str) -> None:
    core = client.CoreV1Api(api)
    apply(sim, ns, daemonset(tolerations=[CONTROL_PLANE_TOLERATION]))
    pods = wait_until("3 ready", lambda: (lambda ps: ps if len(ps) == 3 and all(
        map(is_ready, ps)) else None)(core.list_namespaced_pod(ns).items))
    assert {p.spec.node_name for p in pods} == WORKERS | {"kubesim-control-plane"}


def test_daemonset_rolling_update_and_gc(sim: Sim, api: Any, ns: str) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apply(sim, ns, daemonset())
    wait_until("2 ready", lambda: len([p for p in core.list_namespaced_pod(ns).items
                                       if is_ready(p)]) == 2)
    sim.kubectl("-n", ns, "set", "image", "ds/agent", "agent=busybox:1.37")
    out = sim.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s").stdout
    assert 'daemon set "agent" successfully rolled out' in out
    pods = [p for p in core.list_namespaced_pod(ns).items if not p.metadata.deletion_timestamp]
    assert {p.spec.containers[0].image for p in pods} == {"busybox:1.37"}
    assert {p.metadata.labels["pod-template-generation"] for p in pods} == {"2"}
    ds = apps.read_namespaced_daemon_set("agent", ns)
    assert ds.metadata.annotations["deprecated.daemonset.template.generation"] == "2"
    sim.kubectl("-n", ns, "delete", "ds", "agent")
    wait_until("pods gone", lambda: not core.list_namespaced_pod(ns).items)


def test_daemonset_validation(sim: Sim, ns: str) -> None:
    bad = daemonset()
    bad["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": 0}}
    code, body, _ = sim.request("POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", bad)
    assert code == 422
    assert body["message"] == ('DaemonSet.apps "agent" is invalid: spec.updateStrategy.'
                               "rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
                               "maxSurge is 0")


# ---- Ingress, IngressClass ----
def ingress(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web"}, "spec": spec}


def test_ingress_validation_status_bodies(sim: Sim, ns: str) -> None:
    path = f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
    code, body, _ = sim.request("POST", path, ingress())
    assert code == 422
    assert body["message"] == ('Ingress.networking.k8s.io "web" is invalid: spec: Invalid value: '
                               "null: either `defaultBackend` or `rules` must be specified")
    bad = ingress(rules=[{"host": "*.foo.*.com", "http": {"paths": [
        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "api", "pathType": "Exact", "backend": {"service": {"name": "web"}}},
        {"path": "/x", "pathType": "Foo", "backend": {"service": {
            "name": "web", "port": {"number": 80, "name": "http"}}}}]}}])
    code, body, _ = sim.request("POST", path, bad)
    assert code == 422
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [
        ("spec.rules[0].host", "Invalid value: \"*.foo.*.com\": a wildcard DNS-1123 subdomain "
         "must start with '*.', followed by a valid DNS subdomain, which must consist of lower "
         "case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. "
         "'*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?"
         "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        ("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified"),
        ("spec.rules[0].http.paths[1].path", 'Invalid value: "api": must be an absolute path'),
        ("spec.rules[0].http.paths[1].backend", "Required value: port name or number is "
         "required"),
        ("spec.rules[0].http.paths[2].pathType", 'Unsupported value: "Foo": supported values: '
         '"Exact", "ImplementationSpecific", "Prefix"'),
        ("spec.rules[0].http.paths[2].backend", 'Invalid value: "": cannot set both port name '
         "& port number")]
    code, body, _ = sim.request("POST", "/apis/networking.k8s.io/v1/ingressclasses", {
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "bad"}, "spec": {"controller": "Not A Path"}})
    assert code == 422
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.controller",
        "message": 'Invalid value: "Not A Path": must be a domain-prefixed path (such as '
                   '"acme.io/foo")'}]


def test_kubectl_create_ingress_get_and_describe(sim: Sim, api: Any, ns: str) -> None:
    apply(sim, ns, {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                    "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    apply(sim, ns, headless(app="web"), statefulset(replicas=1))
    # kubectl create ingress sends protobuf
    sim.kubectl("-n", ns, "create", "ingress", "web", "--class=nginx",
                "--rule=foo.example.com/*=nginx:80", "--rule=bar.example.com/api=nginx:80,"
                "tls=bar-tls")
    ing = client.NetworkingV1Api(api).read_namespaced_ingress("web", ns)
    assert [r.host for r in ing.spec.rules] == ["foo.example.com", "bar.example.com"]
    p = ing.spec.rules[0].http.paths[0]
    assert (p.path, p.path_type, p.backend.service.name, p.backend.service.port.number) == (
        "/", "Prefix", "nginx", 80)
    assert ing.spec.rules[1].http.paths[0].path_type == "Exact"
    assert ing.spec.tls[0].secret_name == "bar-tls"
    lines = sim.kubectl("-n", ns, "get", "ing").stdout.splitlines()
    assert re.fullmatch(r"NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE", lines[0])
    assert re.fullmatch(r"web\s+nginx\s+foo.example.com,bar.example.com\s+80, 443\s+\d+s",
                        lines[1])
    lines = sim.kubectl("get", "ingressclass").stdout.splitlines()
    assert re.fullmatch(r"NAME\s+CONTROLLER\s+PARAMETERS\s+AGE", lines[0])
    assert any(re.fullmatch(r"nginx\s+k8s.io/ingress-nginx\s+<none>\s+\d+[sm]\S*", x)
               for x in lines[1:])
    wait_until("web-0 ready", lambda: "1/1" in sim.kubectl("-n", ns, "get", "sts").stdout)
    out = sim.kubectl("-n", ns, "describe", "ing", "web").stdout
    assert "Ingress Class:    nginx" in out
    assert re.search(r"foo.example.com\s*\n\s+/\s+nginx:80 \(10\.244\.\d+\.\d+:80\)", out), out
    assert ing.status.load_balancer.ingress is None


def test_orphans_are_adopted_again(sim: Sim, api: Any, ns: str) -> None:
    """--cascade=orphan leaves the pods and revisions; the same objects applied again adopt them
    (as on the real control plane: same pod UIDs, one revision still numbered 1)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apply(sim, ns, statefulset(replicas=2), daemonset())
    wait_until("4 ready", lambda: len([p for p in core.list_namespaced_pod(ns).items
                                       if is_ready(p)]) == 4)
    before = {p.metadata.name: p.metadata.uid for p in core.list_namespaced_pod(ns).items}
    sim.kubectl("-n", ns, "delete", "sts", "web", "--cascade=orphan")
    sim.kubectl("-n", ns, "delete", "ds", "agent", "--cascade=orphan")
    assert all(not p.metadata.owner_references for p in core.list_namespaced_pod(ns).items)
    apply(sim, ns, statefulset(replicas=2), daemonset())
    wait_until("adopted", lambda: all(p.metadata.owner_references
                                      for p in core.list_namespaced_pod(ns).items))
    wait_until("statuses", lambda: apps.read_namespaced_stateful_set(
        "web", ns).status.ready_replicas == 2 and apps.read_namespaced_daemon_set(
        "agent", ns).status.number_ready == 2)
    after = {p.metadata.name: p.metadata.uid for p in core.list_namespaced_pod(ns).items}
    assert after == before
    revs = apps.list_namespaced_controller_revision(ns).items
    assert sorted((r.metadata.owner_references[0].kind, r.revision) for r in revs) == [
        ("DaemonSet", 1), ("StatefulSet", 1)]


def test_min_ready_seconds_holds_back_the_next_ordinal(sim: Sim, api: Any, ns: str) -> None:
    """With minReadySeconds, OrderedReady waits for each pod to be *available* (on the real
    control plane: 1 ready/0 available at 1.5 s, 2/1 at 3 s, 2/2 at 5 s with 3 s)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=2, minReadySeconds=2))
    seen: dict[str, float] = {}

    def until(ev: list[tuple[str, str, bool]]) -> bool:
        t, n, r = ev[-1]
        if r and f"{n} ready" not in seen:
            seen[f"{n} ready"] = time.monotonic()
        if t == "ADDED" and n not in seen:
            seen[n] = time.monotonic()
        return ready_set(ev) == {"web-0", "web-1"}

    pod_events(core, ns, until, since)
    assert seen["web-1"] - seen["web-0 ready"] > 0.9  # (timestamps have whole seconds)
    st = apps.read_namespaced_stateful_set("web", ns).status
    assert st.ready_replicas == 2 and (st.available_replicas or 0) < 2
    wait_until("both available", lambda: apps.read_namespaced_stateful_set(
        "web", ns).status.available_replicas == 2, timeout=10)


def test_rolling_update_with_max_unavailable_two(sim: Sim, api: Any, ns: str) -> None:
    """maxUnavailable 2: web-3 and web-2 go together, come back in order, then web-1 and web-0
    (the sequence a real v1.37 control plane shows)."""
    core = client.CoreV1Api(api)
    since = mark(core, ns)
    apply(sim, ns, statefulset(replicas=4, updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}))
    pod_events(core, ns, lambda ev: len(ready_set(ev)) == 4, since)
    since = mark(core, ns)
    sim.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.28")
    events: list[tuple[str, str, bool]] = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_pod, namespace=ns, timeout_seconds=20,
                       resource_version=since):
        p = ev["object"]
        t = "TERMINATING" if p.metadata.deletion_timestamp and ev["type"] == "MODIFIED" \
            else ev["type"]
        events.append((t, p.metadata.name, is_ready(p) and p.spec.containers[0].image ==
                       "nginx:1.28"))
        if sum(1 for t, _, r in events if t == "ADDED") == 4 and len(ready_set(events)) == 4:
            w.stop()
    first_added = first(events, "ADDED", "web-2")
    assert first(events, "TERMINATING", "web-3") < first_added
    assert first(events, "TERMINATING", "web-2") < first_added
    assert first(events, "ADDED", "web-2") < first(events, "ADDED", "web-3")
    new3_ready = first(events, "MODIFIED", "web-3", ready=True)
    assert first(events, "TERMINATING", "web-1") > new3_ready
    assert first(events, "TERMINATING", "web-0") > new3_ready
    assert first(events, "TERMINATING", "web-0") < first(events, "ADDED", "web-0")
    assert first(events, "TERMINATING", "web-1") < first(events, "ADDED", "web-0")


def test_headless_service_names_each_statefulset_pod(sim: Sim, api: Any, ns: str) -> None:
    """The DNS lab: web-0.nginx.<ns>.svc.cluster.local is web-0's IP, and still names web-0
    (at its new IP) after the pod is replaced."""
    core = client.CoreV1Api(api)
    apply(sim, ns, headless(), statefulset(replicas=2))
    sim.kubectl("-n", ns, "run", "client", "--image=busybox:1.36", "--command", "--",
                "sleep", "3600")
    sim.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=30s")
    wait_until("web-0 and web-1 in the endpoints", lambda: len(
        (core.read_namespaced_endpoints("nginx", ns).subsets or [{}])[0].addresses or []) == 2)
    name = f"web-0.nginx.{ns}.svc.cluster.local"

    def resolved() -> str:
        out = sim.kubectl("-n", ns, "exec", "client", "--", "nslookup", name).stdout
        found = re.findall(r"Address: (10\.244\.\d+\.\d+)", out)
        return found[0] if len(found) == 1 else ""

    ip = core.read_namespaced_pod("web-0", ns).status.pod_ip
    assert resolved() == ip
    sim.kubectl("-n", ns, "delete", "pod", "web-0")
    new = wait_until("web-0 back with an IP", lambda: (lambda p: p if is_ready(p) and
                                                         p.status.pod_ip != ip else None)(
        core.read_namespaced_pod("web-0", ns)))
    wait_until(f"{name} -> {new.status.pod_ip}", lambda: resolved() == new.status.pod_ip)


def test_partitioned_rolling_update(sim: Sim, api: Any, ns: str) -> None:
    """partition 2 of 3: only web-2 takes the new template. The real v1.37 control plane ends
    with exactly this status (revision names included)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apply(sim, ns, statefulset(replicas=3, updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    sim.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    sim.kubectl("-n", ns, "set", "image", "sts/web", "nginx=nginx:1.28")
    out = sim.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s").stdout
    assert out.splitlines()[-1] == "partitioned roll out complete: 1 new pods have been updated..."
    images = {p.metadata.name: p.spec.containers[0].image
              for p in core.list_namespaced_pod(ns).items}
    assert images == {"web-0": "nginx:1.27", "web-1": "nginx:1.27", "web-2": "nginx:1.28"}
    st = apps.read_namespaced_stateful_set("web", ns).status
    assert {k: v for k, v in st.to_dict().items() if v is not None} == {
        "available_replicas": 3, "collision_count": 0, "current_replicas": 2,
        "current_revision": "web-6f4747bc89", "observed_generation": 2, "ready_replicas": 3,
        "replicas": 3, "update_revision": "web-5b6857555d", "updated_replicas": 1}


def test_daemonset_surge_starts_the_new_pod_before_the_old_goes(sim: Sim, api: Any,
                                                                ns: str) -> None:
    """maxSurge 1, maxUnavailable 0: on one node at a time the new pod runs beside the old one,
    and the old one goes only once the new one is ready (the real control plane's order)."""
    core = client.CoreV1Api(api)
    ds = daemonset()
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    apply(sim, ns, ds)
    wait_until("2 ready", lambda: len([p for p in core.list_namespaced_pod(ns).items
                                       if is_ready(p)]) == 2)
    old = {p.metadata.name: p.spec.node_name for p in core.list_namespaced_pod(ns).items}
    since = mark(core, ns)
    sim.kubectl("-n", ns, "set", "image", "ds/agent", "agent=busybox:1.37")
    events: list[tuple[str, str, bool]] = []
    nodes: dict[str, str] = dict(old)
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_pod, namespace=ns, timeout_seconds=20,
                       resource_version=since):
        p = ev["object"]
        nodes.setdefault(p.metadata.name, pinned(p))
        t = "TERMINATING" if p.metadata.deletion_timestamp and ev["type"] == "MODIFIED" \
            else ev["type"]
        events.append((t, p.metadata.name, is_ready(p)))
        if sum(1 for t, n, _ in events if t == "DELETED") == 2:
            w.stop()
    new = [n for t, n, _ in events if t == "ADDED"]
    assert len(new) == 2 and not set(new) & set(old)
    for n in new:
        [gone] = [o for o, node in old.items() if node == nodes[n]]
        assert first(events, "MODIFIED", n, ready=True) < first(events, "TERMINATING", gone)
    # one node at a time: the second new pod only once the first old one is going
    first_old_going = min(first(events, "TERMINATING", o) for o in old)
    assert first(events, "ADDED", new[1]) > first_old_going


def pinned(p: Any) -> str:
    terms = p.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    return str(terms.node_selector_terms[0].match_fields[0].values[0])


def test_default_ingress_class_is_filled_in_on_create(sim: Sim, api: Any, ns: str) -> None:
    """DefaultIngressClass admission: on the real control plane an Ingress created without a
    class got the default one (the newer of two defaults), and removing it later stuck."""
    net = client.NetworkingV1Api(api)
    names = [f"{ns}-a", f"{ns}-b"]
    try:
        for n in names:
            net.create_ingress_class({"metadata": {"name": n, "annotations": {
                "ingressclass.kubernetes.io/is-default-class": "true"}},
                "spec": {"controller": "example.com/ctl"}})
            time.sleep(1.05)  # creation timestamps have whole seconds
        backend = {"service": {"name": "web", "port": {"number": 80}}}
        ing = net.create_namespaced_ingress(ns, ingress(defaultBackend=backend))
        assert ing.spec.ingress_class_name == names[1]
        legacy = ingress(defaultBackend=backend)
        legacy["metadata"] = {"name": "legacy", "annotations": {
            "kubernetes.io/ingress.class": "nginx"}}
        code, body, headers = sim.request(
            "POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", legacy)
        assert code == 201 and "ingressClassName" not in body["spec"]
        assert headers["Warning"] == ('299 - "annotation \\"kubernetes.io/ingress.class\\" is '
                                      "deprecated, please use 'spec.ingressClassName' instead\"")
        done = sim.kubectl("-n", ns, "annotate", "ing", "legacy", "x=y")
        assert "deprecated" not in done.stderr  # a create-time warning only
        out = net.patch_namespaced_ingress("web", ns, [
            {"op": "remove", "path": "/spec/ingressClassName"}])
        assert out.spec.ingress_class_name is None  # admission is for creates only
    finally:
        for n in names:
            net.delete_ingress_class(n)


def test_daemonset_and_taints_added_later(sim: Sim, api: Any, ns: str) -> None:
    """As on a real v1.37 control plane: a NoSchedule taint leaves the running daemon pod (still
    desired, not misscheduled) but a deleted one is not replaced there; NoExecute removes it."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apply(sim, ns, daemonset())

    def status() -> tuple[int, int, int]:
        st = apps.read_namespaced_daemon_set("agent", ns).status
        return (st.desired_number_scheduled, st.number_ready, st.number_misscheduled)

    wait_until("2 ready", lambda: status() == (2, 2, 0))
    node = "kubesim-worker2"
    try:
        sim.kubectl("taint", "node", node, "lab=x:NoSchedule")
        time.sleep(0.3)
        assert status() == (2, 2, 0)
        [pod] = [p for p in core.list_namespaced_pod(ns).items if p.spec.node_name == node]
        sim.kubectl("-n", ns, "delete", "pod", pod.metadata.name)
        wait_until("desired 1", lambda: status() == (1, 1, 0))
        time.sleep(0.3)
        assert [p.spec.node_name for p in core.list_namespaced_pod(ns).items] == [
            "kubesim-worker"]
        sim.kubectl("taint", "node", node, "lab=x:NoSchedule-")
        wait_until("back on both workers", lambda: status() == (2, 2, 0))
        sim.kubectl("taint", "node", node, "lab=y:NoExecute")
        wait_until("evicted", lambda: status() == (1, 1, 0) and [
            p.spec.node_name for p in core.list_namespaced_pod(ns).items
            if not p.metadata.deletion_timestamp] == ["kubesim-worker"])
    finally:
        sim.kubectl("taint", "node", node, "lab-", check=False)


def test_ordinals_start(sim: Sim, api: Any, ns: str) -> None:
    """spec.ordinals.start (as on the real control plane): web-5, web-6; moved to 0, the pods
    become web-0, web-1; a negative start is refused."""
    core = client.CoreV1Api(api)
    apply(sim, ns, statefulset(replicas=2, ordinals={"start": 5}))

    def names() -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(ns).items
                      if is_ready(p))

    wait_until("web-5, web-6", lambda: names() == ["web-5", "web-6"])
    assert core.read_namespaced_pod("web-6", ns).metadata.labels[
        "apps.kubernetes.io/pod-index"] == "6"
    sim.kubectl("-n", ns, "patch", "sts", "web", "--type=merge", "-p",
                '{"spec":{"ordinals":{"start":0}}}')
    wait_until("web-0, web-1", lambda: names() == ["web-0", "web-1"] and len(
        core.list_namespaced_pod(ns).items) == 2)
    bad = statefulset(name="neg", ordinals={"start": -1})
    code, body, _ = sim.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", bad)
    assert code == 422 and body["message"] == (
        'StatefulSet.apps "neg" is invalid: spec.ordinals.start: Invalid value: -1: must be '
        "greater than or equal to 0")
