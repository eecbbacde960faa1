"""Build grader snapshots from manifests, as a small kind cluster would show them.

The objects have the API's shape (the fields the grader reads, as a real API server returns
them); endpoints follow the EndpointSlice controller's rules (ready pods the selector matches,
named targetPorts resolved per pod); probe answers follow kube-proxy's (a Service port with
ready endpoints answers from one of them, without endpoints the connection is refused).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any
from urllib.parse import urlsplit

from labs import catalog, manifests
from labs.grading import Snapshot, planned, probe_key
from labs.probing import Dns, Http

NODES = [("svc-labs-control-plane", "172.18.0.2", True), ("svc-labs-worker", "172.18.0.3", False),
         ("svc-labs-worker2", "172.18.0.4", False)]
HASH = "5b8c666f54"
SUFFIXES = ["nhmwn", "t4v8q", "w9zj2", "bnmvr", "kkqfb"]


def node(name: str, ip: str, control_plane: bool) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {"metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}]}}


def ready_pod(name: str, labels: dict[str, str], spec: dict[str, Any], ip: str, node_name: str,
              owner: str | None = None, ready: bool = True,
              owner_kind: str = "ReplicaSet") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if owner:
        meta["ownerReferences"] = [{"kind": owner_kind, "name": owner, "controller": True}]
    status = "True" if ready else "False"
    return {"metadata": meta, "spec": {**copy.deepcopy(spec), "nodeName": node_name},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": status}]}}


class Cluster:
    """Objects of one lab namespace, built by 'applying' manifest documents."""

    def __init__(self, lab: str) -> None:
        self.lab = catalog.load(lab)
        self.snap = Snapshot(self.lab.namespace, cluster="kind")
        self.snap.nodes = [node(*n) for n in NODES]
        self._ips = itertools.count(10)
        self._ports = itertools.count(30086)
        self._svc_ips = itertools.count(11)

    def apply(self, *files: str, edit: Any = None) -> Cluster:
        for doc in manifests.load_all(files, {"NODE_IP": NODES[0][1]}):
            obj = copy.deepcopy(doc.obj)
            if edit:
                edit(obj)
            getattr(self, f"_{obj['kind'].lower()}")(obj)
        self._endpoints()
        return self

    def setup(self) -> Cluster:
        return self.apply(*(str(p) for p in self.lab.manifests("setup")))

    def solve(self) -> Cluster:
        return self.apply(*(str(p) for p in self.lab.manifests("all")))

    # -- objects --------------------------------------------------------------------------------
    def _configmap(self, obj: dict[str, Any]) -> None:
        pass

    def _deployment(self, obj: dict[str, Any], ready: int | None = None) -> None:
        name, spec = obj["metadata"]["name"], obj["spec"]
        want = spec.get("replicas", 1)
        ready = want if ready is None else ready
        tmpl = spec["template"]
        for i in range(want):
            pod = ready_pod(f"{name}-{HASH}-{SUFFIXES[i]}", tmpl["metadata"]["labels"],
                            tmpl["spec"], f"10.244.{1 + i % 2}.{next(self._ips)}",
                            NODES[1 + i % 2][0], owner=f"{name}-{HASH}", ready=i < ready)
            self.snap.pods[pod["metadata"]["name"]] = pod
        obj["metadata"]["generation"] = 1
        obj["status"] = {"replicas": want, "readyReplicas": ready, "updatedReplicas": want,
                         "availableReplicas": ready, "observedGeneration": 1}
        self.snap.deployments[name] = obj

    def _statefulset(self, obj: dict[str, Any], ready: int | None = None) -> None:
        """Pods <name>-0.. with spec.hostname and spec.subdomain = serviceName, as the
        StatefulSet controller makes them."""
        name, spec = obj["metadata"]["name"], obj["spec"]
        want = spec.get("replicas", 1)
        ready = want if ready is None else ready
        tmpl = spec["template"]
        for i in range(want):
            pod_spec = {**tmpl["spec"], "hostname": f"{name}-{i}",
                        "subdomain": spec.get("serviceName", "")}
            pod = ready_pod(f"{name}-{i}", tmpl["metadata"]["labels"], pod_spec,
                            f"10.244.{1 + i % 2}.{next(self._ips)}", NODES[1 + i % 2][0],
                            owner=name, ready=i < ready, owner_kind="StatefulSet")
            self.snap.pods[pod["metadata"]["name"]] = pod
        obj["metadata"]["generation"] = 1
        obj["status"] = {"replicas": want, "readyReplicas": ready, "currentReplicas": want,
                         "availableReplicas": ready, "observedGeneration": 1}
        self.snap.statefulsets[name] = obj

    def _pod(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        self.snap.pods[name] = ready_pod(name, obj["metadata"].get("labels", {}), obj["spec"],
                                         f"10.244.1.{next(self._ips)}", NODES[1][0])

    def _service(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        kind = spec.setdefault("type", "ClusterIP")
        if kind != "ExternalName":
            spec.setdefault("clusterIP", f"10.96.{next(self._svc_ips)}.{next(self._svc_ips)}")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p["port"])
            if kind in ("NodePort", "LoadBalancer"):
                p.setdefault("nodePort", next(self._ports))
        obj["status"] = {"loadBalancer": {}}
        self.snap.services[obj["metadata"]["name"]] = obj

    def _endpoints(self) -> None:
        self.snap.endpointslices = []
        for name, svc in self.snap.services.items():
            sel = svc["spec"].get("selector")
            if not sel:
                continue
            eps, ports = [], []
            for pod in self.snap.pods.values():
                labels = pod["metadata"].get("labels") or {}
                if not all(labels.get(k) == v for k, v in sel.items()):
                    continue
                resolved = [self._target(p, pod) for p in svc["spec"].get("ports") or []]
                if None in resolved:
                    continue  # a named targetPort the pod does not have: skipped
                ports = resolved
                ready = pod["status"]["conditions"][0]["status"] == "True"
                ep = {"addresses": [pod["status"]["podIP"]],
                      "conditions": {"ready": ready, "serving": ready},
                      "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"]}}
                if pod["spec"].get("hostname") and pod["spec"].get("subdomain") == name:
                    ep["hostname"] = pod["spec"]["hostname"]  # the EndpointSlice controller's rule
                eps.append(ep)
            self.snap.endpointslices.append({
                "metadata": {"name": f"{name}-abcde",
                             "labels": {"kubernetes.io/service-name": name}},
                "endpoints": eps or None, "ports": [{"port": p} for p in ports] or None})

    @staticmethod
    def _target(port: dict[str, Any], pod: dict[str, Any]) -> int | None:
        target = port.get("targetPort", port["port"])
        if isinstance(target, int):
            return target
        for c in pod["spec"].get("containers", []):
            for cp in c.get("ports") or []:
                if cp.get("name") == target:
                    return int(cp["containerPort"])
        return None

    # -- the network -----------------------------------------------------------------------------
    def probe(self) -> Snapshot:
        """Answer every probe the lab's objectives plan, as kube-proxy and CoreDNS would."""
        turn = itertools.count()
        for objective in self.lab.objectives:
            for source, p in planned(objective, self.snap):
                if source != "host" and source not in self.snap.pods:
                    continue
                if isinstance(p, Dns):
                    self.snap.probes[probe_key(source, p)] = self._resolve(p.name)
                else:
                    self.snap.probes[probe_key(source, p)] = [
                        self._get(p.url, source, next(turn)) for _ in range(p.count)]
        return self.snap

    def _resolve(self, name: str) -> dict[str, Any]:
        """CoreDNS: a Service's A record (its cluster IP, or a headless Service's ready
        endpoints), a CNAME for ExternalName, <hostname>.<svc>.<ns>.svc for headless endpoints."""
        suffix = f".{self.lab.namespace}.svc.cluster.local"
        if name.endswith(suffix) and name.count(".") == 5:
            host, svc_name = name[: -len(suffix)].split(".")
            svc = self.snap.services.get(svc_name)
            ips = [a for ep in self._ready_endpoints(svc_name) if ep.get("hostname") == host
                   for a in ep["addresses"]] if svc and svc["spec"].get("clusterIP") == "None" \
                else []
            return {"name": name, "ok": bool(ips), "addresses": ips,
                    "canonical": name if ips else "",
                    "error": "" if ips else "name not found"}
        svc = self.snap.services.get(name)
        canonical = f"{name}.{self.lab.namespace}.svc.cluster.local"
        if svc and svc["spec"]["type"] == "ExternalName":
            canonical = svc["spec"]["externalName"].rstrip(".")
            svc = self.snap.services.get(canonical.split(".")[0])
        if not svc or not svc["spec"].get("clusterIP"):
            return {"name": name, "ok": False, "addresses": [], "canonical": "",
                    "error": "name not found"}
        if svc["spec"]["clusterIP"] == "None":
            ips = sorted(a for ep in self._ready_endpoints(svc["metadata"]["name"])
                         for a in ep["addresses"])
            return {"name": name, "ok": bool(ips), "addresses": ips,
                    "canonical": canonical if ips else "",
                    "error": "" if ips else "name not found"}
        return {"name": name, "ok": True, "addresses": [svc["spec"]["clusterIP"]],
                "canonical": canonical, "error": ""}

    def _get(self, url: str, source: str, turn: int) -> dict[str, Any]:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        node_ips = {ip for _, ip, _ in NODES}
        for name, svc in self.snap.services.items():
            spec = svc["spec"]
            for p in spec.get("ports") or []:
                fqdn = f"{name}.{self.lab.namespace}.svc.cluster.local"
                hit = ((host in (spec.get("clusterIP"), name, fqdn) and port == p["port"])
                       or (host in spec.get("externalIPs", []) and port == p["port"])
                       or (host in node_ips | {"127.0.0.1"} and port == p.get("nodePort")))
                if host == "127.0.0.1" and (source != "host" or not 31001 <= port <= 31005):
                    hit = False  # only the NodePorts the kind config maps reach the host
                if hit:
                    return self._answer(url, name, p, turn)
            if spec.get("type") == "ExternalName" and host == name:
                target = spec["externalName"].split(".")[0]
                tsvc = self.snap.services.get(target)
                if tsvc:
                    for p in tsvc["spec"].get("ports") or []:
                        if port == p["port"]:
                            return self._answer(url, target, p, turn)
        return refused(url)

    def _ready_endpoints(self, service: str) -> list[dict[str, Any]]:
        return [ep for s in self.snap.endpointslices
                if s["metadata"]["labels"]["kubernetes.io/service-name"] == service
                for ep in s["endpoints"] or [] if ep["conditions"]["ready"]]

    def _answer(self, url: str, service: str, port: dict[str, Any], turn: int) -> dict[str, Any]:
        ready = [ep["targetRef"]["name"] for ep in self._ready_endpoints(service)]
        if not ready:
            return refused(url)
        target = self._target(port, self.snap.pods[ready[0]])
        if target != 80:  # nginx listens on 80 only
            return refused(url)
        pod = ready[turn % len(ready)]
        return {"url": url, "ok": True, "status": 200, "seconds": 0.002, "pod": pod,
                "headers": {"x-pod-name": pod, "server": "nginx/1.29.4"},
                "body": f"Host={urlsplit(url).hostname} Path=/ From={pod}", "error": "",
                "exit_code": 0}


def refused(url: str) -> dict[str, Any]:
    host = urlsplit(url)
    return {"url": url, "ok": False, "status": 0, "seconds": 0.001, "pod": None, "headers": {},
            "body": "", "exit_code": 7,
            "error": f"curl: (7) Failed to connect to {host.hostname} port {host.port or 80} "
                     "after 1 ms: Couldn't connect to server"}


def http(url: str, count: int = 1, timeout: float = 3.0) -> Http:
    return Http(url, count, timeout)
