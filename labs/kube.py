"""One Kubernetes API connection per cluster: raw JSON requests, server-side apply, namespaces.

Everything above this module (apply, wait, probe, grade) goes through :class:`Kube`, so the same
code runs against kind, any current cluster and the embedded cluster. Requests are counted
(``Kube.requests``) so benchmarks can report how many a step made.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from .errors import ApplyError, ClusterUnavailable, LabError, cut
from .manifests import Document

FIELD_MANAGER = "k8s-service-labs"
PART_OF = {"app.kubernetes.io/part-of": "k8s-service-labs"}
TIMEOUT = 15  # seconds for one API request

# What to do about the fields learners get wrong most often (matched on the end of the path).
_FIELD_FIXES = {
    "nodePort": "NodePorts must be in 30000-32767 and unique in the cluster; "
                "omit nodePort to have one allocated",
    "targetPort": "targetPort is the container's port: a number 1-65535 or a port name "
                  "of at most 15 characters (e.g. http)",
    "port": "port is the Service's own port, 1-65535",
    "externalIPs": "externalIPs takes node addresses such as 172.18.0.2 "
                   "(kubectl get nodes -o wide)",
    "externalName": "externalName is a DNS name such as web-service.lab-externalname.svc.cluster.local",
    "name": "names are lower-case letters, digits and '-', starting with a letter",
    "type": "type is one of ClusterIP, NodePort, LoadBalancer, ExternalName",
}


class StatusError(LabError):
    """The API server answered with a Status failure."""

    def __init__(self, status: dict[str, Any], *, where: str | None = None) -> None:
        self.status = status
        self.code = int(status.get("code") or 0)
        self.reason = str(status.get("reason", ""))
        self.causes: list[dict[str, str]] = list(status.get("details", {}).get("causes", []))
        super().__init__(cut(status.get("message", "the API server refused the request"), 400),
                         where=where)


class Kube:
    """A connection to one cluster, from its kubeconfig."""

    def __init__(self, kubeconfig: Path | str, *, context: str | None = None) -> None:
        self.kubeconfig = Path(kubeconfig)
        try:
            self.api = kubernetes.config.new_client_from_config(
                config_file=str(kubeconfig), context=context, persist_config=False)
        except (kubernetes.config.ConfigException, OSError, TypeError, ValueError) as e:
            raise ClusterUnavailable(f"cannot use the kubeconfig: {cut(e)}", where=str(kubeconfig),
                                     fix="make cluster (it writes a fresh kubeconfig)") from e
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.requests = 0
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    # -- raw requests --------------------------------------------------------------------------
    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                timeout: float = TIMEOUT) -> dict[str, Any]:
        """One API request; the decoded JSON answer, or :class:`StatusError`."""
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        self.requests += 1
        try:
            req = self.api.param_serialize(method, path, header_params=headers, body=body,
                                           auth_settings=["BearerToken"])
            resp = self.api.call_api(*req, _request_timeout=timeout)
            resp.read()
        except ApiException as e:
            raise status_error(e) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise self.unreachable(e) from e
        data = json.loads(resp.data or b"{}")
        if not 200 <= resp.status <= 299:
            raise StatusError(data if data.get("kind") == "Status" else
                              {"code": resp.status, "message": cut(resp.data)})
        return data

    def get(self, path: str, **query: Any) -> dict[str, Any] | None:
        """The object at ``path``, or None when it does not exist."""
        try:
            return self.request("GET", path, query=query or None)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    def list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        return list(self.request("GET", path, query=query or None).get("items") or [])

    def watch(self, path: str, resource_version: str | None, *, timeout: float,
              **query: Any) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``) of the list at ``path`` for at most ``timeout``."""
        query = {**query, "watch": "1", "resourceVersion": resource_version,
                 "allowWatchBookmarks": "true", "timeoutSeconds": max(1, int(timeout))}
        self.requests += 1
        try:
            req = self.api.param_serialize("GET", f"{path}?{urlencode(query)}",
                                           header_params={"Accept": "application/json"},
                                           auth_settings=["BearerToken"])
            resp = self.api.call_api(*req, _request_timeout=(TIMEOUT, timeout + 5))
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise self.unreachable(e) from e
        raw = resp.response
        try:
            if not 200 <= resp.status <= 299:
                resp.read()
                data = json.loads(resp.data or b"{}")
                raise StatusError(data if data.get("kind") == "Status" else
                                  {"code": resp.status, "message": cut(resp.data)})
            pending = b""
            for chunk in raw.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        raise StatusError(event.get("object") or {})
                    yield event
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            return  # the server or the deadline closed the watch; the caller decides
        finally:
            raw.release_conn()

    def unreachable(self, e: BaseException) -> ClusterUnavailable:
        errno = re.search(r"\[Errno -?\d+\] [^'\")]+", str(e))
        reason = errno.group(0) if errno else cut(getattr(e, "reason", None) or e, 120)
        return ClusterUnavailable(
            f"the cluster at {self.server} does not answer ({reason})",
            fix="make cluster (starts or reuses the lab cluster), then try again")

    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version", timeout=5)

    # -- apply ---------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from the server's discovery (cached)."""
        if api_version not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            found = self.get(base) or {}
            self._resources[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in found.get("resources", []) if "/" not in r["name"]}
        try:
            return self._resources[api_version][kind]
        except KeyError:
            raise LabError(f"the cluster does not know kind {kind} in {api_version}",
                           fix="check apiVersion and kind (kubectl api-resources lists them)"
                           ) from None

    def path(self, api_version: str, kind: str, namespace: str | None, name: str = "") -> str:
        plural, namespaced = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = f"/namespaces/{namespace}" if namespaced and namespace else ""
        return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")

    def apply(self, docs: Iterable[Document], namespace: str | None
              ) -> builtins.list[dict[str, Any]]:
        """Server-side apply each document (into ``namespace`` when it is namespaced)."""
        applied = []
        for doc in docs:
            obj = dict(doc.obj)
            ns = obj.get("metadata", {}).get("namespace") or namespace
            try:
                path = self.path(obj["apiVersion"], obj["kind"], ns, doc.name)
                if self.resource(obj["apiVersion"], obj["kind"])[1] and ns:
                    obj["metadata"] = {**obj["metadata"], "namespace": ns}
                applied.append(self.request(
                    "PATCH", path, query={"fieldManager": FIELD_MANAGER, "force": "true"},
                    body=json.dumps(obj), content_type="application/apply-patch+yaml"))
            except StatusError as e:
                raise apply_error(e, doc) from e
            except LabError as e:
                e.where = e.where or doc.where()
                raise
        return applied

    # -- namespaces ----------------------------------------------------------------------------
    def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": PART_OF}}
        self.request("PATCH", f"/api/v1/namespaces/{name}",
                     query={"fieldManager": FIELD_MANAGER, "force": "true"},
                     body=json.dumps(body), content_type="application/apply-patch+yaml")


