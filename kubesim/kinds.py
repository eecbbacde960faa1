"""Defaulting and validation of StatefulSets, DaemonSets, ControllerRevisions, Ingresses and
IngressClasses, with the API server's defaults and messages (recorded on a real v1.37 control
plane: tests/differential/cases/sts-*, ds-*, ingress-*).

``registry.Registry`` calls, for the plurals in ``KINDS``: ``default(plural, obj)`` on every
write, ``admit(plural, obj, store)`` on create (DefaultIngressClass; its warnings go to the
client), ``prepare_update(plural, new, old)`` on update (the DaemonSet template generation) and
``validate(plural, obj, old)``. The controllers for the workloads are in ``workloads.py``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import validation
from .errors import FieldError, forbidden_field, invalid, not_supported, required

Obj = dict[str, Any]
KINDS = {"statefulsets", "daemonsets", "controllerrevisions", "ingresses", "ingressclasses"}
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS = "kubernetes.io/ingress.class"
PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
                "and end with an alphanumeric character (e.g. '*.example.com', regex used for "
                "validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                "[a-z0-9])?)*')")
WILDCARD = re.compile(r"^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DOMAIN_PREFIXED_PATH_MSG = 'must be a domain-prefixed path (such as "acme.io/foo")'
STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


# ---- defaulting ----
def default(plural: str, obj: Obj) -> None:
    from .registry import default_pod_spec

    spec = obj.setdefault("spec", {}) if plural not in ("controllerrevisions",) else {}
    if plural == "statefulsets":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("serviceName", "")
        pvc = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        if isinstance(pvc, dict):
            pvc.setdefault("whenDeleted", "Retain")
            pvc.setdefault("whenScaled", "Retain")
        _default_update_strategy(spec, partition=0, maxUnavailable=1)
        _default_template(spec, default_pod_spec)
        st = obj.setdefault("status", {})
        st.setdefault("replicas", 0)
        st.setdefault("availableReplicas", 0)
    elif plural == "daemonsets":
        spec.setdefault("revisionHistoryLimit", 10)
        _default_update_strategy(spec, maxUnavailable=1, maxSurge=0)
        _default_template(spec, default_pod_spec)
        st = obj.setdefault("status", {})
        for k in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled",
                  "numberReady"):
            st.setdefault(k, 0)
        obj["metadata"].setdefault("annotations", {}).setdefault(TEMPLATE_GENERATION, "1")
    elif plural == "ingresses":
        obj.setdefault("status", {}).setdefault("loadBalancer", {})


def admit(plural: str, obj: Obj, store: Any) -> list[str]:
    """Admission on create; returns the warnings for the client. DefaultIngressClass: an
    Ingress without a class (and without the old ``kubernetes.io/ingress.class`` annotation,
    which draws a deprecation warning) gets the default IngressClass, the newest one if several
    carry ``ingressclass.kubernetes.io/is-default-class: "true"``."""
    if plural != "ingresses":
        return []
    spec = obj.setdefault("spec", {})
    if LEGACY_CLASS in (obj["metadata"].get("annotations") or {}):
        return [f'annotation "{LEGACY_CLASS}" is deprecated, please use '
                "'spec.ingressClassName' instead"]
    if spec.get("ingressClassName") is not None:
        return []
    from .resources import BY_KIND

    classes = [c for c in store.iter(BY_KIND[("networking.k8s.io", "IngressClass")])
               if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    if classes:
        newest = max(classes, key=lambda c: (c["metadata"].get("creationTimestamp", ""),
                                             c["metadata"]["name"]))
        spec["ingressClassName"] = newest["metadata"]["name"]
    return []


def prepare_update(plural: str, obj: Obj, old: Obj) -> None:
    """What the API server derives from the previous object on an update."""
    if plural == "daemonsets":
        prev = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "1")
        tg = int(prev) if str(prev).isdigit() else 1
        if (obj.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            tg += 1
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = str(tg)


def _default_update_strategy(spec: dict[str, Any], **rolling: Any) -> None:
    """updateStrategy defaults to RollingUpdate, whose fields default to ``rolling``."""
    us = spec.setdefault("updateStrategy", {})
    if isinstance(us, dict):
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            ru = us.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                for key, value in rolling.items():
                    ru.setdefault(key, value)


def _default_template(spec: Obj, default_pod_spec: Any) -> None:
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        pspec = tmpl.setdefault("spec", {})
        links = "enableServiceLinks" in pspec
        default_pod_spec(pspec)
        if not links:  # defaulted on pods only, not on templates
            pspec.pop("enableServiceLinks", None)


# ---- validation ----
def validate(plural: str, obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    if plural == "statefulsets":
        errs = _statefulset(spec)
        if old is not None:
            errs += _statefulset_update(spec, old.get("spec") or {})
        return errs
    if plural == "daemonsets":
        errs = _daemonset(spec)
        if old is not None:
            errs += _selector_immutable(spec, old.get("spec") or {})
        return errs
    if plural == "ingresses":
        return _ingress_spec(spec)
    if plural == "ingressclasses":
        errs = _ingressclass_spec(spec)
        if old is not None and (old.get("spec") or {}).get("controller") != spec.get(
                "controller"):
            errs.append(invalid("spec.controller", spec.get("controller"), "field is immutable"))
        return errs
    if plural == "controllerrevisions":
        if old is not None and obj.get("data") != old.get("data"):
            return [invalid("data", obj.get("data"), "field is immutable")]
        if not isinstance(obj.get("revision"), int) or obj["revision"] < 0:
            return [invalid("revision", obj.get("revision"), "must be greater than or equal to 0")]
    return []


def _go_struct(d: Any, names: tuple[str, ...]) -> Obj:
    """An internal Go struct as a field error prints it: Go field names, in declaration order."""
    d = d if isinstance(d, dict) else {}
    return {n: d.get(n[0].lower() + n[1:]) for n in names}


def _selector_and_template(spec: Obj, kind: str) -> list[FieldError]:
    from .registry import validate_pod_spec
    from .selectors import match_label_selector

    errs: list[FieldError] = []
    sel = spec.get("selector")
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel:
        errs.append(required("spec.selector"))
    elif not (sel.get("matchLabels") or sel.get("matchExpressions")):
        errs.append(invalid("spec.selector", sel, f"empty selector is invalid for {kind}"))
    if not sel or not match_label_selector(sel, labels):
        errs.append(invalid("spec.template.metadata.labels", labels,
                            "`selector` does not match template `labels`"))
    return errs + _template(tmpl, validate_pod_spec)


def _template(tmpl: Obj, validate_pod_spec: Any) -> list[FieldError]:
    pspec = tmpl.get("spec") or {}
    errs = list(validate_pod_spec(pspec, "spec.template.spec"))
    rp = pspec.get("restartPolicy", "Always")
    if rp != "Always" and rp in ("OnFailure", "Never"):
        errs.append(not_supported("spec.template.spec.restartPolicy", rp, ["Always"]))
    if pspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden_field("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


def _statefulset(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    pmp = spec.get("podManagementPolicy", "OrderedReady")
    if pmp not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", pmp,
                            "must be 'OrderedReady' or 'Parallel'"))
    us = spec.get("updateStrategy") or {}
    typ = us.get("type")
    if typ == "RollingUpdate":
        ru = us.get("rollingUpdate") or {}
        part = ru.get("partition", 0)
        if isinstance(part, int) and part < 0:
            errs.append(invalid("spec.updateStrategy.rollingUpdate.partition", part,
                                "must be greater than or equal to 0"))
        mu = ru.get("maxUnavailable", 1)
        errs += _int_or_percent_positive("spec.updateStrategy.rollingUpdate.maxUnavailable", mu)
    elif typ == "OnDelete":
        if us.get("rollingUpdate") is not None:
            errs.append(invalid("spec.updateStrategy.rollingUpdate", us.get("rollingUpdate"),
                                "only allowed for updateStrategy 'RollingUpdate'"))
    else:
        errs.append(invalid("spec.updateStrategy", _go_struct(us, ("Type", "RollingUpdate")),
                            "must be 'RollingUpdate' or 'OnDelete'"))
    reps = spec.get("replicas", 1)
    if not isinstance(reps, int) or reps < 0:
        errs.append(invalid("spec.replicas", reps, "must be greater than or equal to 0"))
    start = (spec.get("ordinals") or {}).get("start", 0)
    if isinstance(start, int) and start < 0:
        errs.append(invalid("spec.ordinals.start", start, "must be greater than or equal to 0"))
    mrs = spec.get("minReadySeconds", 0)
    if isinstance(mrs, int) and mrs < 0:
        errs.append(invalid("spec.minReadySeconds", mrs, "must be greater than or equal to 0"))
    return errs + _selector_and_template(spec, "statefulset")


def _int_or_percent_positive(field: str, v: Any) -> list[FieldError]:
    if isinstance(v, str) and v.endswith("%"):
        try:
            n = int(v[:-1])
        except ValueError:
            return [invalid(field, v, "a valid percent string must be a numeric string followed "
                            "by an ending '%' (e.g. '1%',  or '93%', regex used for validation "
                            "is '[0-9]+%')")]
        if n < 1:
            return [invalid(field, v, "must be greater than 0")]
        if n > 100:
            return [invalid(field, v, "must not be greater than 100%")]
        return []
    if isinstance(v, int) and v < 1:
        return [invalid(field, v, "must be greater than 0")]
    return []


def _statefulset_update(spec: Obj, old: Obj) -> list[FieldError]:
    a = {k: v for k, v in spec.items() if k not in STS_MUTABLE}
    b = {k: v for k, v in old.items() if k not in STS_MUTABLE}
    if a == b:
        return []
    for k in ("serviceName", "selector", "podManagementPolicy", "volumeClaimTemplates"):
        if a.get(k) != b.get(k):
            return [invalid(f"spec.{k}", spec.get(k), "field is immutable")]
    return [forbidden_field("spec", "updates to statefulset spec for fields other than "
                            "'replicas', 'ordinals', 'template', 'updateStrategy', "
                            "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                            "'minReadySeconds' are forbidden")]


def _selector_immutable(spec: Obj, old: Obj) -> list[FieldError]:
    if spec.get("selector") != old.get("selector"):
        return [invalid("spec.selector", spec.get("selector"), "field is immutable")]
    return []


def _daemonset(spec: Obj) -> list[FieldError]:
    errs = _selector_and_template(spec, "daemonset")
    us = spec.get("updateStrategy") or {}
    typ = us.get("type")
    if typ == "RollingUpdate":
        ru = us.get("rollingUpdate") or {}
        mu, ms = ru.get("maxUnavailable", 1), ru.get("maxSurge", 0)
        if _zero(mu) and _zero(ms):
            errs.append(required("spec.updateStrategy.rollingUpdate.maxUnavailable",
                                 "cannot be 0 when maxSurge is 0"))
        elif not _zero(mu) and not _zero(ms):
            errs.append(invalid("spec.updateStrategy.rollingUpdate.maxSurge", ms,
                                "may not be set when maxUnavailable is non-zero"))
    elif typ != "OnDelete":
        errs.append(not_supported("spec.updateStrategy", _go_struct(us, ("Type", "RollingUpdate")),
                                  ["RollingUpdate", "OnDelete"]))
    mrs = spec.get("minReadySeconds", 0)
    if isinstance(mrs, int) and mrs < 0:
        errs.append(invalid("spec.minReadySeconds", mrs, "must be greater than or equal to 0"))
    return errs


def _zero(v: Any) -> bool:
    return v in (0, "0", "0%", None)


# ---- networking.k8s.io ----
def _ingress_spec(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and not spec.get("defaultBackend"):
        errs.append(invalid("spec", None, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        f = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            errs += _host(f"{f}.host", host, reject_ip=True)
        http = rule.get("http")
        if http is not None:
            paths = (http or {}).get("paths") or []
            if not paths:
                errs.append(required(f"{f}.http.paths"))
            for j, p in enumerate(paths):
                errs += _path(p if isinstance(p, dict) else {}, f"{f}.http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        tls = tls if isinstance(tls, dict) else {}
        for j, h in enumerate(tls.get("hosts") or []):
            errs += _host(f"spec.tls[{i}].hosts[{j}]", h, reject_ip=False)
        if tls.get("secretName"):
            errs += validation.dns1123_subdomain(f"spec.tls[{i}].secretName", tls["secretName"])
    if spec.get("ingressClassName") is not None:
        errs += validation.dns1123_subdomain("spec.ingressClassName", spec["ingressClassName"])
    return errs


def _host(field: str, host: str, reject_ip: bool) -> list[FieldError]:
    if reject_ip and validation.parse_ip(host) is not None:
        return [invalid(field, host, "must be a DNS name, not an IP address")]
    if "*" in host:
        errs = []
        if len(host) > 253:
            errs.append(invalid(field, host, "must be no more than 253 characters"))
        if not WILDCARD.match(host):
            errs.append(invalid(field, host, WILDCARD_MSG))
        return errs
    return validation.dns1123_subdomain(field, host)


def _path(p: Obj, f: str) -> list[FieldError]:
    errs: list[FieldError] = []
    pt = p.get("pathType")
    path = p.get("path") or ""
    if pt is None:
        return [required(f"{f}.pathType", "pathType must be specified")]
    if pt in ("Exact", "Prefix"):
        if not path.startswith("/"):
            errs.append(invalid(f"{f}.path", path, "must be an absolute path"))
        if path:
            for seq in ("//", "/./", "/../", "%2f", "%2F"):
                if seq in path:
                    errs.append(invalid(f"{f}.path", path, f"must not contain '{seq}'"))
            for suffix in ("/..", "/."):
                if path.endswith(suffix):
                    errs.append(invalid(f"{f}.path", path, f"cannot end with '{suffix}'"))
    elif pt == "ImplementationSpecific":
        if path and not path.startswith("/"):
            errs.append(invalid(f"{f}.path", path, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{f}.pathType", pt, PATH_TYPES))
    return errs + _backend(p.get("backend") or {}, f"{f}.backend")


def _backend(b: Obj, f: str) -> list[FieldError]:
    b = b if isinstance(b, dict) else {}
    svc, resource = b.get("service"), b.get("resource")
    if svc is not None and resource is not None:
        return [invalid(f, "", "cannot set both resource and service backends")]
    if resource is not None:
        errs: list[FieldError] = []
        if not resource.get("kind"):
            errs.append(required(f"{f}.resource.kind"))
        if not resource.get("name"):
            errs.append(required(f"{f}.resource.name"))
        return errs
    if svc is None:
        return [invalid(f, "", "resource or service backend is required")]
    errs = []
    name = svc.get("name") or ""
    if not name:
        errs.append(required(f"{f}.service.name"))
    else:
        errs += validation.dns1123_label(f"{f}.service.name", name)
    port = svc.get("port") or {}
    pname, pnum = port.get("name") or "", port.get("number") or 0
    if pname and pnum:
        errs.append(invalid(f, "", "cannot set both port name & port number"))
    elif pname:
        errs += validation.iana_svc_name(f"{f}.service.port.name", pname)
    elif pnum:
        errs += validation.port_number(f"{f}.service.port.number", pnum)
    else:
        errs.append(required(f, "port name or number is required"))
    return errs


def _ingressclass_spec(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ctl = spec.get("controller") or ""
    if not ctl:
        errs.append(required("spec.controller"))
    else:
        if len(ctl) > 250:
            errs.append(errors_too_long("spec.controller", ctl, 250))
        if not _domain_prefixed_path(ctl):
            errs.append(invalid("spec.controller", ctl, DOMAIN_PREFIXED_PATH_MSG))
    params = spec.get("parameters")
    if isinstance(params, dict):
        f = "spec.parameters"
        if not params.get("kind"):
            errs.append(required(f"{f}.kind", "kind is required"))
        if not params.get("name"):
            errs.append(required(f"{f}.name", "name is required"))
        scope = params.get("scope")
        if scope is not None and scope not in ("Cluster", "Namespace"):
            errs.append(not_supported(f"{f}.scope", scope, ["Cluster", "Namespace"]))
        if scope == "Namespace" and not params.get("namespace"):
            errs.append(required(f"{f}.namespace", "`parameters.scope` is set to 'Namespace'"))
        if scope in (None, "Cluster") and params.get("namespace"):
            errs.append(forbidden_field(f"{f}.namespace",
                                        "`parameters.scope` is set to 'Cluster'"))
    return errs


def errors_too_long(field: str, value: str, n: int) -> FieldError:
    return FieldError("toolong", field, value, f"may not be more than {n} bytes")


def _domain_prefixed_path(v: str) -> bool:
    host, sep, path = v.partition("/")
    if not sep or not path:
        return False
    if not validation.DNS1123_SUBDOMAIN.match(host):
        return False
    return bool(re.match(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$", path))


def controller_revision_data(template: Obj) -> Obj:
    """What a ControllerRevision of a StatefulSet or DaemonSet stores: its template, replacing."""
    t = copy.deepcopy(template)
    t["$patch"] = "replace"
    return {"spec": {"template": t}}
