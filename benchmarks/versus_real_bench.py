"""The embedded cluster beside the real kube-apiserver, in one run: the same operations, the same
raw HTTPS client (http.client, one keep-alive connection per server), requests alternating
between the two so both see the same machine load.

    python -m benchmarks.versus_real_bench                   # 1,000 pods, 200 Services
    python -m benchmarks.versus_real_bench --pods 500 --services 100
    python -m benchmarks.versus_real_bench --kubesim-only    # no real control plane (profiling)

Both clusters get a namespace holding the pods and Services. The pods are bound to a node that
does not exist (``spec.nodeName``), so neither cluster schedules or runs them: what is measured
is the API server and whatever its controllers do in reaction to the writes. The real control
plane is the one the project builds from Go modules and caches (controlplane/, as the tests
start it).

Printed: p50 and p95 of each operation on each server and the ratio embedded/real. Exit 1 if
an operation's embedded p50 is above the real one's (the target).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

NS = "bench"
ABSENT_NODE = "bench-no-such-node"


class Client:
    """One keep-alive HTTPS connection described by a kubeconfig (token or client certificate)."""

    def __init__(self, name: str, kubeconfig: Path, scratch: Path) -> None:
        self.name = name
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        base = kubeconfig.parent

        def file_of(key: str, where: dict[str, Any]) -> str | None:
            if where.get(key + "-data"):
                path = scratch / f"{name}-{key}"
                path.write_bytes(base64.b64decode(where[key + "-data"]))
                return str(path)
            if where.get(key):
                return str((base / where[key]).resolve())
            return None
        server = cluster["server"]
        host, port = server.split("//", 1)[1].rstrip("/").split(":")
        self.addr = (host, int(port))
        self.https = server.startswith("https")
        self.ctx: ssl.SSLContext | None = None
        if self.https:
            self.ctx = ssl.create_default_context(cafile=file_of("certificate-authority",
                                                                 cluster))
            crt, key = file_of("client-certificate", user), file_of("client-key", user)
            if crt and key:
                self.ctx.load_cert_chain(crt, key)
        self.headers = {"Accept": "application/json"}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(*self.addr, context=self.ctx, timeout=60)
        return http.client.HTTPConnection(*self.addr, timeout=60)

    def call(self, method: str, path: str, body: Any = None,
             ctype: str = "application/json") -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=dict(self.headers, **{
            "Content-Type": ctype}))
        r = self.conn.getresponse()
        return r.status, r.read()

    def must(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
             ok: tuple[int, ...] = (200, 201)) -> bytes:
        code, raw = self.call(method, path, body, ctype)
        if code not in ok:
            raise SystemExit(f"{self.name}: {method} {path} answered {code}: {raw[:300]!r}")
        return raw


def populate(c: Client, pods: int, services: int) -> float:
    t0 = time.perf_counter()
    c.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": NS}}, ok=(201, 409))
    for i in range(services):
        c.must("POST", f"/api/v1/namespaces/{NS}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
            "spec": {"selector": {"app": f"a{i}"}, "ports": [{"port": 80}]}}, ok=(201, 409))
    for i in range(pods):
        c.must("POST", f"/api/v1/namespaces/{NS}/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "labels": {"app": f"a{i % services}"}},
            "spec": {"nodeName": ABSENT_NODE,
                     "containers": [{"name": "c", "image": "nginx:1.29",
                                     "ports": [{"containerPort": 80}]}]}}, ok=(201, 409))
    return time.perf_counter() - t0


def operations(pods: int, services: int) -> dict[str, Callable[[Client], None]]:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-42"},
           "spec": {"selector": {"app": "a42"}, "ports": [{"port": 80}]}}
    per_label = pods // services

    def get_pod(c: Client) -> None:
        c.must("GET", f"/api/v1/namespaces/{NS}/pods/pod-{pods // 2}")

    def list_pods(c: Client) -> None:
        c.must("GET", f"/api/v1/namespaces/{NS}/pods")

    def by_label(c: Client) -> None:
        c.must("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Da7")

    def configmap(c: Client) -> None:
        c.must("POST", f"/api/v1/namespaces/{NS}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-cm"},
            "data": {"k": "v"}}, ok=(201,))
        c.must("DELETE", f"/api/v1/namespaces/{NS}/configmaps/bench-cm")

    def apply(c: Client) -> None:
        c.must("PATCH", f"/api/v1/namespaces/{NS}/services/svc-42?fieldManager=bench&force=true",
               svc, "application/apply-patch+yaml")
    return {"get a pod": get_pod, f"list {pods} pods": list_pods,
            f"list by label ({per_label})": by_label, "ConfigMap create+delete": configmap,
            "server-side apply, Service": apply}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def measure(clients: list[Client], op: Callable[[Client], None], n: int,
            warmup: int = 5) -> dict[str, list[float]]:
    """n samples per client, alternating: a, b, a, b ... (the first few not counted)."""
    out: dict[str, list[float]] = {c.name: [] for c in clients}
    for i in range(n + warmup):
        for c in clients if i % 2 == 0 else clients[::-1]:
            t0 = time.perf_counter()
            op(c)
            if i >= warmup:
                out[c.name].append((time.perf_counter() - t0) * 1000)
    return out


def start_kubesim(state: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"kubesim up failed: {done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.versus_real_bench")
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--kubesim-only", action="store_true",
                    help="measure the embedded cluster alone (no real control plane)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="versus-real-"))
    state = tmp / "kubesim"
    cp = None
    try:
        clients = [Client("embedded", start_kubesim(state), tmp)]
        if not a.kubesim_only:
            from controlplane.cluster import ControlPlane
            cp = ControlPlane(tmp / "real", log=lambda m: print(m, file=sys.stderr))
            cp.start()
            clients.append(Client("real", cp.kubeconfig, tmp))
        for c in clients:
            secs = populate(c, a.pods, a.services)
            print(f"{c.name}: {a.pods} pods and {a.services} Services created in {secs:.1f} s",
                  flush=True)
        time.sleep(2)  # let controllers settle (endpoints of 200 Services)
        results = {name: measure(clients, op, a.samples)
                   for name, op in operations(a.pods, a.services).items()}
    finally:
        subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                       capture_output=True, timeout=60)
        if cp is not None:
            cp.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    names = [c.name for c in clients]
    print(f"\nnamespace with {a.pods} pods (bound to an absent node) and {a.services} Services; "
          f"{a.samples} samples per operation and server, alternating; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    head = f"{'operation':28}" + "".join(f" {n + ' p50':>13} {n + ' p95':>13}" for n in names)
    if len(names) == 2:
        head += f" {'p50 embedded/real':>18}"
    print(head)
    ok = True
    for op, by in results.items():
        row = f"{op:28}" + "".join(
            f" {sorted(by[n])[len(by[n]) // 2]:10.2f} ms {pct(by[n], 95):10.2f} ms" for n in names)
        if len(names) == 2:
            e, r = (sorted(by[n])[len(by[n]) // 2] for n in names)
            row += f" {e / r:18.2f}"
            ok = ok and e <= r
        print(row)
    if len(names) == 2:
        print("target (every embedded p50 at or below the real one's):",
              "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
