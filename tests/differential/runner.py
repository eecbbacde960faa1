"""Differential runner: apply each case in cases/ to a cluster and normalise what it answers.

A case (YAML) is an API operation on Services (and the objects they select), plus the normalised
result the real Kubernetes API server gave: HTTP code, Status reason and message, causes (field,
reason, message), the defaulted object, allocations (as ranges, since random picks differ), and
Endpoints/EndpointSlices.  The same normalised result is computed for every target, so any target
(the real control plane, the embedded cluster) can be compared against the recording and against
each other.

    python tests/differential/runner.py --kubeconfig K [--case NAME]...   # compare, print diffs
    python tests/differential/runner.py --kubeconfig K --record           # rewrite `expect:`

Only --record against the real control plane should ever write expectations.

Case keys:
  description, reference   what is checked, and where the claim comes from
  setup                    objects created first (must succeed): Service, Pod, Deployment
  request                  verb: create | update | merge-patch | strategic-patch | json-patch
                             | delete; manifest (create/update: the full object; update fetches
                             the resourceVersion itself) or name + patch
  repeat                   create `repeat` copies of the request's Service (names <name>-<i>) and
                           report the allocation bands seen (for allocation-order rules)
  steps                    a sequence of requests, each like `request` plus `manager`
                           (fieldManager), `force`, `dryrun`, `subresource` (status: an update
                           merges the manifest into the live object), verb `apply` (server-side apply of
                           `manifest`); the result lists each step's normalised answer and
                           the object's managedFields (times left out)
  workload                 {kind: StatefulSet|DaemonSet, name: NAME, stages: [...]}: after the
                           request, each stage in turn: {wait: {pods: N}} (until N pods, no
                           more, all Running and Ready, and the status agrees; records a
                           snapshot: status, pods, ControllerRevisions), {delete_pod: NAME}
                           (records whether it came back under the same name), {scale: N},
                           {image: IMAGE} (the first container's, a rolling update)
  wait_endpoints           {service: NAME, ready: N, not_ready: M, slice_endpoints: K}: after
                           the request, wait until the Endpoints have that many addresses and
                           the EndpointSlices K endpoints (default N+M), then include both
  expect                   the recorded normalised result
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).resolve().parent / "cases"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
NODE_PORTS = (30000, 32767)
NODE_PORT_UPPER = 30086  # service-semantics.md §3: random picks from 30086-32767 first


# -- cases -------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    path: Path
    data: dict

    @property
    def expect(self) -> dict | None:
        return self.data.get("expect")


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        cases.append(Case(path.stem, path, data))
    return cases


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def record(case: Case, result: dict) -> None:
    data = dict(case.data)
    data.pop("expect", None)
    data["expect"] = result
    case.path.write_text(dump(data))


# -- talking to a cluster ------------------------------------------------------------------------
class Cluster:
    """Raw HTTP to any kubeconfig target (client certs or token), keeping every status code."""

    def __init__(self, kubeconfig: str | Path):
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        self.api = client.ApiClient(cfg)
        self.host = cfg.host.rstrip("/")
        self.auth = {}
        token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        if token:
            prefix = cfg.api_key_prefix.get("authorization", "")
            self.auth["Authorization"] = f"{prefix} {token}".strip() if prefix else token

    def close(self) -> None:
        self.api.close()

    warnings: list[str] = []

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        headers = {"Accept": "application/json", **self.auth}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        r = self.api.rest_client.pool_manager.request(
            method, self.host + path, body=data, headers=headers, timeout=30.0)
        self.warnings = r.headers.getlist("Warning") if hasattr(r.headers, "getlist") else []
        try:
            return r.status, json.loads(r.data or b"{}")
        except ValueError:
            return r.status, {"raw": r.data.decode(errors="replace")}


PLURAL = {"Service": "services", "Pod": "pods", "ConfigMap": "configmaps", "Endpoints": "endpoints",
          "Deployment": "deployments", "EndpointSlice": "endpointslices"}


GROUP_KINDS = {"StatefulSet": ("apis/apps/v1", "statefulsets"),
               "DaemonSet": ("apis/apps/v1", "daemonsets"),
               "ControllerRevision": ("apis/apps/v1", "controllerrevisions"),
               "Ingress": ("apis/networking.k8s.io/v1", "ingresses"),
               "IngressClass": ("apis/networking.k8s.io/v1", "ingressclasses")}
CLUSTER_SCOPED = {"IngressClass"}


def collection(kind: str, ns: str) -> str:
    if kind in GROUP_KINDS:
        prefix, plural = GROUP_KINDS[kind]
        if kind in CLUSTER_SCOPED:
            return f"/{prefix}/{plural}"
        return f"/{prefix}/namespaces/{ns}/{plural}"
    if kind in ("Deployment", "ReplicaSet"):
        return f"/apis/apps/v1/namespaces/{ns}/{kind.lower()}s"
    if kind == "EndpointSlice":
        return f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    return f"/api/v1/namespaces/{ns}/{PLURAL[kind]}"


# -- normalisation -------------------------------------------------------------------------------
def normalise_status(code: int, body: dict, ns: str) -> dict:
    out: dict[str, Any] = {"code": code}
    if body.get("kind") == "Status":
        out["reason"] = body.get("reason", "")
        out["message"] = body.get("message", "").replace(ns, "<ns>")
        causes = (body.get("details") or {}).get("causes")
        if causes is not None:
            out["causes"] = [{"field": c.get("field", ""), "reason": c.get("reason", ""),
                              "message": c.get("message", "").replace(ns, "<ns>")}
                             for c in causes]
    return out


def _nodeport_label(port: int) -> str:
    if not NODE_PORTS[0] <= port <= NODE_PORTS[1]:
        return f"<out of range: {port}>"
    band = "upper 30086-32767" if port >= NODE_PORT_UPPER else "lower 30000-30085"
    return f"<allocated: {band}>"


def _ip_label(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr not in SERVICE_CIDR:
        return f"<outside {SERVICE_CIDR}: {ip}>"
    offset = int(addr) - int(SERVICE_CIDR.network_address)
    return f"<allocated: {SERVICE_CIDR}, {'first 256' if offset < 256 else 'offset >= 256'}>"


def normalise_service(obj: dict, requested: dict | None, before: dict | None) -> dict:
    """The Service as the server returned it, minus volatile metadata; allocated values that
    were not requested become range labels (or <unchanged> on updates)."""
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    keep = {k: meta[k] for k in ("name", "labels", "annotations", "finalizers") if meta.get(k)}
    obj["metadata"] = keep
    spec = obj.get("spec", {})
    rspec = (requested or {}).get("spec", {})
    bspec = (before or {}).get("spec", {})
    if spec.get("clusterIP") and spec["clusterIP"] != "None" and not rspec.get("clusterIP"):
        old = bspec.get("clusterIP")
        label = "<unchanged>" if old and old == spec["clusterIP"] else _ip_label(spec["clusterIP"])
        spec["clusterIP"] = label
        ips = spec.get("clusterIPs") or []
        if ips:
            spec["clusterIPs"] = [label] + ips[1:]
    rports = {(p.get("name"), p.get("port")): p for p in rspec.get("ports") or []}
    bports = {(p.get("name"), p.get("port")): p for p in bspec.get("ports") or []}
    seen: dict[int, int] = {}  # allocated nodePort -> index of the first port that has it
    for i, p in enumerate(spec.get("ports") or []):
        key = (p.get("name"), p.get("port"))
        if "nodePort" in p and not rports.get(key, {}).get("nodePort"):
            old = bports.get(key, {}).get("nodePort")
            value = p["nodePort"]
            if old == value:
                p["nodePort"] = "<unchanged>"
            elif value in seen:
                p["nodePort"] = f"<same as ports[{seen[value]}]>"
            else:
                p["nodePort"] = _nodeport_label(value)
            seen.setdefault(value, i)
    if spec.get("healthCheckNodePort") and not rspec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = _nodeport_label(spec["healthCheckNodePort"])
    obj.pop("apiVersion", None)
    obj.pop("kind", None)
    return obj


def _node(name: str | None, pod: dict) -> str | None:
    """A node name is random (the scheduler's pick): compare it with the pod's, not literally."""
    if name is None:
        return None
    if pod and name == pod.get("spec", {}).get("nodeName"):
        return "<pod's node>"
    return f"<not the pod's node: {name}>" if pod else "<a node>"


def normalise_endpoints(ep: dict, pods: dict[str, dict]) -> dict:
    def addr(a: dict) -> dict:
        ref = a.get("targetRef") or {}
        pod = pods.get(ref.get("name", ""), {})
        out = {"ip": "<pod IP>" if pod and a.get("ip") == pod["status"].get("podIP") else a.get("ip"),
               "targetRef": f"{ref.get('kind')}/{ref.get('name')}" if ref else None,
               "nodeName": _node(a.get("nodeName"), pod)}
        if a.get("hostname"):
            out["hostname"] = a["hostname"]
        return out

    subsets = []
    for s in ep.get("subsets") or []:
        subsets.append({
            "addresses": sorted((addr(a) for a in s.get("addresses") or []),
                                key=lambda a: a["targetRef"] or ""),
            "notReadyAddresses": sorted((addr(a) for a in s.get("notReadyAddresses") or []),
                                        key=lambda a: a["targetRef"] or ""),
            "ports": sorted(s.get("ports") or [], key=lambda p: (p.get("name") or "", p["port"])),
        })
    subsets.sort(key=lambda s: json.dumps(s["ports"]))
    ann = ep.get("metadata", {}).get("annotations") or {}
    return {"subsets": subsets,
            "annotations": sorted(k for k in ann)}


def normalise_slices(items: list[dict], pods: dict[str, dict]) -> list[dict]:
    out = []
    for s in items:
        meta = s.get("metadata", {})
        eps = []
        for e in s.get("endpoints") or []:
            ref = e.get("targetRef") or {}
            pod = pods.get(ref.get("name", ""), {})
            ip = pod.get("status", {}).get("podIP")
            eps.append({
                "addresses": ["<pod IP>" if ip and a == ip else a for a in e.get("addresses", [])],
                "conditions": e.get("conditions", {}),
                "targetRef": f"{ref.get('kind')}/{ref.get('name')}" if ref else None,
                "nodeName": _node(e.get("nodeName"), pod),
            })
        eps.sort(key=lambda e: e["targetRef"] or "")
        out.append({
            "generateName": meta.get("generateName"),
            "labels": {k: v for k, v in (meta.get("labels") or {}).items()},
            "ownerReferences": [f"{o['kind']}/{o['name']} controller={o.get('controller')}"
                                for o in meta.get("ownerReferences") or []],
            "addressType": s.get("addressType"),
            "ports": sorted(s.get("ports") or [], key=lambda p: (p.get("name") or "",
                                                                 p.get("port") or 0)),
            "endpoints": eps,
        })
    out.sort(key=lambda s: json.dumps(s["ports"]))
    return out


# -- running a case ------------------------------------------------------------------------------
class CaseError(AssertionError):
    pass


def _wait(what: str, fn, timeout: float):
    deadline = time.monotonic() + timeout
    delay, last = 0.05, None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise CaseError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def run_case(cluster: Cluster, case: Case, timeout: float = 60.0) -> dict:
    """Apply the case in a fresh namespace and return its normalised result."""
    ns = f"diff-{case.name[:40].strip('-')}-{uuid.uuid4().hex[:5]}"
    code, body = cluster.request("POST", "/api/v1/namespaces",
                                 {"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": ns}})
    if code != 201:
        raise CaseError(f"cannot create namespace {ns}: {code} {body.get('message')}")
    try:
        return _run_in(cluster, case, ns, timeout)
    finally:
        # Services first, one by one: their cluster IPs and nodePorts are released at once, so
        # explicit allocations in the next case (or the next run) cannot collide with this one's.
        code, body = cluster.request("GET", collection("Service", ns))
        for item in body.get("items", []) if code == 200 else []:
            cluster.request("DELETE", f"{collection('Service', ns)}/{item['metadata']['name']}")
        cluster.request("DELETE", f"/api/v1/namespaces/{ns}")


def _run_in(cluster: Cluster, case: Case, ns: str, timeout: float) -> dict:
    data = case.data
    created: dict[str, dict] = {}
    if any(o["kind"] in ("Pod", "Deployment", "StatefulSet", "DaemonSet")
           for o in (data.get("setup") or []) + [(data.get("request") or {}).get("manifest")
                                                 or {"kind": ""}]):
        # Pods are refused until the ServiceAccount controller made the namespace's `default`.
        _wait("the namespace's default ServiceAccount", lambda: cluster.request(
            "GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] == 200, timeout)
    for obj in data.get("setup") or []:
        code, body = cluster.request("POST", collection(obj["kind"], ns), obj)
        if code != 201:
            raise CaseError(f"setup {obj['kind']}/{obj['metadata']['name']}: {code} "
                            f"{body.get('message')}")
        created[f"{obj['kind']}/{obj['metadata']['name']}"] = body
    # Pods in the setup must be Running (or have the phase the case waits for) before the request.
    for obj in data.get("setup") or []:
        if obj["kind"] == "Pod":
            name = obj["metadata"]["name"]

            def running(name=name):
                code, body = cluster.request("GET", f"{collection('Pod', ns)}/{name}")
                return body if code == 200 and body.get("status", {}).get("podIP") else None

            created[f"Pod/{name}"] = _wait(f"pod {name} to get an IP", running, timeout)

    req = data.get("request")
    result: dict[str, Any] = {}
    if data.get("repeat"):
        result = _run_repeat(cluster, req["manifest"], int(data["repeat"]), ns)
    elif data.get("steps"):
        result = {"steps": [_run_step(cluster, step, ns, created) for step in data["steps"]]}
    elif req:
        result = _run_request(cluster, req, ns, created)
    if data.get("workload"):
        result["stages"] = _workload(cluster, data["workload"], ns, timeout)
    if data.get("wait_endpoints"):
        result.update(_endpoints(cluster, data["wait_endpoints"], ns, timeout))
    return result


def _run_request(cluster: Cluster, req: dict, ns: str, created: dict[str, dict]) -> dict:
    verb = req["verb"]
    manifest = req.get("manifest")
    kind = (manifest or {}).get("kind", req.get("kind", "Service"))
    name = (manifest or {}).get("metadata", {}).get("name") or req.get("name")
    path = collection(kind, ns)
    before = created.get(f"{kind}/{name}")
    if verb == "create":
        code, body = cluster.request("POST", path, manifest)
    elif verb == "update":
        code, current = cluster.request("GET", f"{path}/{name}")
        if code != 200:
            raise CaseError(f"update: GET {kind}/{name}: {code}")
        manifest = copy.deepcopy(manifest)
        manifest["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        code, body = cluster.request("PUT", f"{path}/{name}", manifest)
    elif verb in ("merge-patch", "strategic-patch", "json-patch"):
        ctype = {"merge-patch": "application/merge-patch+json",
                 "strategic-patch": "application/strategic-merge-patch+json",
                 "json-patch": "application/json-patch+json"}[verb]
        code, body = cluster.request("PATCH", f"{path}/{name}", req["patch"], ctype)
        manifest = req["patch"] if verb != "json-patch" else None
    elif verb == "delete":
        code, body = cluster.request("DELETE", f"{path}/{name}")
        return {"code": code}
    elif verb == "get":
        code, body = cluster.request("GET", f"{path}/{name}")
        out = normalise_status(code, body, ns)
        if cluster.warnings:
            out["warnings"] = cluster.warnings
        if code == 200 and kind == "Service":
            out["object"] = normalise_service(body, None, before)
        elif code == 200 and kind == "Endpoints":
            out["object"] = normalise_endpoints(body, {})
        return out
    else:
        raise CaseError(f"unknown verb {verb}")
    out = normalise_status(code, body, ns)
    if 200 <= code < 300 and kind == "Service":
        out["object"] = normalise_service(body, manifest, before)
    elif 200 <= code < 300 and kind in GROUP_KINDS:
        out["object"] = normalise_object(body)
        if kind in CLUSTER_SCOPED:
            cluster.request("DELETE", f"{path}/{name}")
    return out


# -- workloads (StatefulSet, DaemonSet) ---------------------------------------------------------
def normalise_object(obj: dict) -> dict:
    """Any object minus its volatile metadata."""
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    obj["metadata"] = {k: meta[k] for k in ("name", "labels", "annotations", "generation")
                       if meta.get(k)}
    obj["metadata"].get("annotations", {}).pop(
        "kubectl.kubernetes.io/last-applied-configuration", None)
    obj.pop("apiVersion", None)
    obj.pop("kind", None)
    return obj


def _node_role(cluster: Cluster, name: str, cache: dict[str, str]) -> str:
    if name not in cache:
        code, node = cluster.request("GET", f"/api/v1/nodes/{name}")
        labels = node.get("metadata", {}).get("labels") or {} if code == 200 else {}
        cache[name] = "<control-plane>" if "node-role.kubernetes.io/control-plane" in labels \
            else "<worker>"
    return cache[name]


def _hashes(kind: str, text: str, hashes: dict[str, str]) -> str:
    """DaemonSet revision hashes differ between implementations (Go's spew of the template):
    name them by order of appearance. StatefulSet ones are compared literally."""
    if kind != "DaemonSet":
        return text
    for h, label in hashes.items():
        text = text.replace(h, label)
    return text


def _snapshot(cluster: Cluster, kind: str, name: str, ns: str, hashes: dict[str, str],
              nodes: dict[str, str]) -> dict:
    code, owner = cluster.request("GET", f"{collection(kind, ns)}/{name}")
    code, pods = cluster.request("GET", collection("Pod", ns))
    code, revs = cluster.request("GET", collection("ControllerRevision", ns))
    for r in sorted(revs.get("items") or [], key=lambda r: r.get("revision", 0)):
        h = (r["metadata"].get("labels") or {}).get("controller-revision-hash")
        if h and h not in hashes:
            hashes[h] = f"<hash {len(hashes) + 1}>"
    out_pods = []
    for p in pods.get("items") or []:
        refs = p["metadata"].get("ownerReferences") or []
        if not any(r.get("kind") == kind and r.get("name") == name for r in refs):
            continue
        spec = p.get("spec") or {}
        pname = p["metadata"]["name"]
        entry = {
            "name": pname if kind == "StatefulSet" else
            f"{name}-<{len(pname) - len(name) - 1} chars>",
            "generateName": p["metadata"].get("generateName"),
            "labels": {k: _hashes(kind, v, hashes)
                       for k, v in (p["metadata"].get("labels") or {}).items()},
            "ownerReferences": [f"{o['kind']}/{o['name']} controller={o.get('controller')}"
                                for o in refs],
            "node": _node_role(cluster, spec["nodeName"], nodes) if spec.get("nodeName")
            else None,
            "image": (spec.get("containers") or [{}])[0].get("image"),
        }
        for k in ("hostname", "subdomain"):
            if spec.get(k):
                entry[k] = spec[k]
        if kind == "DaemonSet":
            entry["tolerations"] = spec.get("tolerations")
            terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
            entry["nodeAffinity"] = json.loads(json.dumps(terms).replace(
                json.dumps(spec.get("nodeName", "")), '"<its node>"'))
        out_pods.append(entry)
    out_pods.sort(key=lambda e: (e["node"] or "", e["name"]))
    st = dict(owner.get("status") or {})
    st.pop("conditions", None)
    status = json.loads(_hashes(kind, json.dumps(st), hashes))
    revisions = []
    for r in sorted(revs.get("items") or [], key=lambda r: r.get("revision", 0)):
        refs = r["metadata"].get("ownerReferences") or []
        if not any(o.get("kind") == kind and o.get("name") == name for o in refs):
            continue
        data = copy.deepcopy(r.get("data"))
        revisions.append({"name": _hashes(kind, r["metadata"]["name"], hashes),
                          "revision": r.get("revision"),
                          "labels": {k: _hashes(kind, v, hashes)
                                     for k, v in (r["metadata"].get("labels") or {}).items()},
                          "image": data["spec"]["template"]["spec"]["containers"][0]["image"],
                          "patch": data["spec"]["template"].get("$patch")})
    return {"status": status, "pods": out_pods, "revisions": revisions,
            "generation": owner.get("metadata", {}).get("generation")}


def _workload(cluster: Cluster, spec: dict, ns: str, timeout: float) -> list:
    kind, name = spec["kind"], spec["name"]
    path = f"{collection(kind, ns)}/{name}"
    hashes: dict[str, str] = {}
    nodes: dict[str, str] = {}
    out: list[Any] = []
    for stage in spec["stages"]:
        if "wait" in stage:
            want = stage["wait"]["pods"]

            def settled(want=want):
                code, owner = cluster.request("GET", path)
                st = owner.get("status") or {}
                code, pods = cluster.request("GET", collection("Pod", ns))
                mine = [p for p in pods.get("items") or []
                        if any(r.get("kind") == kind and r.get("name") == name
                               for r in p["metadata"].get("ownerReferences") or [])]
                ready = [p for p in mine if not p["metadata"].get("deletionTimestamp") and any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or [])]
                if len(mine) != want or len(ready) != want:
                    return None
                if st.get("observedGeneration") != owner["metadata"].get("generation"):
                    return None
                rolling = ((owner["spec"].get("updateStrategy") or {}).get("type")
                           == "RollingUpdate")
                if kind == "StatefulSet":
                    ok = st.get("readyReplicas", 0) == want and st.get("replicas") == want and (
                        not rolling or st.get("updatedReplicas", 0) == want and
                        st.get("currentRevision") == st.get("updateRevision"))
                else:
                    ok = st.get("numberReady") == want and st.get(
                        "numberAvailable", 0) == want and (
                        not rolling or st.get("updatedNumberScheduled", 0) == want)
                return True if ok else None

            _wait(f"{kind} {name} with {want} ready pods", settled, timeout)
            out.append({"wait": want, **_snapshot(cluster, kind, name, ns, hashes, nodes)})
        elif "delete_pod" in stage:
            pod = stage["delete_pod"]
            code, before = cluster.request("GET", f"{collection('Pod', ns)}/{pod}")
            old_uid = before.get("metadata", {}).get("uid")
            code, _ = cluster.request("DELETE", f"{collection('Pod', ns)}/{pod}")

            def back(pod=pod, uid=old_uid):
                code, p = cluster.request("GET", f"{collection('Pod', ns)}/{pod}")
                return code == 200 and p["metadata"]["uid"] != uid

            try:
                _wait(f"pod {pod} to come back", back, timeout)
                came_back = True
            except CaseError:
                came_back = False
            out.append({"delete_pod": pod, "code": code, "same_name_back": came_back})
        elif "scale" in stage:
            code, _ = cluster.request("PATCH", path, {"spec": {"replicas": stage["scale"]}},
                                      "application/merge-patch+json")
            out.append({"scale": stage["scale"], "code": code})
        elif "image" in stage:
            code, owner = cluster.request("GET", path)
            c = owner["spec"]["template"]["spec"]["containers"][0]["name"]
            patch = {"spec": {"template": {"spec": {"containers": [
                {"name": c, "image": stage["image"]}]}}}}
            code, _ = cluster.request("PATCH", path, patch,
                                      "application/strategic-merge-patch+json")
            out.append({"image": stage["image"], "code": code})
    return out


CONTROLLERS = {"kube-controller-manager", "kubelet", "kwok", "kube-scheduler"}


def normalise_managed_fields(obj: dict) -> list[dict]:
    """managedFields without their times, in the server's order; the controllers' entries
    (status written while a rollout progresses) are left out, their timing differs."""
    return [{k: v for k, v in e.items() if k != "time"}
            for e in obj.get("metadata", {}).get("managedFields") or []
            if e.get("manager") not in CONTROLLERS]


def _run_step(cluster: Cluster, step: dict, ns: str, created: dict[str, dict]) -> dict:
    """One request of a sequence; `manager` and `force` become query parameters."""
    verb = step["verb"]
    manifest = step.get("manifest")
    kind = (manifest or {}).get("kind", step.get("kind", "Service"))
    name = (manifest or {}).get("metadata", {}).get("name") or step.get("name")
    path = f"{collection(kind, ns)}/{name}"
    write_path = path + (f"/{step['subresource']}" if step.get("subresource") else "")
    query = []
    if step.get("manager"):
        query.append(f"fieldManager={step['manager']}")
    if step.get("force"):
        query.append("force=true")
    if step.get("dryrun"):
        query.append("dryRun=All")
    qs = "?" + "&".join(query) if query else ""
    code, before = cluster.request("GET", path)
    before = before if code == 200 else None
    if verb == "apply":
        code, body = cluster.request("PATCH", write_path + qs, manifest,
                                     "application/apply-patch+yaml")
    elif verb == "create":
        code, body = cluster.request("POST", collection(kind, ns) + qs, manifest)
    elif verb == "update":
        manifest = copy.deepcopy(manifest)
        if step.get("subresource"):  # the live object with the step's changes merged in,
            for _ in range(10):      # again if a controller wrote in between (RetryOnConflict)
                code, body = cluster.request("PUT", write_path + qs,
                                             _merged(before or {}, manifest))
                if code != 409:
                    break
                _, before = cluster.request("GET", path)
        else:
            manifest["metadata"]["resourceVersion"] = (before or {}).get(
                "metadata", {}).get("resourceVersion")
            code, body = cluster.request("PUT", write_path + qs, manifest)
    elif verb in ("merge-patch", "strategic-patch", "json-patch"):
        ctype = {"merge-patch": "application/merge-patch+json",
                 "strategic-patch": "application/strategic-merge-patch+json",
                 "json-patch": "application/json-patch+json"}[verb]
        code, body = cluster.request("PATCH", write_path + qs, step["patch"], ctype)
    elif verb == "get":
        code, body = cluster.request("GET", path)
    else:
        raise CaseError(f"unknown step verb {verb}")
    out = normalise_status(code, body, ns)
    if out.get("reason") == "Conflict" and out.get("causes"):
        # the API server lists an apply's conflicts in map order: sort them by manager
        out["causes"] = sorted(out["causes"], key=lambda c: c["message"])
    if 200 <= code < 300 and body.get("kind") == kind:
        if kind == "Service":
            out["object"] = normalise_service(body, manifest if verb != "get" else None, before)
        else:
            obj = copy.deepcopy(body)
            meta = obj.get("metadata", {})
            obj["metadata"] = {k: meta[k] for k in ("name", "labels", "annotations", "finalizers")
                               if meta.get(k)}
            # what the deployment controller writes depends on how far it got: left out
            ann = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("deployment.kubernetes.io/")}
            obj["metadata"].pop("annotations", None)
            if ann:
                obj["metadata"]["annotations"] = ann
            obj.pop("status", None)
            out["object"] = obj
        out["managedFields"] = normalise_managed_fields(body)
    return out


def _merged(live: dict, changes: dict) -> dict:
    out = copy.deepcopy(live)
    for k, v in changes.items():
        out[k] = _merged(out.get(k) or {}, v) if isinstance(v, dict) else copy.deepcopy(v)
    return out


def _run_repeat(cluster: Cluster, manifest: dict, n: int, ns: str) -> dict:
    bands: dict[str, int] = {}
    codes: dict[str, int] = {}
    for i in range(n):
        m = copy.deepcopy(manifest)
        m["metadata"]["name"] = f"{manifest['metadata']['name']}-{i}"
        code, body = cluster.request("POST", collection("Service", ns), m)
        codes[str(code)] = codes.get(str(code), 0) + 1
        if code != 201:
            continue
        spec = normalise_service(body, m, None)["spec"]
        labels = [spec.get("clusterIP")] + [p.get("nodePort") for p in spec.get("ports") or []]
        for label in labels:
            if label:
                bands[str(label)] = bands.get(str(label), 0) + 1
    return {"codes": codes, "allocations": dict(sorted(bands.items()))}


def _endpoints(cluster: Cluster, spec: dict, ns: str, timeout: float) -> dict:
    svc, ready, not_ready = spec["service"], spec.get("ready", 0), spec.get("not_ready", 0)

    def counts(ep: dict) -> tuple[int, int]:
        subsets = ep.get("subsets") or []
        ips = {a["ip"] for s in subsets for a in s.get("addresses") or []}
        nips = {a["ip"] for s in subsets for a in s.get("notReadyAddresses") or []}
        return len(ips), len(nips)

    def ep_ready():
        code, ep = cluster.request("GET", f"{collection('Endpoints', ns)}/{svc}")
        return ep if code == 200 and counts(ep) == (ready, not_ready) else None

    try:
        ep = _wait(f"Endpoints {svc} with {ready} ready and {not_ready} not ready addresses",
                   ep_ready, timeout)
    except CaseError:
        code, ep = cluster.request("GET", f"{collection('Endpoints', ns)}/{svc}")
        if code != 200:
            return {"endpoints": f"<no Endpoints object: {code}>"}
    # EndpointSlices may hold more endpoints than the Endpoints (a pod without the named port
    # gets a slice without ports): the case says how many with slice_endpoints.
    want_total = spec.get("slice_endpoints", ready + not_ready)

    def slices_ready():
        code, body = cluster.request(
            "GET", collection("EndpointSlice", ns) + f"?labelSelector=kubernetes.io/service-name={svc}")
        items = body.get("items") or []
        total = sum(len(s.get("endpoints") or []) for s in items)
        return items if code == 200 and total == want_total else None

    try:
        slices = _wait(f"EndpointSlices of {svc} with {want_total} endpoints", slices_ready, timeout)
    except CaseError:
        code, body = cluster.request(
            "GET", collection("EndpointSlice", ns) + f"?labelSelector=kubernetes.io/service-name={svc}")
        slices = body.get("items") or []
    code, pods = cluster.request("GET", collection("Pod", ns))
    by_name = {p["metadata"]["name"]: p for p in pods.get("items", [])}
    return {"endpoints": normalise_endpoints(ep, by_name),
            "endpointSlices": normalise_slices(slices, by_name)}


# -- comparison ----------------------------------------------------------------------------------
def diff(expected: Any, observed: Any, path: str = "") -> list[str]:
    """Human-readable differences, one line per differing leaf."""
    if isinstance(expected, dict) and isinstance(observed, dict):
        out = []
        for k in sorted(set(expected) | set(observed), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in observed:
                out.append(f"{p}: expected {expected[k]!r}, missing")
            elif k not in expected:
                out.append(f"{p}: unexpected {observed[k]!r}")
            else:
                out += diff(expected[k], observed[k], p)
        return out
    if isinstance(expected, list) and isinstance(observed, list) and len(expected) == len(observed):
        out = []
        for i, (e, o) in enumerate(zip(expected, observed, strict=True)):
            out += diff(e, o, f"{path}[{i}]")
        return out
    return [] if expected == observed else [f"{path}: expected {expected!r}, got {observed!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--case", action="append", help="only these cases (file stem)")
    ap.add_argument("--record", action="store_true",
                    help="write the observed results as the expectations (real server only)")
    args = ap.parse_args(argv)
    cluster = Cluster(args.kubeconfig)
    failed = 0
    cases = [c for c in load_cases() if not args.case or c.name in args.case]
    for case in cases:
        t0 = time.monotonic()
        try:
            observed = run_case(cluster, case)
        except CaseError as e:
            print(f"ERROR {case.name}: {e}")
            failed += 1
            continue
        if args.record:
            record(case, observed)
            print(f"recorded {case.name}")
            continue
        problems = diff(case.expect, observed) if case.expect is not None else ["no expect"]
        print(f"{'ok  ' if not problems else 'DIFF'} {case.name} ({time.monotonic() - t0:.1f} s)")
        for p in problems:
            print(f"     {p}")
        failed += bool(problems)
    cluster.close()
    print(f"{len(cases) - failed}/{len(cases)} cases agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
