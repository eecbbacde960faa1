"""One HTTP exchange through the network model: name resolution, the connection's fate
(answer, refused, dropped, no route) and the container's answer. Shared by curl, wget and the
host port mappings."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..containers import Request, Response, respond
from ..network import Answer, Network, Route, Source

NO_ROUTE_SECONDS = 3.0       # ARP gives up on an address nobody has
SYN_GIVE_UP_SECONDS = 130.0  # Linux's tcp_syn_retries=6 for a dropped SYN


class UrlError(ValueError):
    pass


@dataclass
class Target:
    scheme: str
    host: str
    port: int
    target: str                # path?query
    url: str                   # normalised (what curl calls url_effective)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse_url(url: str) -> Target:
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlError(scheme)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as e:
        raise UrlError("port") from e
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    norm = f"{scheme}://{parts.netloc}{path}"
    return Target(scheme, host, port, path, norm)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@dataclass
class Exchange:
    """What happened, with enough detail for curl -v and -w."""

    target: Target
    ip: str = ""
    resolved: Answer | None = None
    route: Route | None = None
    outcome: str = ""          # "ok", "resolve", "refused", "timeout", "unreachable", "tls"
    response: Response | None = None
    started: float = field(default_factory=time.monotonic)
    t_lookup: float = 0.0
    t_connect: float = 0.0
    t_total: float = 0.0
    local_port: int = field(default_factory=lambda: random.randint(32768, 60999))
    request: Request | None = None

    def elapsed_ms(self) -> int:
        return int((self.t_total or (time.monotonic() - self.started)) * 1000)


def lookup(net: Network, src: Source, host: str) -> tuple[str, Answer | None]:
    if is_ip(host):
        return host, None
    if host.lower() == "localhost":
        return "127.0.0.1", None
    ans = net.resolve(src, host, "A")
    addrs = ans.addresses()
    return (addrs[0] if addrs else ""), ans


async def exchange(net: Network, src: Source, target: Target, method: str,
                   headers: list[tuple[str, str]], body: bytes, *,
                   max_time: float | None, connect_timeout: float | None,
                   insecure: bool = False) -> Exchange:
    ex = Exchange(target)
    ip, ans = lookup(net, src, target.host)
    ex.resolved, ex.ip = ans, ip
    ex.t_lookup = time.monotonic() - ex.started
    if not ip:
        ex.outcome = "resolve"
        ex.t_total = time.monotonic() - ex.started
        return ex
    route = net.route(src, ip, target.port)
    ex.route = route
    if route.kind in ("drop", "unreachable"):
        limits = [t for t in (max_time, connect_timeout) if t]
        natural = NO_ROUTE_SECONDS if route.kind == "unreachable" else SYN_GIVE_UP_SECONDS
        wait = min(limits + [natural])
        await asyncio.sleep(wait)  # the connection attempt really takes this long
        ex.outcome = "timeout" if limits and min(limits) <= natural else route.kind
        ex.t_total = time.monotonic() - ex.started
        return ex
    if route.kind == "refused":
        ex.outcome = "refused"
        ex.t_total = time.monotonic() - ex.started
        return ex
    ex.t_connect = time.monotonic() - ex.started
    tls_server = route.listener is not None and route.listener.kind == "apiserver"
    if target.scheme == "https" and not tls_server:
        ex.outcome = "tls"
        ex.t_total = time.monotonic() - ex.started
        return ex
    if target.scheme == "https" and not insecure:
        ex.outcome = "verify"   # the cluster CA is not in the image's trust store
        ex.t_total = time.monotonic() - ex.started
        return ex
    if tls_server and target.scheme == "http":
        body = b"Client sent an HTTP request to an HTTPS server.\n"
        ex.response = Response(400, [("Content-Type", "text/plain; charset=utf-8"),
                                     ("Connection", "close")], body)
        ex.request = Request(method, target.target, target.host_header, headers, body)
        ex.outcome = "ok"
        ex.t_total = time.monotonic() - ex.started
        return ex
    req = Request(method, target.target, dict(headers).get("Host", target.host_header),
                  headers, body)
    ex.request = req
    assert route.listener is not None
    ex.response = respond(route.listener, req, route.client_ip, route.backend_ip or ip)
    net.access_log(route.listener, req, ex.response, route.client_ip)
    ex.outcome = "ok"
    ex.t_total = time.monotonic() - ex.started
    return ex
