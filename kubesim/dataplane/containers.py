"""What a container answers on a port: nginx (its welcome page, or the server blocks of a
mounted ConfigMap such as the labs' echo config), amsy810/echo-nginx, httpd, or a generic
answer for unknown images on their declared containerPorts. A port nothing listens on refuses."""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .images import NGINX_VERSION, profile

NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
NGINX_MTIME = 1765304890  # Tue, 09 Dec 2025 18:28:10 GMT, as in the source material
ECHO_FORMAT = ("Host=$host  Path=$request_uri  From=$hostname  ClientIP=$remote_addr  "
               "XFF=$http_x_forwarded_for\n")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Moved Temporarily", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Not Allowed", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


@dataclass
class Request:
    method: str
    target: str                      # path and query
    host: str                        # Host header value
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return ""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""

    @property
    def status_line(self) -> str:
        return f"HTTP/1.1 {self.status} {self.reason or REASONS.get(self.status, '')}"

    def head_bytes(self) -> bytes:
        lines = [self.status_line] + [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Listener:
    pod: dict[str, Any]
    container: dict[str, Any]
    port: int
    kind: str                         # nginx / echo / httpd / generic
    server: dict[str, Any] | None = None   # parsed nginx server block


def http_date(ts: float | None = None) -> str:
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=True)


# ---- nginx configuration (just what lab ConfigMaps use) ----
_LISTEN = re.compile(r"^\s*listen\s+(?:[\d.]+:)?(\d+)[^;]*;", re.M)
_RETURN = re.compile(r'return\s+(\d{3})(?:\s+"((?:[^"\\]|\\.)*)"|\s+(\S+?))?\s*;', re.S)
_ADD_HEADER = re.compile(r'add_header\s+(\S+)\s+("(?:[^"\\]|\\.)*"|\S+?)(?:\s+always)?\s*;')
_DEFAULT_TYPE = re.compile(r"default_type\s+(\S+?)\s*;")


def parse_nginx(conf: str) -> list[dict[str, Any]]:
    servers = []
    for block in re.split(r"(?m)^\s*server\s*\{", conf)[1:]:
        ports = [int(p) for p in _LISTEN.findall(block)] or [80]
        ret = _RETURN.search(block)
        headers = [(k, v.strip('"')) for k, v in _ADD_HEADER.findall(block)]
        dt = _DEFAULT_TYPE.search(block)
        servers.append({
            "ports": ports,
            "return": (int(ret.group(1)), (ret.group(2) if ret.group(2) is not None
                                           else ret.group(3) or "")) if ret else None,
            "headers": headers,
            "default_type": dt.group(1) if dt else "application/octet-stream",
        })
    return servers


def _mounted_conf(pod: dict[str, Any], container: dict[str, Any],
                  configmaps: dict[str, dict[str, Any]]) -> str | None:
    vols = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    texts = []
    for m in container.get("volumeMounts") or []:
        path = m.get("mountPath", "")
        if not path.startswith("/etc/nginx"):
            continue
        cm = (vols.get(m.get("name")) or {}).get("configMap")
        if not cm:
            continue
        data = (configmaps.get(cm.get("name", "")) or {}).get("data") or {}
        if m.get("subPath"):
            texts.append(data.get(m["subPath"], ""))
        else:
            texts.extend(v for k, v in sorted(data.items()) if k.endswith(".conf"))
    return "\n".join(texts) if texts else None


