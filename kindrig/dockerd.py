"""A private Docker engine for the kind tests, so the rig never touches a user's Docker.

It runs in a network namespace of its own (`k8s-service-labs-rig`): its bridges, iptables rules
and published ports (kind's 127.0.0.1:31001-31005 and :8080, the API server's port) exist only
there, never in the machine's own network. Its containerd, data root, exec root and socket are its
own too. The tests that use it run inside the same namespace (`run_inside`), where 127.0.0.1 is
the loopback of the Docker host the kind nodes live on, exactly as on a learner's machine.

On machines whose capability bounding set lacks a capability that `docker run --privileged`
asks for (these test VMs lack CAP_SYS_RESOURCE), the daemon's default runtime is the runc wrapper
in runc_capshim.py, which drops the missing capabilities from each container's spec. Elsewhere
the daemon uses runc unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import paths
from .errors import RigError
from .runc_capshim import missing_caps

NETNS = "k8s-service-labs-rig"
NETNS_PATH = Path("/run/netns") / NETNS


def socket() -> Path:
    return paths.run() / "docker.sock"


def host() -> str:
    return f"unix://{socket()}"


def data_root() -> Path:
    """Images and volumes persist here, so built images survive a daemon restart."""
    return paths.cache() / "docker"


def available() -> str:
    """Why the private engine cannot start here, or "" if it can."""
    if sys.platform != "linux":
        return "the rig's private Docker engine needs Linux"
    if os.geteuid() != 0:
        return "the rig's private Docker engine needs root (dockerd, network namespaces)"
    missing = [b for b in ("dockerd", "containerd", "docker", "nsenter", "ip")
               if not shutil.which(b)]
    if missing:
        return (f"{', '.join(missing)} not found: install Debian's docker.io package "
                "(apt-get install docker.io; .ci/run does this on CI)")
    return ""


def _answers() -> bool:
    if not socket().exists():
        return False
    env = dict(os.environ, DOCKER_HOST=host())
    try:
        return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], env=env,
                              capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def inside(cmd: list[str]) -> list[str]:
    """`cmd` run in the rig's network namespace (only the network: files and mounts are shared)."""
    return ["nsenter", f"--net={NETNS_PATH}", "--", *cmd]


def _netns() -> None:
    if not NETNS_PATH.exists():
        subprocess.run(["ip", "netns", "add", NETNS], check=True, capture_output=True)
    subprocess.run(inside(["ip", "link", "set", "lo", "up"]), check=True, capture_output=True)


def _spawn(cmd: list[str], log_path: Path) -> int:
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(inside(cmd), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def start(log=print) -> str:
    """Start the private engine (or reuse a running one); return its DOCKER_HOST."""
    why = available()
    if why:
        raise RigError(why)
    if _answers():
        return host()
    run = paths.run()
    run.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_root().mkdir(parents=True, exist_ok=True)
    stop(log=lambda _: None)  # what a killed engine left: processes, sockets, pid files
    for stale in ("containerd.sock", "docker.sock", "dockerd.pid"):
        (run / stale).unlink(missing_ok=True)
    _netns()
    # containerd of its own, so the engine never shares a system containerd's namespaces.
    (run / "containerd.toml").write_text(
        'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
    containerd_sock = run / "containerd.sock"
    containerd_pid = _spawn(["containerd", "--config", str(run / "containerd.toml"),
                             "--root", str(data_root() / "containerd"),
                             "--state", str(run / "containerd"),
                             "--address", str(containerd_sock)], run / "containerd.log")
    daemon: dict = {}
    drop = missing_caps()
    if drop:
        shim = Path(__file__).with_name("runc_capshim.py")
        daemon = {"runtimes": {"runc-capshim": {"path": str(shim)}},
                  "default-runtime": "runc-capshim"}
        log(f"rig: this machine's capability bounding set lacks {', '.join(sorted(drop))}; "
            "the private engine's runtime drops them from privileged containers")
    (run / "daemon.json").write_text(json.dumps(daemon))
    for _ in range(50):
        if containerd_sock.exists():
            break
        time.sleep(0.1)
    dockerd_pid = _spawn(["dockerd", "--config-file", str(run / "daemon.json"),
                          "--host", host(), "--data-root", str(data_root() / "root"),
                          "--exec-root", str(run / "exec"), "--pidfile", str(run / "dockerd.pid"),
                          "--containerd", str(containerd_sock)], run / "dockerd.log")
    (run / "pids.json").write_text(json.dumps({"containerd": containerd_pid,
                                               "dockerd": dockerd_pid}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _answers():
            log(f"rig: private Docker engine answers on {host()} "
                f"(network namespace {NETNS}, data in {data_root()})")
            return host()
        time.sleep(0.5)
    raise RigError(f"the private Docker engine did not answer within 60 s; the end of "
                   f"{run / 'dockerd.log'}:\n{_tail(run / 'dockerd.log')}",
                   fix="read the log above; `python -m kindrig docker-down` cleans up")


def _ours(pid: int) -> bool:
    """Is `pid` still the engine's process (not a reused pid of something else)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(paths.run()) in cmdline


def _kill(pid: int, timeout: float) -> None:
    if not _ours(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # reap it if it is our child
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(log=print) -> None:
    """Stop the engine and remove its network namespace. Its images stay in the cache."""
    run = paths.run()
    try:
        pids = json.loads((run / "pids.json").read_text())
    except (OSError, ValueError):
        pids = {}
    if pids.get("dockerd"):
        _kill(pids["dockerd"], 30)
    if pids.get("containerd"):
        _kill(pids["containerd"], 15)
    (run / "pids.json").unlink(missing_ok=True)
    if NETNS_PATH.exists():
        subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)
    log("rig: private Docker engine stopped")
