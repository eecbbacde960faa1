"""Build the rig's Go programs (kind, containerd, crictl, CoreDNS, CNI plugins) from the module
proxy, into ~/.cache/k8s-service-labs/kindrig/go-<key>/, where <key> hashes the pins and the
recipe: a second run finds them and takes no time.  The Kubernetes binaries come from the control
plane's build (controlplane.build.ensure_built), which shares the Go build cache with this one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from pathlib import Path

from controlplane import build as cp_build
from controlplane import gomod

from . import paths, versions

RECIPE = "1: go install -trimpath -ldflags=-s -w, CGO_ENABLED=0"


def key() -> str:
    h = hashlib.sha256(RECIPE.encode())
    for prog in versions.GO_PROGRAMS:
        h.update(repr(prog).encode())
    return h.hexdigest()[:16]


def bin_dir() -> Path:
    return paths.cache() / f"go-{key()}"


def names() -> list[str]:
    return [p[0] for p in versions.GO_PROGRAMS]


def ensure_built(log=print) -> Path:
    target = bin_dir()
    if all((target / n).exists() for n in names()):
        return target
    go = cp_build._go()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "go-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((target / n).exists() for n in names()):
            return target
        tmp = target.parent / f"go-tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        t0 = time.monotonic()
        log(f"rig: building {', '.join(names())} from Go modules into {target}")
        for name, package, ldflags, tags in versions.GO_PROGRAMS:
            out = tmp / "gobin"
            cmd = [go, "install", "-trimpath", "-ldflags", f"-s -w {ldflags}".strip()]
            if tags:
                cmd += ["-tags", tags]
            cmd.append(package)
            cp_build.run_logged(cmd, cwd=tmp, log=log, env=gomod.go_env({"GOBIN": str(out)}))
            built = out / package.split("@")[0].rsplit("/", 1)[-1]
            built.rename(tmp / name)
        shutil.rmtree(tmp / "gobin", ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        log(f"rig: Go programs built in {time.monotonic() - t0:.0f} s")
    return target
