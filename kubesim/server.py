"""The HTTP front: routing, authentication, content negotiation, watch streams."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import os
from typing import Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from . import discovery, errors, openapi_proto, patching, protobuf, schema, tables
from .registry import Registry
from .resources import GROUPS, Resource, lookup
from .selectors import field_selector, label_selector
from .store import Change, Store
from .version import VERSION

log = logging.getLogger("kubesim.server")

ENDPOINTS_WARNING = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 ' \
    'EndpointSlice"'
# seconds between BOOKMARK events on a watch that allows them (the API server: about a minute)
BOOKMARK_EVERY = float(os.environ.get("KUBESIM_BOOKMARK_SECONDS", "60"))
PUBLIC = {"/version", "/healthz", "/readyz", "/livez", "/version/"}
try:
    _YAML_LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _YAML_LOADER = yaml.SafeLoader

def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> web.Response:
    return web.Response(body=dumps(obj), status=status, headers=headers,
                        content_type=content_type.split(";")[0],
                        charset=None) if ";" not in content_type else web.Response(
        body=dumps(obj), status=status, headers=dict(headers or {}, **{
            "Content-Type": content_type}))


def error_response(e: errors.APIError) -> web.Response:
    return json_response(e.status(), e.code)


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _parse_body(raw: bytes, ctype: str) -> Any:
    if not raw:
        raise errors.bad_request("the body of the request was empty")
    if ctype == protobuf.CONTENT_TYPE or raw.startswith(protobuf.MAGIC):
        return protobuf.decode(raw)
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error decoding YAML: {str(e)[:200]}") from e


class Server:
    def __init__(self, store: Store, registry: Registry, token: str,
                 data_plane: Any = None) -> None:
        self.store = store
        self.registry = registry
        self.token = token
        self.data_plane = data_plane
        self.ready = False
        self.app = web.Application(client_max_size=8 * 1024 * 1024,
                                   middlewares=[self._middleware])
        self.app.router.add_route("*", "/{tail:.*}", self.dispatch)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            if request.path not in PUBLIC and not self._authorized(request):
                raise errors.unauthorized()
            resp = await handler(request)
            if isinstance(resp, web.Response) and resp.body is not None and \
                    len(resp.body) > CHUNK:  # type: ignore[arg-type]
                return await _stream(request, resp)
            return resp
        except errors.APIError as e:
            resp = error_response(e)
            parts = request.path.split("/")
            if len(parts) > 3 and parts[1] == "api" and "endpoints" in parts[3:6]:
                resp.headers["Warning"] = ENDPOINTS_WARNING
            return resp
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # noqa: BLE001 - every failure must still be a Status body
            log.exception("internal error on %s %s", request.method, request.path_qs)
            return error_response(errors.internal(f"{type(e).__name__}: {e}"))

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip(), self.token)

    # ---- routing ----
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.registry.warnings = []
        path = request.path.rstrip("/") or "/"
        m = request.method
        if path in ("/healthz", "/livez", "/readyz"):
            if path == "/readyz" and not self.ready:
                return web.Response(text="[-]kubesim-controllers not ready\nreadyz check failed",
                                    status=500)
            return web.Response(text="ok")
        if path == "/version":
            return json_response(VERSION)
        if path == "/api":
            return self._discovery(request, legacy=True)
        if path == "/apis":
            return self._discovery(request, legacy=False)
        if path.startswith("/openapi"):
            return self._openapi(request, path)
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                if parts[1] in GROUPS and parts[1]:
                    return json_response(discovery.api_group(parts[1]))
                raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                      "resource", {})
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                  "resource", {})
        if group not in GROUPS or version not in GROUPS[group]:
            raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                  "resource", {})
        if not rest:
            return json_response(discovery.resource_list(group, version))
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and lookup(group, version, rest[2]) and \
                lookup(group, version, rest[2]).namespaced:  # type: ignore[union-attr]
            ns, rest = rest[1], rest[2:]
        res = lookup(group, version, rest[0]) if rest else None
        if res is None:
            raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                  "resource", {})
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                  "resource", {})
        headers: dict[str, str] = {}
        if res.plural == "endpoints":
            headers["Warning"] = ENDPOINTS_WARNING
        q = request.query
        if watch_path or (m == "GET" and q.get("watch") in ("true", "1")):
            if name:
                fs = f"metadata.name={name}"
                if q.get("fieldSelector"):
                    fs += "," + q["fieldSelector"]
                return await self._watch(request, res, ns, fs, headers)
            return await self._watch(request, res, ns, q.get("fieldSelector"), headers)
        if sub in ("exec", "attach") and self.data_plane is not None:
            return await self.data_plane.handle(request, ns or "", name or "", sub)
        if sub in ("exec", "attach", "portforward"):
            return self._not_supported(res, ns, name or "", sub)
        if sub == "log" and self.data_plane is not None:
            return await self.data_plane.logs(request, ns or "", name or "")
        if sub == "log":
            self.store.get(res, ns, name or "")
            return web.Response(text="", content_type="text/plain")
        if sub == "scale":
            return await self._scale(request, res, ns, name or "", headers)
        if name is None:
            if m == "GET":
                return self._list(request, res, ns, headers)
            if m == "POST":
                return await self._create(request, res, ns, headers)
            if m == "DELETE":
                return await self._delete_collection(request, res, ns, headers)
            raise errors.method_not_allowed()
        if m == "GET":
            obj = self.store.get(res, ns, name)
            if _wants_table(request):
                return json_response(tables.table(res.plural, [obj], obj["metadata"][
                    "resourceVersion"], q.get("includeObject", "Metadata")), headers=headers)
            return web.Response(body=self.store.encoded(res, obj), headers=dict(headers, **{
                "Content-Type": "application/json"}))
        if m == "PUT":
            body = _parse_body(await request.read(), request.content_type)
            obj = self.registry.update(
                res, ns, name, body, subresource=sub if sub != "finalize" else "",
                manager=q.get("fieldManager") or _agent(request),
                dry_run=bool(q.get("dryRun")),
                validation_mode=q.get("fieldValidation", "Warn"))
            return json_response(obj, headers=self._warned(headers))
        if m == "PATCH":
            body = _parse_body(await request.read(), request.content_type)
            manager = q.get("fieldManager")
            if request.content_type not in (patching.APPLY, patching.APPLY_CBOR):
                manager = manager or _agent(request)
            obj, created = self.registry.patch(
                res, ns, name, request.content_type, body, subresource=sub,
                manager=manager, force=q.get("force") == "true",
                dry_run=bool(q.get("dryRun")),
                validation_mode=q.get("fieldValidation", "Warn"))
            return json_response(obj, 201 if created else 200, headers=self._warned(headers))
        if m == "DELETE":
            return await self._delete(request, res, ns, name, headers)
        raise errors.method_not_allowed()

    def _warned(self, headers: dict[str, str]) -> Any:
        """Response headers plus a Warning per unknown field (fieldValidation=Warn)."""
        found, self.registry.warnings = self.registry.warnings, []
        if not found:
            return headers
        from multidict import CIMultiDict
        out: CIMultiDict[str] = CIMultiDict(headers)
        for w in found:
            out.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')
        return out

    def _not_supported(self, res: Resource, ns: str | None, name: str, sub: str) -> web.Response:
        self.store.get(res, ns, name)
        what = {"exec": "kubectl exec", "attach": "kubectl attach",
                "portforward": "kubectl port-forward"}[sub]
        raise errors.APIError(
            400, "BadRequest",
            f"{what} is not yet supported by the embedded cluster (kubesim): pods here have no "
            f"processes yet. Use a kind cluster for this step (LAB_CLUSTER=kind make lab).",
            {"name": name, "kind": "pods", "causes": [{"reason": "NotSupported",
                                                       "message": f"pods/{sub}"}]})

    # ---- discovery / openapi ----
    def _discovery(self, request: web.Request, legacy: bool) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "g=apidiscovery.k8s.io" in accept and "as=APIGroupDiscoveryList" in accept:
            ver = "v2" if "v=v2;as=APIGroupDiscoveryList" in accept.replace(" ", "") \
                else "v2beta1"
            ctype = discovery.AGG_V2 if ver == "v2" else discovery.AGG_V2BETA1
            return web.Response(body=dumps(discovery.aggregated(legacy, ver)),
                                headers={"Content-Type": ctype, "Vary": "Accept"})
        return json_response(discovery.api_versions() if legacy else discovery.api_group_list())

    def _openapi(self, request: web.Request, path: str) -> web.Response:
        if path == "/openapi/v2":
            # JSON, or the protobuf kubectl explain --output=plaintext-openapiv2 asks for
            accept = request.headers.get("Accept", "")
            if openapi_proto.MEDIA_TYPE in accept and "json" not in accept:
                return web.Response(body=schema.openapi_v2_proto(), headers={
                    "Content-Type": openapi_proto.CONTENT_TYPE})
            return web.Response(body=schema.openapi_v2(), content_type="application/json")
        if path == "/openapi/v3":
            paths = {}
            for g, vs in GROUPS.items():
                for v in vs:
                    gv = f"{g}/{v}" if g else v
                    key = f"apis/{gv}" if g else f"api/{v}"
                    paths[key] = {"serverRelativeURL":
                                  f"/openapi/v3/{key}?hash={schema.openapi_v3_hash(gv)}"}
            return json_response({"paths": paths})
        rest = path[len("/openapi/v3/"):]
        gv = rest[len("api/"):] if rest.startswith("api/") else rest[len("apis/"):]
        group = gv.rpartition("/")[0] if "/" in gv else ""
        version = gv.rpartition("/")[2]
        if group not in GROUPS or version not in GROUPS[group]:
            raise errors.APIError(404, "NotFound", "the server could not find the requested "
                                  "resource", {})
        return web.Response(body=schema.openapi_v3(gv), content_type="application/json",
                            headers={"Cache-Control": "public, immutable",
                                     "Etag": '"' + schema.openapi_v3_hash(gv) + '"'})

    # ---- collection verbs ----
    def _select(self, request: web.Request, res: Resource,
                ns: str | None) -> list[dict[str, Any]]:
        lm = label_selector(request.query.get("labelSelector"))
        fm = field_selector(request.query.get("fieldSelector"))
        if lm is None and fm is None:
            return self.store.list(res, ns)
        items = None
        if lm is not None and ns:
            items = self.store.candidates(res, ns, getattr(lm, "equalities", []))
        if items is None:
            items = self.store.in_namespace(res, ns) if ns else \
                list(self.store.objects[res].values())
        if lm:
            items = [o for o in items if lm(o)]
        if fm:
            items = [o for o in items if fm(o)]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items

    def _list(self, request: web.Request, res: Resource, ns: str | None,
              headers: dict[str, str]) -> web.Response:
        q = request.query
        plain = not (q.get("labelSelector") or q.get("fieldSelector") or q.get("limit")
                     or q.get("continue") or _wants_table(request))
        items = [] if plain else self._select(request, res, ns)
        rv = str(self.store.rv)
        start = 0
        cont = q.get("continue")
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont.encode()))
                start, rv = int(tok["start"]), tok["rv"]
            except (ValueError, KeyError) as e:
                raise errors.bad_request("continue key is not valid") from e
        nxt = None
        limit = int(q.get("limit") or 0)
        if limit > 0 and start + limit < len(items):
            nxt = base64.urlsafe_b64encode(dumps({"start": start + limit, "rv": rv})).decode()
            items = items[start:start + limit]
        elif start:
            items = items[start:]
        if _wants_table(request):
            return json_response(tables.table(res.plural, items, rv,
                                              q.get("includeObject", "Metadata"), nxt),
                                 headers=headers)
        md: dict[str, Any] = {"resourceVersion": rv}
        if nxt:
            md["continue"] = nxt
            md["remainingItemCount"] = len(self._select(request, res, ns)) - start - limit
        head = dumps({"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": md})
        if plain:  # the whole collection: its encoding is cached until one of its kind changes
            joined = self.store.encoded_items(res, ns)
        else:
            encoded = self.store.encoded
            joined = b",".join([encoded(res, o) for o in items])
        # one join: building megabytes by repeated concatenation costs more than encoding
        raw = b"".join((head[:-1], b',"items":[', joined, b"]}"))
        return web.Response(body=raw, headers=dict(headers, **{
            "Content-Type": "application/json"}))

    async def _create(self, request: web.Request, res: Resource, ns: str | None,
                      headers: dict[str, str]) -> web.Response:
        q = request.query
        body = _parse_body(await request.read(), request.content_type)
        obj = self.registry.create(res, ns, body, manager=q.get("fieldManager") or _agent(request),
                                   dry_run=bool(q.get("dryRun")),
                                   validation_mode=q.get("fieldValidation", "Warn"))
        return json_response(obj, 201, headers=self._warned(headers))

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        opts: dict[str, Any] = {}
        if raw:
            try:
                opts = _parse_body(raw, request.content_type) or {}
            except errors.APIError as e:
                raise errors.bad_request("invalid DeleteOptions body") from e
        q = request.query
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.get("gracePeriodSeconds"):
            opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if q.get("dryRun"):
            opts["dryRun"] = [q["dryRun"]]
        if opts.get("orphanDependents") is True and not opts.get("propagationPolicy"):
            opts["propagationPolicy"] = "Orphan"
        return opts

    async def _delete(self, request: web.Request, res: Resource, ns: str | None, name: str,
                      headers: dict[str, str]) -> web.Response:
        opts = await self._delete_options(request)
        obj, gone = self.registry.delete(
            res, ns, name, propagation=opts.get("propagationPolicy"),
            grace=opts.get("gracePeriodSeconds"), preconditions=opts.get("preconditions"),
            dry_run=bool(opts.get("dryRun")))
        if gone:
            st: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Success",
                  "details": {"name": name, "group": res.group, "kind": res.plural,
                              "uid": obj["metadata"].get("uid")}}
            if not res.group:
                del st["details"]["group"]
            if res.plural in ("pods", "namespaces"):
                return json_response(obj, headers=headers)
            return json_response(st, headers=headers)
        return json_response(obj, 200, headers=headers)

    async def _delete_collection(self, request: web.Request, res: Resource, ns: str | None,
                                 headers: dict[str, str]) -> web.Response:
        opts = await self._delete_options(request)
        items = self._select(request, res, ns)
        out = []
        for o in items:
            try:
                obj, _ = self.registry.delete(
                    res, o["metadata"].get("namespace"), o["metadata"]["name"],
                    propagation=opts.get("propagationPolicy"),
                    grace=opts.get("gracePeriodSeconds"), dry_run=bool(opts.get("dryRun")))
                out.append(obj)
            except errors.APIError as e:
                if e.code != 404:
                    raise
        return json_response({"kind": res.kind + "List", "apiVersion": res.api_version,
                              "metadata": {"resourceVersion": str(self.store.rv)}, "items": out},
                             headers=headers)

    # ---- scale subresource ----
    def _scale_of(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        sel = (obj.get("spec") or {}).get("selector") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"),
                             "uid": md.get("uid"), "resourceVersion": md["resourceVersion"],
                             "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": tables._label_selector(sel)}}

    async def _scale(self, request: web.Request, res: Resource, ns: str | None, name: str,
                     headers: dict[str, str]) -> web.Response:
        obj = self.store.get(res, ns, name)
        scale = self._scale_of(res, obj)
        if request.method == "GET":
            return json_response(scale)
        body = _parse_body(await request.read(), request.content_type)
        if request.method == "PUT":
            new_scale = body
        elif request.method == "PATCH":
            ct = request.content_type
            if ct == patching.JSON_PATCH:
                new_scale = patching.json_patch(scale, body)
            elif ct == patching.STRATEGIC:
                new_scale = patching.strategic_merge(scale, body, "V1Scale")
            else:
                new_scale = patching.merge_patch(scale, body)
        else:
            raise errors.method_not_allowed()
        reps = (new_scale.get("spec") or {}).get("replicas")
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        new = dict(obj, spec=dict(obj["spec"], replicas=reps))
        new["metadata"] = dict(obj["metadata"])
        if rv and request.method == "PUT":
            new["metadata"]["resourceVersion"] = rv
        updated = self.registry.update(res, ns, name, new, validation_mode="Ignore",
                                       subresource="scale",
                                       manager=request.query.get("fieldManager") or _agent(request))
        return json_response(self._scale_of(res, updated))

    # ---- watch ----
    async def _watch(self, request: web.Request, res: Resource, ns: str | None,
                     fs: str | None, headers: dict[str, str]) -> web.StreamResponse:
        q = request.query
        lm = label_selector(q.get("labelSelector"))
        fm = field_selector(fs)
        rv_param = q.get("resourceVersion")
        send_initial = q.get("sendInitialEvents") == "true"
        as_table = _wants_table(request)
        include = q.get("includeObject", "Metadata")

        def matches(o: dict[str, Any] | None) -> bool:
            return o is not None and (lm is None or lm(o)) and (fm is None or fm(o))

        since: int | None
        if rv_param in (None, "", "0") or send_initial:
            since = None
        else:
            try:
                since = int(rv_param)  # type: ignore[arg-type]
            except ValueError as e:
                raise errors.bad_request(f"invalid resourceVersion {rv_param!r}") from e
        initial = []
        if since is None:
            initial = [o for o in self.store.list(res, ns) if matches(o)]
        resp = web.StreamResponse(headers=dict(headers, **{
            "Content-Type": "application/json", "Cache-Control": "no-cache"}))
        resp.enable_chunked_encoding()
        try:
            watcher = self.store.watch(res, ns, since)
        except errors.APIError as e:
            # like the API server: 200, then one ERROR event carrying the Status
            await resp.prepare(request)
            await resp.write(dumps({"type": "ERROR", "object": e.status()}) + b"\n")
            return resp
        await resp.prepare(request)
        timeout = float(q.get("timeoutSeconds") or 1800)

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            if as_table:
                return tables.table(res.plural, [obj], obj["metadata"]["resourceVersion"],
                                    include)
            return obj

        async def send(kind: str, obj: dict[str, Any]) -> None:
            if as_table:
                await resp.write(dumps({"type": kind, "object": render(obj)}) + b"\n")
            else:
                await resp.write(b'{"type":"' + kind.encode() + b'","object":' +
                                 self.store.encoded(res, obj) + b"}\n")

        try:
            for o in initial:
                await send("ADDED", o)
            if send_initial or (since is None and q.get("allowWatchBookmarks") == "true"
                                and send_initial):
                await resp.write(dumps({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.api_version, "metadata": {
                        "resourceVersion": str(self.store.rv),
                        "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            bookmarks = q.get("allowWatchBookmarks") == "true"
            next_bookmark = loop.time() + BOOKMARK_EVERY
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    break
                wait = min(left, max(next_bookmark - loop.time(), 0)) if bookmarks else left
                try:
                    ch = await asyncio.wait_for(watcher.queue.get(), wait)
                except asyncio.TimeoutError:
                    if bookmarks and loop.time() >= next_bookmark:
                        # a progress note: clients resume from here after a reconnect
                        await resp.write(dumps({"type": "BOOKMARK", "object": {
                            "kind": res.kind, "apiVersion": res.api_version,
                            "metadata": {"resourceVersion": str(self.store.rv)}}}) + b"\n")
                        next_bookmark = loop.time() + BOOKMARK_EVERY
                    continue
                if ch is None:
                    break
                await self._send_change(ch, matches, send)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        return resp

    @staticmethod
    async def _send_change(ch: Change, matches: Any, send: Any) -> None:
        new_ok = matches(ch.obj)
        if ch.type == "DELETED":
            if matches(ch.old) or new_ok:
                await send("DELETED", ch.obj)
            return
        old_ok = matches(ch.old) if ch.old is not None else False
        if new_ok and (old_ok or ch.type == "MODIFIED" and ch.old is None):
            await send("MODIFIED", ch.obj)
        elif new_ok:
            await send("ADDED", ch.obj)
        elif old_ok:
            await send("DELETED", ch.obj)


CHUNK = 256 * 1024


async def _stream(request: web.Request, resp: web.Response) -> web.StreamResponse:
    body = memoryview(resp.body)  # type: ignore[arg-type]
    out = web.StreamResponse(status=resp.status, headers=resp.headers)
    out.content_length = len(body)
    await out.prepare(request)
    for i in range(0, len(body), CHUNK):
        await out.write(body[i:i + CHUNK])
    await out.write_eof()
    return out


def _agent(request: web.Request) -> str:
    ua = request.headers.get("User-Agent", "")
    return ua.split("/", 1)[0] if ua else "unknown"
