"""python -m controlplane up|down|status|build|pin

up     build if needed, start (or reuse) a background control plane; the last line printed is
       `export KUBECONFIG=<absolute path>`
down   stop the background control plane and delete its run directory
status print whether it runs, its version and kubeconfig
build  only build (or find cached) binaries and print where they are
pin    regenerate controlplane/go/*/go.mod and go.sum from controlplane/versions.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import build, versions
from .cluster import ControlPlane, ControlPlaneError


def default_run_dir() -> Path:
    return build.cache_root() / "run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _state(run_dir: Path) -> dict | None:
    try:
        state = json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if _alive(state.get("supervisor", -1)) else None


def _readyz(state: dict, run_dir: Path) -> bool:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(run_dir / "pki" / "ca.crt"))
    ctx.load_cert_chain(str(run_dir / "pki" / "kubeconfig-client.crt"),
                        str(run_dir / "pki" / "kubeconfig-client.key"))
    try:
        with urllib.request.urlopen(state["server"] + "/readyz", context=ctx, timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def _version(state: dict, run_dir: Path) -> str:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(run_dir / "pki" / "ca.crt"))
    ctx.load_cert_chain(str(run_dir / "pki" / "kubeconfig-client.crt"),
                        str(run_dir / "pki" / "kubeconfig-client.key"))
    with urllib.request.urlopen(state["server"] + "/version", context=ctx, timeout=3) as r:
        return json.loads(r.read())["gitVersion"]


def cmd_up(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    state = _state(run_dir)
    if state and _readyz(state, run_dir):
        print(f"control plane already running (Kubernetes {_version(state, run_dir)}, "
              f"supervisor pid {state['supervisor']}) - reusing it")
        print(f"export KUBECONFIG={state['kubeconfig']}")
        return 0
    if state:
        _stop(run_dir, state)
    t0 = time.monotonic()
    try:
        build.ensure_built()
    except build.BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, mode=0o700)
    log = open(run_dir / "supervisor.log", "ab")
    t1 = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "controlplane", "_serve", "--run-dir", str(run_dir),
         "--name", args.name],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=str(Path(__file__).resolve().parent.parent))
    deadline = time.monotonic() + args.timeout
    while True:
        state = _state(run_dir)
        if state and state.get("ready"):
            break
        if daemon.poll() is not None or time.monotonic() > deadline:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGTERM)
            tail = (run_dir / "supervisor.log").read_text(errors="replace")[-4000:]
            print(f"error: the control plane did not start; {run_dir}/supervisor.log:\n{tail}",
                  file=sys.stderr)
            return 1
        time.sleep(0.2)
    start = time.monotonic() - t1
    print(f"control plane: Kubernetes {_version(state, run_dir)} (etcd {versions.ETCD}, "
          f"kwok {versions.KWOK}) on {state['server']}")
    print(f"control plane: started in {start:.1f} s (total with build check "
          f"{time.monotonic() - t0:.1f} s); stop it with `make control-plane-down`")
    print(f"export KUBECONFIG={state['kubeconfig']}")
    return 0


def _stop(run_dir: Path, state: dict, timeout: float = 30.0) -> None:
    pid = state["supervisor"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pg in (state.get("pgid"), pid):
        if pg:
            try:
                os.killpg(pg, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cmd_down(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    state = _state(run_dir)
    if state:
        _stop(run_dir, state)
        print(f"control plane stopped (supervisor pid {state['supervisor']})")
    else:
        print("no control plane running")
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    state = _state(run_dir)
    if not state or not _readyz(state, run_dir):
        print("control plane: not running")
        return 1
    print(f"control plane: Kubernetes {_version(state, run_dir)} on {state['server']}")
    print(f"export KUBECONFIG={state['kubeconfig']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The daemon: start the control plane, then wait for SIGTERM and stop it."""
    run_dir = Path(args.run_dir).resolve()
    stopping = []

    def on_term(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    cp = ControlPlane(run_dir, name=args.name, log=lambda m: print(m, flush=True))
    try:
        cp.start()
        cp.write_state()
        state = json.loads((run_dir / "state.json").read_text())
        state["ready"] = True
        (run_dir / "state.json").write_text(json.dumps(state, indent=2))
        print(f"ready: {cp.version()} in {cp.timings['start']:.1f} s", flush=True)
        while True:
            for name in cp.watched:
                if cp.procs[name].poll() is not None:
                    print(f"{name} exited with {cp.procs[name].returncode}; stopping", flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except ControlPlaneError as e:
        print(f"error: {e}", flush=True)
        return 1
    finally:
        cp.stop()


def cmd_build(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    try:
        path = build.ensure_built()
    except build.BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"binaries in {path} ({time.monotonic() - t0:.1f} s)")
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    from . import gomod

    gomod.pin()
    print(f"pinned: kubernetes {versions.KUBERNETES}, etcd {versions.ETCD}, kwok {versions.KWOK}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m controlplane", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("up", cmd_up), ("down", cmd_down), ("status", cmd_status),
                     ("_serve", cmd_serve), ("build", cmd_build), ("pin", cmd_pin)):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--run-dir", default=str(default_run_dir()))
        p.add_argument("--name", default="k8s-service-labs", help="node name prefix (kind's)")
        p.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
