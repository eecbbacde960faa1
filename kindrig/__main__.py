"""python -m kindrig images|up|down|run|test|status

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

from . import cluster, dockerd, gobuild, images
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
    why = dockerd.available()
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
        cluster_up(env)
        pytest = [sys.executable, "-m", "pytest", "-m", "kind", "--run-kind", "-p", "no:cacheprovider",
                  *args.pytest_args]
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
