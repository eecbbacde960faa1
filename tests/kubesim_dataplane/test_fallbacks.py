"""Where Linux namespaces or a C compiler are missing: pods run in plain mode (shims first on
PATH, the pod directory as cwd) and the shims are the Python program. Same answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KUBECTL, REPO


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("kubesim-plain")
    env = dict(os.environ, KUBESIM_POD_START_SECONDS="0.05", KUBESIM_POD_READY_SECONDS="0.05",
               KUBESIM_POD_SANDBOX="plain", KUBESIM_SHIM="python", KUBESIM_HOST_PORTS="off")
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    kenv = dict(os.environ, KUBECONFIG=done.stdout.strip().splitlines()[-1],
                KUBECACHEDIR=str(tmp_path_factory.mktemp("cache")))
    for f in ("common/web-echo-config.yml", "common/deploy-test01.yml",
              "clusterip/service-test01.yml", "common/nginx-test01.yml"):
        subprocess.run([KUBECTL, "apply", "-f", str(REPO / "manifests" / f)], env=kenv,
                       check=True, capture_output=True)
    subprocess.run([KUBECTL, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s"],
                   env=kenv, check=True, capture_output=True)
    subprocess.run([KUBECTL, "rollout", "status", "deploy/deploy-test01", "--timeout=30s"],
                   env=kenv, check=True, capture_output=True)
    yield kenv
    subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                   capture_output=True, timeout=60, cwd=REPO)
    assert "plain mode" in (Path(state) / "server.log").read_text()


def test_plain_mode_with_the_python_shim(plain: dict[str, str]) -> None:
    done = subprocess.run(
        [KUBECTL, "exec", "nginx01", "--", "sh", "-c",
         "curl -s web-service; getent hosts web-service | wc -l; hostname; "
         "curl -sS -o /tmp/x -w '%{http_code}' web-service >/dev/null; id -u; "
         "curl -sS web-service:81 -m 1; echo rc=$?"],
        env=plain, capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert lines and lines[0].startswith("Host=web-service Path=/ From=deploy-test01-"), \
        (done.stdout, done.stderr)
    assert lines[1:3] == ["1", "nginx01"]
    assert lines[-1] == "rc=28"
    if os.geteuid() == 0:
        assert lines[3] == "65534"   # never a root shell on the host
    assert "curl: (28) Connection timed out after" in done.stderr
