"""The grader: collect what a lab's namespace shows, run the probes its objectives need, and judge
each objective. Judging is a pure function of a :class:`Snapshot`, so recorded snapshots test it.

Findings are data too: each "expected" and "found" is a :class:`labs.messages.Message` (a key and
its values). A :class:`Result` keeps them beside their English text (its stable fields), and
:meth:`Report.in_lang` renders the same data in another language for the reports and the panel.

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import probing
from .catalog import Lab, Objective, Texts, in_lang
from .errors import LabError, ProbeError
from .kube import Kube
from .messages import DEFAULT, Message, label, msg, raw
from .waiting import pod_ready

PASSED, FAILED, SKIPPED, BLOCKED = "passed", "failed", "skipped", "blocked"
REQUESTS = 6  # requests per probed URL: enough to see load balancing
# kube-proxy writes a node's rules a moment after the EndpointSlice changes (about a second on
# kind, several on a busy machine): an in-cluster probe that could not connect to a Service that
# has ready endpoints is tried again, a second apart, for up to SETTLE_SECONDS before it counts.
SETTLE_SECONDS = 10.0
SETTLE_DELAY = 1.0


@dataclass
class Snapshot:
    """What the grader saw: the lab namespace's objects, the nodes, and probe results."""

    namespace: str
    namespace_exists: bool = True
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    statefulsets: dict[str, dict[str, Any]] = field(default_factory=dict)
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
    """One objective's verdict. ``title``, ``expected``, ``found`` and ``hint`` are English text;
    ``expected_msg``/``found_msg`` and ``texts`` hold the same in a form any language renders."""

    id: str
    title: str
    status: str
    expected: str = ""
    found: str = ""
    hint: str = ""
    expected_msg: Message | None = None
    found_msg: Message | None = None
    texts: dict[str, Texts] = field(default_factory=dict)  # the objective's title and hint
    needs: tuple[str, ...] = ()  # BLOCKED: the ids of the objectives it waits for

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def in_lang(self, lang: str) -> Result:
        """The same result worded in ``lang`` (English where a text has no translation)."""
        return replace(
            self, title=in_lang(self.texts, "title", lang, self.title),
            hint=in_lang(self.texts, "hint", lang, self.hint) if self.hint else "",
            expected=self.expected_msg.text(lang) if self.expected_msg else self.expected,
            found=self.found_msg.text(lang) if self.found_msg else self.found)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status,
                "expected": self.expected, "found": self.found, "hint": self.hint,
                "needs": list(self.needs)}


@dataclass
class Report:
    lab: str
    title: str
    namespace: str
    cluster: str
    results: list[Result]
    seconds: float = 0.0
    api_requests: int = 0
    texts: dict[str, Texts] = field(default_factory=dict)  # the lab's title

    @property
    def passed(self) -> bool:
        return all(r.status in (PASSED, SKIPPED) for r in self.results)

    @property
    def first_failure(self) -> Result | None:
        """The objective to fix first: the first that failed (the ones waiting follow from it)."""
        return next((r for r in self.results if r.status == FAILED), None)

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    def in_lang(self, lang: str) -> Report:
        """The same report worded in ``lang``: titles, hints, expected and found."""
        results = [r.in_lang(lang) for r in self.results]
        titles = {r.id: r.title for r in results}
        results = [replace(r, found=label("waits-for", lang,
                                          titles="; ".join(titles[n] for n in r.needs)))
                   if r.status == BLOCKED else r for r in results]
        return replace(self, title=in_lang(self.texts, "title", lang, self.title),
                       results=results)

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "title": self.title, "namespace": self.namespace,
                "cluster": self.cluster, "results": [r.to_dict() for r in self.results],
                "seconds": self.seconds, "api_requests": self.api_requests,
                "passed": self.passed}

    def _ipython_display_(self) -> None:  # a notebook shows the check panel
        from . import session
        from .widgets import check_panel

        check_panel([self], recheck=lambda: session.check(self.lab))


