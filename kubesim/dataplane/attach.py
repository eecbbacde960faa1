"""Containers' main processes, attach and logs.

A container of a client image (busybox, curl, tools, ...) with a command runs it in the pod's
sandbox when the pod starts; with ``stdin: true`` (``kubectl run -i``) it starts when the first
client attaches, so the learner sees its output. Output is kept as the container's log. When it
exits the pod's status records the exit code and, with restartPolicy Never/OnFailure, the phase
becomes Succeeded or Failed, which ``kubectl run --rm -i`` waits for. Server images (nginx, ...)
have no process here: attaching to them shows nothing until the client leaves, like an idle
nginx."""

from __future__ import annotations

import asyncio
import copy
import fcntl
import logging
import os
import signal
import struct
import subprocess
import termios
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ..kubelet import Timing, go_duration, pod_ref
from .envvars import container_env
from .images import image_size, profile
from .network import PODS
from .streams import STDERR, STDIN, STDOUT, Channels, fd_chunks, success

log = logging.getLogger("kubesim.dataplane")
MAX_LOG = 1024 * 1024


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def has_process(container: dict[str, Any]) -> bool:
    image = profile(container.get("image", ""))
    return image.server is None and bool(container.get("command") or container.get("args")
                                         or container.get("stdin") or image.exits)


