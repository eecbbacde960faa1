"""exec and attach over WebSocket: the channel protocols of the API server's stream translator
(v5.channel.k8s.io, v4, v3, v2, channel.k8s.io and the base64 variants).

Frames carry one channel byte then data: 0 stdin, 1 stdout, 2 stderr, 3 error (a Status JSON in
v4/v5; v1-v3 send the message text), 4 resize (``{"Width":80,"Height":24}``), and in v5 255 =
close, whose payload names the channel the client closed (stdin: EOF).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger("kubesim.dataplane")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io", "v4.base64.channel.k8s.io", "base64.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure",
            "message": f"Internal error occurred: {message}", "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}


class Channels:
    """One upgraded connection and its framing."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.protocol = ws.ws_protocol or "channel.k8s.io"
        self.b64 = "base64" in self.protocol
        self.version = int(self.protocol[1]) if self.protocol.startswith("v") else 1
        self.lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        try:
            if self.b64:
                await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
            else:
                await self.ws.send_bytes(bytes([channel]) + data)
        except (ConnectionError, RuntimeError):
            pass

    async def status(self, st: dict[str, Any]) -> None:
        if self.version >= 4:
            await self.send(ERROR, json.dumps(st).encode())
        elif st.get("status") != "Success":
            await self.send(ERROR, st.get("message", "").encode())

    def decode(self, msg: Any) -> tuple[int, bytes] | None:
        if msg.type == WSMsgType.BINARY:
            data = msg.data
            return (data[0], data[1:]) if data else None
        if msg.type == WSMsgType.TEXT:
            text = msg.data
            if not text:
                return None
            ch = ord(text[0]) - ord("0")
            body = text[1:].encode()
            return ch, (base64.b64decode(body) if self.b64 else body)
        return None


async def upgrade(request: web.Request) -> Channels:
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=16 * 1024 * 1024,
                               autoping=True, heartbeat=None)
    await ws.prepare(request)
    return Channels(ws)


async def pump_process(ch: Channels, proc: asyncio.subprocess.Process | None, *,
                       master: int | None, stdin: bool, stderr: bool,
                       on_resize: Callable[[int, int], None] | None,
                       wait: Callable[[], Awaitable[int]], kill: Callable[[], None]) -> int:
    """Move bytes between the WebSocket and a process (pipes, or a pty master fd) until it ends."""
    readers: list[asyncio.Task[None]] = []

    async def read_pipe(stream: asyncio.StreamReader | None, channel: int) -> None:
        if stream is None:
            return
        while True:
            data = await stream.read(65536)
            if not data:
                return
            await ch.send(channel, data)

    async def read_pty(fd: int) -> None:
        async for data in fd_chunks(fd):
            await ch.send(STDOUT, data)

    if master is not None:
        readers.append(asyncio.create_task(read_pty(master)))
    elif proc is not None:
        readers.append(asyncio.create_task(read_pipe(proc.stdout, STDOUT)))
        readers.append(asyncio.create_task(read_pipe(proc.stderr, STDERR if stderr else STDOUT)))

    async def read_ws() -> None:
        async for msg in ch.ws:
            dec = ch.decode(msg)
            if dec is None:
                continue
            channel, data = dec
            if channel == STDIN and stdin:
                if master is not None:
                    os.write(master, data)
                elif proc is not None and proc.stdin is not None:
                    try:
                        proc.stdin.write(data)
                        await proc.stdin.drain()
                    except (ConnectionError, RuntimeError):
                        pass
            elif channel == RESIZE and on_resize is not None:
                try:
                    size = json.loads(data)
                    on_resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                except (ValueError, TypeError, AttributeError):
                    pass
            elif channel == CLOSE and ch.version >= 5 and data[:1] == bytes([STDIN]):
                if master is not None:
                    os.write(master, b"\x04")
                elif proc is not None and proc.stdin is not None:
                    proc.stdin.close()

    ws_task = asyncio.create_task(read_ws())
    wait_task = asyncio.ensure_future(wait())
    try:
        await asyncio.wait({wait_task, ws_task}, return_when=asyncio.FIRST_COMPLETED)
        if not wait_task.done():   # the client went away: end the process, like the kubelet
            kill()
        code = await wait_task
        if readers:
            await asyncio.wait(readers, timeout=2)
    finally:
        wait_task.cancel()
        for t in readers:
            t.cancel()
        ws_task.cancel()
    return code


async def fd_chunks(fd: int) -> AsyncIterator[bytes]:
    """What a file descriptor (a pty's master side) gives, chunk by chunk, until EOF."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        q.put_nowait(data)
    loop.add_reader(fd, readable)
    try:
        while data := await q.get():
            yield data
    finally:
        loop.remove_reader(fd)