class _Fail(Exception):
    """An objective fails: what was expected and what was found; ``missing`` names the object
    whose absence made it fail, as ("service", name), ("pod", name), ..., or ("namespace", ns)."""

    def __init__(self, expected: Message, found: Message,
                 missing: tuple[str, str] | None = None) -> None:
        self.expected, self.found, self.missing = expected, found, missing


class _Skip(Exception):
    """An objective cannot be judged here, and why."""

    def __init__(self, why: Message) -> None:
        self.why = why


# -- collecting ---------------------------------------------------------------------------------
def collect(kube: Kube, lab: Lab, *, host_ports: bool, cluster: str = "") -> Snapshot:
    """Read what the grader judges (7 requests: the namespace, the nodes and 5 lists in the
    namespace), then run the probes the objectives need (one exec per source pod)."""
    ns = lab.namespace
    snap = Snapshot(ns, host_ports=host_ports, cluster=cluster)
    snap.namespace_exists = kube.get(f"/api/v1/namespaces/{ns}") is not None
    snap.nodes = kube.list("/api/v1/nodes")
    if snap.namespace_exists:
        snap.services = _by_name(kube.list(f"/api/v1/namespaces/{ns}/services"))
        snap.pods = _by_name(kube.list(f"/api/v1/namespaces/{ns}/pods"))
        snap.deployments = _by_name(kube.list(f"/apis/apps/v1/namespaces/{ns}/deployments"))
        snap.statefulsets = _by_name(kube.list(f"/apis/apps/v1/namespaces/{ns}/statefulsets"))
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
        if objective.check in ("dns", "dns-records"):
            return [(objective["from"], probing.Dns(objective["service"]))]
        if objective.check == "dns-pod-names":
            return [(objective["from"], probing.Dns(pod_dns_name(objective, snap, pod)))
                    for pod in _ready_names(_workload_pods(objective, snap))]
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
        pending, started = probes, time.monotonic()
        while pending:
            try:
                results = probing.run(kube, lab.namespace, source, pending)
            except ProbeError as e:
                for p in pending:
                    snap.probes[probe_key(source, p)] = {"error": str(e)}
                break
            for p, result in zip(pending, results, strict=False):
                snap.probes[probe_key(source, p)] = (
                    [r.to_dict() for r in result] if isinstance(result, list) else result.to_dict())
            pending = [p for p, result in zip(pending, results, strict=False)
                       if _not_yet_routed(p, result, snap)]
            if not pending or time.monotonic() - started >= SETTLE_SECONDS:
                break
            time.sleep(SETTLE_DELAY)


def _not_yet_routed(probe: probing.Http | probing.Dns, result: Any, snap: Snapshot) -> bool:
    """No request of an HTTP probe connected, though the lab has ready endpoints: the node's
    kube-proxy may not have written the Service's rules yet."""
    if not isinstance(probe, probing.Http) or not isinstance(result, list) or not result:
        return False
    if any(r.ok for r in result) or not all(r.exit_code in (7, 28) for r in result):
        return False
    return any((ep.get("conditions") or {}).get("ready", True)
               for s in snap.endpointslices for ep in s.get("endpoints") or [])


# -- judging ------------------------------------------------------------------------------------
def evaluate(lab: Lab, snap: Snapshot) -> list[Result]:
    """Judge every objective, then mark the ones that cannot be judged: see :func:`blocked`."""
    results, missing = [], {}
    for o in lab.objectives:
        try:
            if not snap.namespace_exists:
                raise _Fail(msg("namespace", ns=snap.namespace),
                            msg("namespace.missing", ns=snap.namespace, lab=lab.name),
                            ("namespace", snap.namespace))
            found = CHECKS[o.check](o, snap)
            results.append(Result(o.id, o.title, PASSED, found=found.text(), found_msg=found,
                                  texts=o.texts))
        except _Skip as e:
            results.append(Result(o.id, o.title, SKIPPED, found=e.why.text(), found_msg=e.why,
                                  texts=o.texts))
        except _Fail as e:
            results.append(Result(o.id, o.title, FAILED, e.expected.text(), e.found.text(),
                                  o.hint, e.expected, e.found, o.texts))
            if e.missing:
                missing[o.id] = e.missing
    return blocked(lab, results, missing)


