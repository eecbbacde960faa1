"""Run a real control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK (which plays the kubelets: nodes heartbeat, pods become Running and Ready
with IPs), plus three KWOK-managed nodes named like kind's.

    cp = ControlPlane(run_dir)
    cp.start()          # builds the binaries once (cached), then starts everything
    cp.kubeconfig       # an admin kubeconfig (0600)
    cp.stop()           # process-group kill; also registered with atexit

All processes share one process group, so one killpg stops them all, and each child has
PR_SET_PDEATHSIG so that a SIGKILLed test runner does not leave a control plane behind.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import build, kwok_config, versions
from .certs import Pki

SERVICE_CIDR = "10.96.0.0/16"  # kind's default
POD_CIDR = "10.244.0.0/16"  # kind's default
NODE_PORT_RANGE = "30000-32767"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"


class ControlPlaneError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pdeathsig() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Node:
    name: str
    ip: str
    pod_cidr: str
    control_plane: bool = False

    def manifest(self) -> dict:
        labels = {
            "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64", "type": "kwok",
        }
        taints = []
        if self.control_plane:
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
            taints = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        resources = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.name, "labels": labels,
                         "annotations": {KWOK_ANNOTATION: "fake",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr], "taints": taints,
                     "providerID": f"kind://docker/kind/{self.name}"},
            "status": {
                "capacity": resources, "allocatable": resources,
                "addresses": [{"type": "InternalIP", "address": self.ip},
                              {"type": "Hostname", "address": self.name}],
                "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                             "kubeletVersion": versions.KUBERNETES,
                             "kubeProxyVersion": "", "containerRuntimeVersion": "kwok"},
            },
        }


def kind_nodes(name: str) -> list[Node]:
    """The nodes of a three-node kind cluster called <name> (kind's docker network addresses)."""
    return [
        Node(f"{name}-control-plane", "172.18.0.2", "10.244.0.0/24", control_plane=True),
        Node(f"{name}-worker", "172.18.0.3", "10.244.1.0/24"),
        Node(f"{name}-worker2", "172.18.0.4", "10.244.2.0/24"),
    ]


@dataclass
class ControlPlane:
    run_dir: Path
    name: str = "k8s-service-labs"
    log: object = print
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    pgid: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> ControlPlane:
        t0 = time.monotonic()
        self.bin = build.ensure_built(log=self.log)
        self.timings["build"] = time.monotonic() - t0
        t1 = self._t_start = time.monotonic()
        self.run_dir = Path(self.run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.run_dir, 0o700)
        for p in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"):
            self.ports[p] = free_port()
        self._pki()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        try:
            self._start_etcd(deadline)
            self._start_apiserver(deadline)
            self._start_components(deadline)
            self._create_nodes(deadline)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t1
        self.write_state()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop in reverse start order (SIGTERM, wait), then SIGKILL the whole process group.

        The order matters: an apiserver whose etcd is already gone spends ~10 s retrying it.
        """
        if self.pgid is None:
            return
        pgid, self.pgid = self.pgid, None
        deadline = time.monotonic() + timeout
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(max(0.1, min(10.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(pgid, signal.SIGKILL)  # anything left, children included
        except ProcessLookupError:
            pass
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for f in getattr(self, "_logs", {}).values():
            f.close()
        try:
            atexit.unregister(self.stop)
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pieces ------------------------------------------------------------------------------
    def _pki(self) -> None:
        pki = self.pki = Pki.create(self.run_dir / "pki")
        self.serving = pki.issue(
            "apiserver", "kube-apiserver",
            server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                          "kubernetes.default.svc.cluster.local"),
            server_ips=("127.0.0.1", "10.96.0.1"))
        self.sa_key, self.sa_pub = pki.service_account_keys()
        self.apiserver_kubelet = pki.issue(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
        users = {
            "kubeconfig": ("kubernetes-admin", ("system:masters",)),
            "controller-manager.kubeconfig": ("system:kube-controller-manager", ()),
            "scheduler.kubeconfig": ("system:kube-scheduler", ()),
            # KWOK plays every kubelet and patches node and pod status: cluster-admin is simplest.
            "kwok.kubeconfig": ("kwok-controller", ("system:masters",)),
        }
        for filename, (cn, orgs) in users.items():
            crt, key = pki.issue(filename.replace(".kubeconfig", "") + "-client", cn, orgs)
            pki.kubeconfig(self.run_dir / filename, self.server, cn, crt, key)
        self.admin_cert = (self.run_dir / "pki" / "kubeconfig-client.crt",
                           self.run_dir / "pki" / "kubeconfig-client.key")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        if not hasattr(self, "_logs"):
            self._logs = {}
        logf = self._logs[name] = open(self.run_dir / f"{name}.log", "ab")
        pgid = self.pgid

        def preexec() -> None:
            os.setpgid(0, pgid or 0)
            _pdeathsig()

        p = subprocess.Popen([str(self.bin / args[0]), *args[1:]], stdin=subprocess.DEVNULL,
                             stdout=logf, stderr=subprocess.STDOUT, preexec_fn=preexec,
                             cwd=self.run_dir)
        if self.pgid is None:
            self.pgid = p.pid
        self.procs[name] = p
        return p

    def _log_tail(self, name: str, n: int = 40) -> str:
        try:
            lines = (self.run_dir / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def _wait(self, what: str, check, deadline: float, procs: tuple[str, ...]) -> None:
        """Poll check() until it is true; fail early if a watched process exits."""
        delay = 0.05
        last: object = None
        while True:
            for n in procs:
                if self.procs[n].poll() is not None:
                    raise ControlPlaneError(
                        f"{n} exited with {self.procs[n].returncode} while waiting for {what}; "
                        f"last lines of {self.run_dir / (n + '.log')}:\n{self._log_tail(n)}")
            try:
                if check():
                    return
            except Exception as e:  # noqa: BLE001 - not ready yet; keep the reason for the error
                last = e
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what} (last error: {last!r}); "
                                        f"logs in {self.run_dir}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _ssl(self, client: bool = True, verify: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_file) if verify else None)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client:
            ctx.load_cert_chain(*map(str, self.admin_cert))
        return ctx

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _start_etcd(self, deadline: float) -> None:
        p = self.ports
        self._spawn("etcd", [
            "etcd", "--name=controlplane", f"--data-dir={self.run_dir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--listen-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
            f"--initial-cluster=controlplane=http://127.0.0.1:{p['etcd-peer']}",
            "--unsafe-no-fsync=true", "--quota-backend-bytes=2147483648",
            "--auto-compaction-mode=periodic", "--auto-compaction-retention=1h",
            "--log-level=warn",
        ])

        def healthy() -> bool:
            url = f"http://127.0.0.1:{p['etcd']}/health"
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"

        self._wait("etcd /health", healthy, deadline, ("etcd",))

    def _start_apiserver(self, deadline: float) -> None:
        p, pki = self.ports, self.run_dir / "pki"
        crt, key = self.serving
        self._spawn("kube-apiserver", [
            "kube-apiserver", f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
            "--etcd-prefix=/registry", "--allow-privileged=true",
            "--bind-address=127.0.0.1", f"--secure-port={p['apiserver']}",
            "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
            f"--tls-cert-file={crt}", f"--tls-private-key-file={key}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={self.apiserver_kubelet[0]}",
            f"--kubelet-client-key={self.apiserver_kubelet[1]}",
            f"--service-account-key-file={self.sa_pub}",
            f"--service-account-signing-key-file={self.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-node-port-range={NODE_PORT_RANGE}",
            "--authorization-mode=Node,RBAC", "--enable-priority-and-fairness=false",
            "--max-requests-inflight=0", "--max-mutating-requests-inflight=0",
            "--profiling=false", f"--cert-dir={self.run_dir / 'apiserver-certs'}",
        ])

        def ready() -> bool:
            return self.get("/readyz")[0] == 200

        self._wait("kube-apiserver /readyz", ready, deadline, ("etcd", "kube-apiserver"))
        self.timings["apiserver_ready_at"] = time.monotonic() - self._t_start

    def _start_components(self, deadline: float) -> None:
        p, pki = self.ports, self.run_dir / "pki"
        always = "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"
        self._spawn("kube-controller-manager", [
            "kube-controller-manager",
            f"--kubeconfig={self.run_dir / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={self.run_dir / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={self.run_dir / 'controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1", f"--secure-port={p['controller-manager']}", always,
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={self.sa_key}",
            "--use-service-account-credentials=true", "--leader-elect=false",
            f"--cluster-name={self.name}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--kube-api-qps=5000", "--kube-api-burst=10000",
            f"--cert-dir={self.run_dir / 'controller-manager-certs'}",
        ])
        self._spawn("kube-scheduler", [
            "kube-scheduler", f"--kubeconfig={self.run_dir / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={self.run_dir / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={self.run_dir / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1", f"--secure-port={p['scheduler']}", always,
            "--leader-elect=false", "--kube-api-qps=5000", "--kube-api-burst=10000",
            f"--cert-dir={self.run_dir / 'scheduler-certs'}",
        ])
        kwok_yaml = self.run_dir / "kwok.yaml"
        kwok_yaml.write_text(kwok_config.render())
        self._spawn("kwok", [
            "kwok", f"--config={kwok_yaml}", f"--kubeconfig={self.run_dir / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            f"--cidr={POD_CIDR}", "--node-ip=172.18.0.2",
            f"--server-address=127.0.0.1:{p['kwok']}",
        ])
        watched = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
        ctx = self._ssl(client=False, verify=False)

        def healthz(port: int):
            def check() -> bool:
                url = f"https://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                    return r.status == 200
            return check

        self._wait("kube-controller-manager /healthz", healthz(p["controller-manager"]),
                   deadline, watched)
        self._wait("kube-scheduler /healthz", healthz(p["scheduler"]), deadline, watched)

        def kwok_ready() -> bool:
            url = f"http://127.0.0.1:{p['kwok']}/healthz"
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200

        self._wait("kwok /healthz", kwok_ready, deadline, watched)
        self.watched = watched

    def _api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def _create_nodes(self, deadline: float) -> None:
        nodes = kind_nodes(self.name)
        for n in nodes:
            code, body = self._api("POST", "/api/v1/nodes", n.manifest())
            if code not in (201, 409):
                raise ControlPlaneError(f"creating node {n.name}: {code} {body.get('message')}")

        def all_ready() -> bool:
            code, body = self._api("GET", "/api/v1/nodes")
            ready = {
                item["metadata"]["name"] for item in body.get("items", [])
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in item.get("status", {}).get("conditions", []))
            }
            return ready >= {n.name for n in nodes}

        self._wait("three Ready KWOK nodes", all_ready, deadline, self.watched)

        def default_sa() -> bool:
            return self._api("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200

        self._wait("the default ServiceAccount", default_sa, deadline, self.watched)

    # -- info --------------------------------------------------------------------------------
    def version(self) -> str:
        code, body = self.get("/version")
        return json.loads(body)["gitVersion"] if code == 200 else f"unknown ({code})"

    def write_state(self) -> None:
        state = {
            "kubeconfig": str(self.kubeconfig), "server": self.server, "ports": self.ports,
            "pids": {n: p.pid for n, p in self.procs.items()}, "pgid": self.pgid,
            "supervisor": os.getpid(), "bin": str(self.bin), "timings": self.timings,
        }
        (self.run_dir / "state.json").write_text(json.dumps(state, indent=2))
