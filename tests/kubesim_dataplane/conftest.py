"""One kubesim server (with its data plane) per session, the labs' pods applied once, and real
kubectl 1.37 / the official client pointed at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until  # noqa: F401 - the test modules import it from here

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
NS = "dp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    state: Path
    kubeconfig: Path
    cache: Path
    host_port: int       # 127.0.0.1 port mapped to nodePort 31001
    lb_port: int         # 127.0.0.1 port mapped to the control-plane node's port 80

    def env(self) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(self.cache))

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                ns: str | None = NS, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [KUBECTL] + (["-n", ns] if ns else []) + list(args)
        done = subprocess.run(argv, capture_output=True, text=True, input=input,
                              env=self.env(), timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def sh(self, script: str, pod: str = "nginx01", check: bool = True,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.kubectl("exec", pod, "--", "/bin/sh", "-c", script, check=check,
                            timeout=timeout)

    def jsonpath(self, kind: str, name: str, path: str) -> str:
        return self.kubectl("get", kind, name, "-o", f"jsonpath={path}").stdout

    def api(self) -> Any:
        from kubernetes import client, config
        return client.CoreV1Api(config.new_client_from_config(config_file=str(self.kubeconfig)))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("kubesim-dp")
    host_port, lb_port = free_port(), free_port()
    env = dict(os.environ, KUBESIM_POD_START_SECONDS="0.05", KUBESIM_POD_READY_SECONDS="0.05",
               KUBESIM_POD_TERMINATE_SECONDS="0.05",
               KUBESIM_HOST_PORTS=f"{host_port}:31001,{lb_port}:80")
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    c = Cluster(state, Path(done.stdout.strip().splitlines()[-1]),
                tmp_path_factory.mktemp("kubectl-cache"), host_port, lb_port)
    c.kubectl("create", "namespace", NS, ns=None)
    for f in ("common/web-echo-config.yml", "common/deploy-test01.yml",
              "nodeport/service-test01.yml"):
        c.kubectl("apply", "-f", str(REPO / "manifests" / f))
    for f in sorted(HERE.glob("manifests/*.yml")):
        c.kubectl("apply", "-f", str(f))
    # the client pod last: its environment has the Services that exist when it starts
    c.kubectl("apply", "-f", str(REPO / "manifests" / "common" / "nginx-test01.yml"))
    c.kubectl("wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
    c.kubectl("rollout", "status", "deploy/deploy-test01", "--timeout=30s")
    yield c
    subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                   capture_output=True, text=True, timeout=60, cwd=REPO)