def blocked(lab: Lab, results: list[Result], missing: dict[str, tuple[str, str]]) -> list[Result]:
    """Objectives that cannot be judged because another failed become BLOCKED, with ``needs``.

    Two sources, both data: an objective that failed because an object is missing (``missing``:
    objective id -> ("service", name), ...) waits for the objective that checks that object
    exists (its check's :data:`labs.catalog.PROVIDES`), or else for the first objective that
    failed on the same missing object; and an objective whose ``needs:`` (checks/*.yaml) names an
    objective that failed or waits is not judged at all."""
    by_id = {r.id: r for r in results}
    leader: dict[tuple[str, str], str] = {}
    for key in dict.fromkeys(missing.values()):
        failed_on = [i for i, k in missing.items() if k == key]
        providers = [o.id for o in lab.objectives
                     if key in o.provides() and by_id[o.id].status == FAILED]
        leader[key] = (providers or failed_on)[0]
    needs: dict[str, tuple[str, ...]] = {}
    for oid, key in missing.items():
        if leader[key] != oid:
            needs[oid] = (leader[key],)
    changed = True
    while changed:  # `needs:` chains: a needed objective may itself wait
        changed = False
        for o in lab.objectives:
            waits = tuple(n for n in o.needs
                          if by_id[n].status == FAILED or n in needs)
            if waits and o.id not in needs:
                needs[o.id] = waits
                changed = True
    return [_waiting(r, needs[r.id], by_id) if r.id in needs else r for r in results]


def _waiting(r: Result, needs: tuple[str, ...], by_id: dict[str, Result]) -> Result:
    titles = [by_id[n].title for n in needs]
    return replace(r, status=BLOCKED, expected="", hint="", expected_msg=None, found_msg=None,
                   found=label("waits-for", DEFAULT, titles="; ".join(titles)), needs=needs)


def grade(kube: Kube, lab: Lab, *, host_ports: bool, cluster: str = "") -> Report:
    start, before = time.monotonic(), kube.requests
    try:
        snap = collect(kube, lab, host_ports=host_ports, cluster=cluster)
    except LabError:
        raise
    return Report(lab.name, lab.title, lab.namespace, cluster, evaluate(lab, snap),
                  time.monotonic() - start, kube.requests - before, lab.texts)


# -- what the checks read -------------------------------------------------------------------------
def _service(o: Objective, snap: Snapshot, key: str = "service") -> dict[str, Any]:
    name = o[key]
    svc = snap.services.get(name)
    if svc is None:
        others = ", ".join(sorted(snap.services)) or msg("none")
        raise _Fail(msg("service.named", name=name),
                    msg("service.missing", name=name, ns=snap.namespace, others=others),
                    ("service", name))
    return svc


def _workload(o: Objective) -> tuple[str, str]:
    """The objective's workload: ("deployment" or "statefulset", its name)."""
    kind = "statefulset" if "statefulset" in o.params else "deployment"
    return kind, o[kind]


def _workload_pods(o: Objective, snap: Snapshot) -> list[dict[str, Any]]:
    kind, name = _workload(o)
    return _pods_of(kind, name, snap)


def _pods_of(kind: str, name: str, snap: Snapshot) -> list[dict[str, Any]]:
    objects = snap.deployments if kind == "deployment" else snap.statefulsets
    d = objects.get(name)
    if d is None:
        raise _Fail(msg(kind, name=name), msg(f"{kind}.missing", name=name, ns=snap.namespace),
                    (kind, name))
    want = d.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    pods = [p for p in snap.pods.values() if _matches(want, p) and _owned_by(p, kind, name)]
    if not pods:
        raise _Fail(msg(f"{kind}.pods", name=name), msg(f"{kind}.no-pods", name=name),
                    (kind, name))
    return pods


