"""The API's write path: defaulting, validation, allocation, versions, deletion semantics.

HTTP handlers and controllers both go through ``Registry``, so a controller's write is checked
exactly as a user's is.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
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

    def _managed(self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None,
                 manager: str | None, subresource: str = "",
                 view: dict[str, Any] | None = None) -> None:
        """Record an Update operation in managedFields (structured-merge-diff semantics): the
        manager takes every field it added or changed from everyone else. ``old`` None is a
        create. ``view`` is the object as the field manager sees it (defaulted, before admission
        and allocation), when it differs from ``obj``. Writes without a manager come from
        kubesim's own components and are recorded under the names the real components use."""
        manager = manager or component_manager(res, subresource, old is None)
        if not manager:
            return
        md = obj["metadata"]
        # the request may set managedFields itself (kubectl's upgrade from client-side apply
        # does); [] or [{}] resets them; a status write keeps the live ones
        entries = md.get("managedFields")
        if subresource and old is not None:
            entries = old["metadata"].get("managedFields")
        elif entries is None and old is not None:
            entries = old["metadata"].get("managedFields")
        if entries == [{}]:
            entries = []
        if old is not None and not entries:
            # an object nobody's fields are tracked on (or reset with [] / [{}]) stays that way
            md.pop("managedFields", None)
            return
        md["managedFields"] = patching.managed_update(
            entries or [], old, obj if view is None else view, res.model, manager,
            res.api_version, now(), subresource, reset_fields(res, subresource))
        if not md["managedFields"]:
            del md["managedFields"]

    def _apply(self, res: Resource, name: str, live: dict[str, Any], config: dict[str, Any],
               manager: str, force: bool, subresource: str, reset: frozenset[tuple[str, ...]],
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Server-side apply, with what the API server adds for kubectl's own field manager on
        an object that client-side apply made (it carries the last-applied annotation):
        conflicts over fields the annotation lists are forced (the upgrade from client-side
        apply), and the annotation is rewritten to the applied configuration."""
        last = (live["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        try:
            merged, applied = patching.server_side_apply(
                live, config, res.model, manager, res.api_version, now(), force, subresource,
                reset)
        except patching.ApplyConflicts as e:
            if manager != "kubectl" or not last:
                raise self.conflict_error(res, name, e) from e
            try:
                allowed = patching.field_set(json.loads(last), res.model)
            except ValueError:
                raise self.conflict_error(res, name, e) from e
            rest = [(m, p) for m, p in e.conflicts if p not in allowed]
            if rest:
                raise self.conflict_error(res, name, patching.ApplyConflicts(rest)) from e
            merged, applied = patching.server_side_apply(
                live, config, res.model, manager, res.api_version, now(), True, subresource,
                reset)
        if manager == "kubectl" and last:
            cfg = copy.deepcopy(config)
            anns = (cfg.get("metadata") or {}).get("annotations")
            if isinstance(anns, dict):
                anns.pop(LAST_APPLIED, None)
            text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            merged["metadata"] = dict(merged["metadata"])
            merged["metadata"]["annotations"] = dict(merged["metadata"].get("annotations") or {},
                                                     **{LAST_APPLIED: text + "\n"})
        return merged, applied

    def conflict_error(self, res: Resource, name: str, err: patching.ApplyConflicts,
                       ) -> errors.APIError:
        """Server-side apply's 409: every conflicting field with the manager that owns it."""
        causes = [{"reason": "FieldManagerConflict",
                   "message": f"conflict with {patching.manager_text(e)}",
                   "field": patching.path_text(p)} for e, p in err.conflicts]
        return errors.APIError(409, "Conflict", patching.conflict_message(err.conflicts), {
            "name": name, "group": res.group, "kind": res.plural, "causes": causes})

    # ---- per-kind defaulting and validation ----
    def _default(self, res: Resource, obj: dict[str, Any]) -> None:
        p = res.plural
        if p == "services":
            services.default(obj)
        elif p == "pods":
            default_pod_spec(obj.setdefault("spec", {}))
            obj["spec"].setdefault("enableServiceLinks", True)  # pods only, not templates
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
               applied: list[dict[str, Any]] | None = None) -> dict[str, Any]:
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
        if manager and res.plural in STATUS_SUBRESOURCE and res.plural != "nodes":
            obj.pop("status", None)  # the kind's strategy resets what a client sends
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now()
        if res.plural in GENERATION:
            md["generation"] = 1
        sent_finalizers = bool((obj.get("spec") or {}).get("finalizers"))
        self._default(res, obj)
        # the field manager sees the object decoded and defaulted, before admission & allocation
        # (and before a namespace's strategy adds the kubernetes finalizer)
        view = copy.deepcopy(obj) if applied is None and res.plural in (
            "pods", "services", "namespaces") else None
        if view is not None and res.plural == "namespaces" and not sent_finalizers:
            view["spec"].pop("finalizers", None)
        if res.plural == "pods":
            admit_pod(obj)
        elif res.plural in kinds.KINDS:
            self.warnings.extend(kinds.admit(res.plural, obj, self.store))
        errs = self._validate(res, obj, None)
        self.warnings.extend(services.warnings(obj) if res.plural == "services" else [])
        if errs:
            raise errors.invalid_error(res.kind, res.group, md["name"], errs)
        if self.store.find(res, md.get("namespace"), md["name"]) is not None:
            raise errors.already_exists(res.group, res.plural, md["name"])
        if res.plural == "services":
            self.alloc.allocate(obj, None)
        if applied is not None:
            md["managedFields"] = applied
        else:
            self._managed(res, obj, None, manager, view=view)
        if dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return obj
        out = self.store.create(res, obj)
        if warnings:
            out = dict(out)
        return out

    def update(self, res: Resource, ns: str | None, name: str, body: Any, *,
               subresource: str = "", manager: str | None = None, dry_run: bool = False,
               validation_mode: str = "Strict", applied: list[dict[str, Any]] | None = None,
               check_rv: bool = True) -> dict[str, Any]:
        if subresource == "status":
            return self._update_status(res, ns, name, self._check_kind(res, body), manager,
                                       check_rv, dry_run, applied)
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
            sent = new.get("status") or {}
            new["status"] = copy.deepcopy(old.get("status", {}))
            if res.plural == "pods" and manager is None and new["spec"].get("nodeName") and \
                    not old["spec"].get("nodeName"):
                # the scheduler's binding (pods/binding) sets the PodScheduled condition too,
                # recorded under no manager
                cond = next((c for c in sent.get("conditions") or []
                             if c.get("type") == "PodScheduled"), None)
                conds = [c for c in new["status"].get("conditions") or []
                         if c.get("type") != "PodScheduled"]
                if cond is not None:
                    new["status"]["conditions"] = conds + [copy.deepcopy(cond)]
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
        self.warnings.extend(services.warnings(new) if res.plural == "services" else [])
        if errs:
            raise errors.invalid_error(res.kind, res.group, name, errs)
        view = None
        if res.plural == "services" and not subresource:
            view = copy.deepcopy(new)
            self.alloc.allocate(new, old)
        if applied is not None:
            new["metadata"]["managedFields"] = applied
            if not applied:
                del new["metadata"]["managedFields"]
        else:
            self._managed(res, new, old, manager, subresource, view)
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
                       manager: str | None, check_rv: bool, dry_run: bool,
                       applied: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The status subresource: .status changes, and labels and annotations (except where
        the kind's status strategy resets them); no spec validation runs."""
        old = self.store.get(res, ns, name)
        rv = (body.get("metadata") or {}).get("resourceVersion") if check_rv else None
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.group, res.plural, name,
                                  "the object has been modified; please apply your changes to the "
                                  "latest version and try again")
        status = copy.deepcopy(body.get("status") or {})
        new = dict(old, status=status)
        new["metadata"] = dict(old["metadata"])
        bmd = body.get("metadata") or {}
        fresh = bmd.get("resourceVersion") == old["metadata"]["resourceVersion"]
        for k in ("labels", "annotations"):
            if fresh and k in bmd and (k, res.plural) != ("labels", "deployments"):
                new["metadata"][k] = copy.deepcopy(bmd[k])
                if not bmd[k]:
                    del new["metadata"][k]
        if new == old:
            return old
        if applied is not None:
            new["metadata"]["managedFields"] = applied
        elif manager != "unknown":
            self._managed(res, new, old, manager, "status")
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
            dup = patching.duplicate_entry(patch, res.model)
            if dup:
                raise errors.APIError(
                    500, "", f"failed to create typed patch object ({pmd.get('namespace', '')}/"
                    f"{pmd.get('name', '')}; {res.group}/{res.version}, Kind={res.kind}): {dup}")
            reset = reset_fields(res, subresource)
            if cur is None:
                body = copy.deepcopy(patch)
                body.setdefault("metadata", {})["name"] = name
                body["metadata"].pop("managedFields", None)
                fields = patching.without(patching.field_set(patch, res.model), set(reset))
                entry = {"manager": manager, "operation": "Apply", "apiVersion": res.api_version,
                         "time": now()}
                applied = patching.managed_entries([(entry, fields)])
                return self.create(res, ns, body, manager=manager, dry_run=dry_run,
                                   validation_mode=validation_mode, applied=applied), True
            self.strict_check(res, patch, validation_mode)
            merged, applied = self._apply(res, name, cur, patch, manager, force, subresource,
                                          reset)
            merged.setdefault("metadata", {})["resourceVersion"] = \
                cur["metadata"]["resourceVersion"]
            return self.update(res, ns, name, merged, subresource=subresource, manager=manager,
                               dry_run=dry_run, validation_mode="Ignore", applied=applied,
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


# Writes without a field manager come from kubesim's own components; the real ones record them
# under these names (a kind cluster: the kubelet writes pod and node status; binding a pod to a
# node records nothing; the controllers run in kube-controller-manager).
def component_manager(res: Resource, subresource: str, create: bool) -> str | None:
    if res.plural == "nodes" or (res.plural, subresource) == ("pods", "status"):
        return "kubelet"
    if res.plural == "pods" and not create and not subresource:
        return None  # the scheduler's binding, the kubelet's graceful deletion
    return "kube-controller-manager"


def reset_fields(res: Resource, subresource: str) -> frozenset[tuple[str, ...]]:
    """What the kind's strategy resets, so no manager owns it there: status on the main
    resource of kinds with a status subresource; spec (and more for some kinds) on status."""
    if subresource == "status":
        extra = {"pods": {("f:metadata", "f:deletionTimestamp"),
                          ("f:metadata", "f:ownerReferences")}}.get(res.plural, set())
        if res.plural == "deployments":  # (StatefulSets, DaemonSets, ReplicaSets keep them)
            extra = {("f:metadata", "f:labels")}
        return frozenset({("f:spec",)} | extra)
    if res.plural in STATUS_SUBRESOURCE and subresource != "scale":
        return frozenset({("f:status",)})
    return frozenset()


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
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        image = c.get("image", "")
        # parsers.ParseImageName: no tag and no digest means "latest"; a digest alone, no tag
        name, digest = image.partition("@")[::2]
        last = name.rsplit("/", 1)[-1]
        tag = last.partition(":")[2] if ":" in last else ("" if digest else "latest")
        c.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
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
                if isinstance(pr.get("grpc"), dict):
                    pr["grpc"].setdefault("service", "")
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
