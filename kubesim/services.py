"""Service defaulting, validation, ClusterIP/NodePort allocation and type changes.

Mirrors pkg/apis/core/v1/defaults.go, pkg/apis/core/validation/validation.go and
pkg/registry/core/service (see ../shared/reference/service-semantics.md).
"""

from __future__ import annotations

import copy
import ipaddress
import random
from typing import Any

from . import errors, validation
from .errors import FieldError, forbidden_field, invalid, not_supported, required

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
NODEPORT_MIN, NODEPORT_MAX = 30000, 32767
NODEPORT_OFFSET = 86  # min(max(16, size/32), 128): random picks start in the upper band

EXTERNAL_TYPES = ("NodePort", "LoadBalancer")
TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _external(spec: dict[str, Any]) -> bool:
    return spec.get("type") in EXTERNAL_TYPES or (
        spec.get("type", "ClusterIP") == "ClusterIP" and bool(spec.get("externalIPs")))


def default(svc: dict[str, Any]) -> None:
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {}) or {}
        spec["sessionAffinityConfig"] = cfg
        cip = cfg.setdefault("clientIP", {}) or {}
        cfg["clientIP"] = cip
        cip.setdefault("timeoutSeconds", 10800)
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        p.setdefault("port", 0)  # Go's zero value: validation then says 0, as the API server
        p.setdefault("protocol", "TCP")
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port")
    if _external(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    svc.setdefault("status", {}).setdefault("loadBalancer", {})


def warnings(svc: dict[str, Any]) -> list[str]:
    """The API server's warnings for a Service it accepts (pkg/api/service GetWarningsForService
    in Kubernetes 1.37, less the IP-format ones): fields that are ignored, and externalIPs,
    deprecated since 1.36 (CVE-2020-8554)."""
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    headless = kind == "ClusterIP" and spec.get("clusterIP") == "None"
    out = []
    if headless:
        if spec.get("loadBalancerIP"):
            out.append("spec.loadBalancerIP is ignored for headless services")
        if spec.get("externalIPs"):
            out.append("spec.externalIPs is ignored for headless services")
        if spec.get("sessionAffinity", "None") != "None":
            out.append("spec.SessionAffinity is ignored for headless services")
    if spec.get("externalIPs") and not headless and kind != "ExternalName":
        out.append("spec.externalIPs is deprecated and may no longer be implemented in some "
                   "clusters")
    if kind == "ExternalName" and spec.get("externalIPs"):
        out.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
    if kind != "ExternalName" and spec.get("externalName"):
        out.append('spec.externalName is ignored when spec.type is not "ExternalName"')
    if spec.get("trafficDistribution") == "PreferClose":
        out.append('spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"')
    return out


def validate(svc: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    md = svc.get("metadata", {})
    # Kubernetes 1.37 validates Service names as RFC 1123 labels (a leading digit is fine)
    errs += validation.dns1123_label("metadata.name", md.get("name", ""))
    spec = svc.get("spec", {})
    typ = spec.get("type", "ClusterIP")
    if typ not in TYPES:
        errs.append(not_supported("spec.type", typ, TYPES))
        return errs
    ports = spec.get("ports") or []
    cluster_ip = spec.get("clusterIP", "")
    cluster_ips = spec.get("clusterIPs") or []
    headless = cluster_ip == "None" or (cluster_ips and cluster_ips[0] == "None")

    if typ == "ExternalName":
        # clusterIP was already copied into clusterIPs, which is what the check names
        if spec.get("clusterIPs") or cluster_ip:
            errs.append(forbidden_field("spec.clusterIPs",
                                        "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden_field("spec.ipFamilies",
                                        "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy"):
            errs.append(forbidden_field("spec.ipFamilyPolicy",
                                        "may not be set for ExternalName services"))
        name = spec.get("externalName", "")
        if not name:
            errs.append(required("spec.externalName"))
        else:
            errs += validation.dns1123_subdomain("spec.externalName", name.rstrip("."))
    elif not ports and not headless:
        errs.append(required("spec.ports"))

    names: set[str] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        f = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            errs.append(invalid(f, p, "must be an object"))
            continue
        name = p.get("name", "")
        if len(ports) > 1 and not name:
            errs.append(required(f"{f}.name"))
        elif name:
            errs += validation.dns1123_label(f"{f}.name", name)
            if name in names:
                errs.append(errors.duplicate(f"{f}.name", name))
            names.add(name)
        errs += validation.port_number(f"{f}.port", p.get("port"))
        proto = p.get("protocol", "TCP")
        if proto not in ("SCTP", "TCP", "UDP"):
            errs.append(not_supported(f"{f}.protocol", proto, ["SCTP", "TCP", "UDP"]))
        tp = p.get("targetPort")
        if isinstance(tp, int) and not isinstance(tp, bool):
            errs += validation.port_number(f"{f}.targetPort", tp)
        elif isinstance(tp, str):
            errs += validation.iana_svc_name(f"{f}.targetPort", tp)
        key = (proto, p.get("port"))
        if key in seen_ports:
            # the duplicate is reported as the key it was found by: a ServicePort with only
            # Protocol and Port set
            errs.append(errors.duplicate(f, {"Name": "", "Protocol": proto, "AppProtocol": None,
                                             "Port": p.get("port"), "TargetPort": 0,
                                             "NodePort": 0}))
        seen_ports.add(key)  # type: ignore[arg-type]
        np = p.get("nodePort")
        if np:
            if typ == "ClusterIP":
                errs.append(forbidden_field(f"{f}.nodePort",
                                            "may not be used when `type` is 'ClusterIP'"))
            elif typ == "ExternalName":
                errs.append(forbidden_field(f"{f}.nodePort",
                                            "may not be used when `type` is 'ExternalName'"))
            # a nodePort used twice is an allocation error, reported by the allocator

    if typ in EXTERNAL_TYPES and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None",
                            f"may not be set to 'None' for {typ} services"))
    if typ != "ExternalName":
        if cluster_ips and cluster_ip and cluster_ips[0] != cluster_ip:
            errs.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
        for j, ip in enumerate(cluster_ips):
            if ip != "None" and validation.parse_ip(ip) is None:
                errs.append(invalid(f"spec.clusterIPs[{j}]", ip, validation.IP_MSG))

    for j, ip in enumerate(spec.get("externalIPs") or []):
        f = f"spec.externalIPs[{j}]"
        a = validation.parse_ip(ip)
        if a is None:
            errs.append(invalid(f, ip, validation.IP_MSG))
        elif a.is_unspecified:
            errs.append(invalid(f, ip, f"may not be unspecified ({ip})"))
        elif a.is_loopback:
            errs.append(invalid(f, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
        elif a.is_link_local:
            errs.append(invalid(f, ip,
                                "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))

    aff = spec.get("sessionAffinity", "None")
    if aff not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", aff, ["ClientIP", "None"]))
    elif aff == "ClientIP":
        t = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if t is not None and not (isinstance(t, int) and 0 < t <= 86400):
            errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                                "must be greater than 0 and less than 86400"))
    elif spec.get("sessionAffinityConfig"):
        errs.append(forbidden_field(
            "spec.sessionAffinityConfig",
            "must not be set when `sessionAffinity` is None"))

    etp = spec.get("externalTrafficPolicy")
    if etp:
        if not _external(spec):
            errs.append(invalid("spec.externalTrafficPolicy", etp,
                                "may only be set for externally-accessible services"))
        elif etp not in ("Cluster", "Local"):
            errs.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    itp = spec.get("internalTrafficPolicy")
    if itp and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    if typ != "LoadBalancer":
        for fld in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(fld) is not None:
                errs.append(forbidden_field(f"spec.{fld}",
                                            "may only be used when `type` is 'LoadBalancer'"))
        if spec.get("loadBalancerSourceRanges"):
            # sic: the real field path is capitalised (validation.go uses the Go field name)
            errs.append(forbidden_field("spec.LoadBalancerSourceRanges",
                                        "may only be used when `type` is 'LoadBalancer'"))
    return errs


def _port_match(old_ports: list[dict[str, Any]], p: dict[str, Any]) -> dict[str, Any] | None:
    """The old port a new one continues: by name, or the only port when both have one."""
    for o in old_ports:
        if o.get("name", "") == p.get("name", "") and (
                p.get("name") or len(old_ports) == 1 or o.get("port") == p.get("port")):
            return o
    return None


def prepare_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    """patchAllocatedValues + dropTypeDependentFields: what an update keeps and drops."""
    ns, os_ = new.setdefault("spec", {}), old.get("spec", {})
    ntype, otype = ns.get("type", "ClusterIP"), os_.get("type", "ClusterIP")
    if ntype != "ExternalName" and otype != "ExternalName":
        if not ns.get("clusterIP") and not ns.get("clusterIPs") and os_.get("clusterIP"):
            ns["clusterIP"] = os_["clusterIP"]
            ns["clusterIPs"] = list(os_.get("clusterIPs") or [os_["clusterIP"]])
        # normalizeClusterIPs: a changed clusterIP with clusterIPs left as they were moves
        # clusterIPs along, so the update check names the change ("may not change once set")
        if ns.get("clusterIP") and os_.get("clusterIP") and ns["clusterIP"] != os_["clusterIP"] \
                and ns.get("clusterIPs") == os_.get("clusterIPs"):
            ns["clusterIPs"] = [ns["clusterIP"]]
        ns.setdefault("ipFamilies", os_.get("ipFamilies"))
        ns.setdefault("ipFamilyPolicy", os_.get("ipFamilyPolicy"))
        if ns.get("ipFamilies") is None:
            ns.pop("ipFamilies")
        if ns.get("ipFamilyPolicy") is None:
            ns.pop("ipFamilyPolicy")
    needs_np = ntype == "NodePort" or (
        ntype == "LoadBalancer" and ns.get("allocateLoadBalancerNodePorts", True))
    old_ports = [p for p in os_.get("ports") or [] if isinstance(p, dict)]
    for p in ns.get("ports") or []:
        if not isinstance(p, dict):
            continue
        o = _port_match(old_ports, p)
        if needs_np and not p.get("nodePort") and o and o.get("nodePort"):
            p["nodePort"] = o["nodePort"]
        if ntype in ("ClusterIP", "ExternalName") and otype in EXTERNAL_TYPES and o and \
                p.get("nodePort") == o.get("nodePort"):
            p.pop("nodePort", None)
    if ntype == "ExternalName" and otype != "ExternalName":
        if ns.get("clusterIP") == os_.get("clusterIP"):
            ns.pop("clusterIP", None)
        if ns.get("clusterIPs") == os_.get("clusterIPs"):
            ns.pop("clusterIPs", None)
        ns.pop("ipFamilies", None)
        ns.pop("ipFamilyPolicy", None)
    if ntype == "LoadBalancer" and ns.get("externalTrafficPolicy") == "Local" and \
            not ns.get("healthCheckNodePort") and os_.get("healthCheckNodePort"):
        ns["healthCheckNodePort"] = os_["healthCheckNodePort"]
    if not _external(ns) and _external(os_):
        if ns.get("externalTrafficPolicy") == os_.get("externalTrafficPolicy"):
            ns.pop("externalTrafficPolicy", None)
        ns.pop("healthCheckNodePort", None)
    if ntype != "LoadBalancer" and otype == "LoadBalancer":
        if ns.get("allocateLoadBalancerNodePorts") == os_.get("allocateLoadBalancerNodePorts"):
            ns.pop("allocateLoadBalancerNodePorts", None)
        new.setdefault("status", {})["loadBalancer"] = {}


def validate_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    ns, os_ = new.get("spec", {}), old.get("spec", {})
    if ns.get("type") != "ExternalName" and os_.get("type") != "ExternalName":
        oips, nips = os_.get("clusterIPs") or [], ns.get("clusterIPs") or []
        if oips and not nips:
            errs.append(invalid("spec.clusterIPs[0]", nips, "primary clusterIP can not be unset"))
        elif oips and nips and oips[0] != nips[0]:
            errs.append(invalid("spec.clusterIPs[0]", nips, "may not change once set"))
    ohc, nhc = os_.get("healthCheckNodePort"), ns.get("healthCheckNodePort")
    if ohc and nhc and ohc != nhc and ns.get("type") == "LoadBalancer" and \
            ns.get("externalTrafficPolicy") == "Local":
        errs.append(forbidden_field("spec.healthCheckNodePort", "field is immutable"))
    return errs


class Allocator:
    """ClusterIPs and nodePorts, derived from the stored Services."""

    def __init__(self, services: Any) -> None:
        self.services = services  # callable returning the stored Service dicts

    def _used(self, skip_uid: str | None) -> tuple[set[str], set[tuple[int, str]]]:
        ips: set[str] = set()
        ports: set[tuple[int, str]] = set()
        for s in self.services():
            if skip_uid and s["metadata"].get("uid") == skip_uid:
                continue
            spec = s.get("spec", {})
            for ip in spec.get("clusterIPs") or []:
                ips.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    ports.add((p["nodePort"], p.get("protocol", "TCP")))
        return ips, ports

    def allocate(self, svc: dict[str, Any], old: dict[str, Any] | None) -> None:
        spec = svc["spec"]
        typ = spec.get("type", "ClusterIP")
        name = svc["metadata"]["name"]
        ips, used_ports = self._used(svc["metadata"].get("uid") if old else None)
        if typ != "ExternalName":
            ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [""])[0]
            if ip == "None":
                spec["clusterIP"] = "None"
                spec["clusterIPs"] = ["None"]
            elif ip:
                keep = old is not None and ip in (old.get("spec", {}).get("clusterIPs") or [])
                if not keep:
                    addr = ipaddress.ip_address(ip)
                    if addr not in SERVICE_CIDR or addr in (SERVICE_CIDR.network_address,
                                                            SERVICE_CIDR.broadcast_address):
                        raise errors.invalid_error("Service", "", name, [invalid(
                            "spec.clusterIPs", [ip],
                            f"failed to allocate IP {ip}: the provided network does not match "
                            f"the current range")])
                    if ip in ips:
                        raise errors.invalid_error("Service", "", name, [invalid(
                            "spec.clusterIPs", [ip],
                            f"failed to allocate IP {ip}: provided IP is already allocated")])
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            else:
                ip = self._pick_ip(ips)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        needs_np = typ == "NodePort" or (
            typ == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))
        old_ports = set()
        if old:
            for p in old.get("spec", {}).get("ports") or []:
                if p.get("nodePort"):
                    old_ports.add((p["nodePort"], p.get("protocol", "TCP")))
        taken: dict[int, str] = {}
        errs: list[FieldError] = []
        ports = spec.get("ports") or []
        for i, p in enumerate(ports):
            np = p.get("nodePort")
            proto = p.get("protocol", "TCP")
            if np:
                if (np, proto) in old_ports:
                    continue
                if not NODEPORT_MIN <= np <= NODEPORT_MAX:
                    errs.append(invalid(
                        f"spec.ports[{i}].nodePort", np,
                        f"provided port is not in the valid range. The range of valid ports is "
                        f"{NODEPORT_MIN}-{NODEPORT_MAX}"))
                elif (np, proto) in used_ports or np in taken and taken[np] == proto:
                    errs.append(invalid(f"spec.ports[{i}].nodePort", np,
                                        "provided port is already allocated"))
                taken[np] = proto
        if errs:
            raise errors.invalid_error("Service", "", name, errs)
        if needs_np:
            by_number: dict[int, int] = {}
            for p in ports:
                if p.get("nodePort"):
                    by_number.setdefault(p["port"], p["nodePort"])
            for p in ports:
                if p.get("nodePort"):
                    continue
                shared = by_number.get(p["port"])
                proto = p.get("protocol", "TCP")
                if shared and (shared, proto) not in used_ports:
                    p["nodePort"] = shared
                    continue
                np = self._pick_port({n for n, _ in used_ports} | set(taken))
                p["nodePort"] = np
                taken[np] = proto
                by_number[p["port"]] = np
        if typ == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
            if not spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = self._pick_port(
                    {n for n, _ in used_ports} | set(taken))

    @staticmethod
    def _pick_ip(used: set[str]) -> str:
        first = int(SERVICE_CIDR.network_address)
        size = SERVICE_CIDR.num_addresses
        for _ in range(64):
            cand = str(ipaddress.ip_address(first + random.randrange(256, size - 1)))
            if cand not in used:
                return cand
        for off in list(range(256, size - 1)) + list(range(1, 256)):
            cand = str(ipaddress.ip_address(first + off))
            if cand not in used:
                return cand
        raise errors.internal("failed to allocate a serviceIP: range is full")

    @staticmethod
    def _pick_port(used: set[int]) -> int:
        lo = NODEPORT_MIN + NODEPORT_OFFSET
        for _ in range(64):
            cand = random.randint(lo, NODEPORT_MAX)
            if cand not in used:
                return cand
        for cand in list(range(lo, NODEPORT_MAX + 1)) + list(range(NODEPORT_MIN, lo)):
            if cand not in used:
                return cand
        raise errors.APIError(500, "InternalError",
                              "Internal error occurred: failed to allocate a nodePort: range is "
                              "full", {"causes": [{"message": "failed to allocate a nodePort: "
                                                   "range is full"}]})


def deepcopy(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
