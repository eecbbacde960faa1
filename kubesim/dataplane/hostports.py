"""kind's extraPortMappings for the embedded cluster: while a Service uses nodePort 31001-31005
(or port 80 on the control-plane node's address, for the LoadBalancer lab's externalIP), a real
listener on 127.0.0.1 answers for it through the network model.

``KUBESIM_HOST_IP`` names another address to listen on (a classroom gives each student's cluster
its own loopback address, 127.X.Y.Z, so that 31001 of two students never collide)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
from typing import Any

from ..nodes import NODES
from .network import HOST_GATEWAY, SVCS, Source

log = logging.getLogger("kubesim.dataplane")

# host port -> port on the control-plane node, as manifests/kind-cluster.yaml maps them
MAPPINGS = {31001: 31001, 31002: 31002, 31003: 31003, 31004: 31004, 31005: 31005, 8080: 80}
MAX_HEAD = 64 * 1024
RETRY_SECONDS = float(os.environ.get("KUBESIM_HOST_PORT_RETRY_SECONDS", "5"))


def host_ip() -> str:
    """The address the mapped ports listen on: ``KUBESIM_HOST_IP``, else 127.0.0.1. Only an IPv4
    loopback address is accepted: the mappings stand for kind's, which never leave the machine."""
    value = os.environ.get("KUBESIM_HOST_IP", "").strip() or "127.0.0.1"
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(f"KUBESIM_HOST_IP={value!r} is not an IPv4 loopback address: the host "
                         "ports are mapped to 127.0.0.0/8 only; unset it for 127.0.0.1, or give "
                         "an address such as 127.0.1.2")
    return str(address)


class HostPorts:
    def __init__(self, plane: Any, mappings: dict[int, int] | None = None) -> None:
        self.plane = plane
        self.mappings = dict(MAPPINGS if mappings is None else mappings)
        self.servers: dict[int, asyncio.AbstractServer] = {}
        self.wanted: set[int] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self.failed: set[int] = set()   # wanted, but another process holds them
        self._retry: asyncio.TimerHandle | None = None
        self.node_ip = NODES[0].internal_ip
        self.host_ip = host_ip()

    def in_use(self) -> dict[int, list[dict[str, Any]]]:
        """Host port -> the Services that want it mapped."""
        used: dict[int, list[dict[str, Any]]] = {}
        for s in self.plane.store.iter(SVCS):
            spec = s.get("spec") or {}
            for p in spec.get("ports") or []:
                for host, node_port in self.mappings.items():
                    node_port_used = spec.get("type") in ("NodePort", "LoadBalancer") and \
                        p.get("nodePort") == node_port
                    external_ip_used = p.get("port") == node_port and \
                        self.node_ip in (spec.get("externalIPs") or [])
                    if node_port_used or external_ip_used:
                        if s not in used.setdefault(host, []):
                            used[host].append(s)
        return used

    def on_change(self, ch: Any) -> None:
        if ch.res is SVCS and (self._sync_task is None or self._sync_task.done()):
            self._sync_task = asyncio.get_running_loop().create_task(self.sync())

    async def sync(self) -> None:
        wanted = self.in_use()
        want = set(wanted)
        for port in sorted(want - set(self.servers)):
            try:
                self.servers[port] = await asyncio.start_server(
                    functools.partial(self._serve, port=port), self.host_ip, port)
                log.info("%s:%d now maps to %s:%d", self.host_ip, port, self.node_ip,
                         self.mappings[port])
                self.failed.discard(port)
            except OSError as e:
                if port not in self.failed:
                    self.failed.add(port)
                    self._unavailable(port, e.strerror or str(e), wanted[port])
        for port in sorted(set(self.servers) - want):
            srv = self.servers.pop(port)
            srv.close()
        self.failed &= want
        if set(self.in_use()) != want:   # changed while we were binding
            await self.sync()
        elif self.failed and (self._retry is None or self._retry.cancelled()):
            # kind would have refused to start; here the port may free up (another cluster
            # stopped): try again while a Service still wants it
            self._retry = asyncio.get_running_loop().call_later(RETRY_SECONDS, self._again)

    def _again(self) -> None:
        self._retry = None
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self.sync())

    def _unavailable(self, port: int, why: str, services: list[dict[str, Any]]) -> None:
        message = (f"cannot map {self.host_ip}:{port} to {self.node_ip}:{self.mappings[port]} "
                   f"({why}): another program holds it, perhaps another lab cluster on this "
                   f"machine. The Service still answers inside the cluster; stop the other one "
                   f"(make cluster-down in its checkout) and the port is mapped within "
                   f"{RETRY_SECONDS:.0f} s")
        log.warning("%s", message)
        if self.plane.recorder is not None:
            for svc in services:
                self.plane.recorder(svc, "Warning", "HostPortUnavailable", message, "kubesim")

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int) -> None:
        from .tools.http import exchange, parse_url
        try:
            while True:
                try:
                    head = await r.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) < 3:
                    return
                method, target = parts[0], parts[1]
                headers = [(k.strip(), v.strip()) for k, _, v in
                           (ln.partition(":") for ln in lines[1:] if ln)]
                hd = {k.lower(): v for k, v in headers}
                body = b""
                if hd.get("content-length", "0").isdigit() and int(hd.get("content-length",
                                                                           "0")):
                    body = await r.readexactly(int(hd["content-length"]))
                src = Source("host", HOST_GATEWAY)
                t = parse_url(f"http://{self.node_ip}:{self.mappings[port]}{target}")
                ex = await exchange(self.plane.net, src, t, method, headers, body,
                                    max_time=30, connect_timeout=None)
                if ex.outcome != "ok" or ex.response is None:
                    return   # the client sees the connection reset, as through docker-proxy
                resp = ex.response
                w.write(resp.head_bytes() + (b"" if method == "HEAD" else resp.body))
                await w.drain()
                if hd.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()
