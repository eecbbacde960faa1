"""The labs' operations on the selected cluster: set up, solve, reset, check, probe.

One backend and one API connection per process, chosen by :func:`labs.clusters.select`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import catalog, clusters, grading, manifests, probing, waiting
from .catalog import Lab
from .errors import LabError, ProbeError
from .kube import PART_OF, Kube
from .progress import console

_state: dict[str, Any] = {}


def cluster(start: bool = True) -> clusters.Cluster:
    """The lab cluster's backend; started (or reused) when ``start``."""
    if "cluster" not in _state:
        backend = clusters.select()
        if start:
            backend.up()
            clusters.remember(backend)
        _state["cluster"] = backend
    return _state["cluster"]


def connect() -> Kube:
    if "kube" not in _state:
        _state["kube"] = cluster().connect()
    return _state["kube"]


def use(kube: Kube, backend: clusters.Cluster) -> None:
    """Point this process at an already running cluster (tests, notebooks on a custom one)."""
    _state.update(kube=kube, cluster=backend)


def lab(name: str | Lab) -> Lab:
    return name if isinstance(name, Lab) else catalog.load(name)


def node_ip(kube: Kube | None = None) -> str:
    """The control-plane node's InternalIP (the address the LoadBalancer lab puts in externalIPs)."""
    kube = kube or connect()
    nodes = kube.list("/api/v1/nodes")
    nodes.sort(key=lambda n: "node-role.kubernetes.io/control-plane"
               not in (n["metadata"].get("labels") or {}))
    for n in nodes:
        for a in n.get("status", {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return str(a["address"])
    raise LabError("no node reports an InternalIP", fix="kubectl get nodes -o wide")


def values(kube: Kube | None = None) -> dict[str, str]:
    """Run-time values for ``${...}`` placeholders in manifests."""
    return {"NODE_IP": node_ip(kube)}


def render(name: str, file: str | None = None) -> str:
    """A lab's manifests with placeholders filled in, ready for ``kubectl apply -f -``."""
    the_lab = lab(name)
    paths = [manifests.resolve(file)] if file else the_lab.manifests()
    texts = []
    for p in paths:
        text = p.read_text(encoding="utf-8")
        needed = manifests.placeholders(text)
        texts.append(manifests.fill(text, values() if needed else {}, p).strip())
    return "\n---\n".join(texts) + "\n"


def apply(name: str | Lab, files: list[str | Path], *, wait: bool = True) -> list[dict[str, Any]]:
    """Server-side apply files into the lab's namespace, then wait for what they create."""
    the_lab, kube = lab(name), connect()
    texts = [manifests.resolve(f).read_text(encoding="utf-8") for f in files]
    vals = values(kube) if any(manifests.placeholders(t) for t in texts) else {}
    docs = manifests.load_all(files, vals)
    kube.ensure_namespace(the_lab.namespace)
    applied = kube.apply(docs, the_lab.namespace)
    for obj in applied:
        console.print(f"{obj['kind'].lower()}/{obj['metadata']['name']} applied "
                      f"[dim](namespace {the_lab.namespace})[/]")
    if wait:
        settle(kube, the_lab.namespace, applied)
    return applied


def settle(kube: Kube, namespace: str, applied: list[dict[str, Any]]) -> None:
    """Wait for applied Deployments and StatefulSets to roll out, Pods to be ready, Services to
    get endpoints."""
    for obj in applied:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            waiting.wait_rollout(kube, namespace, name, kind=kind.lower())
        elif kind == "Pod":
            waiting.wait_pod_ready(kube, namespace, name)
    for obj in applied:
        spec = obj.get("spec", {})
        if obj["kind"] == "Service" and spec.get("selector") and spec.get("type") != "ExternalName":
            selector = ",".join(f"{k}={v}" for k, v in spec["selector"].items())
            pods = kube.list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
            if not pods:
                console.print(f"[yellow]service/{obj['metadata']['name']} selects no pod "
                              f"({selector}): it will have no endpoints[/]")
                continue
            ready = sum(1 for p in pods if waiting.pod_ready(p))
            try:  # one endpoint per ready pod: the controller may publish them in batches
                waiting.wait_endpoints(kube, namespace, obj["metadata"]["name"],
                                       count=max(ready, 1), timeout=30)
            except LabError as e:  # the learner's selector may be wrong: the grader says why
                console.print(f"[yellow]{e.what}[/]: the check will say why")
                continue
            wait_routed(kube, namespace, obj)


ROUTED_TIMEOUT = 20.0  # seconds kube-proxy gets to write a new Service's rules


def wait_routed(kube: Kube, namespace: str, service: dict[str, Any], client: str = "nginx01"
                ) -> None:
    """Wait until a connection from the lab's client pod to the Service's cluster IP gets through.

    Endpoints are published first; each node's kube-proxy writes the Service's rules a moment
    later (about a second on kind, longer on a busy machine), and until then a request to the
    cluster IP cannot connect. The labs' next cell curls the Service, so they wait here.
    """
    spec = service.get("spec", {})
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    pod = kube.get(f"/api/v1/namespaces/{namespace}/pods/{client}")
    if not ip or ip == "None" or not ports or not pod or not waiting.pod_ready(pod):
        return
    name, url = service["metadata"]["name"], f"http://{ip}:{ports[0]['port']}/"
    started = time.monotonic()
    while True:
        try:
            result = probing.run(kube, namespace, client, [probing.Http(url, 1, 1.0)])[0]
        except ProbeError:  # no exec here (e.g. KWOK's pods): the grader says what it can
            return
        first = result[0] if isinstance(result, list) and result else None
        if first is None or first.ok or first.exit_code not in (7, 28):
            break  # connected (any answer), or a failure that waiting does not cure
        if time.monotonic() - started > ROUTED_TIMEOUT:
            console.print(f"[yellow]service/{name}: {url} still cannot be reached from {client} "
                          f"after {ROUTED_TIMEOUT:.0f} s[/]: the check will say why")
            return
        time.sleep(0.3)
    took = time.monotonic() - started
    if took > 0.5:
        console.print(f"✓ kube-proxy routes service/{name} ({took:.1f} s)")


def setup(name: str | Lab) -> None:
    """Apply what the lab gives (the web Deployment, the client pod)."""
    the_lab = lab(name)
    apply(the_lab, list(the_lab.manifests("setup")))


def solve(name: str | Lab) -> None:
    """Apply the lab's reference solution (setup + solution manifests)."""
    the_lab = lab(name)
    apply(the_lab, list(the_lab.manifests("all")))


def reset(name: str | Lab) -> None:
    """Delete the lab's namespace and everything in it (only a namespace the labs created)."""
    the_lab, kube = lab(name), connect()
    ns = kube.get(f"/api/v1/namespaces/{the_lab.namespace}")
    if ns is None:
        console.print(f"namespace {the_lab.namespace} does not exist: nothing to reset")
        return
    labels = ns["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in PART_OF.items()):
        raise LabError(f"namespace {the_lab.namespace} was not created by the labs; "
                       "it is left alone", fix=f"delete it yourself if it is yours: "
                                               f"kubectl delete namespace {the_lab.namespace}")
    kube.request("DELETE", f"/api/v1/namespaces/{the_lab.namespace}")
    waiting.wait_gone(kube, "/api/v1/namespaces", the_lab.namespace, timeout=180)


def check(*names: str | Lab) -> list[grading.Report]:
    """Grade labs (all when none named); results as data."""
    backend, kube = cluster(), connect()
    reports = []
    for n in names or tuple(catalog.names()):
        reports.append(grading.grade(kube, lab(n), host_ports=backend.host_ports,
                                     cluster=backend.name))
    return reports


def probe(name: str | Lab, url: str, count: int = 10, *, source: str = "nginx01"
          ) -> list[probing.HttpResult]:
    """``count`` requests to ``url`` from the lab's client pod, in one exec."""
    the_lab = lab(name)
    result = probing.run(connect(), the_lab.namespace, source, [probing.Http(url, count)])[0]
    assert isinstance(result, list)
    return result


def lookup(name: str | Lab, host: str, *, source: str = "nginx01") -> probing.DnsResult:
    the_lab = lab(name)
    result = probing.run(connect(), the_lab.namespace, source, [probing.Dns(host)])[0]
    assert isinstance(result, probing.DnsResult)
    return result


