"""Debian root filesystems for the rig's images, made with debootstrap and cached by a hash of
what goes into them (suite, packages, recipe, mirror), so a second build takes no time.

Three are made: the node's (systemd and what kind's base image installs), the web image's (nginx
and curl, as the official nginx image has them) and the network image's (iptables, conntrack,
iproute2, curl and jq: kube-proxy and the rig's pod-network agent).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import paths, versions
from .errors import RigError

RECIPE = "1: debootstrap --variant=minbase, apt lists and caches removed"

# What kind's base image installs (kind: images/base/Dockerfile), less nfs-common and open-iscsi
# (network storage e2e tests only), plus Debian's runc (kind builds runc from source).
NODE = ["systemd", "conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux",
        "mount", "kmod", "libseccomp2", "pigz", "fuse-overlayfs", "e2fsprogs", "bash",
        "ca-certificates", "curl", "jq", "procps", "runc"]
# The official nginx image's programs that the labs use: nginx itself, curl, getent (libc-bin).
# Debian trixie, as the official image is built on: the same curl (8.14), so `curl -v` prints
# what a learner's nginx pod prints.
WEB = ["nginx", "curl", "ca-certificates"]
# A network tools image (dig, nslookup, host, ping, ip, iptables-save) for DNS and node cases.
TOOLS = ["bind9-dnsutils", "curl", "iproute2", "iputils-ping", "iptables", "procps",
         "ca-certificates"]
# kube-proxy's needs (iptables/ip6tables in both backends, conntrack) and the pod-network agent's.
NET = ["iptables", "nftables", "conntrack", "ipset", "iproute2", "kmod", "curl", "jq",
       "ca-certificates"]

SETS = {"node": NODE, "web": WEB, "net": NET, "tools": TOOLS}
# The node stays on bookworm (systemd 252 still runs on cgroup v1); pod images follow trixie.
SUITES = {"node": versions.DEBIAN, "net": versions.DEBIAN, "web": versions.DEBIAN_PODS,
          "tools": versions.DEBIAN_PODS}


def mirror() -> str:
    return os.environ.get("RIG_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def key(name: str) -> str:
    h = hashlib.sha256(f"{RECIPE}\0{SUITES[name]}\0{mirror()}\0".encode())
    h.update(",".join(SETS[name]).encode())
    return h.hexdigest()[:16]


def path(name: str) -> Path:
    return paths.cache() / "rootfs" / f"{name}-{SUITES[name]}-{key(name)}"


def available() -> str:
    """Why root filesystems cannot be made here, or "" if they can."""
    if os.geteuid() != 0:
        return "making the rig's Debian root filesystems needs root (debootstrap)"
    if not shutil.which("debootstrap"):
        return "debootstrap is not installed (apt-get install debootstrap; .ci/run does this on CI)"
    return ""


def ensure(name: str, log=print) -> Path:
    """The cached root filesystem `name`, made first if missing."""
    target = path(name)
    if (target / ".complete").exists():
        return target
    if os.geteuid() != 0:
        raise RigError("making a Debian root filesystem needs root (debootstrap)",
                       fix="run the rig as root, or use LAB_CLUSTER=embedded")
    debootstrap = shutil.which("debootstrap")
    if not debootstrap:
        raise RigError("debootstrap is not installed",
                       fix="apt-get install debootstrap (the rig's root filesystems come from "
                           "Debian's packages)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return target
        tmp = target.parent / f"{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        t0 = time.monotonic()
        log(f"rig: debootstrap {SUITES[name]} '{name}' root filesystem "
            f"({', '.join(SETS[name])})")
        cmd = [debootstrap, "--variant=minbase", f"--include={','.join(SETS[name])}",
               SUITES[name], str(tmp), mirror()]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        for sub in ("proc", "sys", "dev/pts"):  # in case debootstrap died with them mounted
            subprocess.run(["umount", "-l", str(tmp / sub)], capture_output=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-3000:]
            raise RigError(f"debootstrap of the '{name}' root filesystem failed "
                           f"(exit {proc.returncode}):\n{tail}",
                           fix=f"check that the Debian mirror {mirror()} answers "
                               "(RIG_DEBIAN_MIRROR sets another), then run `make kind-images` again")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (tmp / leftover).glob("*"):
                if f.is_file():
                    f.unlink()
        (tmp / ".complete").write_text(f"{time.monotonic() - t0:.0f} s\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        log(f"rig: '{name}' root filesystem made in {time.monotonic() - t0:.0f} s")
    return target
