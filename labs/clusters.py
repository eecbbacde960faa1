"""Cluster backends behind one interface: kind, the current kubeconfig, and the embedded cluster.

They differ only in how a cluster is started, stopped and reached; each ends in a kubeconfig.
Choice: ``LAB_CLUSTER=kind|current|embedded``; when unset, the backend that started the running
lab cluster, else kind where a Docker engine answers, else the embedded cluster. ``current`` is
never chosen by detection: the labs create and delete nothing in a cluster nobody named.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from .errors import ClusterUnavailable, LabError, cut
from .kube import Kube
from .messages import error
from .paths import CACHE, MANIFESTS, STATE, shown

KIND_VERSION = "v0.33.0"
CLUSTER_NAME = os.environ.get("LAB_CLUSTER_NAME", "svc-labs")
IMAGES = ("nginx:1.29",)  # preloaded into kind nodes when the host already has them
_CHOSEN = STATE / "cluster.json"


class Cluster(ABC):
    """How one kind of cluster is started, stopped and reached."""

    name: str
    #: NodePorts 31001-31005 answer on 127.0.0.1 of this machine (on LAB_HOST_IP, a classroom
    #: student's own loopback address, when that is set).
    host_ports: bool = False

    @abstractmethod
    def up(self) -> Path:
        """Start or reuse the cluster; return its kubeconfig."""

    @abstractmethod
    def down(self) -> None:
        """Stop and delete what ``up`` created."""

    @abstractmethod
    def kubeconfig(self) -> Path:
        """The kubeconfig of a running cluster (ClusterUnavailable if none)."""

    def connect(self) -> Kube:
        kube = Kube(self.kubeconfig())
        try:
            kube.version()
        except ClusterUnavailable as e:
            e.fix = f"{self.start_hint()} (LAB_CLUSTER={self.name})"
            raise
        return kube

    def start_hint(self) -> str:
        return "make cluster"

    def describe(self) -> str:
        return self.name


class KindCluster(Cluster):
    """A kind cluster (pytest_kind.KindCluster), one control-plane and two workers."""

    name = "kind"
    host_ports = True

    def __init__(self) -> None:
        self.dir = STATE / "kind"
        self.config = MANIFESTS / "kind-cluster.yaml"

    def _kind(self):
        from pytest_kind import KindCluster as PytestKind  # imported late: pulls pykube

        kind_path = shutil.which("kind")
        if not kind_path:
            kind_path = str(CACHE / f"kind-{KIND_VERSION}")
            arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
                platform.machine().lower(), "amd64")
            os.environ.setdefault(
                "KIND_DOWNLOAD_URL", "https://github.com/kubernetes-sigs/kind/releases/download/"
                f"{KIND_VERSION}/kind-{platform.system().lower()}-{arch}")
        kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
        self.dir.mkdir(parents=True, exist_ok=True)
        return PytestKind(CLUSTER_NAME, kubeconfig=self.dir / "kubeconfig",
                          image=os.environ.get("LAB_KIND_NODE_IMAGE") or None,
                          kind_path=Path(kind_path), kubectl_path=Path(kubectl))

    def config_file(self) -> Path:
        """manifests/kind-cluster.yaml, plus the kubeadmConfigPatches of LAB_KIND_CONFIG_PATCH
        when it names a file (the kind rig's patch for its locally built node image)."""
        patch_path = os.environ.get("LAB_KIND_CONFIG_PATCH")
        if not patch_path:
            return self.config
        import yaml

        try:
            patch = yaml.safe_load(Path(patch_path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ClusterUnavailable(f"LAB_KIND_CONFIG_PATCH={patch_path} cannot be read: {cut(e, 200)}",
                                     fix="point LAB_KIND_CONFIG_PATCH at a YAML file with a "
                                         "kubeadmConfigPatches list, or unset it") from e
        extra = patch.get("kubeadmConfigPatches") if isinstance(patch, dict) else None
        if not isinstance(extra, list):
            raise ClusterUnavailable(f"LAB_KIND_CONFIG_PATCH={patch_path} has no "
                                     "kubeadmConfigPatches list",
                                     fix="the file must hold `kubeadmConfigPatches: [...]`")
        config = yaml.safe_load(self.config.read_text())
        config["kubeadmConfigPatches"] = list(config.get("kubeadmConfigPatches") or []) + extra
        merged = self.dir / "kind-cluster.yaml"
        self.dir.mkdir(parents=True, exist_ok=True)
        merged.write_text(f"# {shown(self.config)} with the patch in {patch_path}\n"
                          + yaml.safe_dump(config, sort_keys=False))
        return merged

    def up(self) -> Path:
        docker_answers(required=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        cluster = self._kind()
        try:
            cluster.ensure_kind()
        except Exception as e:  # requests errors, permission errors
            raise ClusterUnavailable(
                f"kind is not on PATH and kind {KIND_VERSION} could not be downloaded "
                f"({cut(e, 120)})",
                fix=f"install kind: go install sigs.k8s.io/kind@{KIND_VERSION} "
                    "(or brew install kind), or use LAB_CLUSTER=embedded") from e
        kubeconfig = self.dir / "kubeconfig"
        existing = subprocess.run([str(cluster.kind_path), "get", "clusters"], capture_output=True,
                                  text=True, timeout=60).stdout.split()
        if CLUSTER_NAME in existing:
            if not kubeconfig.exists() or kubeconfig.stat().st_size == 0:
                subprocess.run([str(cluster.kind_path), "export", "kubeconfig", "--name",
                                CLUSTER_NAME, "--kubeconfig", str(kubeconfig)], check=True,
                               capture_output=True, timeout=60)
            print(f"Reusing kind cluster '{CLUSTER_NAME}'", flush=True)
        else:
            print(f"Starting kind cluster '{CLUSTER_NAME}' (1 control-plane, 2 workers); "
                  "the first start pulls the node image and takes a few minutes...", flush=True)
        try:
            cluster.create(self.config_file())
        except subprocess.CalledProcessError as e:
            raise ClusterUnavailable(
                f"kind could not create the cluster (exit {e.returncode})",
                fix="read kind's output above. If it could not pull kindest/node (no access to "
                    "Docker Hub), run the labs on the embedded cluster: LAB_CLUSTER=embedded make "
                    "lab. If ports 31001-31005 or 8080 on 127.0.0.1 are taken, free them. Then "
                    "`make cluster-down` and `make cluster` retry") from e
        for image in IMAGES:
            if subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                              timeout=30).returncode == 0:
                print(f"Loading {image} into the kind nodes...", flush=True)
                cluster.load_docker_image(image)
        self.wait_ready()
        return self.dir / "kubeconfig"

    def wait_ready(self, timeout: float = 180) -> None:
        """kind returns before its nodes are Ready and before CoreDNS answers (it waits for
        nothing by default): wait for both, so the first lab's names resolve."""
        from . import waiting

        kube = self.connect()
        with waiting.Progress("kind nodes Ready") as p:
            waiting.wait_for(kube, "/api/v1/nodes",
                             lambda nodes: bool(nodes) and all(map(_node_ready, nodes.values())),
                             what="every kind node to be Ready", timeout=timeout, progress=p,
                             state=lambda nodes: f"{sum(map(_node_ready, nodes.values()))}/"
                                                 f"{len(nodes)} Ready")
        waiting.wait_rollout(kube, "kube-system", "coredns", timeout=timeout)

    def down(self) -> None:
        if docker_answers(required=False):
            self._kind().delete()

    def kubeconfig(self) -> Path:
        path = self.dir / "kubeconfig"
        if not path.exists() or path.stat().st_size == 0:
            raise ClusterUnavailable("no kind lab cluster is running",
                                     fix="make cluster (LAB_CLUSTER=kind)")
        return path

    def describe(self) -> str:
        return f"kind cluster '{CLUSTER_NAME}'"


def _node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


class CurrentCluster(Cluster):
    """Whatever the user's kubeconfig points at. Never created or deleted by the labs."""

    name = "current"

    def kubeconfig(self) -> Path:
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        path = Path(env) if env else Path.home() / ".kube" / "config"
        if not path.exists():
            raise error(ClusterUnavailable, "cluster.no-kubeconfig", path=path)
        return path

    def up(self) -> Path:
        path = self.kubeconfig()
        self.connect()
        return path

    def down(self) -> None:
        print("LAB_CLUSTER=current: the labs never delete a cluster they did not create. "
              "`make reset LAB=<lab>` removes a lab's namespace.")

    def start_hint(self) -> str:
        return "check that your cluster answers: kubectl cluster-info"

    def describe(self) -> str:
        return "the current kubeconfig context"


class EmbeddedCluster(Cluster):
    """The embedded Kubernetes-compatible server (package ``kubesim``), a separate process."""

    name = "embedded"
    host_ports = True

    def __init__(self) -> None:
        self.dir = STATE / "embedded"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        if env.get("LAB_HOST_IP") and not env.get("KUBESIM_HOST_IP"):
            # a classroom's student: NodePorts on their own loopback address (classroom/)
            env["KUBESIM_HOST_IP"] = env["LAB_HOST_IP"]
        return subprocess.run([sys.executable, "-m", "kubesim", *args, "--state-dir",
                               str(self.dir)], capture_output=True, text=True, timeout=120, env=env)

    def up(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        done = self._run("up")
        if done.returncode != 0:
            raise start_failure(done.stderr or done.stdout, shown(self.dir / "server.log"))
        return self.kubeconfig()

    def down(self) -> None:
        if self.dir.exists():
            self._run("down")

    def kubeconfig(self) -> Path:
        path = self.dir / "kubeconfig"
        if not path.exists():
            raise error(ClusterUnavailable, "cluster.embedded-down")
        return path

    def describe(self) -> str:
        return "the embedded cluster (no Docker needed)"


def start_failure(output: str, log: str) -> LabError:
    """Why the embedded cluster did not start, from what it logged while starting: its last
    error line, and the `fix:` line it logged after it (the command that repairs it) when there
    is one; else the last line of a traceback; else the end of its output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.split(": ", 1)[1] if ": " in line else line
              for line in lines if " ERROR " in line or " CRITICAL " in line]
    fixes = [e[len("fix: "):] for e in errors if e.startswith("fix: ")]
    causes = [e for e in errors if not e.startswith("fix: ")]
    traceback = [line for line in lines if not line.startswith(("File ", "Traceback", "^", "~"))
                 and "Error" in line.split(":", 1)[0]]
    cause = causes[-1] if causes else traceback[-1] if traceback else cut(output[-300:], 300)
    if fixes:
        return error(ClusterUnavailable, "cluster.embedded-fix", error=cause, fix=fixes[-1], log=log)
    return error(ClusterUnavailable, "cluster.embedded-failed", error=cause, log=log)


BACKENDS: dict[str, type[Cluster]] = {
    "kind": KindCluster, "current": CurrentCluster, "embedded": EmbeddedCluster}


def docker_answers(*, required: bool) -> bool:
    """Whether a Docker engine answers; with ``required``, say what to do when it does not."""
    docker = shutil.which("docker")
    if docker:
        try:
            done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                                  capture_output=True, text=True, timeout=20)
            if done.returncode == 0:
                return True
            problem = cut(done.stderr, 160)
        except subprocess.TimeoutExpired:
            problem = "`docker info` did not answer within 20 s"
    else:
        problem = "no `docker` command on PATH"
    if required:
        raise ClusterUnavailable(
            f"kind needs a Docker engine, and none answers: {problem}",
            fix="start Docker (Docker Desktop, or `sudo systemctl start docker`), "
                "or run the labs without Docker: LAB_CLUSTER=embedded")
    return False


def chosen() -> str | None:
    """The backend of the lab cluster started last, if any."""
    try:
        return str(json.loads(_CHOSEN.read_text())["backend"])
    except (OSError, ValueError, KeyError):
        return None


def select(name: str | None = None) -> Cluster:
    """The backend named (or by LAB_CLUSTER), else the one in use, else kind or embedded."""
    name = name or os.environ.get("LAB_CLUSTER") or chosen()
    if not name:
        name = "kind" if docker_answers(required=False) else "embedded"
    if name not in BACKENDS:
        raise error(ClusterUnavailable, "cluster.unknown", name=name)
    return BACKENDS[name]()


def remember(cluster: Cluster) -> None:
    """Reuse this backend next time; never `current`, which is used only when named."""
    if cluster.name == "current":
        return
    STATE.mkdir(parents=True, exist_ok=True)
    _CHOSEN.write_text(json.dumps({"backend": cluster.name}))


def forget() -> None:
    _CHOSEN.unlink(missing_ok=True)


