"""Probes as the kubelet runs them, answered by the network model and the pod's sandbox.

httpGet: a 2xx/3xx answer passes, another status fails with "HTTP probe failed with statuscode:
N", nothing listening fails with Go's dial error; tcpSocket: something listens; exec: the command
runs in the pod's sandbox (client images, whose main process is modelled: ``cat /tmp/healthy``
sees the files that process wrote) and passes on exit 0, else its output is the failure; exec
probes of server images (nginx, ...) pass, since their files are not modelled; grpc: something
listens. The words are the kubelet's (pkg/probe/http, tcp, exec)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .containers import Request, respond
from .envvars import container_env
from .images import profile
from .network import bridge_ip


def _port(container: dict[str, Any], port: Any) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    return next((int(p["containerPort"]) for p in container.get("ports") or []
                 if p.get("name") == port and p.get("containerPort")), None)


async def run_probe(plane: Any, pod: dict[str, Any], container: dict[str, Any],
                    probe: dict[str, Any]) -> tuple[bool, str]:
    """One probe run: (passed, output as the kubelet words it)."""
    st = pod.get("status") or {}
    ip = st.get("podIP", "")
    if isinstance(probe.get("exec"), dict):
        return await _exec(plane, pod, container, probe)
    action = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
    if not isinstance(action, dict):
        return True, ""
    port = _port(container, action.get("port"))
    if port is None:
        return False, f"unable to find port {action.get('port')!r} in container {container['name']}"
    host = action.get("host") or ip
    lis = plane.net.listener(pod, port) if host == ip else None
    refused = f"dial tcp {host}:{port}: connect: connection refused"
    if probe.get("grpc"):
        if lis is None:
            return False, f'timeout: failed to connect service "{host}:{port}" within ' \
                          f'{probe.get("timeoutSeconds", 1)}s: context deadline exceeded'
        return True, ""
    if probe.get("tcpSocket"):
        return (True, "") if lis is not None else (False, refused)
    scheme = (action.get("scheme") or "HTTP").lower()
    path = action.get("path") or "/"
    url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    if lis is None:
        return False, f'Get "{url}": {refused}'
    headers = [("Host", f"{host}:{port}"), ("User-Agent", "kube-probe/1.37"),
               ("Accept", "*/*")]
    for h in action.get("httpHeaders") or []:
        headers = [x for x in headers if x[0].lower() != str(h.get("name", "")).lower()]
        headers.append((str(h.get("name", "")), str(h.get("value", ""))))
    req = Request("GET", path, next(v for k, v in headers if k.lower() == "host"), headers)
    client = bridge_ip((pod.get("spec") or {}).get("nodeName", ""))
    resp = respond(lis, req, client, ip)
    plane.net.access_log(lis, req, resp, client)   # nginx logs the kube-probe requests
    code = resp.status
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _exec(plane: Any, pod: dict[str, Any], container: dict[str, Any],
                probe: dict[str, Any]) -> tuple[bool, str]:
    command = [str(a) for a in probe["exec"].get("command") or []]
    image = profile(container.get("image", ""))
    if not command or image.server is not None or plane.broken:
        return True, ""
    loop = asyncio.get_running_loop()
    box = await loop.run_in_executor(None, plane.box_for, pod)
    exe = plane._resolve(pod, container, command[0], box)
    if exe is None:
        why = (f"stat {command[0]}: no such file or directory" if "/" in command[0]
               else "executable file not found in $PATH")
        return False, (f"OCI runtime exec failed: exec failed: unable to start container "
                       f'process: exec: "{command[0]}": {why}: unknown')
    env = container_env(pod, container, image, plane._service_env(pod),
                        plane.sandboxes.path_for(box), False)
    pre = plane.sandboxes.preexec(box, None)

    def setup() -> None:
        os.setsid()
        pre()
    proc = await asyncio.create_subprocess_exec(
        command[0], *command[1:], executable=exe, env=env, cwd=plane.sandboxes.cwd_for(box), preexec_fn=setup,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    timeout = max(float(probe.get("timeoutSeconds") or 1), 1.0)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        return False, f'command "{" ".join(command)}" timed out'
    if proc.returncode == 0:
        return True, ""
    return False, out.decode(errors="replace")
