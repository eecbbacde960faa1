"""One embedded cluster process: store + registry + controllers + HTTP server, bootstrapped
with what a fresh kind cluster has (namespaces, nodes, the kubernetes and kube-dns Services)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import ssl
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import errors, kubeconfig
from .cluster import Controllers
from .dataplane import DataPlane
from .nodes import NODES, node_object
from .registry import R, Registry, now
from .server import Server
from .store import Store

log = logging.getLogger("kubesim")

CONTROL_PLANE_IP = NODES[0].internal_ip


# who makes them on a kind cluster, as their managedFields say
APISERVER, KUBEADM = "kube-apiserver", "kubeadm"


def bootstrap(reg: Registry) -> None:
    """Objects a new kind cluster starts with; existing ones (from the state file) are kept."""
    store = reg.store
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        if store.find(R["namespaces"], None, ns) is None:
            reg.create(R["namespaces"], None, {"metadata": {"name": ns}}, manager=APISERVER)
    for n in NODES:
        if store.find(R["nodes"], None, n.name) is None:
            reg.create(R["nodes"], None, node_object(n, now()), validation_mode="Ignore")
    if store.find(R["services"], "default", "kubernetes") is None:
        reg.create(R["services"], "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                          "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}},
            manager=APISERVER)
    if store.find(R["endpoints"], "default", "kubernetes") is None:
        reg.create(R["endpoints"], "default", {
            "metadata": {"name": "kubernetes", "labels": {
                "endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": CONTROL_PLANE_IP}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]},
            manager=APISERVER)
    if not any((s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") ==
               "kubernetes" for s in store.list(R["endpointslices"], "default")):
        reg.create(R["endpointslices"], "default", {
            "metadata": {"name": "kubernetes", "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller"
                                                          ".k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [CONTROL_PLANE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}, manager=APISERVER)
    if store.find(R["services"], "kube-system", "kube-dns") is None:
        reg.create(R["services"], "kube-system", {
            "metadata": {"name": "kube-dns", "labels": {
                "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
            "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"}, "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}},
            manager=KUBEADM)
    if store.find(R["deployments"], "kube-system", "coredns") is None:
        reg.create(R["deployments"], "kube-system", {
            "metadata": {"name": "coredns", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                     "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {
                         "priorityClassName": "system-cluster-critical",
                         "nodeSelector": {"kubernetes.io/os": "linux"},
                         "tolerations": [
                             {"key": "CriticalAddonsOnly", "operator": "Exists"},
                             {"effect": "NoSchedule",
                              "key": "node-role.kubernetes.io/control-plane"}],
                         "containers": [{
                             "name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.1",
                             "args": ["-conf", "/etc/coredns/Corefile"],
                             "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                       {"containerPort": 53, "name": "dns-tcp",
                                        "protocol": "TCP"},
                                       {"containerPort": 9153, "name": "metrics",
                                        "protocol": "TCP"}],
                             "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}}}]}}}},
            validation_mode="Ignore", manager=KUBEADM)


def _free_port(preferred: int | None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


async def serve(state_dir: Path, t0: float | None = None) -> None:
    t0 = t0 if t0 is not None else time.perf_counter()

    def phase(what: str) -> None:
        log.info("startup: %s at %.0f ms", what, (time.perf_counter() - t0) * 1000)
    phase("modules imported")
    state_dir.mkdir(parents=True, exist_ok=True)
    info_path = state_dir / "server.json"
    previous: dict[str, Any] = {}
    if info_path.exists():
        try:
            previous = json.loads(info_path.read_text())
        except ValueError:
            previous = {}
    token = kubeconfig.token(state_dir)
    tls = kubeconfig.certificate(state_dir)
    try:
        store = Store(state_dir / "state.db")
    except sqlite3.DatabaseError as e:
        log.error("the state file %s cannot be read (%s); kubesim will not overwrite it",
                  state_dir / "state.db", e)
        log.error("fix: to start with a fresh cluster, move it aside: mv %s %s.broken",
                  state_dir / "state.db", state_dir / "state.db")
        raise SystemExit(1) from e
    reg = Registry(store)
    bootstrap(reg)
    store.commit()
    phase("state loaded")
    plane = DataPlane(store)
    ctrl = Controllers(store, reg, runtime=plane)
    ctrl.root_ca = tls[0].read_text() if tls else ""
    srv = Server(store, reg, token, data_plane=plane)
    runner = web.AppRunner(srv.app, access_log=None, handle_signals=False)
    await runner.setup()
    ssl_ctx = None
    if tls is not None:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(str(tls[0]), str(tls[1]))
    port = _free_port(previous.get("port"))
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx, reuse_address=True)
    try:
        await site.start()
    except OSError:
        port = _free_port(None)
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx)
        await site.start()
    scheme = "https" if tls else "http"
    phase("listening")
    await plane.start()
    phase("data plane started")
    ctrl.start()
    srv.ready = True
    kubeconfig.write(state_dir, f"{scheme}://127.0.0.1:{port}", token,
                     tls[0] if tls else None)
    kubeconfig.atomic_write(info_path, json.dumps(
        {"pid": os.getpid(), "port": port, "scheme": scheme}), 0o600)
    phase("ready")
    log.info("kubesim serving %s://127.0.0.1:%d (state in %s)", scheme, port, state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("kubesim stopping: closing watches, saving state")
    srv.ready = False
    for w in list(store.watchers):
        w.close()
    await ctrl.stop()
    await plane.stop()
    await runner.cleanup()
    store.close()
    try:
        info_path.unlink()
    except FileNotFoundError:
        pass
    log.info("kubesim stopped")


__all__ = ["serve", "bootstrap", "errors"]
