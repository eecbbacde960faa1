"""Type knowledge from ``types.json`` and ``ssa.json``: unknown-field checks, list and map types,
OpenAPI documents."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from .resources import RESOURCES, Resource

TYPES: dict[str, dict[str, str]] = json.loads(
    Path(__file__).with_name("types.json").read_text())

# List and map types as the API server's OpenAPI declares them, by model and field (generated
# by gen_ssa from a real server): server-side apply's merge, strategic merge patch, OpenAPI.
_SSA: dict[str, Any] = json.loads(Path(__file__).with_name("ssa.json").read_text())
ZERO: dict[str, dict[str, Any]] = _SSA.pop("~zero", {})
PATCH: dict[str, dict[str, list[str]]] = _SSA.pop("~patch", {})
KEY_DEFAULTS: dict[str, dict[str, Any]] = _SSA.pop("~keydefaults", {})
SSA: dict[str, dict[str, list[str]]] = _SSA


def patch_strategy(model: str | None, field: str) -> tuple[str, str | None]:
    """(x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key) of a field ("" if none)."""
    ps = PATCH.get(model or "", {}).get(field)
    if not ps:
        return "", None
    return ps[0], ps[1] if len(ps) > 1 else None


_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")


def list_item(typ: str) -> str | None:
    m = _LIST.match(typ)
    return m.group(1) if m else None


def dict_value(typ: str) -> str | None:
    m = _DICT.match(typ)
    return m.group(1) if m else None


def field_type(model: str | None, name: str) -> str | None:
    if model is None:
        return None
    return TYPES.get(model, {}).get(name)


def unknown_fields(model: str, obj: Any, path: str = "") -> list[str]:
    """Paths of fields the model does not have, as ``strict decoding error`` names them."""
    out: list[str] = []
    if not isinstance(obj, dict) or model not in TYPES:
        return out
    fields = TYPES[model]
    for k, v in obj.items():
        p = f"{path}.{k}" if path else k
        typ = fields.get(k)
        if typ is None:
            out.append(p)
            continue
        out.extend(_unknown_in(typ, v, p))
    return out


def _unknown_in(typ: str, v: Any, p: str) -> list[str]:
    if typ in TYPES:
        return unknown_fields(typ, v, p)
    item = list_item(typ)
    if item is not None and isinstance(v, list):
        out: list[str] = []
        for i, x in enumerate(v):
            out.extend(_unknown_in(item, x, f"{p}[{i}]"))
        return out
    val = dict_value(typ)
    if val is not None and val in TYPES and isinstance(v, dict):
        out = []
        for k, x in v.items():
            out.extend(_unknown_in(val, x, f"{p}[{k}]"))
        return out
    return []


# ---- OpenAPI ----

_META = {
    "V1ObjectMeta", "V1ListMeta", "V1OwnerReference", "V1ManagedFieldsEntry", "V1LabelSelector",
    "V1LabelSelectorRequirement", "V1Status", "V1StatusDetails", "V1StatusCause", "V1Condition",
}
_APPS = ("V1Deployment", "V1ReplicaSet", "V1RollingUpdateDeployment", "V1StatefulSet",
         "V1DaemonSet", "V1ControllerRevision", "V1RollingUpdateDaemonSet",
         "V1RollingUpdateStatefulSetStrategy")
_NETWORKING = ("V1Ingress", "V1HTTPIngress", "V1ServiceBackendPort")
_DISCOVERY = {"V1EndpointSlice", "V1EndpointSliceList", "V1Endpoint", "V1EndpointConditions",
              "V1EndpointHints", "V1ForZone", "V1ForNode", "DiscoveryV1EndpointPort"}


def definition_name(model: str) -> str:
    if model in _META:
        return "io.k8s.apimachinery.pkg.apis.meta.v1." + model[2:]
    if model == "V1Scale":
        return "io.k8s.api.autoscaling.v1.Scale"
    if model in _DISCOVERY:
        return "io.k8s.api.discovery.v1." + model.removeprefix("DiscoveryV1").removeprefix("V1")
    if model.startswith(_APPS):
        return "io.k8s.api.apps.v1." + model[2:]
    if model.startswith(_NETWORKING):
        return "io.k8s.api.networking.v1." + model[2:]
    return "io.k8s.api.core.v1." + model.removeprefix("CoreV1").removeprefix("V1")


INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _schema_of(typ: str, ref: str, v3: bool, model: str | None = None,
               field: str = "") -> dict[str, Any]:
    """A field's schema; ``model`` and ``field`` say whose (for its list and map types)."""
    if typ in TYPES:
        r = {"$ref": ref + definition_name(typ)}
        return {"allOf": [r], "default": {}} if v3 else r
    if typ == "str":
        return {"type": "string", "default": ""} if v3 else {"type": "string"}
    if typ == "int":
        return {"type": "integer", "format": "int32"}
    if typ == "bool":
        return {"type": "boolean"}
    if typ == "datetime":
        return {"type": "string", "format": "date-time"}
    if typ == "bytes":
        return {"type": "string", "format": "byte"}
    if typ == "object":
        return {"$ref": ref + INT_OR_STRING}
    item = list_item(typ)
    if item is not None:
        s: dict[str, Any] = {"type": "array", "items": _schema_of(item, ref, v3)}
        strategy, key = patch_strategy(model, field)
        if strategy:
            s["x-kubernetes-patch-strategy"] = strategy
        if key:
            s["x-kubernetes-patch-merge-key"] = key
        rel = SSA.get(model or "", {}).get(field)
        if rel:
            s["x-kubernetes-list-type"] = rel[0]
            if rel[0] == "map":
                s["x-kubernetes-list-map-keys"] = rel[1:]
        return s
    val = dict_value(typ)
    if val is not None:
        if val == "str":
            out = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
        else:
            out = {"type": "object", "additionalProperties": _schema_of(val, ref, v3)}
        if SSA.get(model or "", {}).get(field) == ["atomic"]:
            out["x-kubernetes-map-type"] = "atomic"
        return out
    return {"type": "object"}


