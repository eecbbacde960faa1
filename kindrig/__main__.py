"""python -m kindrig images|up|down|run|test|status

prepare  build the rig's long-running pieces (root filesystems, Go programs) if the rig can run
         here; --background starts that beside whatever runs next and returns at once (make test
         runs it before the main suite; `test` later waits for the builds through their locks)
images   build (or find) every image and the kind node image; print the node image's name
up       start the private Docker engine, build what is missing, create the labs' kind cluster
         through the labs' own kind backend, print `kubectl get nodes -o wide`
down     delete the cluster and stop the private engine (built images stay cached)
run      run a command inside the rig (its network namespace, DOCKER_HOST, the node image):
         python -m kindrig run -- kubectl get pods -A
test     up, then the kind-marked tests inside the rig, then down (RIG_KEEP=1 keeps it);
         extra arguments go to pytest. Where no Docker engine can be started, says why and exits 0
         with the tests skipped, unless RIG_REQUIRED=1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from . import cluster, dockerd, gobuild, images, paths, rootfs
from .errors import RigError

PROJECT = Path(__file__).resolve().parent.parent
CLUSTER_NAME = "svc-labs"


def log(msg: str) -> None:
    print(msg, flush=True)


def rig_env(node_image: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DOCKER_HOST": dockerd.host(),
        "LAB_CLUSTER": "kind",
        "LAB_KIND_NODE_IMAGE": node_image,
        "LAB_KIND_CONFIG_PATCH": str(cluster.write_patch()),
        "PATH": f"{gobuild.bin_dir()}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                f"{env.get('PATH', '')}",
    })
    return env


def _timed(what: str, fn):
    t0 = time.monotonic()
    result = fn()
    log(f"rig: {what}: {time.monotonic() - t0:.0f} s")
    return result


def prepare() -> dict[str, str]:
    """Engine up and node image built; the environment that runs things inside the rig."""
    _timed("private Docker engine", lambda: dockerd.start(log=log))
    env = {**os.environ, "DOCKER_HOST": dockerd.host()}
    ref = _timed("images (cached after the first build)",
                 lambda: images.build_node_image(env, log=log))
    return rig_env(ref)


def run_inside(cmd: list[str], env: dict[str, str], check: bool = False) -> int:
    return subprocess.run(dockerd.inside(cmd), env=env, cwd=PROJECT, check=check).returncode


def cluster_up(env: dict[str, str]) -> None:
    labs = [sys.executable, "-m", "labs"]
    _timed("kind cluster (1 control-plane, 2 workers)",
           lambda: run_inside(labs + ["cluster", "up"], env, check=True))
    run_inside(["kubectl", "--kubeconfig", kubeconfig(env), "get", "nodes", "-o", "wide"], env)


def kubeconfig(env: dict[str, str]) -> str:
    state = Path(env.get("LAB_STATE_DIR") or PROJECT / ".labs")
    return str(state / "kind" / "kubeconfig")


def cluster_down(env: dict[str, str]) -> None:
    run_inside([sys.executable, "-m", "labs", "cluster", "down"], env)


def cmd_prepare(args: argparse.Namespace) -> int:
    why = dockerd.available() or rootfs.available()
    if why:
        log(f"rig: not preparing ({why})")
        return 0
    if args.background:
        out = paths.cache() / "prepare.log"
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "ab") as f:
            subprocess.Popen([sys.executable, "-m", "kindrig", "prepare"], cwd=PROJECT,
                             stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        log(f"rig: building the kind rig's root filesystems and Go programs in the background "
            f"(log: {out})")
        return 0
    t0 = time.monotonic()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(rootfs.SETS) + 1) as pool:  # network-bound: at once
        jobs = [pool.submit(rootfs.ensure, name, log) for name in rootfs.SETS]
        jobs.append(pool.submit(gobuild.ensure_built, log))
        for job in jobs:
            job.result()
    log(f"rig: prepared in {time.monotonic() - t0:.0f} s")
    return 0


def cmd_images(_: argparse.Namespace) -> int:
    env = prepare()
    print(env["LAB_KIND_NODE_IMAGE"])
    return 0


def cmd_up(_: argparse.Namespace) -> int:
    env = prepare()
    cluster_up(env)
    log(f"rig: the cluster runs in network namespace {dockerd.NETNS}; "
        "`python -m kindrig run -- kubectl get pods -A` reaches it")
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    if dockerd.available() == "" and dockerd.socket().exists():
        cluster_down(rig_env(""))
    dockerd.stop(log=log)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    env = prepare()
    return run_inside(args.command, env)


def cmd_test(args: argparse.Namespace) -> int:
    why = dockerd.available() or rootfs.available()
    if why:
        msg = f"kind tests skipped: {why}"
        if os.environ.get("RIG_REQUIRED"):
            log(msg)
            return 1
        log(msg)
        return 0
    t0 = time.monotonic()
    env = prepare()
    try:
        # a cluster left by an earlier run (its engine killed, its nodes restarted by Docker's
        # restart policy) is not trusted: every run starts from a new cluster
        cluster_down(env)
        cluster_up(env)
        pytest = [sys.executable, "-m", "pytest", "-m", "kind", "--run-kind", "-v",
                  "-p", "no:cacheprovider", *args.pytest_args]
        rc = _timed("kind tests", lambda: run_inside(pytest, env))
    finally:
        if not os.environ.get("RIG_KEEP"):
            cluster_down(env)
            dockerd.stop(log=log)
    log(f"rig: kind suite total {time.monotonic() - t0:.0f} s")
    return rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kindrig", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("--background", action="store_true")
    pr.set_defaults(fn=cmd_prepare)
    sub.add_parser("images").set_defaults(fn=cmd_images)
    sub.add_parser("up").set_defaults(fn=cmd_up)
    sub.add_parser("down").set_defaults(fn=cmd_down)
    r = sub.add_parser("run")
    r.add_argument("command", nargs=argparse.REMAINDER)
    r.set_defaults(fn=cmd_run)
    t = sub.add_parser("test")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER)
    t.set_defaults(fn=cmd_test)
    args = p.parse_args(argv)
    if getattr(args, "command", None) and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if getattr(args, "pytest_args", None) and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    try:
        return args.fn(args)
    except RigError as e:
        print(f"rig: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