class MainProcess:
    def __init__(self, plane: Any, pod: dict[str, Any], container: dict[str, Any]) -> None:
        self.plane = plane
        self.ns = pod["metadata"].get("namespace", "")
        self.pod_name = pod["metadata"]["name"]
        self.uid = pod["metadata"].get("uid", "")
        self.container = container
        self.log = bytearray()
        self.subscribers: set[Channels] = set()
        self.proc: asyncio.subprocess.Process | None = None
        self.master: int | None = None
        self.code: int | None = None
        self.done = asyncio.Event()
        self.changed = asyncio.Event()
        self.started = False
        self.task: asyncio.Task[None] | None = None
        self.pending: list[bytes | None] = []
        self.exits = 0
        self.previous = b""
        self.restart_timer: asyncio.TimerHandle | None = None
        self.quiet = False     # stopped by the kubelet: the exit is not this process's to record

    @property
    def argv(self) -> list[str]:
        c = self.container
        image = profile(c.get("image", ""))
        if c.get("command"):
            return list(c["command"]) + list(c.get("args") or [])
        return list(image.entrypoint) + list(c.get("args") or image.cmd)

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        pod = self.plane.store.find(PODS, self.ns, self.pod_name)
        if pod is None:
            return
        c = self.container
        tty = bool(c.get("tty"))
        box = await asyncio.get_running_loop().run_in_executor(None, self.plane.box_for, pod)
        argv = self.argv
        exe = self.plane._resolve(pod, c, argv[0], box)
        if exe is None:
            self._emit(STDERR, f'exec: "{argv[0]}": executable file not found in $PATH\n'.encode())
            await self._finish(128)
            return
        env = container_env(pod, c, profile(c.get("image", "")), self.plane._service_env(pod),
                            self.plane.sandboxes.path_for(box), tty)
        slave = None
        if tty:
            self.master, slave = os.openpty()
        pre = self.plane.sandboxes.preexec(box, slave)

        def setup() -> None:
            if slave is None:
                os.setsid()
            pre()
        pipe = asyncio.subprocess.PIPE
        try:
            self.proc = await asyncio.create_subprocess_exec(
                exe, *argv[1:], env=env, cwd=self.plane.sandboxes.cwd_for(box),
                preexec_fn=setup, stdin=slave if tty else (pipe if c.get("stdin") else
                                                           asyncio.subprocess.DEVNULL),
                stdout=slave if tty else pipe, stderr=slave if tty else pipe)
        except (OSError, subprocess.SubprocessError) as e:
            # the pod's sandbox can go away between building it and starting the process (a
            # pod deleted as it starts); otherwise the container fails like a runtime's would
            gone = self.plane.store.find(PODS, self.ns, self.pod_name)
            if gone is not None and not gone["metadata"].get("deletionTimestamp"):
                log.warning("cannot start the main process of %s/%s: %s", self.ns,
                            self.pod_name, e)
                self._emit(STDERR, f"cannot start container process: {e}\n".encode())
            await self._finish(128)
            return
        finally:
            if slave is not None:
                os.close(slave)
        for item in self.pending:
            if item is None:
                self.close_stdin()
            else:
                self.write_stdin(item)
        self.pending.clear()
        readers = []
        if self.master is not None:
            readers.append(asyncio.create_task(self._read_fd(self.master)))
        else:
            readers.append(asyncio.create_task(self._read(self.proc.stdout, STDOUT)))
            readers.append(asyncio.create_task(self._read(self.proc.stderr, STDERR)))
        code = await self.proc.wait()
        await asyncio.wait(readers, timeout=2)
        await self._finish(code)

    async def _read(self, stream: asyncio.StreamReader | None, channel: int) -> None:
        while stream is not None:
            data = await stream.read(65536)
            if not data:
                return
            self._emit(channel, data)

    async def _read_fd(self, fd: int) -> None:
        async for data in fd_chunks(fd):
            self._emit(STDOUT, data)

    def _emit(self, channel: int, data: bytes) -> None:
        self.log += data
        if len(self.log) > MAX_LOG:
            del self.log[: len(self.log) - MAX_LOG]
        for ch in list(self.subscribers):
            asyncio.ensure_future(ch.send(channel, data))
        self.changed.set()
        self.changed = asyncio.Event()

    async def _finish(self, code: int) -> None:
        self.code = code
        if self.master is not None:
            os.close(self.master)
            self.master = None
        for ch in list(self.subscribers):
            # attach reports no exit code: kubectl reads it from the pod's status
            await ch.status(success())
        self.done.set()
        self.changed.set()
        if not self.quiet:
            self._record_exit(code)

    def _record_exit(self, code: int) -> None:
        store = self.plane.store
        pod = store.find(PODS, self.ns, self.pod_name)
        if pod is None or pod["metadata"].get("uid") != self.uid:
            return
        new = copy.deepcopy(pod)
        st = new.setdefault("status", {})
        now = _now()
        for cs in st.get("containerStatuses") or []:
            if cs.get("name") == self.container["name"]:
                started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
                cs["state"] = {"terminated": {
                    "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                    "startedAt": started, "finishedAt": now,
                    "containerID": cs.get("containerID", "")}}
                cs["ready"] = False
                cs["started"] = False
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            self._back_off(new, now)
            return
        statuses = st.get("containerStatuses") or []
        all_done = all("terminated" in (cs.get("state") or {}) for cs in statuses)
        if all_done and policy in ("Never", "OnFailure"):
            failed = any(cs["state"]["terminated"]["exitCode"] != 0 for cs in statuses)
            if not (failed and policy == "OnFailure"):
                st["phase"] = "Failed" if failed else "Succeeded"
                for cond in st.get("conditions") or []:
                    if cond.get("type") in ("Ready", "ContainersReady"):
                        cond.update(status="False", reason="PodCompleted",
                                    lastTransitionTime=now)
                    if cond.get("type") == "PodReadyToStartContainers":
                        cond.update(status="False", lastTransitionTime=now)
        try:
            store.update(PODS, new)
        except Exception:  # noqa: BLE001 - the pod changed meanwhile; its status stays
            log.info("could not record the exit of %s/%s", self.ns, self.pod_name)

    def _event(self, pod: dict[str, Any], etype: str, reason: str, message: str) -> None:
        if self.plane.recorder is not None:
            self.plane.recorder(pod, etype, reason, message, "kubelet",
                                (pod.get("spec") or {}).get("nodeName"), self.container["name"])

    def _back_off(self, pod: dict[str, Any], now: str) -> None:
        """The kubelet restarts the container: at once the first time, then after 10 s, 20 s,
        40 s ... up to 5 minutes (KUBESIM_BACKOFF_SECONDS scales them), showing CrashLoopBackOff
        meanwhile."""
        self.exits += 1
        delay = 0.0 if self.exits == 1 else Timing.from_env().back_off(self.exits - 1)
        name = self.container["name"]
        st = pod["status"]
        for cs in st.get("containerStatuses") or []:
            if cs.get("name") == name:
                cs["lastState"] = {"terminated": cs["state"]["terminated"]}
                if delay:
                    cs["state"] = {"waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {go_duration(delay)} restarting failed "
                                   f"container={name} pod={pod_ref(pod)}"}}
                    self._event(pod, "Warning", "BackOff", f"Back-off restarting failed "
                                f"container {name} in pod {pod_ref(pod)}")
        for cond in st.get("conditions") or []:
            if cond.get("type") in ("Ready", "ContainersReady") and cond.get("status") == "True":
                cond.update(status="False", reason="ContainersNotReady", lastTransitionTime=now,
                            message=f"containers with unready status: [{name}]")
        try:
            self.plane.store.update(PODS, pod)
        except Exception:  # noqa: BLE001
            return
        self.restart_timer = asyncio.get_running_loop().call_later(delay, self._restart)

    def _restart(self) -> None:
        pod = self.plane.store.find(PODS, self.ns, self.pod_name)
        if pod is None or pod["metadata"].get("uid") != self.uid:
            return
        new = copy.deepcopy(pod)
        now = _now()
        for cs in new["status"].get("containerStatuses") or []:
            if cs.get("name") == self.container["name"]:
                cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
                cs["state"] = {"running": {"startedAt": now}}
                cs["ready"] = not self.container.get("readinessProbe")
                cs["started"] = True
        if all(cs.get("ready") for cs in new["status"].get("containerStatuses") or []):
            for cond in new["status"].get("conditions") or []:
                if cond.get("type") in ("Ready", "ContainersReady"):
                    cond.update(status="True", lastTransitionTime=now)
                    cond.pop("reason", None)
                    cond.pop("message", None)
        self.previous = bytes(self.log)
        self.log = bytearray()
        self.started, self.code, self.proc = False, None, None
        self.done = asyncio.Event()
        try:
            self.plane.store.update(PODS, new)
        except Exception:  # noqa: BLE001
            return
        image = self.container.get("image", "")
        if self.container.get("imagePullPolicy") == "Always":
            secs = go_duration(Timing.from_env().start)
            self._event(new, "Normal", "Pulling", f'Pulling image "{image}"')
            self._event(new, "Normal", "Pulled", f'Successfully pulled image "{image}" in {secs} '
                        f"({secs} including waiting). Image size: {image_size(image)} bytes.")
        else:
            self._event(new, "Normal", "Pulled", f'Container image "{image}" already present '
                        f"on machine and can be accessed by the pod")
        self._event(new, "Normal", "Created", f"Created container: {self.container['name']}")
        self._event(new, "Normal", "Started", f"Started container {self.container['name']}")
        self.start()

    def stop_quietly(self) -> None:
        """The kubelet kills the container (a failed liveness probe): no exit to record."""
        self.quiet = True
        self.kill()

    def respawn(self) -> None:
        """The kubelet starts the container again: this output becomes ``logs --previous``."""
        async def again() -> None:
            if self.task is not None and not self.task.done():
                self.quiet = True
                self.kill()
                await asyncio.wait([self.task], timeout=5)
            self.quiet = False
            self.previous = bytes(self.log)
            self.log = bytearray()
            self.started, self.code, self.proc = False, None, None
            self.done = asyncio.Event()
            self.start()
        asyncio.get_running_loop().create_task(again())

    def write_stdin(self, data: bytes) -> None:
        if self.proc is None:   # not spawned yet: keep it for the process
            self.pending.append(data)
            return
        if self.master is not None:
            os.write(self.master, data)
        elif self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(data)
            except (ConnectionError, RuntimeError):
                pass

    def close_stdin(self) -> None:
        if self.proc is None:
            self.pending.append(None)
            return
        if self.master is not None:
            os.write(self.master, b"\x04")
        elif self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, w: int, h: int) -> None:
        if self.master is not None and w > 0 and h > 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

    def kill(self) -> None:
        if self.restart_timer is not None:
            self.restart_timer.cancel()
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