@functools.cache
def _descriptions() -> dict[str, dict[str, str]]:
    path = Path(__file__).with_name("descriptions.json")
    return json.loads(path.read_text()) if path.exists() else {}


def _definitions(ref: str, v3: bool, models: set[str] | None = None) -> dict[str, Any]:
    kinds = {r.model: r for r in RESOURCES}
    docs = _descriptions()
    lists = {r.model + "List": r for r in RESOURCES}
    defs: dict[str, Any] = {}
    for model, fields in TYPES.items():
        if models is not None and model not in models:
            continue
        props = {}
        for name, typ in fields.items():
            sch = _schema_of(typ, ref, v3, model, name)
            if model == "V1ContainerPort" and name == "protocol" or (
                    model == "V1ServicePort" and name == "protocol"):
                sch = dict(sch, default="TCP")
            if model == "V1ControllerRevision" and name == "data":
                sch = {"type": "object", "x-kubernetes-embedded-resource": True,
                       "x-kubernetes-preserve-unknown-fields": True}
            text = docs.get(model, {}).get(name)
            if text:
                sch = dict(sch, description=text)
            props[name] = sch
        d: dict[str, Any] = {"type": "object", "properties": props}
        if docs.get(model, {}).get(""):
            d["description"] = docs[model][""]
        res = kinds.get(model) or lists.get(model)
        if res is not None:
            kind = res.kind + ("List" if model in lists else "")
            d["x-kubernetes-group-version-kind"] = [
                {"group": res.group, "kind": kind, "version": res.version}]
        if SSA.get(model, {}).get("") == ["atomic"]:
            d["x-kubernetes-map-type"] = "atomic"
        if model == "V1Status":
            d["x-kubernetes-group-version-kind"] = [{"group": "", "kind": "Status", "version": "v1"}]
        if model in ("V1Container", "V1ServicePort", "V1EnvVar", "V1Volume"):
            d["required"] = ["name"] if model != "V1ServicePort" else ["port"]
        defs[definition_name(model)] = d
    defs[INT_OR_STRING] = {"type": "string", "format": "int-or-string"}
    if v3:
        defs[INT_OR_STRING] = {"x-kubernetes-int-or-string": True}
    defs[QUANTITY] = {"type": "string"}
    defs[PATCH_BODY] = {"type": "object", "description": "Patch is provided to give a concrete "
                        "name and type to the Kubernetes PATCH request body."}
    return defs


def _reachable(model: str, seen: set[str]) -> None:
    if model in seen or model not in TYPES:
        return
    seen.add(model)
    for typ in TYPES[model].values():
        for ref in re.findall(r"[A-Z][A-Za-z0-9]+", typ):
            _reachable(ref, seen)


_PARAMS = [
    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
]


PATCH_BODY = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
               "application/merge-patch+json", "application/strategic-merge-patch+json")


def _paths(res: Resource, ref: str, v3: bool) -> dict[str, Any]:
    prefix = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    base = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced \
        else f"{prefix}/{res.plural}"
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    body = _schema_of(res.model, ref, False)

    def op(action: str, verb: str, with_body: bool) -> dict[str, Any]:
        o: dict[str, Any] = {
            "operationId": f"{verb}{res.kind}", "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}},
        }
        if with_body:
            o["parameters"] = [dict(p) for p in _PARAMS]
            # a PATCH lists the patch types it takes: kubectl apply looks for strategic merge
            # there before it computes a patch from this document (else it asks /openapi/v2)
            patch = verb == "patch"
            sch = {"$ref": ref + PATCH_BODY} if patch else body
            if v3:
                types = PATCH_TYPES if patch else ("*/*",)
                o["requestBody"] = {"content": {t: {"schema": sch} for t in types},
                                    "required": True}
            else:
                o["parameters"].append({"name": "body", "in": "body", "required": True,
                                        "schema": sch})
                if patch:
                    o["consumes"] = list(PATCH_TYPES)
        return o

    return {
        base: {"get": op("list", "list", False), "post": op("post", "create", True)},
        base + "/{name}": {
            "get": op("get", "read", False), "put": op("put", "replace", True),
            "patch": op("patch", "patch", True), "delete": op("delete", "delete", False),
        },
    }


@functools.cache
def openapi_v3(group_version: str) -> bytes:
    ress = [r for r in RESOURCES if r.group_version == group_version]
    ref = "#/components/schemas/"
    models: set[str] = {"V1Status", "V1DeleteOptions"}
    for r in ress:
        _reachable(r.model, models)
        _reachable(r.model + "List", models)
    _reachable("V1Status", models)
    paths: dict[str, Any] = {}
    for r in ress:
        paths.update(_paths(r, ref, True))
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-kubesim"},
        "paths": paths,
        "components": {"schemas": _definitions(ref, True, models)},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def openapi_v3_hash(group_version: str) -> str:
    return hashlib.sha512(openapi_v3(group_version)).hexdigest()[:64].upper()


@functools.cache
def openapi_v2() -> bytes:
    ref = "#/definitions/"
    paths: dict[str, Any] = {}
    for r in RESOURCES:
        paths.update(_paths(r, ref, False))
    doc = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-kubesim"},
        "paths": paths,
        "definitions": _definitions(ref, False),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@functools.cache
def openapi_v2_proto() -> bytes:
    """The same document as gnostic's protobuf openapi.v2.Document."""
    from .openapi_proto import document
    return document(json.loads(openapi_v2()))
