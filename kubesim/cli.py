"""``python -m kubesim up|down|status|serve --state-dir DIR``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START_DEADLINE = 20.0
STOP_DEADLINE = 10.0


def _info(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / "server.json").read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _answers(state_dir: Path, info: dict[str, Any]) -> bool:
    import http.client
    import ssl
    try:
        tok = (state_dir / "token").read_text().strip()
    except OSError:
        return False
    crt = state_dir / "pki" / "apiserver.crt"
    try:
        if info.get("scheme") == "https":
            ctx = ssl.create_default_context(cafile=str(crt) if crt.exists() else None)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", int(info["port"]), timeout=2, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", int(info["port"]), timeout=2)
        conn.request("GET", "/readyz", headers={"Authorization": f"Bearer {tok}"})
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, ValueError, http.client.HTTPException):
        return False


def running(state_dir: Path) -> dict[str, Any] | None:
    info = _info(state_dir)
    if info and _alive(int(info.get("pid", 0))) and _answers(state_dir, info):
        return info
    return None


def up(state_dir: Path) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    kube = (state_dir / "kubeconfig").resolve()
    if running(state_dir):
        print(f"kubesim is already running for {state_dir}; reusing it", file=sys.stderr)
        print(kube)
        return 0
    stale = _info(state_dir)
    if stale and _alive(int(stale.get("pid", 0))):
        print(f"kubesim pid {stale['pid']} does not answer; stopping it first", file=sys.stderr)
        _stop_pid(int(stale["pid"]))
    (state_dir / "server.json").unlink(missing_ok=True)
    t0 = time.monotonic()
    logf = open(state_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child
    log_start = logf.tell()  # what this start writes: older starts' lines are not its story
    # The server caches its byte-code even where PYTHONDONTWRITEBYTECODE is set (as in some CI
    # images): compiling its modules again on every start would double the startup time.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "serve", "--state-dir", str(state_dir)],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
        start_new_session=True, close_fds=True, env=env)
    logf.close()
    deadline = t0 + START_DEADLINE
    delay = 0.01
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            with open(state_dir / "server.log", "rb") as f:
                f.seek(log_start)
                lines = f.read().decode(errors="replace").splitlines()[-40:]
            tail = "\n".join(lines)
            print(f"kubesim server exited with code {code} while starting; what it logged "
                  f"({state_dir / 'server.log'}):\n{tail}", file=sys.stderr)
            return 1
        info = _info(state_dir)  # the server writes it once it serves and is ready
        if info and info.get("pid") == proc.pid:
            print(f"kubesim started in {time.monotonic() - t0:.2f}s "
                  f"({info['scheme']}://127.0.0.1:{info['port']}, pid {proc.pid})",
                  file=sys.stderr)
            print(kube)
            return 0
        time.sleep(delay)
        delay = min(delay * 1.2, 0.02)
    print(f"kubesim did not become ready within {START_DEADLINE:.0f}s; see "
          f"{state_dir / 'server.log'}. Stopping it.", file=sys.stderr)
    _stop_pid(proc.pid)
    return 1


def _stop_pid(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + STOP_DEADLINE
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:
            pass
        if not _alive(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False


def down(state_dir: Path) -> int:
    info = _info(state_dir)
    if not info or not _alive(int(info.get("pid", 0))):
        (state_dir / "server.json").unlink(missing_ok=True)
        print(f"kubesim is not running for {state_dir}", file=sys.stderr)
        return 0
    clean = _stop_pid(int(info["pid"]))
    print(f"kubesim stopped ({'cleanly' if clean else 'killed after a timeout'}); state kept in "
          f"{state_dir}", file=sys.stderr)
    return 0


def status(state_dir: Path) -> int:
    info = running(state_dir)
    if info:
        print(f"running: {info['scheme']}://127.0.0.1:{info['port']} pid {info['pid']}; "
              f"KUBECONFIG={(state_dir / 'kubeconfig').resolve()}")
        return 0
    print(f"not running (start it with: python -m kubesim up --state-dir {state_dir})")
    return 1


def _import_server() -> Any:
    """Import the server with the CA bundle hidden: importing aiohttp builds two client SSL
    contexts that load every system CA certificate (60 ms of a 0.5 s start). The server makes
    no client connections; the variables are restored before anything else runs."""
    saved = {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    os.environ.update(SSL_CERT_FILE=os.devnull, SSL_CERT_DIR=os.devnull)
    try:
        from .app import serve
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return serve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kubesim",
                                description="The embedded Kubernetes-compatible cluster.")
    p.add_argument("command", choices=["up", "down", "status", "serve"])
    p.add_argument("--state-dir", required=True, type=Path)
    a = p.parse_args(argv)
    state_dir = a.state_dir.resolve()
    if a.command == "serve":
        import asyncio

        serve = _import_server()
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from . import STARTED
        asyncio.run(serve(state_dir, STARTED))
        logging.shutdown()
        os._exit(0)  # state is saved and closed; skip the slow interpreter teardown
    return {"up": up, "down": down, "status": status}[a.command](state_dir)
