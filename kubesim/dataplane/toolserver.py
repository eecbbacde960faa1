"""The data plane's side of the shims: a Unix socket (0600 token per pod) that runs a network
command for a pod and streams back stdout, stderr, file writes and the exit code."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import struct
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("kubesim.dataplane")
HERE = Path(__file__).parent


@dataclass
class Tool:
    """What a command gets: its pod, its arguments, and ways to answer."""

    pod: Any                       # network.Source of the calling pod
    argv: list[str]
    cwd: str
    stdin_tty: bool
    stdout_tty: bool
    stderr_tty: bool
    columns: int
    writer: asyncio.StreamWriter | None = None
    buffer: list[bytes] = field(default_factory=list)

    def _rec(self, kind: bytes, data: bytes) -> None:
        rec = kind + struct.pack(">I", len(data)) + data
        if self.writer is not None:
            self.writer.write(rec)
        else:
            self.buffer.append(rec)

    def out(self, data: str | bytes) -> None:
        self._rec(b"o", data.encode() if isinstance(data, str) else data)

    def err(self, data: str | bytes) -> None:
        self._rec(b"e", data.encode() if isinstance(data, str) else data)

    def open(self, path: str, append: bool = False) -> None:
        self._rec(b"a" if append else b"f", path.encode())

    def write(self, data: bytes) -> None:
        self._rec(b"w", data)

    def close_file(self) -> None:
        self._rec(b"c", b"")

    async def flush(self) -> None:
        if self.writer is not None:
            await self.writer.drain()


Runner = Callable[[Tool], Awaitable[int]]


async def _read_field(r: asyncio.StreamReader) -> bytes:
    n = int((await r.readline()).strip() or b"0")
    return await r.readexactly(n) if n else b""


class ToolServer:
    def __init__(self, path: Path, lookup: Callable[[str], Any],
                 run: Callable[[str, Tool], Awaitable[int]]) -> None:
        self.path = path
        self.lookup = lookup     # token -> Source or None
        self.run = run           # (command, tool) -> exit code
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o666)  # the token authenticates; the directory is not listable

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in list(self.tasks):
            t.cancel()
        self.path.unlink(missing_ok=True)

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            if await r.readline() != b"KS1\n":
                return
            token = (await _read_field(r)).decode()
            cwd = (await _read_field(r)).decode(errors="surrogateescape")
            flags = (await _read_field(r)).decode()
            argc = int((await r.readline()).strip())
            argv = [(await _read_field(r)).decode(errors="surrogateescape") for _ in range(argc)]
            src = self.lookup(token)
            tty, _, cols = flags.partition(" ")
            tool = Tool(src, argv, cwd, tty[:1] == "1", tty[1:2] == "1", tty[2:3] == "1",
                        int(cols or 0), w)
            if src is None:
                tool.err(f"{os.path.basename(argv[0])}: this pod no longer exists in the "
                         "embedded cluster\n")
                code = 127
            else:
                name = os.path.basename(argv[0]) if argv else ""
                try:
                    code = await self.run(name, tool)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - the learner sees a message, not a hang
                    log.exception("tool %s failed", argv)
                    tool.err(f"{name}: internal error in the embedded cluster: {e}\n")
                    code = 1
            tool._rec(b"x", str(code).encode())
            await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if task is not None:
                self.tasks.discard(task)
            w.close()


def build_shim(out_dir: Path) -> Path:
    """The C shim if a compiler is here (fast: ~1 ms a call), else the Python one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "kubesim-shim"
    src = (HERE / "shim.c").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubesim"
    cached = cache / f"shim-{hashlib.sha256(src).hexdigest()[:16]}"
    if os.environ.get("KUBESIM_SHIM") == "python":
        cc = None
    elif cached.exists():
        shutil.copy2(cached, target)
        return target
    else:
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc:
        try:
            done = subprocess.run([cc, "-O2", "-o", str(target), str(HERE / "shim.c")],
                                  capture_output=True, timeout=60)
            if done.returncode == 0:
                try:
                    cache.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_suffix(f".{os.getpid()}")
                    shutil.copy2(target, tmp)
                    os.replace(tmp, cached)
                except OSError:
                    pass
                return target
            log.info("could not compile the C shim (%s); using the Python one",
                     done.stderr.decode(errors="replace")[:200])
        except (OSError, subprocess.SubprocessError) as e:
            log.info("could not compile the C shim (%s); using the Python one", e)
    text = (HERE / "shim.py").read_text()
    target.write_text(f"#!{_shim_python()} -SE\n" + text)
    os.chmod(target, 0o755)
    return target


def _world_executable(path: str) -> bool:
    """Can an unprivileged user (the pods' uid when kubesim runs as root) run this?"""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & 0o001:
            return False
        parent = os.path.dirname(real)
        while parent not in ("/", ""):
            if not os.stat(parent).st_mode & 0o001:
                return False
            parent = os.path.dirname(parent)
    except OSError:
        return False
    return True


def _shim_python() -> str:
    import sys
    for cand in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if cand and os.path.exists(cand) and (os.geteuid() != 0 or _world_executable(cand)):
            return os.path.realpath(cand)
    return sys.executable