async def attach(plane: Any, ch: Channels, pod: dict[str, Any], container: dict[str, Any],
                 stdin: bool, tty: bool) -> None:
    mp = plane.main_process(pod, container)
    if mp is None:   # a server image: nothing to show until the client leaves
        async for _ in ch.ws:
            pass
        return
    if mp.done.is_set():
        await ch.status(success())
        return
    mp.subscribers.add(ch)
    mp.start()
    try:
        async def pump_in() -> None:
            import json
            async for msg in ch.ws:
                dec = ch.decode(msg)
                if dec is None:
                    continue
                channel, data = dec
                if channel == STDIN and stdin:
                    mp.write_stdin(data)
                elif channel == 4:
                    try:
                        size = json.loads(data)
                        mp.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                    except (ValueError, TypeError, AttributeError):
                        pass
                elif channel == 255 and data[:1] == b"\x00" and \
                        mp.container.get("stdinOnce") is not False:
                    mp.close_stdin()
        reader = asyncio.create_task(pump_in())
        waiter = asyncio.create_task(mp.done.wait())
        await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        waiter.cancel()
    finally:
        mp.subscribers.discard(ch)


async def logs(plane: Any, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    q = request.query
    containers = pod["spec"].get("containers") or []
    cname = q.get("container") or (containers[0]["name"] if containers else "")
    container = next((c for c in containers if c["name"] == cname), None)
    from .. import errors
    if container is None:
        raise errors.bad_request(f"container {cname} is not valid for pod "
                                 f"{pod['metadata']['name']}")
    mp = plane.processes.get((pod["metadata"].get("uid", ""), cname))
    restarted = any(cs.get("name") == cname and (cs.get("lastState") or {}).get("terminated")
                    for cs in (pod.get("status") or {}).get("containerStatuses") or [])
    previous = q.get("previous") in ("true", "1")
    if previous and not restarted and (mp is None or not mp.exits):
        raise errors.bad_request(f'previous terminated container "{cname}" in pod '
                                 f'"{pod["metadata"]["name"]}" not found')
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await resp.prepare(request)
    if mp is None and previous:   # a server's earlier run: its log is not kept
        await resp.write_eof()
        return resp
    if mp is None:
        server_log = plane.server_logs.get((pod["metadata"].get("uid", ""), cname))
        data = bytes(server_log.data) if server_log else b""
        tail = q.get("tailLines")
        if tail and tail.isdigit():
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[len(lines) - int(tail):]) if int(tail) else b""
        await resp.write(data)
        if server_log is not None and q.get("follow") in ("true", "1"):
            sent = len(server_log.data)
            while not server_log.closed:   # until the client goes away or the pod stops
                await server_log.changed.wait()
                await resp.write(bytes(server_log.data[sent:]))
                sent = len(server_log.data)
        await resp.write_eof()
        return resp
    sent = len(mp.log)
    data = bytes(mp.log)
    if q.get("previous") in ("true", "1"):
        # the last terminated run: the current buffer while waiting to restart
        data = bytes(mp.log) if mp.done.is_set() else mp.previous
    tail = q.get("tailLines")
    if tail and tail.lstrip("-").isdigit() and int(tail) >= 0:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[len(lines) - int(tail):]) if int(tail) else b""
    await resp.write(data)
    if q.get("follow") in ("true", "1"):
        while not mp.done.is_set():
            changed = mp.changed
            await changed.wait()
            if len(mp.log) > sent:
                await resp.write(bytes(mp.log[sent:]))
                sent = len(mp.log)
    await resp.write_eof()
    return resp