def listeners(pod: dict[str, Any], configmaps: dict[str, dict[str, Any]]) -> dict[int, Listener]:
    out: dict[int, Listener] = {}
    states = {cs.get("name"): cs.get("state") or {}
              for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    for c in (pod.get("spec") or {}).get("containers") or []:
        img = profile(c.get("image", ""))
        if img.server is None:
            continue
        if c["name"] in states and "running" not in states[c["name"]]:
            continue   # killed, crash-looping or not started: nothing listens
        if img.server in ("nginx", "echo"):
            conf = _mounted_conf(pod, c, configmaps)
            if conf is not None:
                for srv in parse_nginx(conf):
                    for p in srv["ports"]:
                        out.setdefault(p, Listener(pod, c, p, "nginx", srv))
                continue
            for p in img.ports:
                out.setdefault(p, Listener(pod, c, p, img.server))
        elif img.server == "httpd":
            for p in img.ports:
                out.setdefault(p, Listener(pod, c, p, "httpd"))
        else:
            for cp in c.get("ports") or []:
                if (cp.get("protocol") or "TCP") == "TCP" and cp.get("containerPort"):
                    out.setdefault(int(cp["containerPort"]),
                                   Listener(pod, c, int(cp["containerPort"]), "generic"))
    return out


def _vars(req: Request, lis: Listener, client_ip: str, server_ip: str) -> dict[str, str]:
    path = req.target or "/"
    host = req.host.split(":")[0] if req.host and not req.host.startswith("[") else req.host
    v = {
        "hostname": lis.pod["metadata"]["name"], "host": host or server_ip,
        "request_uri": path, "uri": path.split("?")[0], "args": path.partition("?")[2],
        "remote_addr": client_ip, "server_addr": server_ip, "server_port": str(lis.port),
        "request_method": req.method, "scheme": "http", "server_protocol": "HTTP/1.1",
        "request": f"{req.method} {path} HTTP/1.1", "nginx_version": NGINX_VERSION,
        "pid": "1", "msec": f"{time.time():.3f}", "time_local": time.strftime(
            "%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
    }
    for k, val in req.headers:
        v["http_" + k.lower().replace("-", "_")] = val
    return v


def _subst(text: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, "")
    out = re.sub(r"\$\{(\w+)\}|\$(\w+)", one, text)
    return out.replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t")


def _nginx_error(status: int) -> bytes:
    title = f"{status} {REASONS.get(status, '')}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx/{NGINX_VERSION}</center>\r\n"
            "</body>\r\n</html>\r\n").encode()


def _nginx_static(req: Request) -> Response:
    now = http_date()
    path = req.target.split("?")[0]
    if req.method not in ("GET", "HEAD"):
        body = _nginx_error(405)
        return Response(405, [("Server", f"nginx/{NGINX_VERSION}"), ("Date", now),
                              ("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                              ("Connection", "keep-alive")], body)
    if path in ("/", "/index.html"):
        body = NGINX_INDEX.encode()
        return Response(200, [
            ("Server", f"nginx/{NGINX_VERSION}"), ("Date", now), ("Content-Type", "text/html"),
            ("Content-Length", str(len(body))), ("Last-Modified", http_date(NGINX_MTIME)),
            ("Connection", "keep-alive"), ("ETag", f'"{NGINX_MTIME:x}-{len(body):x}"'),
            ("Accept-Ranges", "bytes")], body)
    body = _nginx_error(404)
    return Response(404, [("Server", f"nginx/{NGINX_VERSION}"), ("Date", now),
                          ("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                          ("Connection", "keep-alive")], body)


def _nginx_return(req: Request, lis: Listener, client_ip: str, server_ip: str) -> Response:
    srv = lis.server or {}
    status, text = srv["return"]
    values = _vars(req, lis, client_ip, server_ip)
    now = http_date()
    headers = [("Server", f"nginx/{NGINX_VERSION}"), ("Date", now)]
    extra = [(k, _subst(v, values)) for k, v in srv.get("headers", [])]
    if status in (301, 302, 303, 307, 308):
        body = _nginx_error(status)
        headers += [("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                    ("Connection", "keep-alive"), ("Location", _subst(text, values))]
        return Response(status, headers + extra, body)
    body = _subst(text, values).encode()
    headers += [("Content-Type", srv.get("default_type", "text/plain")),
                ("Content-Length", str(len(body))), ("Connection", "keep-alive")]
    return Response(status, headers + extra, body)


def _apiserver(req: Request) -> Response:
    """What the API server answers an anonymous client (system:public-info-viewer)."""
    import json

    from ..version import VERSION
    path = req.target.split("?")[0].rstrip("/") or "/"
    now = http_date()
    if path == "/version":
        body = json.dumps(VERSION, indent=2).encode()
        ctype = "application/json"
        status = 200
    elif path in ("/healthz", "/livez", "/readyz"):
        body, ctype, status = b"ok", "text/plain; charset=utf-8", 200
    else:
        body = json.dumps({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'forbidden: User "system:anonymous" cannot {req.method.lower()} path '
                       f'"{path}"', "reason": "Forbidden", "details": {}, "code": 403},
            indent=2).encode()
        ctype, status = "application/json", 403
    return Response(status, [("Audit-Id", "5b7a1c9e-0d6c-4c52-9a1e-3f1f2f0c7e11"),
                             ("Cache-Control", "no-cache, private"), ("Content-Type", ctype),
                             ("X-Content-Type-Options", "nosniff"),
                             ("Date", now), ("Content-Length", str(len(body)))], body)


def respond(lis: Listener, req: Request, client_ip: str, server_ip: str) -> Response:
    if lis.kind == "apiserver":
        return _apiserver(req)
    if lis.kind == "nginx" and lis.server is not None and lis.server.get("return"):
        return _nginx_return(req, lis, client_ip, server_ip)
    if lis.kind == "nginx" or (lis.kind == "nginx" and lis.server is not None):
        return _nginx_static(req)
    if lis.kind == "echo":
        srv = {"return": (200, ECHO_FORMAT), "headers": [], "default_type": "text/plain"}
        return _nginx_return(req, Listener(lis.pod, lis.container, lis.port, "nginx", srv),
                             client_ip, server_ip)
    now = http_date()
    if lis.kind == "httpd":
        body = b"<html><body><h1>It works!</h1></body></html>\n"
        return Response(200, [("Date", now), ("Server", "Apache/2.4.65 (Unix)"),
                              ("Last-Modified", http_date(1186066800)),
                              ("ETag", '"2d-432a5e4a73a80"'), ("Accept-Ranges", "bytes"),
                              ("Content-Length", str(len(body))), ("Content-Type", "text/html")],
                        body)
    body = (f"{lis.pod['metadata']['name']}: {lis.container.get('image', '')} answered "
            f"{req.method} {req.target} on port {lis.port} (a generic answer from the embedded "
            "cluster)\n").encode()
    return Response(200, [("Date", now), ("Content-Type", "text/plain; charset=utf-8"),
                          ("Content-Length", str(len(body)))], body)
