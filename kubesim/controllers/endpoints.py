"""The Endpoints and EndpointSlice controllers (one sync writes both): for each Service with a
selector, its pods with an IP, ready or not (publishNotReadyAddresses), grouped by the ports their
named target ports resolve to.

Two indexes keep a write cheap however full the namespace is: pods by (namespace, label, value),
so a Service finds its pods without a scan, and Services by the (label, value) pairs of their
selectors, so a pod's change reaches only the Services that may select it.
"""

from __future__ import annotations

from typing import Any

from ..registry import R, now
from ..selectors import match_labels
from ..store import Change
from .base import Context, Controller, Obj, controlled_by, key_of, owner_ref, pod_ready

PODS, SVC, EP, EPS = R["pods"], R["services"], R["endpoints"], R["endpointslices"]
Pairs = dict[tuple[str, str, str], set[str]]


def _index(index: Pairs, ns: str, labels: dict[str, str] | None, name: str, add: bool) -> None:
    for k, v in (labels or {}).items():
        if add:
            index.setdefault((ns, k, v), set()).add(name)
        else:
            names = index.get((ns, k, v))
            if names is not None:
                names.discard(name)
                if not names:
                    del index[(ns, k, v)]


class EndpointsController(Controller):
    name = "endpoints"
    watches = (PODS, SVC)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pod_labels: Pairs = {}      # (namespace, label, value) -> pod names
        self.selected_by: Pairs = {}     # (namespace, label, value) -> Services selecting it

    def resync(self) -> None:
        for p in self.store.iter(PODS):
            _index(self.pod_labels, p["metadata"].get("namespace", ""),
                   p["metadata"].get("labels"), p["metadata"]["name"], True)
        for s in self.store.iter(SVC):
            self._index_service(s, None, False)
            self.enqueue(key_of(s))

    def _index_service(self, s: Obj, old: Obj | None, deleted: bool) -> None:
        ns, name = key_of(s)
        if old is not None:
            _index(self.selected_by, ns, (old.get("spec") or {}).get("selector"), name, False)
        _index(self.selected_by, ns, (s.get("spec") or {}).get("selector"), name, not deleted)

    def on_change(self, ch: Change) -> None:
        o = ch.obj
        ns, name = key_of(o)
        if ch.res is SVC:
            self._index_service(o, ch.old, ch.type == "DELETED")
            self.enqueue((ns, name))
            return
        labels = o["metadata"].get("labels") or {}
        old_labels = (ch.old or {}).get("metadata", {}).get("labels") or {}
        if ch.old is not None:
            _index(self.pod_labels, ns, old_labels, name, False)
        _index(self.pod_labels, ns, labels, name, ch.type != "DELETED")
        # the Services whose selector shares a pair with the pod's labels (old or new)
        candidates: set[str] = set()
        for lbls in (labels, old_labels):
            for k, v in lbls.items():
                candidates |= self.selected_by.get((ns, k, v), set())
        for svc_name in candidates:
            s = self.store.find(SVC, ns, svc_name)
            sel = (s.get("spec") or {}).get("selector") if s else None
            if match_labels(sel, labels) or match_labels(sel, old_labels):
                self.enqueue((ns, svc_name))

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        svc = self.store.find(SVC, ns, name)
        if svc is None:
            ep = self.store.find(EP, ns, name)
            if ep is not None and not (ep["metadata"].get("labels") or {}).get(
                    "kubesim.dev/user-managed"):
                if (ep["metadata"].get("annotations") or {}).get(
                        "endpoints.kubernetes.io/last-change-trigger-time"):
                    self.store.delete(EP, ns, name)
            return
        spec = svc.get("spec") or {}
        sel = spec.get("selector")
        if not sel or spec.get("type") == "ExternalName":
            return
        publish = bool(spec.get("publishNotReadyAddresses"))
        sets = [self.pod_labels.get((ns, k, v), set()) for k, v in sel.items()]
        candidates = min(sets, key=len) if sets else set()
        found = (self.store.find(PODS, ns, n) for n in list(candidates))
        pods = [p for p in found if p is not None
                and match_labels(sel, p["metadata"].get("labels"))
                and (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and (publish or not p["metadata"].get("deletionTimestamp"))]
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        slice_groups: dict[tuple[Any, ...], list[Obj]] = {}
        for p in pods:
            ports = []
            for sp in spec.get("ports") or []:
                tp = _target_port(p, sp)
                if tp is None:
                    continue
                ep_port = {"port": tp, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    ep_port = {"name": sp["name"], **ep_port}
                if sp.get("appProtocol"):
                    ep_port["appProtocol"] = sp["appProtocol"]
                ports.append(ep_port)
            pk = tuple(tuple(sorted(x.items())) for x in ports)
            slice_groups.setdefault(pk, []).append(p)
            groups.setdefault(pk, {"ports": ports, "ready": [], "notready": []})  # type: ignore
            if spec.get("ports") and not ports:
                continue  # Endpoints skip a pod no service port resolves on; slices keep it
            ready = pod_ready(p) or publish
            addr: Obj = {"ip": p["status"]["podIP"]}
            host = _hostname(p, name)
            if host:
                addr["hostname"] = host
            addr.update({"nodeName": p["spec"].get("nodeName"),
                         "targetRef": {"kind": "Pod", "namespace": ns,
                                       "name": p["metadata"]["name"],
                                       "uid": p["metadata"]["uid"]}})
            groups[pk]["ready" if ready else "notready"].append(addr)
        subsets = []
        for g in groups.values():
            if not g["ready"] and not g["notready"]:
                continue
            ss: Obj = {}
            if g["ready"]:
                ss["addresses"] = sorted(g["ready"], key=lambda a: a["ip"])
            if g["notready"]:
                ss["notReadyAddresses"] = sorted(g["notready"], key=lambda a: a["ip"])
            if g["ports"]:
                ss["ports"] = g["ports"]
            subsets.append(ss)
        subsets.sort(key=lambda s: str(s.get("ports")))
        self._write_endpoints(svc, subsets)
        self._write_slices(svc, slice_groups, groups, publish)

    def _write_endpoints(self, svc: Obj, subsets: list[Obj]) -> None:
        ns, name = key_of(svc)
        cur = self.store.find(EP, ns, name)
        labels = dict(svc["metadata"].get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        if cur is not None and cur.get("subsets", []) == subsets and \
                cur["metadata"].get("labels") == labels:
            return
        ep: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": labels,
                                "annotations": {
                                    "endpoints.kubernetes.io/last-change-trigger-time":
                                        now()}}}
        if subsets:
            ep["subsets"] = subsets
        if cur is None:
            self.reg.create(EP, ns, ep, validation_mode="Ignore")
        else:
            ep["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            self.reg.update(EP, ns, name, ep, validation_mode="Ignore", check_rv=False)

    def _write_slices(self, svc: Obj, slice_groups: dict[tuple[Any, ...], list[Obj]],
                      groups: dict[tuple[Any, ...], Any], publish: bool) -> None:
        ns, name = key_of(svc)
        existing = sorted((s for s in self.store.in_namespace(EPS, ns)
                           if (s["metadata"].get("labels") or {}).get(
                               "kubernetes.io/service-name") == name and controlled_by(s, svc)),
                          key=lambda s: s["metadata"]["name"])
        desired = []
        for pk, pods in slice_groups.items():
            eps = []
            for p in sorted(pods, key=lambda p: p["status"]["podIP"]):
                serving = pod_ready(p)
                terminating = bool(p["metadata"].get("deletionTimestamp"))
                ep: Obj = {"addresses": [p["status"]["podIP"]],
                           "conditions": {"ready": publish or (serving and not terminating),
                                          "serving": serving, "terminating": terminating}}
                host = _hostname(p, name)
                if host:
                    ep["hostname"] = host
                eps.append(dict(ep, **{"nodeName": p["spec"].get("nodeName"),
                                       "targetRef": {"kind": "Pod", "namespace": ns,
                                                     "name": p["metadata"]["name"],
                                                     "uid": p["metadata"]["uid"]}}))
            desired.append((groups[pk]["ports"], eps))
        if not desired:
            ports = []
            for sp in (svc.get("spec") or {}).get("ports") or []:
                if isinstance(sp.get("targetPort"), int):
                    ports.append({k: v for k, v in (("name", sp.get("name", "")),
                                                    ("port", sp["targetPort"]),
                                                    ("protocol", sp.get("protocol", "TCP")))})
            desired = [(ports, [])]
        labels = dict(svc["metadata"].get("labels") or {})
        labels.update({"kubernetes.io/service-name": name,
                       "endpointslice.kubernetes.io/managed-by":
                           "endpointslice-controller.k8s.io"})
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        for i, (ports, eps) in enumerate(desired):
            ports = [dict(p, name=p.get("name", "")) for p in ports]
            body: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                         "metadata": {"namespace": ns, "labels": labels,
                                      "ownerReferences": [owner_ref(svc)],
                                      "generateName": f"{name}-",
                                      "annotations": {
                                          "endpoints.kubernetes.io/last-change-trigger-time":
                                              now()}},
                         "addressType": "IPv4", "endpoints": eps, "ports": ports}
            if i < len(existing):
                cur = existing[i]
                if cur.get("endpoints") == eps and cur.get("ports") == ports and \
                        cur["metadata"].get("labels") == labels:
                    continue
                body["metadata"]["name"] = cur["metadata"]["name"]
                self.reg.update(EPS, ns, cur["metadata"]["name"], body, check_rv=False,
                                validation_mode="Ignore")
            else:
                self.reg.create(EPS, ns, body, validation_mode="Ignore")
        for extra in existing[len(desired):]:
            self.store.delete(EPS, ns, extra["metadata"]["name"])


def _hostname(pod: Obj, service: str) -> str | None:
    """A pod's DNS hostname under a Service: spec.hostname, when spec.subdomain names it."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service:
        return str(spec["hostname"])
    return None


def _target_port(pod: Obj, sp: Obj) -> int | None:
    tp = sp.get("targetPort", sp.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    proto = sp.get("protocol", "TCP")
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp and p.get("protocol", "TCP") == proto:
                return p.get("containerPort")
    return None
