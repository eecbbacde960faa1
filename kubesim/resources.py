"""The kinds kubesim serves: names, scope, verbs, short names and categories, as discovery has them."""

from __future__ import annotations

from dataclasses import dataclass, field

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    model: str  # the client model class name in types.json
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(VERBS)
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """``services`` or ``deployments.apps``, as error messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: list[Resource] = [
    Resource("", "v1", "ConfigMap", "configmaps", True, "V1ConfigMap", ("cm",)),
    Resource("", "v1", "Endpoints", "endpoints", True, "V1Endpoints", ("ep",),
             singular="endpoints"),
    Resource("", "v1", "Event", "events", True, "CoreV1Event", ("ev",)),
    Resource("", "v1", "Namespace", "namespaces", False, "V1Namespace", ("ns",),
             subresources=("finalize", "status"),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Node", "nodes", False, "V1Node", ("no",), subresources=("status",)),
    Resource("", "v1", "Pod", "pods", True, "V1Pod", ("po",), ("all",),
             ("attach", "exec", "log", "status", "portforward")),
    Resource("", "v1", "Secret", "secrets", True, "V1Secret"),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, "V1ServiceAccount", ("sa",)),
    Resource("", "v1", "Service", "services", True, "V1Service", ("svc",), ("all",),
             ("status",),
             verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update",
                    "watch")),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True,
             "V1ControllerRevision"),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, "V1DaemonSet", ("ds",), ("all",),
             ("status",)),
    Resource("apps", "v1", "Deployment", "deployments", True, "V1Deployment", ("deploy",),
             ("all",), ("scale", "status")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, "V1ReplicaSet", ("rs",), ("all",),
             ("scale", "status")),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, "V1StatefulSet", ("sts",),
             ("all",), ("scale", "status")),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False,
             "V1IngressClass"),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, "V1Ingress", ("ing",),
             subresources=("status",)),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True,
             "V1EndpointSlice"),
]

BY_GV_PLURAL: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}
BY_KIND: dict[tuple[str, str], Resource] = {(r.group, r.kind): r for r in RESOURCES}
GROUPS: dict[str, list[str]] = {}
for _r in RESOURCES:
    GROUPS.setdefault(_r.group, [])
    if _r.version not in GROUPS[_r.group]:
        GROUPS[_r.group].append(_r.version)


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return BY_GV_PLURAL.get((group, version, plural))


def by_api_version(api_version: str, kind: str) -> Resource | None:
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return BY_KIND.get((group, kind))
