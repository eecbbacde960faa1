"""Discovery documents: legacy lists and aggregated discovery (apidiscovery.k8s.io/v2)."""

from __future__ import annotations

from typing import Any

from .resources import GROUPS, RESOURCES, Resource

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
             "exec": ["create", "get"], "attach": ["create", "get"], "log": ["get"],
             "portforward": ["create", "get"], "finalize": ["update"]}
SUB_KIND = {"scale": ("autoscaling", "v1", "Scale"), "exec": ("", "v1", "PodExecOptions"),
            "attach": ("", "v1", "PodAttachOptions"), "log": ("", "v1", "Pod"),
            "portforward": ("", "v1", "PodPortForwardOptions")}


def _resource_v2(r: Resource) -> dict[str, Any]:
    d: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular_name,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        d["shortNames"] = list(r.short_names)
    if r.categories:
        d["categories"] = list(r.categories)
    if r.subresources:
        subs = []
        for s in r.subresources:
            g, v, k = SUB_KIND.get(s, (r.group, r.version, r.kind))
            subs.append({"subresource": s, "responseKind": {"group": g, "version": v, "kind": k},
                         "verbs": SUB_VERBS.get(s, ["get"])})
        d["subresources"] = subs
    return d


def _group_v2(group: str) -> dict[str, Any]:
    md: dict[str, Any] = {"creationTimestamp": None}
    if group:
        md["name"] = group
    versions = []
    for v in GROUPS[group]:
        versions.append({"version": v, "freshness": "Current",
                         "resources": [_resource_v2(r) for r in RESOURCES
                                       if r.group == group and r.version == v]})
    return {"metadata": md, "versions": versions}


def aggregated(legacy: bool, version: str = "v2") -> dict[str, Any]:
    items = [_group_v2("")] if legacy else [_group_v2(g) for g in GROUPS if g]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "172.18.0.2:6443"}]}


def _group(group: str) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUPS[group]]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g) for g in GROUPS if g]}


def api_group(group: str) -> dict[str, Any]:
    return dict(_group(group), kind="APIGroup", apiVersion="v1")


def resource_list(group: str, version: str) -> dict[str, Any]:
    out = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        d: dict[str, Any] = {"name": r.plural, "singularName": r.singular_name,
                             "namespaced": r.namespaced, "kind": r.kind, "verbs": sorted(r.verbs)}
        if r.short_names:
            d["shortNames"] = list(r.short_names)
        if r.categories:
            d["categories"] = list(r.categories)
        out.append(d)
        for s in r.subresources:
            g, v, k = SUB_KIND.get(s, (r.group, r.version, r.kind))
            sd: dict[str, Any] = {"name": f"{r.plural}/{s}", "singularName": "",
                                  "namespaced": r.namespaced, "kind": k,
                                  "verbs": SUB_VERBS.get(s, ["get"])}
            if g != r.group:
                sd["group"], sd["version"] = g, v
            out.append(sd)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
