"""The grader: collect what a lab's namespace shows, run the probes its objectives need, and judge
each objective. Judging is a pure function of a :class:`Snapshot`, so recorded snapshots test it.

Outcomes are judged, not one spelling: a numeric or a named targetPort that reaches the pods both
pass; the grader never crashes on a missing namespace, object or pod - that objective fails with
its hint.
"""

from __future__ import annotations

import itertools
import json
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import probing
from .catalog import Lab, Objective
from .errors import LabError, ProbeError
from .kube import Kube
from .waiting import pod_ready

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
REQUESTS = 6  # requests per probed URL: enough to see load balancing


@dataclass
class Snapshot:
    """What the grader saw: the lab namespace's objects, the nodes, and probe results."""

    namespace: str
    namespace_exists: bool = True
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpointslices: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, Any] = field(default_factory=dict)
    host_ports: bool = True
    cluster: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        return cls(**json.loads(text))

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        return cls.from_json(path.read_text())


@dataclass
class Result:
    id: str
    title: str
    status: str
    expected: str = ""
    found: str = ""
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class Report:
    lab: str
    title: str
    namespace: str
    cluster: str
    results: list[Result]
    seconds: float = 0.0
    api_requests: int = 0

    @property
    def passed(self) -> bool:
        return all(r.status != FAILED for r in self.results)

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def _ipython_display_(self) -> None:  # a notebook shows the check panel
        from . import session
        from .widgets import check_panel

        check_panel([self], recheck=lambda: session.check(self.lab))


class _Fail(Exception):
    """An objective fails: what was expected and what was found."""

    def __init__(self, expected: str, found: str) -> None:
        self.expected, self.found = expected, found


class _Skip(Exception):
    pass


