"""Regenerate ``kubesim/ssa.json`` from a real API server's OpenAPI v3 documents.

    python -m kubesim.gen_ssa [--kubeconfig K]       # default: $KUBECONFIG

Server-side apply merges and tracks fields by the schema the API server builds from its own
OpenAPI (kube-openapi schemaconv): a list is ``atomic``, a ``set`` (of scalars) or a ``map`` keyed by
``x-kubernetes-list-map-keys``; without ``x-kubernetes-list-type`` a ``merge`` patch strategy makes
it a map keyed by the patch merge key (or a set without one), anything else is atomic. A map or
struct is granular unless ``x-kubernetes-map-type: atomic`` (on the field or on the referenced
definition). The file keeps exactly that, per model class of ``types.json``:

    {"V1ServiceSpec": {"ports": ["map", "port", "protocol"], "selector": ["atomic"], ...},
     "V1LabelSelector": {"": ["atomic"]},                       # the whole struct is atomic
     ...}

plus, under ``"~zero"``, the fields a Go zero value of the model still encodes (required fields
as null, non-pointer structs, which OpenAPI marks with ``default: {}``, as {}): a create's ownership is the
comparison with that zero value, so it decides which maps and lists get a ``.`` entry.
Under ``"~patch"``, the strategic merge patch strategy and merge key of each list field; under
``"~keydefaults"``, the OpenAPI defaults of map-list keys (a port without protocol is TCP's).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from . import schema
from .resources import RESOURCES

OUT = Path(__file__).with_name("ssa.json")


def _client(kubeconfig: str) -> tuple[str, ssl.SSLContext, dict[str, str]]:
    """Server URL, TLS context and auth headers from a kubeconfig (client certs or a token)."""
    cfg = yaml.safe_load(Path(kubeconfig).read_text())
    ctx_name = cfg.get("current-context")
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name) \
        if ctx_name else cfg["contexts"][0]["context"]
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    base = Path(kubeconfig).parent
    tls = ssl.create_default_context()
    if cluster.get("certificate-authority"):
        tls.load_verify_locations(str(base / cluster["certificate-authority"]))
    elif cluster.get("certificate-authority-data"):
        import base64
        tls.load_verify_locations(cadata=base64.b64decode(
            cluster["certificate-authority-data"]).decode())
    if cluster.get("insecure-skip-tls-verify"):
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    headers = {"Accept": "application/json"}
    if user.get("client-certificate"):
        tls.load_cert_chain(str(base / user["client-certificate"]),
                            str(base / user["client-key"]))
    elif user.get("client-certificate-data"):
        import base64
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            crt, key = Path(d) / "c.crt", Path(d) / "c.key"
            crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            tls.load_cert_chain(str(crt), str(key))
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    return cluster["server"].rstrip("/"), tls, headers


def fetch(kubeconfig: str, group_versions: list[str]) -> dict[str, Any]:
    """All component schemas of those group versions' OpenAPI v3 documents, merged."""
    server, tls, headers = _client(kubeconfig)
    out: dict[str, Any] = {}
    for gv in group_versions:
        path = "/openapi/v3/api/v1" if gv == "v1" else f"/openapi/v3/apis/{gv}"
        req = urllib.request.Request(server + path, headers=headers)
        with urllib.request.urlopen(req, context=tls, timeout=60) as r:
            doc = json.load(r)
        out.update(doc["components"]["schemas"])
    return out


def _ref(prop: dict[str, Any]) -> str | None:
    ref = prop.get("$ref") or next((a.get("$ref") for a in prop.get("allOf") or []), None)
    return ref.rsplit("/", 1)[-1] if ref else None


def list_relationship(prop: dict[str, Any]) -> list[str]:
    """schemaconv's rule: list-type first, then the patch strategy, else atomic."""
    lt = prop.get("x-kubernetes-list-type")
    if lt == "map":
        return ["map", *prop.get("x-kubernetes-list-map-keys", [])]
    if lt in ("set", "atomic"):
        return [lt]
    strategy = prop.get("x-kubernetes-patch-strategy", "")
    if strategy in ("merge", "merge,retainKeys"):
        key = prop.get("x-kubernetes-patch-merge-key")
        return ["map", key] if key else ["set"]
    return ["atomic"]


def generate(definitions: dict[str, Any], models: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    zero: dict[str, dict[str, Any]] = {}
    patch: dict[str, dict[str, list[str]]] = {}
    for model in models:
        d = definitions.get(schema.definition_name(model))
        if d is None:
            continue
        entry: dict[str, list[str]] = {}
        if d.get("x-kubernetes-map-type") == "atomic":
            entry[""] = ["atomic"]
        z: dict[str, Any] = {}
        required = set(d.get("required") or [])
        for name, prop in (d.get("properties") or {}).items():
            if prop.get("type") == "array":
                entry[name] = list_relationship(prop)
                ps = prop.get("x-kubernetes-patch-strategy")
                if ps:
                    key = prop.get("x-kubernetes-patch-merge-key")
                    patch.setdefault(model, {})[name] = [ps] + ([key] if key else [])
            elif prop.get("x-kubernetes-map-type") == "atomic":
                entry[name] = ["atomic"]
            if prop.get("default") == {}:
                z[name] = {}  # a non-pointer struct: encoded as its own zero value
            elif name in required:
                z[name] = None  # encoded as null (or "" / 0, the same to a comparison)
        if entry:
            out[model] = entry
        if z:
            zero[model] = z
    out["~zero"] = zero
    out["~patch"] = patch
    out["~keydefaults"] = key_defaults(definitions, models)
    return out


def key_defaults(definitions: dict[str, Any], models: list[str]) -> dict[str, dict[str, Any]]:
    """Defaults of map-list key fields (a Service port without protocol is keyed as TCP)."""
    by_def = {schema.definition_name(m): m for m in models}
    out: dict[str, dict[str, Any]] = {}
    for model in models:
        d = definitions.get(schema.definition_name(model)) or {}
        for prop in (d.get("properties") or {}).values():
            rel = list_relationship(prop) if prop.get("type") == "array" else []
            item = _ref(prop.get("items") or {})
            if rel[:1] != ["map"] or item is None or item not in by_def:
                continue
            props = (definitions.get(item) or {}).get("properties") or {}
            for key in rel[1:]:
                if "default" in props.get(key, {}):
                    out.setdefault(by_def[item], {})[key] = props[key]["default"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    args = ap.parse_args(argv)
    if not args.kubeconfig:
        ap.error("no kubeconfig: pass --kubeconfig or set KUBECONFIG to a real API server's")
    gvs = sorted({r.group_version for r in RESOURCES} | {"autoscaling/v1"})
    data = generate(fetch(args.kubeconfig, gvs), list(schema.TYPES))
    missing = [m for m in schema.TYPES if m not in data and m not in data["~zero"]]
    OUT.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(data) - 3} models' list and map types to {OUT} "
          f"(from {', '.join(gvs)}); {len(missing)} models without any")
    return 0


if __name__ == "__main__":
    sys.exit(main())
