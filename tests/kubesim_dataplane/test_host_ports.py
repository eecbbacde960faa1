"""A host port another program holds: the Service says so in an Event, and the port is mapped
once it frees up (two lab clusters on one machine, or a stray server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import KUBECTL, REPO, Cluster, free_port, wait_until


def connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_held_port_is_reported_then_mapped_when_free(tmp_path: Path) -> None:
    port = free_port()
    holder = socket.create_server(("127.0.0.1", port))
    env = dict(os.environ, KUBESIM_POD_START_SECONDS="0.05", KUBESIM_POD_READY_SECONDS="0.05",
               KUBESIM_HOST_PORTS=f"{port}:31002", KUBESIM_HOST_PORT_RETRY_SECONDS="0.2")
    state = tmp_path / "state"
    up = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                        capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert up.returncode == 0, up.stderr
    kenv = dict(os.environ, KUBECONFIG=up.stdout.strip().splitlines()[-1],
                KUBECACHEDIR=str(tmp_path / "cache"))

    def kubectl(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=stdin,
                              env=kenv, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "np", "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": "none"},
                     "ports": [{"port": 80, "nodePort": 31002}]}}))

        def warning() -> str:
            events = json.loads(kubectl("get", "events", "-o", "json",
                                        "--field-selector", "involvedObject.name=np"))
            return next((e["message"] for e in events["items"]
                         if e["reason"] == "HostPortUnavailable" and e["type"] == "Warning"), "")
        message = wait_until("the HostPortUnavailable event", warning)
        assert f"cannot map 127.0.0.1:{port} to 172.18.0.2:31002" in message
        assert "make cluster-down" in message
        assert "HostPortUnavailable" in kubectl("describe", "service", "np")

        holder.close()
        wait_until(f"127.0.0.1:{port} mapped after it was freed", lambda: connects(port),
                   timeout=10)
        log = (state / "server.log").read_text()
        assert f"127.0.0.1:{port} now maps to 172.18.0.2:31002" in log
    finally:
        holder.close()
        subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=60, cwd=REPO)


def test_free_port_is_mapped_without_a_warning(cluster: Cluster) -> None:
    """The session cluster's ports were free: its NodePort Service has no such Event."""
    events = json.loads(cluster.kubectl("get", "events", "-o", "json").stdout)["items"]
    assert [e for e in events if e["reason"] == "HostPortUnavailable"] == []
    assert connects(cluster.host_port)
