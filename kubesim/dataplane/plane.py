"""The data plane object the server plugs in: exec/attach handlers, the container runtime hooks
(pod sandboxes and their environment), the shims' tool server and the host port mappings."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import shutil
import signal
import struct
import termios
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import errors
from ..controllers.base import EventFn
from ..kubelet.runtime import ContainerRuntime, PullFailure, StreamServer
from .attach import (
    MainProcess,
    ServerLog,
    access_line,
    attach,
    has_process,
    logs,
    nginx_startup,
)
from .envvars import container_env, service_env, visible_services
from .hostports import HostPorts
from .images import NETWORK_TOOLS, STD_PATH, image_size, profile, pull_failure
from .network import PODS, SVCS, Network, Source
from .probes import run_probe
from .sandbox import PodBox, Sandboxes, hosts_file, resolv_conf
from .streams import Channels, exit_status, internal_error, pump_process, success, upgrade
from .tools import TOOLS
from .toolserver import Tool, ToolServer, build_shim

log = logging.getLogger("kubesim.dataplane")


class DataPlane:
    def __init__(self, store: Any, runtime_dir: Path | None = None,
                 host_ports: bool = True) -> None:
        self.store = store
        self.net = Network(store)
        self.sandboxes = Sandboxes(runtime_dir)
        self.boxes: dict[str, PodBox] = {}          # pod uid -> box
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (namespace, name)
        self.env_snapshots: dict[str, list[tuple[str, str]]] = {}
        self.tools = ToolServer(self.sandboxes.root / "tools.sock", self._source_for_token,
                                self._run_tool)
        self.host_ports = _host_ports(self) if host_ports else None
        self.sessions: set[asyncio.Task[Any]] = set()
        self.processes: dict[tuple[str, str], MainProcess] = {}
        self.pod_sessions: dict[str, set[asyncio.Task[Any]]] = {}
        self.exec_kills: dict[asyncio.Task[Any], Callable[[], None]] = {}  # session -> kill
        self.server_logs: dict[tuple[str, str], ServerLog] = {}
        self.net.on_access = self._on_access
        self.broken = ""
        # the kubelet's event recorder (set by the controllers): Events for restarts the
        # runtime makes when a main process exits
        self.recorder: EventFn | None = None
        self.box_lock = threading.Lock()

    # ---- lifecycle ----
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.sandboxes.shim = await loop.run_in_executor(
                None, build_shim, self.sandboxes.root / "shim")
            await loop.run_in_executor(None, self.sandboxes.detect)
            await self.tools.start()
        except Exception as e:  # noqa: BLE001 - the API server must still come up
            log.exception("the data plane could not start; exec will answer with the reason")
            self.broken = f"{type(e).__name__}: {e}"
        if self.host_ports is not None:
            self.store.listeners.append(self.host_ports.on_change)
            await self.host_ports.sync()

    async def stop(self) -> None:
        for t in list(self.sessions):
            t.cancel()
        for mp in self.processes.values():
            mp.kill()
        if self.host_ports is not None:
            await self.host_ports.close()
        await self.tools.stop()
        self.sandboxes.close()

    # ---- kubelet hooks (ContainerRuntime) ----
    def started(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"].get("uid", "")
        self.env_snapshots[uid] = service_env(visible_services(pod, self.store.list(SVCS)))
        for c in pod["spec"].get("containers") or []:
            if profile(c.get("image", "")).server in ("nginx", "echo"):
                read_only = any(m.get("mountPath", "").startswith("/etc/nginx")
                                for m in c.get("volumeMounts") or [])
                self._server_log(pod, c["name"]).add(nginx_startup(read_only))
            if has_process(c):
                mp = self.main_process(pod, c)
                if mp is not None and not c.get("stdin"):
                    mp.start()   # stdin containers start when `kubectl run -i` attaches

    def _server_log(self, pod: dict[str, Any], container: str) -> ServerLog:
        key = (pod["metadata"].get("uid", ""), container)
        if key not in self.server_logs:
            self.server_logs[key] = ServerLog()
        return self.server_logs[key]

    def _on_access(self, lis: Any, req: Any, resp: Any, client_ip: str) -> None:
        if lis.kind in ("nginx", "echo") and lis.pod.get("metadata", {}).get("uid"):
            self._server_log(lis.pod, lis.container.get("name", "")).add(
                access_line(req, resp, client_ip))

    def main_process(self, pod: dict[str, Any], container: dict[str, Any]) -> MainProcess | None:
        if not has_process(container):
            return None
        key = (pod["metadata"].get("uid", ""), container["name"])
        mp = self.processes.get(key)
        if mp is None:
            mp = self.processes[key] = MainProcess(self, pod, container)
        return mp

    async def logs(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        return await logs(self, request, self.store.get(PODS, ns, name))

    def stopped(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"].get("uid", "")
        self.env_snapshots.pop(uid, None)
        for key in [k for k in self.processes if k[0] == uid]:
            self.processes.pop(key).kill()
        for key in [k for k in self.server_logs if k[0] == uid]:
            gone = self.server_logs.pop(key)
            gone.closed = True
            gone.add("")   # wakes followers; the log goes with the pod
        for task in self.pod_sessions.pop(uid, set()):
            kill = self.exec_kills.get(task)
            if kill is not None:
                kill()   # the container's processes die with it: the exec ends with 137
            else:
                task.cancel()   # the container is gone: its sessions end with it
        box = self.boxes.pop(uid, None)
        if box is not None:
            self.tokens.pop(box.token, None)
            self.sandboxes.remove(box)

    # ---- the kubelet's image pulls, probes and container restarts (ContainerRuntime) ----
    def use_recorder(self, record: EventFn) -> None:
        self.recorder = record

    def pull_failure(self, image: str) -> PullFailure | None:
        return pull_failure(image)

    def image_size(self, image: str) -> int:
        return image_size(image)

    async def probe(self, pod: dict[str, Any], container: dict[str, Any],
                    probe: dict[str, Any]) -> tuple[bool, str]:
        return await run_probe(self, pod, container, probe)

    def stops_on_sigterm(self, container: dict[str, Any]) -> bool:
        """Servers exit 0 on SIGTERM; a shell (PID 1 without a handler) waits for SIGKILL."""
        return profile(container.get("image", "")).server is not None

    def kill_container(self, pod: dict[str, Any], name: str) -> None:
        mp = self.processes.get((pod["metadata"].get("uid", ""), name))
        if mp is not None:
            mp.stop_quietly()

    def start_container(self, pod: dict[str, Any], name: str) -> None:
        c = next((c for c in pod["spec"].get("containers") or [] if c["name"] == name), None)
        if c is None:
            return
        if profile(c.get("image", "")).server in ("nginx", "echo"):
            read_only = any(m.get("mountPath", "").startswith("/etc/nginx")
                            for m in c.get("volumeMounts") or [])
            self._server_log(pod, name).add(nginx_startup(read_only))
        mp = self.main_process(pod, c)
        if mp is not None:
            mp.respawn()

    def _service_env(self, pod: dict[str, Any]) -> list[tuple[str, str]]:
        uid = pod["metadata"].get("uid", "")
        if uid not in self.env_snapshots:
            # the server restarted since the container started: the Services that existed then
            started = ((pod.get("status") or {}).get("startTime") or "~")
            svcs = [s for s in self.store.list(SVCS)
                    if s["metadata"].get("creationTimestamp", "") <= started]
            self.env_snapshots[uid] = service_env(visible_services(pod, svcs))
        return self.env_snapshots[uid]

    def box_for(self, pod: dict[str, Any]) -> PodBox:
        # executor threads ask at once (a main process starting, an exec probe): one builds
        with self.box_lock:
            return self._box_for(pod)

    def _box_for(self, pod: dict[str, Any]) -> PodBox:
        md = pod["metadata"]
        uid = md.get("uid", "")
        box = self.boxes.get(uid)
        if box is None:
            box = self.sandboxes.box(md.get("namespace", ""), md["name"], uid)
            tools = list(NETWORK_TOOLS)
            ip = (pod.get("status") or {}).get("podIP", "")
            hostname = (pod.get("spec") or {}).get("hostname") or md["name"]
            self.sandboxes.prepare(box, self.tools.path, {
                "etc/resolv.conf": resolv_conf(md.get("namespace", "default")),
                "etc/hosts": hosts_file(ip, md["name"], hostname),
                "etc/hostname": hostname + "\n"}, tools)
            self.boxes[uid] = box
            self.tokens[box.token] = (md.get("namespace", ""), md["name"])
        return box

    def _source_for_token(self, token: str) -> Source | None:
        key = self.tokens.get(token)
        if key is None:
            return None
        pod = self.store.find(PODS, key[0], key[1])
        if pod is None:
            return None
        return self.net.source_for_pod(pod)

    async def _run_tool(self, name: str, tool: Tool) -> int:
        src: Source = tool.pod
        image = src.image
        if name in NETWORK_TOOLS and image is not None and name not in image.tools \
                and name != "hostname":
            tool.err(f"/bin/sh: 1: {name}: not found\n")
            return 127
        fn = TOOLS.get(name)
        if fn is None:
            tool.err(f"/bin/sh: 1: {name}: not found\n")
            return 127
        return await fn(self.net, tool)

    # ---- exec / attach ----
    async def handle(self, request: web.Request, ns: str, name: str,
                     sub: str) -> web.StreamResponse:
        pod = self.store.get(PODS, ns, name)
        if self.broken:
            raise errors.internal(f"the embedded cluster's data plane did not start "
                                  f"({self.broken}); see server.log in the state directory")
        q = request.query
        containers = pod["spec"].get("containers") or []
        cname = q.get("container") or (containers[0]["name"] if containers else "")
        container = next((c for c in containers if c["name"] == cname), None)
        if container is None:
            raise errors.bad_request(f"container {cname} is not valid for pod {name}")
        if not pod["spec"].get("nodeName"):
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        st = pod.get("status") or {}
        running = any(cs.get("name") == cname and "running" in (cs.get("state") or {})
                      for cs in st.get("containerStatuses") or [])
        if not running:
            raise errors.bad_request(f'container not found ("{cname}")')
        command = q.getall("command", [])
        if sub == "exec" and not command:
            raise errors.bad_request("you must specify at least 1 command")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.APIError(
                400, "BadRequest",
                "Upgrade request required: the embedded cluster streams exec and attach over "
                "WebSocket (v5.channel.k8s.io), as kubectl 1.31+ and the Python client do",
                {"name": name, "kind": "pods"})
        tty = q.get("tty") in ("true", "1")
        stdin = q.get("stdin") in ("true", "1")
        stderr = q.get("stderr") in ("true", "1") and not tty
        ch = await upgrade(request)
        task = asyncio.current_task()
        uid = pod["metadata"].get("uid", "")
        if task is not None:
            self.sessions.add(task)
            self.pod_sessions.setdefault(uid, set()).add(task)
        try:
            if sub == "attach":
                await self._attach(ch, pod, container, stdin, tty)
            else:
                await self._exec(ch, pod, container, command, stdin, stderr, tty)
        finally:
            if task is not None:
                self.sessions.discard(task)
                self.pod_sessions.get(uid, set()).discard(task)
            await ch.ws.close()
        return ch.ws

    def _resolve(self, pod: dict[str, Any], container: dict[str, Any], argv0: str,
                 box: PodBox) -> str | None:
        """The path the container would exec, or None (with the runtime's message)."""
        image = profile(container.get("image", ""))
        base = os.path.basename(argv0)
        if base in NETWORK_TOOLS:
            if base not in image.tools and base != "hostname":
                return None
            return argv0 if "/" in argv0 else str(box.bin / base) \
                if self.sandboxes.mode != "namespaces" else f"/usr/local/sbin/{base}"
        if base == "bash" and not image.bash:
            return None
        if "/" in argv0:
            here = "/" if self.sandboxes.mode == "namespaces" else str(box.root)
            if argv0.startswith("/tmp/") or argv0.startswith("/root/"):
                seen = str(box.root / argv0.lstrip("/"))   # the pod's own /tmp and /root
            else:
                seen = os.path.join(here, argv0)
            return argv0 if os.path.exists(seen) else None
        return shutil.which(argv0, path=STD_PATH)

    async def _exec(self, ch: Channels, pod: dict[str, Any], container: dict[str, Any],
                    command: list[str], stdin: bool, stderr: bool, tty: bool) -> None:
        box = await asyncio.get_running_loop().run_in_executor(None, self.box_for, pod)
        exe = self._resolve(pod, container, command[0], box)
        if exe is None:
            exec_id = secrets.token_hex(32)
            why = (f"stat {command[0]}: no such file or directory" if "/" in command[0]
                   else "executable file not found in $PATH")
            await ch.status(internal_error(
                f'error executing command in container: failed to exec in container: failed to '
                f'start exec "{exec_id}": OCI runtime exec failed: exec failed: unable to start '
                f'container process: exec: "{command[0]}": {why}: unknown'))
            return
        image = profile(container.get("image", ""))
        env = container_env(pod, container, image, self._service_env(pod),
                            self.sandboxes.path_for(box), tty)
        if self.sandboxes.mode != "namespaces":
            env["HOME"] = str(box.root / "root")
        code = await self.run_process(ch, box, [exe] + command[1:], env, stdin, stderr, tty)
        if code < 0:
            code = 128 - code   # killed by signal N: the runtime reports 128 + N
        await ch.status(success() if code == 0 else exit_status(code, command))

    async def run_process(self, ch: Channels, box: PodBox, argv: list[str],
                          env: dict[str, str], stdin: bool, stderr: bool, tty: bool) -> int:
        master = slave = None
        if tty:
            master, slave = os.openpty()
        pre = self.sandboxes.preexec(box, slave)

        def setsid_then(pre: Any = pre) -> None:
            if slave is None:
                os.setsid()
            pre()

        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=self.sandboxes.cwd_for(box), preexec_fn=setsid_then,
            stdin=slave if tty else (asyncio.subprocess.PIPE if stdin
                                     else asyncio.subprocess.DEVNULL),
            stdout=slave if tty else asyncio.subprocess.PIPE,
            stderr=slave if tty else asyncio.subprocess.PIPE)
        if slave is not None:
            os.close(slave)

        def resize(w: int, h: int) -> None:
            if master is not None and w > 0 and h > 0:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        task = asyncio.current_task()
        if task is not None:
            self.exec_kills[task] = kill
        try:
            return await pump_process(ch, proc, master=master, stdin=stdin, stderr=stderr,
                                      on_resize=resize, wait=proc.wait, kill=kill)
        finally:
            if task is not None:
                self.exec_kills.pop(task, None)
            if proc.returncode is None:
                kill()
            if master is not None:
                os.close(master)

    async def _attach(self, ch: Channels, pod: dict[str, Any], container: dict[str, Any],
                      stdin: bool, tty: bool) -> None:
        await attach(self, ch, pod, container, stdin, tty)


def _host_ports(plane: DataPlane) -> HostPorts | None:
    """``KUBESIM_HOST_PORTS``: unset for kind's mappings (31001-31005, 8080 -> 80), ``off``, or
    ``HOST:NODEPORT,...`` (e.g. ``41001:31001`` when 31001 is taken on this machine)."""
    spec = os.environ.get("KUBESIM_HOST_PORTS", "").strip()
    if spec.lower() in ("off", "0", "false", "no"):
        return None
    if not spec:
        return HostPorts(plane)
    pairs = {}
    for item in spec.split(","):
        host, _, node = item.partition(":")
        pairs[int(host)] = int(node or host)
    return HostPorts(plane, pairs)


if TYPE_CHECKING:  # mypy checks the data plane against both seams it fills
    def _seams(p: DataPlane) -> tuple[ContainerRuntime, StreamServer]:
        return p, p
