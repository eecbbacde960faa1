"""The cluster network as kube-proxy (iptables mode) and CoreDNS make it, computed from the
store: where a connection to ip:port ends up, which client address the server sees, and what
the cluster DNS answers."""

from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import dataclass, field
from typing import Any

from ..nodes import NODES
from ..resources import lookup
from .containers import Listener, listeners
from .images import Image, profile

PODS = lookup("", "v1", "pods")
SVCS = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
ENDPOINTS = lookup("", "v1", "endpoints")
CONFIGMAPS = lookup("", "v1", "configmaps")
DOMAIN = "cluster.local"
DNS_IP = "10.96.0.10"
TTL = 30
HOST_GATEWAY = "172.18.0.1"   # the docker network's gateway: what a kind node sees from the host
NODE_BY_IP = {n.internal_ip: n for n in NODES}
APISERVER_PORT = 6443


def apiserver_listener() -> Listener:
    return Listener({"metadata": {"name": f"kube-apiserver-{NODES[0].name}",
                                  "namespace": "kube-system"}}, {}, APISERVER_PORT, "apiserver")
NODE_BY_NAME = {n.name: n for n in NODES}


def bridge_ip(node_name: str) -> str:
    n = NODE_BY_NAME.get(node_name)
    if n is None:
        return HOST_GATEWAY
    return str(next(ipaddress.ip_network(n.pod_cidr).hosts()))


@dataclass
class Source:
    """Who opens a connection or asks DNS: a pod, or the host (through kind's port mappings)."""

    kind: str                    # "pod" or "host"
    ip: str
    node: str = ""
    namespace: str = "default"
    name: str = ""
    pod: dict[str, Any] | None = None
    image: Image | None = None


@dataclass
class Endpoint:
    ip: str
    port: int
    node: str
    pod: str
    ready: bool = True
    hostname: str = ""           # the endpoint's DNS name under a headless Service (CoreDNS)


def endpoint_hostname(e: Endpoint) -> str:
    """CoreDNS's name for an endpoint under its Service: the hostname the EndpointSlice gives
    it (a pod whose spec.subdomain is the Service, e.g. a StatefulSet's), else the dashed IP."""
    return e.hostname or e.ip.replace(".", "-")


@dataclass
class Route:
    """The outcome of a connection attempt."""

    kind: str                    # "ok", "refused", "drop", "unreachable"
    listener: Listener | None = None
    backend_ip: str = ""
    client_ip: str = ""          # as the server sees it
    service: str = ""            # ns/name:port of the Service that DNATed, if any
    note: str = ""


@dataclass
class Answer:
    """A DNS answer for one question (after search-domain expansion)."""

    rcode: str                               # NOERROR, NXDOMAIN, SERVFAIL
    qname: str = ""
    records: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, data)
    additional: list[tuple[str, str, str]] = field(default_factory=list)

    def addresses(self) -> list[str]:
        return [d for _, t, d in self.records if t == "A"]

    def canonical(self) -> str:
        cn = self.qname
        for name, t, data in self.records:
            if t == "CNAME" and name == cn:
                cn = data
        return cn


