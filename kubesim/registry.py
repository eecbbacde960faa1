"""The API's write path: defaulting, validation, allocation, versions, deletion semantics.

HTTP handlers and controllers both go through ``Registry``, so a controller's write is checked
exactly as a user's is.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from typing import Any

from . import errors, kinds, patching, schema, services, validation
from .errors import FieldError, invalid, required
from .resources import BY_KIND, Resource
from .store import Store

SAFE = "bcdfghjklmnpqrstvwxz2456789"
STATUS_SUBRESOURCE = {"pods", "services", "deployments", "replicasets", "nodes", "namespaces",
                      "statefulsets", "daemonsets", "ingresses"}
GENERATION = {"deployments", "replicasets", "pods", "statefulsets", "daemonsets", "ingresses",
              "ingressclasses"}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

R = {r.plural: r for r in BY_KIND.values()}
SVC, PODS, NS, NODES, EVENTS = R["services"], R["pods"], R["namespaces"], R["nodes"], R["events"]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(SAFE) for _ in range(n))


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.alloc = services.Allocator(lambda: store.iter(SVC))
        self.warnings: list[str] = []  # fieldValidation=Warn findings of the current request

    # ---- shared steps ----
    def _check_kind(self, res: Resource, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format - accepted "
                                     "media types include: application/json, application/yaml")
        kind = body.get("kind")
        if kind and kind != res.kind:
            raise errors.bad_request(
                f"{kind} in version \"{res.version}\" cannot be handled as a {res.kind}: "
                f"no kind \"{kind}\" is registered for version \"{res.api_version}\" in scheme")
        av = body.get("apiVersion")
        if av and av != res.api_version:
            raise errors.bad_request(
                f"the API version in the data ({av}) does not match the expected API version "
                f"({res.api_version})")
        return body

    def strict_check(self, res: Resource, body: dict[str, Any], mode: str) -> list[str]:
        """fieldValidation: Strict rejects unknown fields, Warn returns them as warnings."""
        if mode == "Ignore":
            return []
        unknown = schema.unknown_fields(res.model, body)
        if not unknown:
            return []
        msgs = [f'unknown field "{u}"' for u in unknown]
        if mode not in ("Strict", "Warn"):
            raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or '
                                     f'"Strict", got {mode!r}')
        if mode == "Warn":
            self.warnings.extend(msgs)
        if mode == "Strict":
            raise errors.bad_request(
                f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                f"strict decoding error: {', '.join(msgs)}")
        return msgs

    def _namespace_ok(self, res: Resource, ns: str | None) -> None:
        if not res.namespaced:
            return
        nso = self.store.find(NS, None, ns or "")
        if nso is None:
            raise errors.not_found("", "namespaces", ns or "")
        if nso["metadata"].get("deletionTimestamp"):
            raise errors.APIError(
                403, "Forbidden",
                f'{res.qualified} "{{name}}" is forbidden: unable to create new content in '
                f"namespace {ns} because it is being terminated",
                {"kind": res.plural, "causes": [{"reason": "NamespaceTerminating",
                                                 "message": f"namespace {ns} is being terminated",
                                                 "field": "metadata.namespace"}]})

    def _managed(self, obj: dict[str, Any], manager: str | None, operation: str,
                 fields: dict[str, Any] | None = None, subresource: str = "",
                 old: dict[str, Any] | None = None, res: Resource | None = None) -> None:
        """Record who owns which fields. An Update takes the fields it changed from everyone
        else; an Apply owns the fields of its configuration (conflicts were checked before)."""
        if not manager:
            return
        md = obj["metadata"]
        entries = [dict(e) for e in md.get("managedFields") or []]
        if operation == "Update" and res is not None and subresource != "status":
            now_leaves = patching.leaves(obj, res.model)
            old_leaves = patching.leaves(old, res.model) if old is not None else {}
            changed = {p for p, v in now_leaves.items()
                       if p not in old_leaves or old_leaves[p] != v}
            for e in entries:
                if e.get("manager") != manager or e.get("operation") != "Update" or \
                        e.get("subresource", "") != subresource:
                    left = patching.from_fields(e.get("fieldsV1")) - changed
                    e["fieldsV1"] = patching.to_fields(left)
            mine = next((e for e in entries if e.get("manager") == manager and
                         e.get("operation") == "Update" and
                         e.get("subresource", "") == subresource), None)
            owned = patching.from_fields(mine.get("fieldsV1")) if mine else set()
            fields = patching.to_fields((owned | changed) & set(now_leaves))
        entries = [e for e in entries
                   if not (e.get("manager") == manager and e.get("operation") == operation
                           and e.get("subresource", "") == subresource)
                   and (e.get("fieldsV1") or e.get("operation") != "Update" or
                        e.get("subresource"))]
        entry: dict[str, Any] = {"manager": manager, "operation": operation,
                                 "apiVersion": obj.get("apiVersion"), "time": now(),
                                 "fieldsType": "FieldsV1"}
        if fields is not None:
            entry["fieldsV1"] = fields
        if subresource:
            entry["subresource"] = subresource
        if fields or operation == "Apply" or subresource:
            entries.append(entry)
        md["managedFields"] = entries

    def apply_conflicts(self, res: Resource, live: dict[str, Any], config: dict[str, Any],
                        manager: str, force: bool) -> None:
        """Server-side apply: a field another manager owns, set here to a different value, is
        a conflict (409) unless forced; forcing takes the field from them."""
        cfg = patching.leaves(config, res.model)
        cur = patching.leaves(live, res.model)
        conflicts: list[tuple[str, str, tuple[str, ...]]] = []
        entries = live["metadata"].get("managedFields") or []
        for e in entries:
            if (e.get("manager") == manager and e.get("operation") == "Apply") or \
                    e.get("subresource") == "status":
                continue
            who = f'"{e["manager"]}"'
            if e.get("subresource"):
                who += f' with subresource "{e["subresource"]}"'
            if e.get("operation") == "Update":
                who += f' using {e.get("apiVersion", "")}'
            owned = patching.from_fields(e.get("fieldsV1"))
            for p in sorted(owned & set(cfg)):
                if p in cur and cur[p] != cfg[p]:
                    conflicts.append((who, "", p))
        if not conflicts:
            return
        if force:
            taken = {p for _, _, p in conflicts}
            new_entries = []
            for e in entries:
                e = dict(e)
                if not (e.get("manager") == manager and e.get("operation") == "Apply") and \
                        e.get("subresource") != "status":
                    e["fieldsV1"] = patching.to_fields(
                        patching.from_fields(e.get("fieldsV1")) - taken)
                new_entries.append(e)
            live["metadata"]["managedFields"] = new_entries
            return
        n = len(conflicts)
        if n == 1:
            who, av, p = conflicts[0]
            msg = f"Apply failed with 1 conflict: conflict with {who}: {patching.path_text(p)}"
        else:
            by: dict[tuple[str, str], list[str]] = {}
            for who, av, p in conflicts:
                by.setdefault((who, av), []).append(patching.path_text(p))
            parts = []
            for (who, _av), paths in by.items():
                parts.append(f"conflicts with {who}:\n" +
                             "\n".join(f"- {t}" for t in paths))
            msg = f"Apply failed with {n} conflicts: " + "\n".join(parts)
        raise errors.APIError(409, "Conflict", msg, {
            "name": live["metadata"]["name"], "group": res.group, "kind": res.plural,
            "causes": [{"reason": "FieldManagerConflict",
                        "message": f"conflict with {who}",
                        "field": patching.path_text(p)} for who, av, p in conflicts]})

    # ---- per-kind defaulting and validation ----
    def _default(self, res: Resource, obj: dict[str, Any]) -> None:
        p = res.plural
        if p == "services":
            services.default(obj)
        elif p == "pods":
            default_pod_spec(obj.setdefault("spec", {}))
            st = obj.setdefault("status", {})
            st.setdefault("phase", "Pending")
            st.setdefault("qosClass", "BestEffort")
        elif p in ("deployments", "replicasets"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            if p == "deployments":
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
                st = spec.setdefault("strategy", {})
                st.setdefault("type", "RollingUpdate")
                if st["type"] == "RollingUpdate":
                    ru = st.setdefault("rollingUpdate", {})
                    ru.setdefault("maxSurge", "25%")
                    ru.setdefault("maxUnavailable", "25%")
            tmpl = spec.setdefault("template", {})
            tmpl.setdefault("metadata", {})
            default_pod_spec(tmpl.setdefault("spec", {}))
            obj.setdefault("status", {})
        elif p == "endpoints":
            for ss in obj.get("subsets") or []:
                for port in (ss or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
        elif p in kinds.KINDS:
            kinds.default(p, obj)
        elif p == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
                obj["metadata"]["name"]

    def _validate(self, res: Resource, obj: dict[str, Any],
                  old: dict[str, Any] | None) -> list[FieldError]:
        md = obj["metadata"]
        name = md.get("name", "")
        p = res.plural
        if p == "services":
            errs = services.validate(obj)
            if old is not None:
                errs += services.validate_update(obj, old)
            return errs
        errs = []
        if p == "namespaces":
            errs += validation.dns1123_label("metadata.name", name)
        elif p != "events":
            errs += validation.dns1123_subdomain("metadata.name", name)
        if p == "pods":
            errs += validate_pod_spec(obj.get("spec") or {}, "spec")
            if old is not None:
                errs += _pod_update_errs(obj, old)
        elif p in ("deployments", "replicasets"):
            spec = obj.get("spec") or {}
            sel = spec.get("selector")
            labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
            if not sel:
                errs.append(required("spec.selector"))
            else:
                from .selectors import match_label_selector
                if not match_label_selector(sel, labels):
                    errs.append(invalid(
                        "spec.template.metadata.labels", labels,
                        "`selector` does not match template `labels`"))
                if old is not None and sel != (old.get("spec") or {}).get("selector"):
                    errs.append(invalid("spec.selector", sel, "field is immutable"))
            reps = spec.get("replicas", 1)
            if not isinstance(reps, int) or reps < 0:
                errs.append(invalid("spec.replicas", reps,
                                    "must be greater than or equal to 0"))
            errs += validate_pod_spec((spec.get("template") or {}).get("spec") or {},
                                      "spec.template.spec")
        elif p in kinds.KINDS:
            errs += kinds.validate(p, obj, old)
        return errs

    # ---- verbs ----
    def create(self, res: Resource, ns: str | None, body: Any, *, manager: str | None = None,
               dry_run: bool = False, validation_mode: str = "Strict",
               apply_fields: dict[str, Any] | None = None) -> dict[str, Any]:
        obj = copy.deepcopy(self._check_kind(res, body))
        warnings = self.strict_check(res, obj, validation_mode)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if res.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            md["namespace"] = ns or md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + random_suffix()
            else:
                raise errors.invalid_error(res.kind, res.group, "", [
                    required("metadata.name", "name or generateName is required")])
        self._namespace_ok(res, md.get("namespace"))
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now()
        if res.plural in GENERATION:
            md["generation"] = 1
        self._default(res, obj)
        if res.plural == "pods":
            admit_pod(obj)
        errs = self._validate(res, obj, None)
        if errs:
            raise errors.invalid_error(res.kind, res.group, md["name"], errs)
        if self.store.find(res, md.get("namespace"), md["name"]) is not None:
            raise errors.already_exists(res.group, res.plural, md["name"])
        if res.plural == "services":
            self.alloc.allocate(obj, None)
        if apply_fields is not None:
            self._managed(obj, manager, "Apply", apply_fields)
        else:
            self._managed(obj, manager, "Update", None, "", None, res)
        if dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return obj
        out = self.store.create(res, obj)
        if warnings:
            out = dict(out)
        return out

    def update(self, res: Resource, ns: str | None, name: str, body: Any, *,
               subresource: str = "", manager: str | None = None, dry_run: bool = False,
               validation_mode: str = "Strict", apply_fields: dict[str, Any] | None = None,
               check_rv: bool = True) -> dict[str, Any]:
        if subresource == "status":
            return self._update_status(res, ns, name, self._check_kind(res, body), manager,
                                       check_rv, dry_run)
        new = copy.deepcopy(self._check_kind(res, body))
        if not subresource:
            self.strict_check(res, new, validation_mode)
        old = self.store.get(res, ns, name)
        md = new.setdefault("metadata", {})
        if md.get("name") and md["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({md['name']}) does not match the name on the URL "
                f"({name})")
        rv = md.get("resourceVersion") if check_rv else None
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.group, res.plural, name,
                                  "the object has been modified; please apply your changes to the "
                                  "latest version and try again")
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        omd = old["metadata"]
        md["name"] = name
        if res.namespaced:
            md["namespace"] = omd.get("namespace")
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        if "managedFields" not in md and "managedFields" in omd:
            md["managedFields"] = omd["managedFields"]
        if subresource == "status":
            new = dict(copy.deepcopy(old), status=new.get("status", {}))
            new["metadata"] = dict(new["metadata"])
        elif res.plural in STATUS_SUBRESOURCE:
            new["status"] = copy.deepcopy(old.get("status", {}))
        if res.plural == "services" and not subresource:
            services.prepare_update(new, old)
            if new["spec"].get("type") != "LoadBalancer":
                new.setdefault("status", {})["loadBalancer"] = {}
        self._default(res, new)
        if res.plural in GENERATION and new.get("spec") != old.get("spec"):
            md = new["metadata"]
            md["generation"] = omd.get("generation", 1) + 1
        if res.plural in kinds.KINDS:
            kinds.prepare_update(res.plural, new, old)
        errs = self._validate(res, new, old)
        if errs:
            raise errors.invalid_error(res.kind, res.group, name, errs)
        if res.plural == "services" and not subresource:
            self.alloc.allocate(new, old)
        if apply_fields is not None:
            self._managed(new, manager, "Apply", apply_fields, subresource)
        elif manager:
            self._managed(new, manager, "Update", None, subresource, old, res)
        if dry_run:
            return new
        # finalizers all removed on an object being deleted: it goes now
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                and res.plural not in ("pods", "namespaces"):
            return self.store.delete(res, ns, name)
        if new == old:
            return old
        return self.store.update(res, new)

    def _update_status(self, res: Resource, ns: str | None, name: str, body: dict[str, Any],
                       manager: str | None, check_rv: bool, dry_run: bool) -> dict[str, Any]:
        """The status subresource: only .status changes (and no spec validation runs)."""
        old = self.store.get(res, ns, name)
        rv = (body.get("metadata") or {}).get("resourceVersion") if check_rv else None
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.group, res.plural, name,
                                  "the object has been modified; please apply your changes to the "
                                  "latest version and try again")
        status = copy.deepcopy(body.get("status") or {})
        if status == old.get("status"):
            return old
        new = dict(old, status=status)
        new["metadata"] = dict(old["metadata"])
        if manager and manager != "unknown":
            self._managed(new, manager, "Update", None, "status")
        if dry_run:
            return new
        return self.store.update(res, new)

    def patch(self, res: Resource, ns: str | None, name: str, ptype: str, patch: Any, *,
              subresource: str = "", manager: str | None = None, force: bool = False,
              dry_run: bool = False, validation_mode: str = "Strict") -> tuple[dict[str, Any],
                                                                             bool]:
        """Returns (object, created)."""
        cur = self.store.find(res, ns, name)
        if ptype in (patching.APPLY, patching.APPLY_CBOR):
            if not manager:
                raise errors.bad_request("PATCH, application/apply-patch+yaml requires "
                                         "fieldManager parameter")
            if not isinstance(patch, dict):
                raise errors.bad_request("error decoding YAML: the applied configuration must be "
                                         "an object")
            self._check_kind(res, patch)
            if not patch.get("apiVersion") or not patch.get("kind"):
                raise errors.bad_request("invalid object type: /, Kind=")
            pmd = patch.get("metadata") or {}
            if pmd.get("name") and pmd["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({pmd['name']}) does not match the name on the URL "
                    f"({name})")
            fields = patching.field_set(patch, res.model)
            if cur is None:
                body = copy.deepcopy(patch)
                body.setdefault("metadata", {})["name"] = name
                return self.create(res, ns, body, manager=manager, dry_run=dry_run,
                                   validation_mode=validation_mode, apply_fields=fields), True
            prev = None
            for e in cur["metadata"].get("managedFields") or []:
                if e.get("manager") == manager and e.get("operation") == "Apply" and \
                        e.get("subresource", "") == subresource:
                    prev = e.get("fieldsV1")
            self.strict_check(res, patch, validation_mode)
            live = copy.deepcopy(cur)
            self.apply_conflicts(res, live, patch, manager, force)
            merged = patching.apply(live, patch, res.model, prev)
            merged["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if subresource != "status" and res.plural in STATUS_SUBRESOURCE and "status" in patch:
                pass
            return self.update(res, ns, name, merged, subresource=subresource, manager=manager,
                               dry_run=dry_run, validation_mode="Ignore", apply_fields=fields,
                               check_rv=bool(pmd.get("resourceVersion"))), False
        if cur is None:
            raise errors.not_found(res.group, res.plural, name)
        if ptype == patching.JSON_PATCH:
            new = patching.json_patch(cur, patch)
        elif ptype == patching.MERGE_PATCH:
            new = patching.merge_patch(cur, patch)
        elif ptype == patching.STRATEGIC:
            new = patching.strategic_merge(cur, patch, res.model)
        else:
            raise errors.APIError(415, "UnsupportedMediaType",
                                  f"the body of the request was in an unknown format - accepted "
                                  f"media types include: {patching.JSON_PATCH}, "
                                  f"{patching.MERGE_PATCH}, {patching.APPLY}, {patching.STRATEGIC}")
        if not isinstance(new, dict):
            raise errors.bad_request("the patch produced something that is not an object")
        if validation_mode != "Ignore" and isinstance(patch, dict) and not subresource:
            self.strict_check(res, {k: v for k, v in new.items()}, validation_mode)
        pmd = patch.get("metadata") if isinstance(patch, dict) else None
        check = bool(pmd and isinstance(pmd, dict) and pmd.get("resourceVersion"))
        if not check:
            new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self.update(res, ns, name, new, subresource=subresource, manager=manager,
                           dry_run=dry_run, validation_mode="Ignore", check_rv=True), False

    def delete(self, res: Resource, ns: str | None, name: str, *,
               propagation: str | None = None, grace: int | None = None,
               preconditions: dict[str, Any] | None = None,
               dry_run: bool = False) -> tuple[dict[str, Any], bool]:
        """Returns (object, gone_now)."""
        cur = self.store.get(res, ns, name)
        md = cur["metadata"]
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != md.get("uid"):
                raise errors.conflict(res.group, res.plural, name,
                                      f"Precondition failed: UID in precondition: "
                                      f"{preconditions['uid']}, UID in object meta: {md.get('uid')}")
            if preconditions.get("resourceVersion") and \
                    preconditions["resourceVersion"] != md.get("resourceVersion"):
                raise errors.conflict(res.group, res.plural, name,
                                      "the object has been modified; please apply your changes "
                                      "to the latest version and try again")
        if dry_run:
            return cur, False
        if propagation is None:
            propagation = "Background"
        if propagation == "Orphan":
            self.orphan_dependents(md.get("uid", ""))
        if res.plural == "namespaces":
            if name in ("default", "kube-system", "kube-public"):
                raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not '
                                       "be deleted")
            if md.get("deletionTimestamp"):
                return cur, False
            new = copy.deepcopy(cur)
            new["metadata"]["deletionTimestamp"] = now()
            new["status"]["phase"] = "Terminating"
            return self.store.update(res, new), False
        graceful = res.plural == "pods" and cur.get("spec", {}).get("nodeName") and (
            grace is None or grace > 0)
        finalizers = list(md.get("finalizers") or [])
        if propagation == "Foreground" and res.plural not in ("pods", "events") and \
                "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")  # the garbage collector removes it
        if graceful or finalizers:
            if md.get("deletionTimestamp"):
                return cur, False
            new = copy.deepcopy(cur)
            g = grace if grace is not None else cur["spec"].get("terminationGracePeriodSeconds", 30) \
                if res.plural == "pods" else 0
            new["metadata"]["deletionTimestamp"] = now()
            new["metadata"]["deletionGracePeriodSeconds"] = g
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
            return self.store.update(res, new), False
        return self.store.delete(res, ns, name), True

    def orphan_dependents(self, uid: str) -> None:
        for res in BY_KIND.values():
            for obj in self.store.iter(res):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    new = copy.deepcopy(obj)
                    new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    self.store.update(res, new)


def _pod_update_errs(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    a, b = copy.deepcopy(new.get("spec") or {}), copy.deepcopy(old.get("spec") or {})
    for s in (a, b):
        for c in s.get("containers") or []:
            c.pop("image", None)
        s.pop("activeDeadlineSeconds", None)
        s.pop("tolerations", None)
    if not old.get("spec", {}).get("nodeName"):
        a.pop("nodeName", None)
        b.pop("nodeName", None)
    if a != b:
        return [errors.forbidden_field(
            "spec", "pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
            "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
            "(allow it to be set to 1 if it was previously negative)")]
    return []


def admit_pod(pod: dict[str, Any]) -> None:
    """What the default admission plugins add to a new pod: the ServiceAccount and its token
    volume, DefaultTolerationSeconds, and the default priority."""
    spec = pod["spec"]
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tols = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key and t.get("effect") in (None, "", "NoExecute")
                   for t in tols if isinstance(t, dict)):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300})
    if spec.get("automountServiceAccountToken") is False:
        return
    vol = f"kube-api-access-{random_suffix()}"
    spec.setdefault("volumes", []).append({"name": vol, "projected": {
        "defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [
                {"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
    for c in spec.get("containers") or []:
        if isinstance(c, dict) and not any(
                m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount"
                for m in c.get("volumeMounts") or []):
            c.setdefault("volumeMounts", []).append({
                "name": vol, "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        image = c.get("image", "")
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        latest = not tagged or image.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            pr = c.get(probe)
            if isinstance(pr, dict):
                pr.setdefault("timeoutSeconds", 1)
                pr.setdefault("periodSeconds", 10)
                pr.setdefault("successThreshold", 1)
                pr.setdefault("failureThreshold", 3)
                for h in ("httpGet", "tcpSocket"):
                    if isinstance(pr.get(h), dict) and h == "httpGet":
                        pr[h].setdefault("path", "/")
                        pr[h].setdefault("scheme", "HTTP")
    for v in spec.get("volumes") or []:
        if isinstance(v, dict) and isinstance(v.get("configMap"), dict):
            v["configMap"].setdefault("defaultMode", 420)


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    containers = spec.get("containers") or []
    if not containers:
        errs.append(required(f"{path}.containers"))
    names: set[str] = set()
    vols = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for i, c in enumerate(containers):
        f = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            continue
        n = c.get("name", "")
        if not n:
            errs.append(required(f"{f}.name"))
        else:
            errs += validation.dns1123_label(f"{f}.name", n)
            if n in names:
                errs.append(errors.duplicate(f"{f}.name", n))
            names.add(n)
        if not c.get("image"):
            errs.append(required(f"{f}.image"))
        pnames: set[str] = set()
        for j, p in enumerate(c.get("ports") or []):
            if not isinstance(p, dict):
                continue
            errs += validation.port_number(f"{f}.ports[{j}].containerPort", p.get("containerPort"))
            if p.get("name"):
                errs += validation.iana_svc_name(f"{f}.ports[{j}].name", p["name"])
                if p["name"] in pnames:
                    errs.append(errors.duplicate(f"{f}.ports[{j}].name", p["name"]))
                pnames.add(p["name"])
        for j, m in enumerate(c.get("volumeMounts") or []):
            if isinstance(m, dict) and m.get("name") not in vols:
                errs.append(errors.FieldError("notfound", f"{f}.volumeMounts[{j}].name",
                                              m.get("name")))
    rp = spec.get("restartPolicy", "Always")
    if rp not in ("Always", "OnFailure", "Never"):
        errs.append(errors.not_supported(f"{path}.restartPolicy", rp,
                                         ["Always", "OnFailure", "Never"]))
    return errs