class ServerLog:
    """A server container's log: nginx's start-up lines and one access line per request."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = asyncio.Event()
        self.closed = False

    def add(self, text: str) -> None:
        self.data += text.encode()
        if len(self.data) > MAX_LOG:
            del self.data[: len(self.data) - MAX_LOG]
        self.changed.set()
        self.changed = asyncio.Event()


def nginx_startup(read_only_conf: bool) -> str:
    ts = datetime.now(timezone.utc).strftime("%Y/%m/%d %H:%M:%S")
    ipv6 = ("10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/"
            "default.conf (read-only file system?)\n" if read_only_conf else
            "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/"
            "default.conf\n10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in "
            "/etc/nginx/conf.d/default.conf\n")
    return ("/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform "
            "configuration\n/docker-entrypoint.sh: Looking for shell scripts in "
            "/docker-entrypoint.d/\n/docker-entrypoint.sh: Launching /docker-entrypoint.d/"
            f"10-listen-on-ipv6-by-default.sh\n{ipv6}/docker-entrypoint.sh: Sourcing "
            "/docker-entrypoint.d/15-local-resolvers.envsh\n/docker-entrypoint.sh: Launching "
            "/docker-entrypoint.d/20-envsubst-on-templates.sh\n/docker-entrypoint.sh: Launching "
            "/docker-entrypoint.d/30-tune-worker-processes.sh\n/docker-entrypoint.sh: "
            "Configuration complete; ready for start up\n"
            f'{ts} [notice] 1#1: using the "epoll" event method\n'
            f"{ts} [notice] 1#1: nginx/1.29.4\n"
            f"{ts} [notice] 1#1: built by gcc 14.2.0 (Debian 14.2.0-19)\n"
            f"{ts} [notice] 1#1: OS: Linux\n"
            f"{ts} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576\n"
            f"{ts} [notice] 1#1: start worker processes\n"
            f"{ts} [notice] 1#1: start worker process 29\n")


def access_line(req: Any, resp: Any, client_ip: str) -> str:
    when = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    size = 0 if req.method == "HEAD" else len(resp.body)
    return (f'{client_ip} - - [{when}] "{req.method} {req.target} HTTP/1.1" {resp.status} {size} '
            f'"{req.header("Referer") or "-"}" "{req.header("User-Agent") or "-"}" '
            f'"{req.header("X-Forwarded-For") or "-"}"\n')