class Network:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.affinity: dict[tuple[str, str], tuple[str, int, float]] = {}
        self.rng = random.Random()
        self._cache_rv = -1
        self._view: dict[str, Any] = {}
        self._memo: dict[Any, Any] = {}
        self.on_access: Any = None   # (listener, request, response, client_ip) -> None

    def access_log(self, lis: Listener, req: Any, resp: Any, client_ip: str) -> None:
        if self.on_access is not None:
            self.on_access(lis, req, resp, client_ip)

    # ---- indexes, rebuilt when the store changed ----
    def view(self) -> dict[str, Any]:
        if self._cache_rv == self.store.rv:
            return self._view
        self._memo = {}   # per-version answers (listeners, endpoints)
        svc_by_ip: dict[str, dict[str, Any]] = {}
        by_nodeport: dict[int, dict[str, Any]] = {}
        by_external: dict[str, list[dict[str, Any]]] = {}
        by_name: dict[tuple[str, str], dict[str, Any]] = {}
        for s in self.store.iter(SVCS):
            spec = s.get("spec") or {}
            by_name[(s["metadata"].get("namespace", ""), s["metadata"]["name"])] = s
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    svc_by_ip[ip] = s
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                for p in spec.get("ports") or []:
                    if p.get("nodePort"):
                        by_nodeport[int(p["nodePort"])] = s
            for ip in spec.get("externalIPs") or []:
                by_external.setdefault(ip, []).append(s)
            for ing in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ing.get("ip"):
                    by_external.setdefault(ing["ip"], []).append(s)
        pod_by_ip: dict[str, dict[str, Any]] = {}
        for p in self.store.iter(PODS):
            st = p.get("status") or {}
            if st.get("podIP") and st.get("phase") == "Running":
                pod_by_ip[st["podIP"]] = p
        self._view = {"svc_by_ip": svc_by_ip, "nodeport": by_nodeport, "external": by_external,
                      "svc": by_name, "pod_by_ip": pod_by_ip}
        self._cache_rv = self.store.rv
        return self._view

    def source_for_pod(self, pod: dict[str, Any]) -> Source:
        st = pod.get("status") or {}
        image = profile(((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", ""))
        return Source("pod", st.get("podIP") or "", (pod.get("spec") or {}).get("nodeName", ""),
                      pod["metadata"].get("namespace", "default"), pod["metadata"]["name"], pod,
                      image)

    def configmaps(self, ns: str) -> dict[str, dict[str, Any]]:
        return {c["metadata"]["name"]: c for c in self.store.list(CONFIGMAPS, ns)}

    def listener(self, pod: dict[str, Any], port: int) -> Listener | None:
        self.view()
        key = ("lis", pod["metadata"].get("uid") or id(pod))
        if key not in self._memo:
            self._memo[key] = listeners(pod, self.configmaps(pod["metadata"].get("namespace",
                                                                                 "")))
        return self._memo[key].get(port)

    # ---- endpoints ----
    def endpoints(self, svc: dict[str, Any], sp: dict[str, Any]) -> list[Endpoint]:
        self.view()
        key = ("eps", svc["metadata"].get("uid") or id(svc), sp.get("name") or "",
               sp.get("port"))
        if key not in self._memo:
            self._memo[key] = self._endpoints(svc, sp)
        return self._memo[key]

    def _endpoints(self, svc: dict[str, Any], sp: dict[str, Any]) -> list[Endpoint]:
        ns, name = svc["metadata"].get("namespace", ""), svc["metadata"]["name"]
        want = sp.get("name") or ""
        out: list[Endpoint] = []
        slices = [s for s in self.store.list(SLICES, ns)
                  if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name]
        if slices:
            for sl in slices:
                port = next((p.get("port") for p in sl.get("ports") or []
                             if (p.get("name") or "") == want), None)
                if port is None:
                    continue
                for ep in sl.get("endpoints") or []:
                    cond = ep.get("conditions") or {}
                    if cond.get("ready") is False:
                        continue
                    for ip in ep.get("addresses") or []:
                        out.append(Endpoint(ip, int(port), ep.get("nodeName", ""),
                                            (ep.get("targetRef") or {}).get("name", ""),
                                            hostname=ep.get("hostname") or ""))
        else:
            eps = self.store.find(ENDPOINTS, ns, name)
            for ss in (eps or {}).get("subsets") or []:
                port = next((p.get("port") for p in ss.get("ports") or []
                             if (p.get("name") or "") == want), None)
                if port is None:
                    continue
                for a in ss.get("addresses") or []:
                    out.append(Endpoint(a["ip"], int(port), a.get("nodeName", ""),
                                        (a.get("targetRef") or {}).get("name", ""),
                                        hostname=a.get("hostname") or ""))
        uniq = {(e.ip, e.port): e for e in out}
        return [uniq[k] for k in sorted(uniq, key=lambda k: f"{k[0]}:{k[1]}")]

    def choose(self, svc: dict[str, Any], sp: dict[str, Any], eps: list[Endpoint],
               client_ip: str) -> Endpoint:
        """iptables mode: a uniform random pick (rule i taken with probability 1/(n-i)), or the
        remembered endpoint of this client with ClientIP affinity (xt_recent, sliding timeout)."""
        spec = svc.get("spec") or {}
        if spec.get("sessionAffinity") == "ClientIP":
            timeout = float((((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
                             .get("timeoutSeconds")) or 10800)
            key = (f"{svc['metadata'].get('uid', '')}/{sp.get('name') or sp.get('port')}",
                   client_ip)
            now = time.monotonic()
            hit = self.affinity.get(key)
            if hit is not None and now - hit[2] <= timeout:
                for e in eps:
                    if (e.ip, e.port) == (hit[0], hit[1]):
                        self.affinity[key] = (e.ip, e.port, now)
                        return e
            e = eps[self.rng.randrange(len(eps))]
            self.affinity[key] = (e.ip, e.port, now)
            return e
        return eps[self.rng.randrange(len(eps))]

    # ---- connections ----
    def _to_backend(self, ep: Endpoint, client_ip: str, svc: str) -> Route:
        pod = self.view()["pod_by_ip"].get(ep.ip)
        if pod is None and ep.ip == NODES[0].internal_ip and ep.port == APISERVER_PORT:
            return Route("ok", apiserver_listener(), ep.ip, client_ip, svc)
        if pod is None:
            return Route("unreachable", backend_ip=ep.ip, service=svc,
                         note="the endpoint's pod has no process")
        lis = self.listener(pod, ep.port)
        if lis is None:
            return Route("refused", backend_ip=ep.ip, client_ip=client_ip, service=svc,
                         note=f"nothing listens on {ep.ip}:{ep.port} in pod "
                              f"{pod['metadata']['name']}")
        return Route("ok", lis, ep.ip, client_ip, svc)

    def route(self, src: Source, ip: str, port: int) -> Route:
        v = self.view()
        if ip.startswith("127.") or ip == "::1":
            if src.kind == "pod" and src.pod is not None:
                lis = self.listener(src.pod, port)
                return Route("ok", lis, ip, "127.0.0.1") if lis else Route("refused")
            return Route("refused")
        svc = v["svc_by_ip"].get(ip)
        if svc is not None:
            sp = self._port(svc, port)
            if sp is None:
                return Route("drop", note="no Service port matches; no rule DNATs it")
            eps = self.endpoints(svc, sp)
            name = self._svc_port_name(svc, sp)
            if not eps:
                return Route("refused", service=name, note=f"{name} has no endpoints")
            ep = self.choose(svc, sp, eps, src.ip)
            return self._to_backend(ep, self._hairpin(src, ep), name)
        externals = [s for s in v["external"].get(ip, []) if self._port(s, port) is not None]
        if externals:
            s = externals[0]
            # every node has the `-d <externalIP> -j KUBE-EXT-...` rule in KUBE-SERVICES (no
            # LOCAL destination test, unlike NodePorts): a pod's packet is DNATed and
            # masqueraded on its own node; the host's enters at the node that has the address
            entry = src.node if src.kind == "pod" and src.node in NODE_BY_NAME else \
                NODE_BY_IP.get(ip, NODES[0]).name
            return self._external(src, s, self._port(s, port), entry)  # type: ignore[arg-type]
        node = NODE_BY_IP.get(ip)
        if node is not None:
            s = v["nodeport"].get(port)
            if s is not None:
                sp = next(p for p in s["spec"]["ports"] if int(p.get("nodePort") or 0) == port)
                return self._external(src, s, sp, node.name)
            if node is NODES[0] and port == APISERVER_PORT:
                return Route("ok", apiserver_listener(), ip, src.ip)
            return Route("refused", note=f"nothing listens on node {node.name} port {port}")
        pod = v["pod_by_ip"].get(ip)
        if pod is not None:
            lis = self.listener(pod, port)
            if lis is None:
                return Route("refused", backend_ip=ip)
            return Route("ok", lis, ip, src.ip)
        for n in NODES:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(n.pod_cidr):
                return Route("unreachable", note="no pod has this address")
        return Route("drop", note="nothing answers there: the embedded cluster has no outside "
                                  "network")

    def _hairpin(self, src: Source, ep: Endpoint) -> str:
        if src.kind == "pod" and ep.ip == src.ip:
            return bridge_ip(src.node)  # a pod reaching itself through a Service is SNATed
        return src.ip

    def _external(self, src: Source, svc: dict[str, Any], sp: dict[str, Any],
                  entry: str) -> Route:
        name = self._svc_port_name(svc, sp)
        eps = self.endpoints(svc, sp)
        if not eps:
            return Route("refused", service=name, note=f"{name} has no endpoints")
        local = (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local"
        if local and src.kind == "pod":
            # kube-proxy sends pod traffic for external destinations to all endpoints
            ep = self.choose(svc, sp, eps, src.ip)
            return self._to_backend(ep, src.ip, name)
        if local:
            eps = [e for e in eps if e.node == entry]
            if not eps:
                return Route("drop", service=name, note=f"{name} has no local endpoints")
            ep = self.choose(svc, sp, eps, src.ip)
            return self._to_backend(ep, src.ip, name)
        ep = self.choose(svc, sp, eps, src.ip)
        seen = bridge_ip(entry) if ep.node == entry else NODE_BY_NAME[entry].internal_ip \
            if entry in NODE_BY_NAME else src.ip
        return self._to_backend(ep, seen, name)

    @staticmethod
    def _port(svc: dict[str, Any], port: int) -> dict[str, Any] | None:
        for p in (svc.get("spec") or {}).get("ports") or []:
            if int(p.get("port") or 0) == port and (p.get("protocol") or "TCP") == "TCP":
                return p
        return None

    @staticmethod
    def _svc_port_name(svc: dict[str, Any], sp: dict[str, Any]) -> str:
        md = svc["metadata"]
        base = f"{md.get('namespace', '')}/{md['name']}"
        return f"{base}:{sp['name']}" if sp.get("name") else base

    # ---- DNS (CoreDNS kubernetes plugin, kind's Corefile) ----
    def search_list(self, src: Source) -> list[str]:
        if src.kind != "pod":
            return []
        ns = src.namespace
        return [f"{ns}.svc.{DOMAIN}", f"svc.{DOMAIN}", DOMAIN]

    def candidates(self, src: Source, name: str) -> list[str]:
        """glibc's order: absolute first when the name has ndots:5 dots, else the search list."""
        if name.endswith("."):
            return [name.rstrip(".")]
        dots = name.count(".")
        searched = [f"{name}.{d}" for d in self.search_list(src)]
        return [name] + searched if dots >= 5 else searched + [name]

    def resolve(self, src: Source, name: str, qtype: str = "A") -> Answer:
        """What a stub resolver with the pod's resolv.conf ends up with."""
        last = Answer("NXDOMAIN", name.rstrip(".").lower())
        for cand in self.candidates(src, name.lower()):
            ans = self.query(cand, qtype)
            if ans.rcode == "NOERROR" and ans.records:
                return ans
            if ans.rcode == "SERVFAIL":
                last = ans
        return last

    def query(self, qname: str, qtype: str = "A", depth: int = 0) -> Answer:
        """One question to the cluster DNS (10.96.0.10), no search list."""
        q = qname.rstrip(".").lower()
        ans = Answer("NOERROR", q)
        v = self.view()
        if q.endswith(".in-addr.arpa"):
            return self._ptr(q)
        if q == DOMAIN or q.endswith("." + DOMAIN):
            labels = q[: -len(DOMAIN) - 1].split(".") if q != DOMAIN else []
            if len(labels) >= 3 and labels[-1] == "svc":
                svc_name, ns = labels[-3], labels[-2]
                svc = v["svc"].get((ns, svc_name))
                if svc is None:
                    return Answer("NXDOMAIN", q)
                spec = svc.get("spec") or {}
                fqdn = f"{svc_name}.{ns}.svc.{DOMAIN}"
                rest = labels[:-3]
                if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
                    return self._srv(q, svc, rest[0][1:], rest[1][1:], fqdn)
                if len(rest) == 1:   # <hostname>.<svc>.<ns>.svc: headless per-endpoint names
                    return self._endpoint_name(q, svc, rest[0], qtype)
                if rest:
                    return Answer("NXDOMAIN", q)
                if spec.get("type") == "ExternalName":
                    target = (spec.get("externalName") or "").rstrip(".").lower()
                    ans.records.append((q, "CNAME", target))
                    if qtype in ("A", "ANY") and depth < 8:
                        nxt = self.query(target, "A", depth + 1)
                        ans.records += nxt.records
                        if nxt.rcode == "SERVFAIL":
                            ans.rcode = "SERVFAIL" if not ans.records else "NOERROR"
                    return ans
                if qtype not in ("A", "ANY"):
                    return ans   # NOERROR, no data (e.g. AAAA in an IPv4 cluster)
                if spec.get("clusterIP") == "None":
                    eps = self._all_endpoints(svc)
                    if not eps:
                        return Answer("NXDOMAIN", q)
                    ips = sorted({e.ip for e in eps})
                    random.shuffle(ips)   # kind's Corefile has `loadbalance`: A records rotate
                    ans.records += [(q, "A", ip) for ip in ips]
                    return ans
                if spec.get("clusterIP"):
                    ans.records.append((fqdn if q == fqdn else q, "A", spec["clusterIP"]))
                return ans
            if len(labels) == 3 and labels[-1] == "pod":
                ip = labels[0].replace("-", ".")
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    return Answer("NXDOMAIN", q)
                if qtype in ("A", "ANY"):
                    ans.records.append((q, "A", ip))
                return ans
            if len(labels) == 2 and labels[-1] in ("svc", "pod") and labels[0] in {
                    k[0] for k in v["svc"]}:
                return ans   # a namespace's zone exists: NOERROR, no data
            return Answer("NXDOMAIN", q)
        node = NODE_BY_NAME.get(q)
        if node is not None:   # kind nodes resolve through Docker's DNS (CoreDNS forwards)
            if qtype in ("A", "ANY"):
                ans.records.append((q, "A", node.internal_ip))
            return ans
        if q in ("localhost",):
            ans.records.append((q, "A", "127.0.0.1"))
            return ans
        if "." not in q:
            return Answer("NXDOMAIN", q)   # no such top-level domain
        return Answer("SERVFAIL", q)   # CoreDNS forwards upstream: no network here

    def _all_endpoints(self, svc: dict[str, Any]) -> list[Endpoint]:
        eps: list[Endpoint] = []
        for sp in (svc.get("spec") or {}).get("ports") or [{}]:
            eps += self.endpoints(svc, sp)
        return eps

    def _srv(self, q: str, svc: dict[str, Any], port_name: str, proto: str,
             fqdn: str) -> Answer:
        spec = svc.get("spec") or {}
        ans = Answer("NOERROR", q)
        for sp in spec.get("ports") or []:
            if sp.get("name") == port_name and (sp.get("protocol") or "TCP").lower() == proto:
                if spec.get("clusterIP") == "None":
                    # one record per ready endpoint, named as CoreDNS names it; the weights
                    # of a priority share 100 (floor(100/n))
                    eps = self.endpoints(svc, sp)
                    for e in eps:
                        host = f"{endpoint_hostname(e)}.{fqdn}"
                        ans.records.append((q, "SRV", f"0 {100 // len(eps)} {e.port} {host}."))
                        ans.additional.append((host, "A", e.ip))
                else:
                    ans.records.append((q, "SRV", f"0 100 {sp['port']} {fqdn}."))
                    ans.additional.append((fqdn, "A", spec.get("clusterIP", "")))
        if not ans.records:
            return Answer("NXDOMAIN", q)
        return ans

    def _endpoint_name(self, q: str, svc: dict[str, Any], host: str, qtype: str) -> Answer:
        if (svc.get("spec") or {}).get("clusterIP") != "None":
            return Answer("NXDOMAIN", q)
        for e in self._all_endpoints(svc):
            # CoreDNS names an endpoint by its hostname (the EndpointSlice controller sets it
            # when the pod's spec.subdomain is this Service), else by its dashed IP
            if endpoint_hostname(e) == host:
                return Answer("NOERROR", q, [(q, "A", e.ip)] if qtype in ("A", "ANY") else [])
        return Answer("NXDOMAIN", q)

    def _ptr(self, q: str) -> Answer:
        parts = q[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return Answer("NXDOMAIN", q)
        ip = ".".join(reversed(parts))
        v = self.view()
        svc = v["svc_by_ip"].get(ip)
        if svc is not None:
            md = svc["metadata"]
            return Answer("NOERROR", q, [(q, "PTR", f"{md['name']}.{md.get('namespace')}.svc."
                                                     f"{DOMAIN}")])
        # then the endpoints (CoreDNS's serviceRecordForIP): <hostname>.<svc>.<ns>.svc, one
        # record per Service the address is an endpoint of
        names = []
        for s in sorted(v["svc"].values(), key=lambda s: (s["metadata"].get("namespace", ""),
                                                          s["metadata"]["name"])):
            if (s.get("spec") or {}).get("type") == "ExternalName":
                continue
            md = s["metadata"]
            for e in self._all_endpoints(s):
                if e.ip == ip:
                    name = f"{endpoint_hostname(e)}.{md['name']}.{md.get('namespace')}.svc.{DOMAIN}"
                    if name not in names:
                        names.append(name)
        if names:
            return Answer("NOERROR", q, [(q, "PTR", n) for n in names])
        pod = v["pod_by_ip"].get(ip)
        if pod is not None:
            return Answer("NOERROR", q, [(q, "PTR", f"{ip.replace('.', '-')}."
                                                     f"{pod['metadata'].get('namespace')}.pod."
                                                     f"{DOMAIN}")])
        return Answer("NXDOMAIN", q)
