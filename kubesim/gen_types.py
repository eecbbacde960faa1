"""Regenerate ``kubesim/types.json`` from the official client's model classes.

Run ``python -m kubesim.gen_types`` after upgrading the ``kubernetes`` client. Importing the client
models takes seconds, so the server reads the generated file instead (startup must stay < 1 s).
The file maps each model class reachable from the served kinds to ``{jsonField: typeString}``,
where a type string is the client's own notation: ``str``, ``int``, ``bool``, ``datetime``,
``object`` (int-or-string or free-form), ``list[T]``, ``dict(str, T)`` or another class name.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOTS = [
    "V1Namespace", "V1NamespaceList", "V1Node", "V1NodeList", "V1Pod", "V1PodList",
    "V1Service", "V1ServiceList", "V1Endpoints", "V1EndpointsList", "CoreV1Event",
    "CoreV1EventList", "V1ConfigMap", "V1ConfigMapList", "V1Deployment", "V1DeploymentList",
    "V1ReplicaSet", "V1ReplicaSetList", "V1EndpointSlice", "V1EndpointSliceList", "V1Status",
    "V1Scale", "V1Secret", "V1SecretList", "V1ServiceAccount", "V1ServiceAccountList",
    "V1StatefulSet", "V1StatefulSetList", "V1DaemonSet", "V1DaemonSetList",
    "V1ControllerRevision", "V1ControllerRevisionList", "V1Ingress", "V1IngressList",
    "V1IngressClass", "V1IngressClassList",
]

OUT = Path(__file__).with_name("types.json")
DESCRIPTIONS = Path(__file__).with_name("descriptions.json")  # for `kubectl explain`


def generate() -> dict[str, dict[str, str]]:
    from kubernetes.client import models

    out: dict[str, dict[str, str]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        cls = getattr(models, name)
        fields = {cls.attribute_map[attr]: typ for attr, typ in cls.openapi_types.items()}
        out[name] = dict(sorted(fields.items()))
        for typ in fields.values():
            for ref in re.findall(r"[A-Z][A-Za-z0-9]+", typ):
                if hasattr(models, ref) and ref not in out:
                    todo.append(ref)
    return dict(sorted(out.items()))


def descriptions(names: list[str]) -> dict[str, dict[str, str]]:
    """Each model's own description (key "") and its fields' descriptions, by JSON name."""
    from kubernetes.client import models

    out: dict[str, dict[str, str]] = {}
    for name in names:
        cls = getattr(models, name)
        d: dict[str, str] = {}
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].strip()
        if doc and not doc.startswith("Attributes:"):
            d[""] = " ".join(doc.split())
        for attr, field in getattr(cls, "model_fields", {}).items():
            if field.description and attr in cls.attribute_map:
                d[cls.attribute_map[attr]] = field.description
        out[name] = d
    return out


def main() -> int:
    data = generate()
    OUT.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    DESCRIPTIONS.write_text(json.dumps(descriptions(list(data)), indent=0, sort_keys=True,
                                       ensure_ascii=False) + "\n")
    print(f"wrote {len(data)} model classes to {OUT} and their descriptions to {DESCRIPTIONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
