"""A directory per pod and the way a pod's processes are started.

With Linux user + mount + UTS namespaces (no privileges needed) a pod's shell sees its own /tmp,
/etc/resolv.conf, /etc/hosts, /etc/hostname and hostname, the network commands are the data
plane's shims wherever they are called from, and it cannot write the host's files (it runs as an
unprivileged user mapped to root, like a container). Where namespaces are not available the
shell runs in the pod directory with the shims first on PATH (``mode == "plain"``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .images import NETWORK_TOOLS, STD_PATH

log = logging.getLogger("kubesim.dataplane")

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 262144
PR_SET_DUMPABLE = 4
NOBODY = 65534
SHIM_DIR_IN_POD = "/usr/local/sbin"   # first on the images' PATH and empty in them
HOST_TOOL_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")


@dataclass
class PodBox:
    key: str                 # namespace/name/uid8
    root: Path
    token: str
    hostname: str

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def etc(self) -> Path:
        return self.root / "etc"


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class Sandboxes:
    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            _remove_stale(Path(tempfile.gettempdir()))
        self.root = Path(root or tempfile.mkdtemp(prefix="kubesim-pods-"))
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "pid").write_text(str(os.getpid()))
        os.chmod(self.root, 0o711)
        self.drop_to = NOBODY if os.geteuid() == 0 else None
        self.mode = "plain"
        self.shim: Path | None = None
        self.socket_path: Path | None = None

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- pods ----
    def box(self, ns: str, name: str, uid: str) -> PodBox:
        key = f"{ns}_{name}_{uid.replace('-', '')[:8]}"
        root = self.root / "pods" / key
        tok_file = root / "bin" / ".kubesim"
        token = ""
        if tok_file.exists():
            token = tok_file.read_text().split("\n")[1]
        return PodBox(key, root, token, name)

    def prepare(self, box: PodBox, socket_path: Path, files: dict[str, str],
                tools: list[str]) -> PodBox:
        """Create (or refresh) the pod's directory: shims, identity, /etc files, /tmp."""
        for d in (box.bin, box.tmp, box.etc, box.root / "root"):
            d.mkdir(parents=True, exist_ok=True)
        if not box.token:
            box.token = secrets.token_urlsafe(24)
        ident = box.bin / ".kubesim"
        tmp = ident.with_suffix(".new")
        sock = f"{SHIM_DIR_IN_POD}/.sock" if self.mode == "namespaces" else str(socket_path)
        (box.bin / ".sock").touch()
        self.socket_path = socket_path
        tmp.write_text(f"{sock}\n{box.token}\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, ident)
        if self.shim is not None:
            target = box.bin / ".shim"
            if not target.exists():
                shutil.copy2(self.shim, target)
            for t in tools:
                link = box.bin / t
                if not link.is_symlink():
                    link.unlink(missing_ok=True)
                    link.symlink_to(".shim")
        for rel, text in files.items():
            p = box.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        os.chmod(box.tmp, 0o1777)
        if self.drop_to is not None:
            for dirpath, dirnames, filenames in os.walk(box.root):
                os.lchown(dirpath, self.drop_to, self.drop_to)
                for f in dirnames + filenames:
                    os.lchown(os.path.join(dirpath, f), self.drop_to, self.drop_to)
        os.chmod(box.root, 0o700)
        return box

    def remove(self, box: PodBox) -> None:
        shutil.rmtree(box.root, ignore_errors=True)

    # ---- processes ----
    def path_for(self, box: PodBox) -> str:
        return STD_PATH if self.mode == "namespaces" else f"{box.bin}:{STD_PATH}"

    def cwd_for(self, box: PodBox) -> str:
        return "/" if self.mode == "namespaces" else str(box.root)

    def preexec(self, box: PodBox, tty_fd: int | None = None) -> Callable[[], None]:
        mode, drop = self.mode, self.drop_to
        mounts: list[tuple[bytes, bytes]] = []
        if mode == "namespaces":
            for rel, target in (("etc/resolv.conf", "/etc/resolv.conf"),
                                ("etc/hosts", "/etc/hosts"), ("etc/hostname", "/etc/hostname")):
                if (box.root / rel).exists() and os.path.exists(target):
                    mounts.append((str(box.root / rel).encode(), target.encode()))
            for tool in NETWORK_TOOLS:
                if (box.bin / tool).exists():
                    for d in HOST_TOOL_DIRS:
                        real = os.path.join(d, tool)
                        if os.path.isfile(real) and not os.path.islink(real):
                            mounts.append((str(box.bin / ".shim").encode(), real.encode()))
            if os.path.isdir("/root") and (box.root / "root").is_dir():
                mounts.append((str(box.root / "root").encode(), b"/root"))
            mounts.append((str(box.bin).encode(), SHIM_DIR_IN_POD.encode()))
            if self.socket_path is not None:   # /tmp is about to be replaced: keep the socket
                mounts.append((str(self.socket_path).encode(),
                               f"{SHIM_DIR_IN_POD}/.sock".encode()))
            mounts.append((str(box.tmp).encode(), b"/tmp"))  # last: sources may be under /tmp
        host = box.hostname.encode()

        def run() -> None:
            if tty_fd is not None:
                import fcntl
                import termios
                os.setsid()
                fcntl.ioctl(tty_fd, termios.TIOCSCTTY, 0)
            if mode != "namespaces":
                if drop is not None:   # never a root shell on the host
                    os.setgroups([])
                    os.setresgid(drop, drop, drop)
                    os.setresuid(drop, drop, drop)
                return
            libc = _libc()
            if drop is not None:
                os.setgroups([])
                os.setresgid(drop, drop, drop)
                os.setresuid(drop, drop, drop)
                libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            uid, gid = os.geteuid(), os.getegid()
            _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS), "unshare")
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"0 {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"0 {gid} 1")
            _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
            for src, dst in mounts:
                rc = libc.mount(src, dst, None, MS_BIND, None)
                if dst in (b"/tmp", SHIM_DIR_IN_POD.encode()):   # the rest is best effort
                    _check(rc, f"bind {dst.decode()}")
            _check(libc.sethostname(host, len(host)), "sethostname")
            os.chdir("/")

        return run

    def detect(self) -> str:
        """Use namespaces if a probe process can enter them; remember the mode."""
        forced = os.environ.get("KUBESIM_POD_SANDBOX", "auto")
        if forced == "plain":
            self.mode = "plain"
            log.info("pod sandboxes: plain mode (KUBESIM_POD_SANDBOX=plain) in %s", self.root)
            return self.mode
        probe = PodBox("probe", self.root / "probe", "", "probe")
        for d in (probe.bin, probe.tmp, probe.etc, probe.root / "root"):
            d.mkdir(parents=True, exist_ok=True)
        (probe.etc / "hostname").write_text("probe\n")
        (probe.etc / "resolv.conf").write_text(resolv_conf("probe"))
        if self.drop_to is not None:
            for d in (probe.root, probe.bin, probe.tmp, probe.etc, probe.root / "root"):
                os.chown(d, self.drop_to, self.drop_to)
        self.mode = "namespaces"
        try:
            done = subprocess.run(["/bin/sh", "-c", "hostname"], preexec_fn=self.preexec(probe),
                                  capture_output=True, text=True, timeout=10)
            ok = done.returncode == 0 and done.stdout.strip() == "probe"
        except (OSError, subprocess.SubprocessError) as e:
            log.info("pods run without namespaces (%s)", e)
            ok = False
        self.mode = "namespaces" if ok else "plain"
        shutil.rmtree(probe.root, ignore_errors=True)
        log.info("pod sandboxes: %s mode in %s", self.mode, self.root)
        return self.mode


def resolv_conf(ns: str) -> str:
    return (f"search {ns}.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\noptions ndots:5\n")


def hosts_file(ip: str, name: str, hostname: str) -> str:
    return ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
            "ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\n"
            f"fe00::2\tip6-allrouters\n{ip}\t{hostname}\n")


def _remove_stale(tmp: Path) -> None:
    """Pod directories left by a kubesim that did not stop cleanly (its pid is gone)."""
    for d in tmp.glob("kubesim-pods-*"):
        try:
            if d.stat().st_uid != os.geteuid():
                continue
            pid = int((d / "pid").read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError, KeyError):
            continue