# -- collecting ---------------------------------------------------------------------------------
def collect(kube: Kube, lab: Lab, *, host_ports: bool, cluster: str = "") -> Snapshot:
    """List what the grader reads (5 requests), then run the probes the objectives need."""
    ns = lab.namespace
    snap = Snapshot(ns, host_ports=host_ports, cluster=cluster)
    snap.namespace_exists = kube.get(f"/api/v1/namespaces/{ns}") is not None
    snap.nodes = kube.list("/api/v1/nodes")
    if snap.namespace_exists:
        snap.services = _by_name(kube.list(f"/api/v1/namespaces/{ns}/services"))
        snap.pods = _by_name(kube.list(f"/api/v1/namespaces/{ns}/pods"))
        snap.deployments = _by_name(kube.list(f"/apis/apps/v1/namespaces/{ns}/deployments"))
        snap.endpointslices = kube.list(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices")
    run_probes(kube, lab, snap)
    return snap


def _by_name(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in items}


def probe_key(source: str, probe: probing.Http | probing.Dns) -> str:
    if isinstance(probe, probing.Dns):
        return f"{source} dns {probe.name}"
    return f"{source} GET {probe.url} x{probe.count}"


def planned(objective: Objective, snap: Snapshot) -> list[tuple[str, probing.Http | probing.Dns]]:
    """The probes an objective needs, as (source, probe); empty when it cannot be planned."""
    try:
        if objective.check == "dns":
            return [(objective["from"], probing.Dns(objective["service"]))]
        if objective.check in ("http", "http-host"):
            source = objective.get("from", "host")
            count = int(objective.get("requests", REQUESTS))
            return [(source, probing.Http(url, count)) for url in urls(objective, snap)]
    except _Fail:
        pass
    return []


def run_probes(kube: Kube, lab: Lab, snap: Snapshot) -> None:
    """One exec per source pod for all of a lab's in-cluster probes; host probes from here."""
    by_source: dict[str, list[probing.Http | probing.Dns]] = {}
    for objective in lab.objectives:
        if objective.check == "http-host" and not snap.host_ports:
            continue
        for source, probe in planned(objective, snap):
            if probe not in by_source.setdefault(source, []):
                by_source[source].append(probe)
    for source, probes in by_source.items():
        if source == "host":
            for p in probes:
                assert isinstance(p, probing.Http)
                snap.probes[probe_key(source, p)] = [
                    r.to_dict() for r in probing.http_from_host(p.url, p.count, p.timeout)]
            continue
        pod = snap.pods.get(source)
        if not pod or not pod_ready(pod):
            continue  # the objective fails with "no ready pod to probe from"
        try:
            results = probing.run(kube, lab.namespace, source, probes)
        except ProbeError as e:
            for p in probes:
                snap.probes[probe_key(source, p)] = {"error": str(e)}
            continue
        for p, result in zip(probes, results, strict=False):
            snap.probes[probe_key(source, p)] = (
                [r.to_dict() for r in result] if isinstance(result, list) else result.to_dict())


# -- judging ------------------------------------------------------------------------------------
def evaluate(lab: Lab, snap: Snapshot) -> list[Result]:
    results = []
    for objective in lab.objectives:
        try:
            if not snap.namespace_exists:
                raise _Fail(f"namespace {snap.namespace}",
                            f"no namespace {snap.namespace}: the lab has not been set up "
                            f"(run the notebook's setup cell, or `python -m labs setup {lab.name}`)")
            found = CHECKS[objective.check](objective, snap)
            results.append(Result(objective.id, objective.title, PASSED, found=found))
        except _Skip as e:
            results.append(Result(objective.id, objective.title, SKIPPED, found=str(e)))
        except _Fail as e:
            results.append(Result(objective.id, objective.title, FAILED, e.expected, e.found,
                                  objective.hint))
    return results


def grade(kube: Kube, lab: Lab, *, host_ports: bool, cluster: str = "") -> Report:
    start, before = time.monotonic(), kube.requests
    try:
        snap = collect(kube, lab, host_ports=host_ports, cluster=cluster)
    except LabError:
        raise
    return Report(lab.name, lab.title, lab.namespace, cluster, evaluate(lab, snap),
                  time.monotonic() - start, kube.requests - before)


# -- what the checks read -------------------------------------------------------------------------
def _service(o: Objective, snap: Snapshot, key: str = "service") -> dict[str, Any]:
    name = o[key]
    svc = snap.services.get(name)
    if svc is None:
        others = ", ".join(sorted(snap.services)) or "none"
        raise _Fail(f"a Service named {name}",
                    f"no Service {name} in {snap.namespace} (Services there: {others})")
    return svc


def _deployment_pods(o: Objective, snap: Snapshot) -> list[dict[str, Any]]:
    name = o["deployment"]
    d = snap.deployments.get(name)
    if d is None:
        raise _Fail(f"the Deployment {name}", f"no Deployment {name} in {snap.namespace}")
    want = d.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    pods = [p for p in snap.pods.values() if _matches(want, p) and _owned_by_deployment(p, name)]
    if not pods:
        raise _Fail(f"pods of {name}", f"the Deployment {name} has no pods yet")
    return pods


def _owned_by_deployment(pod: dict[str, Any], deployment: str) -> bool:
    owners = pod["metadata"].get("ownerReferences") or []
    return any(r.get("kind") == "ReplicaSet" and r.get("name", "").startswith(f"{deployment}-")
               for r in owners)


def _matches(selector: dict[str, str], pod: dict[str, Any]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _live(pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _ports_text(svc: dict[str, Any]) -> str:
    """PORT(S) as kubectl prints it: 80/TCP, 80:31001/TCP."""
    parts = []
    for p in svc.get("spec", {}).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        parts.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _node_ips(snap: Snapshot) -> list[str]:
    return [a["address"] for n in snap.nodes for a in n.get("status", {}).get("addresses") or []
            if a.get("type") == "InternalIP"]


def _external_ips(svc: dict[str, Any]) -> list[str]:
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return [i["ip"] for i in ingress if i.get("ip")] + list(svc.get("spec", {}).get("externalIPs")
                                                             or [])


def urls(o: Objective, snap: Snapshot) -> list[str]:
    """The objective's URL with its fields filled from the Service (one URL per node/IP)."""
    svc = _service(o, snap)
    spec = svc.get("spec", {})
    ports = spec.get("ports") or [{}]
    name, ns = svc["metadata"]["name"], snap.namespace
    values: dict[str, list[str]] = {
        "name": [name], "namespace": [ns], "dns": [f"{name}.{ns}.svc.cluster.local"],
        "clusterIP": [spec.get("clusterIP") or ""], "port": [str(ports[0].get("port", 80))],
        "nodePort": [str(ports[0].get("nodePort") or "")],
        "nodeIP": _node_ips(snap), "externalIP": _external_ips(svc)}
    fields = [f for _, f, _, _ in string.Formatter().parse(o["url"]) if f]
    for f in fields:
        if not values[f] or not all(values[f]) or values[f] == ["None"]:
            raise _Fail(f"{name} with a {f}", f"{name} has no {f} (PORT(S) {_ports_text(svc)})")
    combos = itertools.product(*(values[f] for f in fields))
    return [o["url"].format(**dict(zip(fields, c, strict=False))) for c in combos]


# -- the checks -----------------------------------------------------------------------------------
def check_deployment_ready(o: Objective, snap: Snapshot) -> str:
    name, want = o["deployment"], int(o.get("replicas", 1))
    d = snap.deployments.get(name)
    if d is None:
        raise _Fail(f"Deployment {name} with {want} ready pods",
                    f"no Deployment {name} in {snap.namespace}")
    ready = d.get("status", {}).get("readyReplicas") or 0
    if ready < want:
        raise _Fail(f"{want} ready pods", f"{ready}/{d.get('spec', {}).get('replicas', 1)} ready")
    return f"{ready}/{d.get('spec', {}).get('replicas', 1)} ready"


def check_pod_ready(o: Objective, snap: Snapshot) -> str:
    pod = snap.pods.get(o["pod"])
    if pod is None:
        raise _Fail(f"pod {o['pod']} ready", f"no pod {o['pod']} in {snap.namespace}")
    if not pod_ready(pod):
        raise _Fail(f"pod {o['pod']} ready", f"phase {pod.get('status', {}).get('phase')}, "
                                             "not ready")
    return f"{pod.get('status', {}).get('podIP', '')} on {pod.get('spec', {}).get('nodeName', '')}"


def check_service(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    kind = svc.get("spec", {}).get("type", "ClusterIP")
    if kind != o["type"]:
        raise _Fail(f"type {o['type']}", f"type {kind}")
    return f"type {kind}"


def check_service_port(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    proto = o.get("protocol", "TCP")
    want = f"{o['port']}" + (f":{o['nodePort']}" if o.get("nodePort") else "") + f"/{proto}"
    for p in svc.get("spec", {}).get("ports") or []:
        if p.get("port") == o["port"] and p.get("protocol", "TCP") == proto:
            if o.get("nodePort") and p.get("nodePort") != o["nodePort"]:
                raise _Fail(f"PORT(S) {want}", f"PORT(S) {_ports_text(svc)}")
            return f"PORT(S) {_ports_text(svc)}"
    raise _Fail(f"PORT(S) {want}", f"PORT(S) {_ports_text(svc)}")


def check_selector(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    selector = svc.get("spec", {}).get("selector") or {}
    pods = _live(_deployment_pods(o, snap))
    shown = ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"
    if not selector:
        raise _Fail(f"a selector matching the pods of {o['deployment']}",
                    "no selector: Kubernetes manages no endpoints for this Service")
    missed = [p["metadata"]["name"] for p in pods if not _matches(selector, p)]
    if missed:
        labels = pods[0]["metadata"].get("labels") or {}
        raise _Fail(f"a selector matching the pods of {o['deployment']} "
                    f"(their labels: {', '.join(f'{k}={v}' for k, v in labels.items())})",
                    f"selector {shown} matches none of {len(missed)} pod(s)")
    extra = [n for n, p in snap.pods.items()
             if _matches(selector, p) and not _owned_by_deployment(p, o["deployment"])]
    if extra:
        raise _Fail(f"a selector matching only the pods of {o['deployment']}",
                    f"selector {shown} also matches {', '.join(sorted(extra))}")
    return f"selector {shown} matches {len(pods)} pod(s)"


def check_endpoints(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    name = svc["metadata"]["name"]
    selector = svc.get("spec", {}).get("selector") or {}
    ready_pods = [p for p in _live(_deployment_pods(o, snap)) if pod_ready(p)]
    matched = [p for p in ready_pods if _matches(selector, p)]
    slices = [s for s in snap.endpointslices
              if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name]
    ready = sorted({a for s in slices for ep in s.get("endpoints") or []
                    if (ep.get("conditions") or {}).get("ready", True)
                    for a in ep.get("addresses", [])})
    ports = sorted({p.get("port") for s in slices for p in s.get("ports") or [] if p.get("port")})
    listening = {c.get("containerPort") for p in ready_pods
                 for c in (p.get("spec", {}).get("containers") or [])
                 for c in (c.get("ports") or [])}
    expected = f"{len(ready_pods)} ready endpoint(s) (one per ready pod of {o['deployment']})"
    if not ready:
        why = ("the selector matches no ready pod" if not matched else
               "the targetPort names no port of the pods" if slices else
               "no EndpointSlice yet")
        raise _Fail(expected, f"ENDPOINTS <none>: {why}")
    shown = ",".join(f"{a}:{p}" for a in ready[:3] for p in ports[:1])
    more = f" + {len(ready) - 3} more..." if len(ready) > 3 else ""
    if len(ready) != len(matched) or len(matched) != len(ready_pods):
        raise _Fail(expected, f"{len(ready)} ready endpoint(s): {shown}{more}")
    if listening and not set(ports) & listening:
        raise _Fail(f"endpoints on a port the pods listen on ({', '.join(map(str, listening))})",
                    f"endpoints on port {', '.join(map(str, ports))}: check targetPort")
    return f"ENDPOINTS {shown}{more}"


def check_external_ips(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    nodes = set(_node_ips(snap))
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    ext = list(svc.get("spec", {}).get("externalIPs") or [])
    if ingress:
        return f"EXTERNAL-IP {','.join(i.get('ip') or i.get('hostname', '') for i in ingress)}"
    if not ext:
        raise _Fail("EXTERNAL-IP set to a node's address (spec.externalIPs)", "EXTERNAL-IP <pending>")
    if not nodes & set(ext):
        raise _Fail(f"a node's address in externalIPs ({', '.join(sorted(nodes))})",
                    f"externalIPs {', '.join(ext)}: no node has that address")
    return f"EXTERNAL-IP {','.join(ext)}"


def check_external_name(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    spec = svc.get("spec", {})
    want = f"{o['target']}.{snap.namespace}.svc.cluster.local"
    if spec.get("type") != "ExternalName":
        raise _Fail("type ExternalName", f"type {spec.get('type', 'ClusterIP')}")
    got = (spec.get("externalName") or "").rstrip(".")
    if got != want:
        raise _Fail(f"externalName {want}", f"externalName {got or '<none>'}")
    return f"EXTERNAL-IP {got}"


def check_no_cluster_ip(o: Objective, snap: Snapshot) -> str:
    svc = _service(o, snap)
    ip = svc.get("spec", {}).get("clusterIP")
    if ip and ip != "None":
        raise _Fail("CLUSTER-IP <none>", f"CLUSTER-IP {ip}")
    return "CLUSTER-IP <none>"


def _probed(o: Objective, snap: Snapshot, source: str, probe: probing.Http | probing.Dns) -> Any:
    if source != "host":
        pod = snap.pods.get(source)
        if pod is None or not pod_ready(pod):
            raise _Fail(f"a ready pod {source} to probe from",
                        f"no ready pod {source} in {snap.namespace}")
    result = snap.probes.get(probe_key(source, probe))
    if result is None:
        raise _Fail("a probe result", "the probe did not run")
    if isinstance(result, dict) and "error" in result and "ok" not in result:
        raise _Fail("the probe to run", result["error"])
    return result


def check_dns(o: Objective, snap: Snapshot) -> str:
    target = _service(o, snap, "resolves-to")
    want = target.get("spec", {}).get("clusterIP")
    result = _probed(o, snap, o["from"], probing.Dns(o["service"]))
    if not result.get("ok"):
        raise _Fail(f"{o['service']} resolving to {want}", f"lookup failed: {result.get('error')}")
    got = result.get("addresses") or []
    if want not in got:
        raise _Fail(f"{o['service']} resolving to {want} ({o['resolves-to']})",
                    f"{o['service']} -> {', '.join(got)} ({result.get('canonical') or '?'})")
    return f"{o['service']} -> {result.get('canonical') or o['service']} -> {', '.join(got)}"


def check_http(o: Objective, snap: Snapshot) -> str:
    if o.check == "http-host" and not snap.host_ports:
        raise _Skip("this cluster's NodePorts are not mapped to 127.0.0.1 here")
    source = o.get("from", "host")
    count = int(o.get("requests", REQUESTS))
    pods = {p["metadata"]["name"] for p in _deployment_pods(
        Objective(o.id, o.title, o.check, o.hint, {"deployment": o["served-by"]}), snap)}
    summaries = []
    for url in urls(o, snap):
        results = _probed(o, snap, source, probing.Http(url, count))
        answered = Counter(r.get("pod") or "?" for r in results if r.get("status") == 200)
        bad = [r for r in results if r.get("status") != 200]
        expected = f"{count}/{count} answers 200 from pods of {o['served-by']} for {url}"
        if bad:
            r = bad[0]
            what = f"HTTP {r['status']}" if r.get("ok") else (r.get("error") or "no answer")
            raise _Fail(expected, f"{count - len(bad)}/{count} answered; {url}: {what}")
        strangers = set(answered) - pods
        if strangers:
            raise _Fail(expected, f"answered by {', '.join(sorted(strangers))}, "
                                  f"not a pod of {o['served-by']}")
        spread = ", ".join(f"{p.rsplit('-', 1)[-1]}×{n}" for p, n in sorted(answered.items()))
        summaries.append(f"{url} -> 200 from {spread}")
    return "; ".join(summaries)


CHECKS: dict[str, Callable[[Objective, Snapshot], str]] = {
    "deployment-ready": check_deployment_ready,
    "pod-ready": check_pod_ready,
    "service": check_service,
    "service-port": check_service_port,
    "selector": check_selector,
    "endpoints": check_endpoints,
    "external-ips": check_external_ips,
    "external-name": check_external_name,
    "no-cluster-ip": check_no_cluster_ip,
    "dns": check_dns,
    "http": check_http,
    "http-host": check_http,
}
