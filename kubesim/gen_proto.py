"""Regenerate ``kubesim/proto.json``: field numbers of the Kubernetes protobuf messages kubesim
decodes (kubectl's typed clients, e.g. ``kubectl create namespace``, send protobuf bodies).

Usage: ``python -m kubesim.gen_proto API_DIR APIMACHINERY_DIR`` with checkouts of
kubernetes/api and kubernetes/apimachinery. The output maps a fully qualified message name to
``{number: [jsonName, type, label]}`` where label is "", "repeated" or "map".
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FILES = [
    ("api", "core/v1/generated.proto"), ("api", "apps/v1/generated.proto"),
    ("api", "discovery/v1/generated.proto"), ("api", "autoscaling/v1/generated.proto"),
    ("api", "networking/v1/generated.proto"),
    ("apimachinery", "pkg/apis/meta/v1/generated.proto"),
    ("apimachinery", "pkg/api/resource/generated.proto"),
    ("apimachinery", "pkg/util/intstr/generated.proto"),
    ("apimachinery", "pkg/runtime/generated.proto"),
]
ROOTS = [f"k8s.io.api.core.v1.{k}" for k in (
    "Namespace", "Node", "Pod", "Service", "Endpoints", "Event", "ConfigMap", "Secret",
    "ServiceAccount")] + [
    "k8s.io.api.apps.v1.Deployment", "k8s.io.api.apps.v1.ReplicaSet",
    "k8s.io.api.apps.v1.StatefulSet", "k8s.io.api.apps.v1.DaemonSet",
    "k8s.io.api.apps.v1.ControllerRevision", "k8s.io.api.networking.v1.Ingress",
    "k8s.io.api.networking.v1.IngressClass",
    "k8s.io.api.discovery.v1.EndpointSlice", "k8s.io.api.autoscaling.v1.Scale",
    "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", "k8s.io.apimachinery.pkg.runtime.Unknown",
]
SCALARS = {"string", "int32", "int64", "bool", "bytes", "double", "float", "uint32", "uint64"}
FIELD = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
MAP = re.compile(r"^\s*map<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")


def parse(text: str) -> tuple[str, dict[str, dict[str, list[str]]]]:
    pkg = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
    messages: dict[str, dict[str, list[str]]] = {}
    current: str | None = None
    depth = 0
    for line in text.splitlines():
        s = line.split("//", 1)[0]
        m = re.match(r"^\s*message\s+(\w+)\s*\{", s)
        if m and depth == 0:
            current = f"{pkg}.{m.group(1)}"
            messages[current] = {}
            depth = 1
            continue
        if current is None:
            continue
        depth += s.count("{") - s.count("}")
        if depth <= 0:
            current = None
            depth = 0
            continue
        f = FIELD.match(s)
        if f:
            label = "repeated" if f.group(1) == "repeated" else ""
            messages[current][f.group(4)] = [f.group(3), _qualify(f.group(2), pkg), label]
            continue
        mp = MAP.match(s)
        if mp:
            messages[current][mp.group(4)] = [mp.group(3), _qualify(mp.group(2), pkg), "map"]
    return pkg, messages


def _qualify(typ: str, pkg: str) -> str:
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    return f"{pkg}.{typ}"


def main(argv: list[str]) -> int:
    roots = {"api": Path(argv[0]), "apimachinery": Path(argv[1])}
    allm: dict[str, dict[str, list[str]]] = {}
    for repo, rel in FILES:
        _, msgs = parse((roots[repo] / rel).read_text())
        allm.update(msgs)
    keep: dict[str, dict[str, list[str]]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep or name not in allm:
            continue
        keep[name] = allm[name]
        for _, typ, _ in allm[name].values():
            if typ not in SCALARS:
                todo.append(typ)
    out = Path(__file__).with_name("proto.json")
    out.write_text(json.dumps(dict(sorted(keep.items())), indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(keep)} messages to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