def status_error(e: ApiException) -> StatusError:
    try:
        body = json.loads(e.body or "{}")
    except (TypeError, ValueError):
        body = {}
    if body.get("kind") != "Status":
        body = {"code": e.status, "reason": e.reason, "message": cut(e.body or e.reason or "")}
    return StatusError(body)


def apply_error(e: StatusError, doc: Document) -> ApplyError:
    """The API's refusal, pointed at the file and line of each field it names."""
    details, fixes = [], []
    for cause in e.causes:
        field = cause.get("field", "")
        details.append(f"{doc.where(field)} {field}: {cause.get('message', '')}".strip())
        leaf = field.rsplit(".", 1)[-1].split("[")[0]
        if leaf in _FIELD_FIXES and _FIELD_FIXES[leaf] not in fixes:
            fixes.append(_FIELD_FIXES[leaf])
    if e.code == 409:
        fixes.append("another object already has this name or this value; "
                     "pick another, or delete the other one first")
    fixes.append(f"edit {doc.where().rsplit(':', 1)[0]} and apply it again")
    first = e.causes[0].get("field", "") if e.causes else ""
    return ApplyError(f"the API server refused {doc.kind} \"{doc.name}\" ({e.code} {e.reason}): "
                      f"{e.what}", where=doc.where(first), fix="; ".join(fixes), details=details)
