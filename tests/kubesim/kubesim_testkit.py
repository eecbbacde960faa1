"""Helpers for the kubesim tests: start/stop kubesim, kubectl against it, raw API requests, and
waiting on conditions with deadlines. (Uniquely named: several test folders have a conftest.py,
so test modules must not import helpers from `conftest`.)"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from polling import wait_until  # noqa: F401 - the test modules import it from here

REPO = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
FAST = {"KUBESIM_POD_START_SECONDS": "0.05", "KUBESIM_POD_READY_SECONDS": "0.05",
        "KUBESIM_POD_TERMINATE_SECONDS": "0.05", "KUBESIM_BOOKMARK_SECONDS": "0.3"}


def run_kubesim(cmd: str, state: Path, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubesim", cmd, "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env=dict(os.environ, **FAST, **(env or {})))


@dataclass
class Sim:
    state: Path
    kubeconfig: Path
    cache: Path

    def env(self) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(self.cache))

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=input,
                              env=self.env(), timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def _config(self) -> dict[str, Any]:
        return yaml.safe_load(self.kubeconfig.read_text())

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json", accept: str = "application/json",
                ) -> tuple[int, Any, dict[str, str]]:
        """One raw API request; returns (status, decoded body, headers)."""
        cfg = self._config()
        server = cfg["clusters"][0]["cluster"]["server"]
        tok = cfg["users"][0]["user"]["token"]
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req = urllib.request.Request(server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {tok}", "Content-Type": content_type, "Accept": accept})
        ctx = ssl.create_default_context(cafile=str(self.state / "pki" / "apiserver.crt")) \
            if server.startswith("https") else None
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                raw, code, headers = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            raw, code, headers = e.read(), e.code, dict(e.headers)
        try:
            return code, json.loads(raw), headers
        except ValueError:
            return code, raw.decode(errors="replace"), headers