def _served_by_pods(name: str, snap: Snapshot) -> list[dict[str, Any]]:
    """The pods of the Deployment or StatefulSet ``name`` (an http check's served-by)."""
    return _pods_of("statefulset" if name in snap.statefulsets and name not in snap.deployments
                    else "deployment", name, snap)


def _owned_by(pod: dict[str, Any], kind: str, name: str) -> bool:
    """A Deployment's pods belong to its ReplicaSets (<name>-<hash>), a StatefulSet's to it."""
    owners = pod["metadata"].get("ownerReferences") or []
    if kind == "statefulset":
        return any(r.get("kind") == "StatefulSet" and r.get("name") == name for r in owners)
    return any(r.get("kind") == "ReplicaSet" and r.get("name", "").startswith(f"{name}-")
               for r in owners)


def _ready_names(pods: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the live, ready pods, in ordinal order for a StatefulSet (web-2 before web-10)."""
    def order(name: str) -> tuple[str, int, str]:
        base, _, tail = name.rpartition("-")
        return (base, int(tail), "") if tail.isdigit() else (name, -1, name)
    return sorted((p["metadata"]["name"] for p in _live(pods) if pod_ready(p)), key=order)


def pod_dns_name(o: Objective, snap: Snapshot, pod: str) -> str:
    """A StatefulSet pod's own name under the headless Service: web-0.<svc>.<ns>.svc.cluster.local."""
    return f"{pod}.{o['service']}.{snap.namespace}.svc.cluster.local"


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
            raise _Fail(msg("url.field", name=name, field=f),
                        msg("url.no-field", name=name, field=f, ports=_ports_text(svc)))
    combos = itertools.product(*(values[f] for f in fields))
    return [o["url"].format(**dict(zip(fields, c, strict=False))) for c in combos]


# -- the checks -----------------------------------------------------------------------------------
def check_deployment_ready(o: Objective, snap: Snapshot) -> Message:
    return _workload_ready(o, snap, "deployment", snap.deployments)


def _workload_ready(o: Objective, snap: Snapshot, kind: str, objects: dict[str, Any]) -> Message:
    """At least ``replicas`` ready pods in the Deployment or StatefulSet ``o[kind]``."""
    name, want = o[kind], int(o.get("replicas", 1))
    found = objects.get(name)
    if found is None:
        raise _Fail(msg(f"ready.{kind}", name=name, want=want),
                    msg(f"{kind}.missing", name=name, ns=snap.namespace), (kind, name))
    ready = found.get("status", {}).get("readyReplicas") or 0
    count = msg("ready.count", ready=ready, total=found.get("spec", {}).get("replicas", 1))
    if ready < want:
        raise _Fail(msg("ready.want", want=want), count)
    return count


def check_pod_ready(o: Objective, snap: Snapshot) -> Message:
    pod = snap.pods.get(o["pod"])
    if pod is None:
        raise _Fail(msg("pod.ready", pod=o["pod"]),
                    msg("pod.missing", pod=o["pod"], ns=snap.namespace), ("pod", o["pod"]))
    if not pod_ready(pod):
        raise _Fail(msg("pod.ready", pod=o["pod"]),
                    msg("pod.not-ready", phase=pod.get("status", {}).get("phase")), ("pod", o["pod"]))
    return msg("pod.where", ip=pod.get("status", {}).get("podIP", ""),
               node=pod.get("spec", {}).get("nodeName", ""))


def check_service(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    kind = svc.get("spec", {}).get("type", "ClusterIP")
    if kind != o["type"]:
        raise _Fail(msg("type", type=o["type"]), msg("type", type=kind))
    return msg("type", type=kind)


def check_service_port(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    proto = o.get("protocol", "TCP")
    want = f"{o['port']}" + (f":{o['nodePort']}" if o.get("nodePort") else "") + f"/{proto}"
    has = msg("ports", ports=_ports_text(svc))
    for p in svc.get("spec", {}).get("ports") or []:
        if p.get("port") == o["port"] and p.get("protocol", "TCP") == proto:
            if o.get("nodePort") and p.get("nodePort") != o["nodePort"]:
                raise _Fail(msg("ports", ports=want), has)
            return has
    raise _Fail(msg("ports", ports=want), has)


def check_selector(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    selector = svc.get("spec", {}).get("selector") or {}
    pods = _live(_workload_pods(o, snap))
    shown = ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"
    kind, deployment = _workload(o)
    if not selector:
        raise _Fail(msg("selector.want", deployment=deployment), msg("selector.none"))
    missed = [p["metadata"]["name"] for p in pods if not _matches(selector, p)]
    if missed:
        labels = pods[0]["metadata"].get("labels") or {}
        raise _Fail(msg("selector.want-labels", deployment=deployment,
                        labels=", ".join(f"{k}={v}" for k, v in labels.items())),
                    msg("selector.misses", selector=shown, n=len(missed))
                    if len(missed) == len(pods) else
                    msg("selector.misses-some", selector=shown, n=len(pods),
                        matched=len(pods) - len(missed), names=", ".join(missed)))
    extra = [n for n, p in snap.pods.items()
             if _matches(selector, p) and not _owned_by(p, kind, deployment)]
    if extra:
        raise _Fail(msg("selector.want-only", deployment=deployment),
                    msg("selector.extra", selector=shown, extra=", ".join(sorted(extra))))
    return msg("selector.matches", selector=shown, n=len(pods))


def check_endpoints(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    name = svc["metadata"]["name"]
    selector = svc.get("spec", {}).get("selector") or {}
    ready_pods = [p for p in _live(_workload_pods(o, snap)) if pod_ready(p)]
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
    expected = msg("endpoints.want", n=len(ready_pods), deployment=_workload(o)[1])
    if not ready:
        why = ("endpoints.no-ready-pod" if not matched else
               "endpoints.no-port" if slices else "endpoints.no-slice")
        raise _Fail(expected, msg("endpoints.none", why=msg(why)))
    shown = ",".join(f"{a}:{p}" for a in ready[:3] for p in ports[:1])
    more = f" + {len(ready) - 3} more..." if len(ready) > 3 else ""  # kubectl's words
    if len(ready) != len(matched) or len(matched) != len(ready_pods):
        raise _Fail(expected, msg("endpoints.count", n=len(ready), shown=shown, more=more))
    if listening and not set(ports) & listening:
        raise _Fail(msg("endpoints.want-port", ports=", ".join(map(str, listening))),
                    msg("endpoints.wrong-port", ports=", ".join(map(str, ports))))
    return msg("endpoints", shown=shown, more=more)


def check_external_ips(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    nodes = set(_node_ips(snap))
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    ext = list(svc.get("spec", {}).get("externalIPs") or [])
    if ingress:
        return msg("external-ip",
                   ips=",".join(i.get("ip") or i.get("hostname", "") for i in ingress))
    if not ext:
        raise _Fail(msg("external-ip.want"), msg("external-ip.pending"))
    if not nodes & set(ext):
        raise _Fail(msg("external-ip.want-node", nodes=", ".join(sorted(nodes))),
                    msg("external-ip.not-a-node", ips=", ".join(ext)))
    return msg("external-ip", ips=",".join(ext))


def check_external_name(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    spec = svc.get("spec", {})
    want = f"{o['target']}.{snap.namespace}.svc.cluster.local"
    if spec.get("type") != "ExternalName":
        raise _Fail(msg("type", type="ExternalName"),
                    msg("type", type=spec.get("type", "ClusterIP")))
    got = (spec.get("externalName") or "").rstrip(".")
    if got != want:
        raise _Fail(msg("external-name", name=want), msg("external-name", name=got or "<none>"))
    return msg("external-ip", ips=got)


def check_no_cluster_ip(o: Objective, snap: Snapshot) -> Message:
    svc = _service(o, snap)
    ip = svc.get("spec", {}).get("clusterIP")
    if ip and ip != "None":
        raise _Fail(msg("cluster-ip", ip="<none>"), msg("cluster-ip", ip=ip))
    return msg("cluster-ip", ip="<none>")


def _probed(o: Objective, snap: Snapshot, source: str, probe: probing.Http | probing.Dns) -> Any:
    if source != "host":
        pod = snap.pods.get(source)
        if pod is None or not pod_ready(pod):
            raise _Fail(msg("probe.want-pod", pod=source),
                        msg("probe.no-pod", pod=source, ns=snap.namespace), ("pod", source))
    result = snap.probes.get(probe_key(source, probe))
    if result is None:
        raise _Fail(msg("probe.want-result"), msg("probe.not-run"))
    if isinstance(result, dict) and "error" in result and "ok" not in result:
        raise _Fail(msg("probe.want-run"), raw(result["error"]))
    return result


def check_dns(o: Objective, snap: Snapshot) -> Message:
    _service(o, snap)  # the name looked up is a Service's: without it there is nothing to resolve
    target = _service(o, snap, "resolves-to")
    want = target.get("spec", {}).get("clusterIP")
    result = _probed(o, snap, o["from"], probing.Dns(o["service"]))
    if not result.get("ok"):
        raise _Fail(msg("dns.want", service=o["service"], ip=want),
                    msg("dns.failed", error=result.get("error")))
    got = result.get("addresses") or []
    if want not in got:
        raise _Fail(msg("dns.want-target", service=o["service"], ip=want, target=o["resolves-to"]),
                    msg("dns.got", service=o["service"], addresses=", ".join(got),
                        canonical=result.get("canonical") or "?"))
    return msg("dns.chain", service=o["service"], canonical=result.get("canonical") or o["service"],
               addresses=", ".join(got))


def check_http(o: Objective, snap: Snapshot) -> Message:
    if o.check == "http-host" and not snap.host_ports:
        raise _Skip(msg("http.no-host-ports"))
    source = o.get("from", "host")
    count = int(o.get("requests", REQUESTS))
    targets = urls(o, snap)  # the Service first: without it nothing else can be judged
    pods = {p["metadata"]["name"] for p in _served_by_pods(o["served-by"], snap)}
    summaries = []
    for url in targets:
        results = _probed(o, snap, source, probing.Http(url, count))
        answered = Counter(r.get("pod") or "?" for r in results if r.get("status") == 200)
        bad = [r for r in results if r.get("status") != 200]
        expected = msg("http.want", count=count, deployment=o["served-by"], url=url)
        if bad:
            r = bad[0]
            what = (msg("http.status", status=r["status"]) if r.get("ok") else
                    raw(r["error"]) if r.get("error") else msg("http.no-answer"))
            raise _Fail(expected, msg("http.failed", ok=count - len(bad), count=count, url=url,
                                      what=what))
        strangers = set(answered) - pods
        if strangers:
            raise _Fail(expected, msg("http.strangers", pods=", ".join(sorted(strangers)),
                                      deployment=o["served-by"]))
        spread = ", ".join(f"{_short(p)}×{n}" for p, n in sorted(answered.items()))
        summaries.append(msg("http.answered", url=url, spread=spread))
    return summaries[0] if len(summaries) == 1 else msg("text", text=summaries)


def check_statefulset_ready(o: Objective, snap: Snapshot) -> Message:
    return _workload_ready(o, snap, "statefulset", snap.statefulsets)


def check_headless(o: Objective, snap: Snapshot) -> Message:
    """clusterIP None on a ClusterIP Service; with ``statefulset``, that it names this Service."""
    svc = _service(o, snap)
    spec = svc.get("spec", {})
    kind, ip = spec.get("type", "ClusterIP"), spec.get("clusterIP")
    if kind != "ClusterIP":
        raise _Fail(msg("headless.want"), msg("type", type=kind))
    if ip != "None":
        raise _Fail(msg("headless.want"), msg("cluster-ip", ip=ip or "<none>"))
    if "statefulset" not in o.params:
        return msg("cluster-ip", ip="None")
    name, service = o["statefulset"], o["service"]
    sts = snap.statefulsets.get(name)
    if sts is None:
        raise _Fail(msg("statefulset", name=name),
                    msg("statefulset.missing", name=name, ns=snap.namespace), ("statefulset", name))
    got = sts.get("spec", {}).get("serviceName") or "<none>"
    if got != service:
        raise _Fail(msg("service-name", statefulset=name, service=service),
                    msg("service-name", statefulset=name, service=got))
    return msg("headless", statefulset=name, service=service)


def check_dns_records(o: Objective, snap: Snapshot) -> Message:
    """The Service's name resolves to exactly the ready pods' IPs: one A record each, no VIP."""
    svc = _service(o, snap)
    service, name = o["service"], o["statefulset"]
    ips = sorted(p.get("status", {}).get("podIP", "") for p in _live(_workload_pods(o, snap))
                 if pod_ready(p))
    expected = msg("dns.records.want", service=service, n=len(ips), statefulset=name,
                   ips=", ".join(ips) or msg("none"))
    result = _probed(o, snap, o["from"], probing.Dns(service))
    if not result.get("ok"):
        raise _Fail(expected, msg("dns.failed", error=result.get("error")))
    got = list(result.get("addresses") or [])
    found = msg("dns.records", service=service, addresses=", ".join(sorted(got)), n=len(got))
    vip = svc.get("spec", {}).get("clusterIP")
    if vip and vip != "None" and vip in got:
        raise _Fail(expected, msg("dns.records.vip", service=service, ip=vip))
    if sorted(got) != ips:
        raise _Fail(expected, found)
    return found


def check_dns_pod_names(o: Objective, snap: Snapshot) -> Message:
    """Each ready pod's own name under the headless Service resolves to that pod's IP."""
    svc = _service(o, snap)
    service, name = o["service"], o["statefulset"]
    pods = {p["metadata"]["name"]: p for p in _workload_pods(o, snap)}
    ready = _ready_names(pods.values())
    expected = msg("dns.pod-names.want", statefulset=name, service=service, ns=snap.namespace)
    if not ready:
        raise _Fail(expected, msg("dns.pod-names.no-ready", statefulset=name),
                    ("statefulset", name))
    sts_service = snap.statefulsets.get(name, {}).get("spec", {}).get("serviceName") or "<none>"
    why: Message | str = ""
    if svc.get("spec", {}).get("clusterIP") != "None":
        why = msg("dns.pod-names.not-headless", service=service)
    elif sts_service != service:
        why = msg("dns.pod-names.other-service", statefulset=name, service=sts_service)
    answers = []
    for pod in ready:
        fqdn = pod_dns_name(o, snap, pod)
        result = _probed(o, snap, o["from"], probing.Dns(fqdn))
        if not result.get("ok"):
            raise _Fail(expected, msg("dns.pod-name.failed", name=fqdn,
                                      error=result.get("error"), why=why))
        ip = pods[pod].get("status", {}).get("podIP", "")
        got = result.get("addresses") or []
        if got != [ip]:
            raise _Fail(expected, msg("dns.pod-name.wrong", name=fqdn, addresses=", ".join(got),
                                      pod=pod, ip=ip))
        answers.append(msg("dns.pod-name", name=f"{pod}.{service}", ip=ip))
    return msg("text", text=answers)


def _short(pod: str) -> str:
    """A Deployment's pod by its suffix (nhmwn), a StatefulSet's by its whole name (web-0)."""
    tail = pod.rsplit("-", 1)[-1]
    return pod if tail.isdigit() else tail


CHECKS: dict[str, Callable[[Objective, Snapshot], Message]] = {
    "deployment-ready": check_deployment_ready,
    "statefulset-ready": check_statefulset_ready,
    "pod-ready": check_pod_ready,
    "service": check_service,
    "service-port": check_service_port,
    "selector": check_selector,
    "endpoints": check_endpoints,
    "external-ips": check_external_ips,
    "external-name": check_external_name,
    "no-cluster-ip": check_no_cluster_ip,
    "headless": check_headless,
    "dns": check_dns,
    "dns-records": check_dns_records,
    "dns-pod-names": check_dns_pod_names,
    "http": check_http,
    "http-host": check_http,
}
