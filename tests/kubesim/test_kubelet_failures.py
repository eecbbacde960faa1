"""The kubelet when things break: images that cannot be pulled, liveness probes that fail,
readiness that comes and goes, containers whose command exits. Real kubectl 1.37 and the
official client against a kubesim of its own whose probe periods and back-offs are short
(KUBESIM_PROBE_PERIOD_SECONDS, KUBESIM_BACKOFF_SECONDS), so a crash loop takes a second."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubesim_testkit import Sim, run_kubesim, wait_until

KNOBS = {"KUBESIM_PROBE_PERIOD_SECONDS": "0.1", "KUBESIM_BACKOFF_SECONDS": "0.4",
         "KUBESIM_HOST_PORTS": "off"}


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    state = tmp_path_factory.mktemp("kubesim-kubelet")
    done = run_kubesim("up", state, KNOBS)
    assert done.returncode == 0, done.stderr
    yield Sim(state, Path(done.stdout.strip().splitlines()[-1]),
              tmp_path_factory.mktemp("kubectl-cache"))
    run_kubesim("down", state)


@pytest.fixture
def core(fast: Sim) -> Iterator[Any]:
    api = config.new_client_from_config(config_file=str(fast.kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def ns(fast: Sim, core: Any) -> Iterator[str]:
    name = f"k-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    fast.kubectl("delete", "namespace", name, "--wait=false")


def events(core: Any, ns: str, pod: str) -> list[tuple[str, str, str]]:
    evs = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={pod}").items
    return [(e.type, e.reason, e.message) for e in evs]


def row(fast: Sim, ns: str, pod: str) -> list[str]:
    """kubectl get pod's columns: NAME READY STATUS RESTARTS AGE (RESTARTS may be '1 (2s ago)')."""
    line = fast.kubectl("-n", ns, "get", "pod", pod, "--no-headers").stdout
    return re.split(r"\s{2,}", line.strip())


def record_reasons(core: Any, ns: str, pod: str) -> tuple[list[str], threading.Event]:
    """Every waiting reason the pod's first container shows, in order (from a watch)."""
    seen: list[str] = []
    stop = threading.Event()

    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_pod, ns, field_selector=f"metadata.name={pod}",
                           timeout_seconds=30):
            for cs in ev["object"].status.container_statuses or []:
                reason = cs.state.waiting.reason if cs.state.waiting else (
                    "Running" if cs.state.running else "Terminated")
                if not seen or seen[-1] != reason:
                    seen.append(reason)
            if stop.is_set():
                w.stop()
    threading.Thread(target=run, daemon=True).start()
    return seen, stop


def test_a_tag_that_does_not_exist(fast: Sim, core: Any, ns: str) -> None:
    seen, stop = record_reasons(core, ns, "bad")
    fast.kubectl("-n", ns, "run", "bad", "--image=nginx:1.299")
    try:
        wait_until("ErrImagePull, then ImagePullBackOff, then a new pull",
                   lambda: seen[-4:] == ["ErrImagePull", "ImagePullBackOff", "ErrImagePull",
                                         "ImagePullBackOff"])
    finally:
        stop.set()
    assert seen[0] == "ContainerCreating"
    err = ('rpc error: code = NotFound desc = failed to pull and unpack image '
           '"docker.io/library/nginx:1.299": failed to resolve reference '
           '"docker.io/library/nginx:1.299": docker.io/library/nginx:1.299: not found')
    got = events(core, ns, "bad")
    for expected in [("Normal", "Pulling", 'Pulling image "nginx:1.299"'),
                     ("Warning", "Failed", f'Failed to pull image "nginx:1.299": {err}'),
                     ("Warning", "Failed", "Error: ErrImagePull"),
                     ("Normal", "BackOff", 'Back-off pulling image "nginx:1.299"'),
                     ("Warning", "Failed", "Error: ImagePullBackOff")]:
        assert expected in got
    assert not any(reason in ("Created", "Started") for _, reason, _ in got)
    pod = core.read_namespaced_pod("bad", ns)
    assert pod.status.phase == "Pending" and pod.status.pod_ip   # the sandbox is up
    cs = pod.status.container_statuses[0]
    assert (cs.image, cs.image_id, cs.ready, cs.started) == ("nginx:1.299", "", False, False)
    if cs.state.waiting.reason == "ImagePullBackOff":
        assert cs.state.waiting.message == \
            f'Back-off pulling image "nginx:1.299": ErrImagePull: {err}'
    else:
        assert cs.state.waiting.message == err
    assert row(fast, ns, "bad")[1:4] in (["0/1", "ImagePullBackOff", "0"],
                                         ["0/1", "ErrImagePull", "0"])
    described = fast.kubectl("-n", ns, "describe", "pod", "bad").stdout
    assert 'spec.containers{bad}: Back-off pulling image "nginx:1.299"' in described


@pytest.mark.parametrize("image,policy,reason,message", [
    ("ngnix", "Always", "ErrImagePull",
     'failed to pull and unpack image "docker.io/library/ngnix:latest": failed to resolve '
     'reference "docker.io/library/ngnix:latest": pull access denied, repository does not '
     "exist or may require authorization: server message: insufficient_scope: authorization "
     "failed"),
    ("myregistry.local/web:1.0", "IfNotPresent", "ErrImagePull",
     'failed to pull and unpack image "myregistry.local/web:1.0": failed to resolve reference '
     '"myregistry.local/web:1.0": failed to do request: Head "https://myregistry.local/v2/web/'
     'manifests/1.0": dial tcp: lookup myregistry.local on 172.18.0.1:53: no such host'),
    ("Nginx:1.29", "IfNotPresent", "InvalidImageName",
     'Failed to apply default image tag "Nginx:1.29": couldn\'t parse image name "Nginx:1.29": '
     "invalid reference format: repository name (library/Nginx) must be lowercase"),
])
def test_images_the_cluster_cannot_have(fast: Sim, core: Any, ns: str, image: str, policy: str,
                                        reason: str, message: str) -> None:
    core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "app", "image": image}]}})
    pod = core.read_namespaced_pod("p", ns)
    assert pod.spec.containers[0].image_pull_policy == policy

    def waiting() -> Any:
        cs = core.read_namespaced_pod("p", ns).status.container_statuses or []
        w = cs[0].state.waiting if cs else None
        return w if w and w.reason == reason else None
    w = wait_until(f"the container waiting in {reason}", waiting)
    assert w.message == message
    if reason == "InvalidImageName":
        assert ("Warning", "InspectFailed", message) in events(core, ns, "p")
        assert ("Warning", "Failed", "Error: InvalidImageName") in events(core, ns, "p")
    else:
        assert ("Warning", "Failed", f'Failed to pull image "{image}": {message}') in \
            events(core, ns, "p")


def test_set_image_recovers_through_the_rollout(fast: Sim, core: Any, ns: str) -> None:
    fast.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.29.99",
                 "--replicas=2")
    wait_until("both pods backing off", lambda: [
        p for p in core.list_namespaced_pod(ns).items if p.status.container_statuses and
        p.status.container_statuses[0].state.waiting and
        p.status.container_statuses[0].state.waiting.reason in ("ErrImagePull",
                                                                 "ImagePullBackOff")
    ].__len__() == 2)
    dep = client.AppsV1Api(core.api_client).read_namespaced_deployment("web", ns)
    assert not dep.status.available_replicas
    fast.kubectl("-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.29")
    out = fast.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=30s").stdout
    assert out.strip().endswith('deployment "web" successfully rolled out')
    wait_until("only the new pods left", lambda: [
        p.spec.containers[0].image for p in core.list_namespaced_pod(ns).items] ==
        ["nginx:1.29", "nginx:1.29"])
    for p in core.list_namespaced_pod(ns).items:
        assert row(fast, ns, p.metadata.name)[1:4] == ["1/1", "Running", "0"]
    rs = {r.spec.template.spec.containers[0].image: r.status.replicas for r in client.AppsV1Api(
        core.api_client).list_namespaced_replica_set(ns).items}
    assert rs == {"nginx:1.29.99": 0, "nginx:1.29": 2}


def nginx_pod(name: str, **probes: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.29", "ports": [{"containerPort": 80}], **probes}]}}


def test_a_failing_liveness_probe_restarts_the_container(fast: Sim, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, nginx_pod("live", livenessProbe={
        "httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1,
        "failureThreshold": 2}))

    def restarts() -> int:
        cs = core.read_namespaced_pod("live", ns).status.container_statuses or []
        return cs[0].restart_count if cs else 0
    wait_until("three restarts", lambda: restarts() >= 3)
    got = events(core, ns, "live")
    assert ("Warning", "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 404") in got
    assert ("Normal", "Killing", "Container nginx failed liveness probe, will be restarted") \
        in got
    pod = core.read_namespaced_pod("live", ns)
    cs = pod.status.container_statuses[0]
    term = cs.last_state.terminated
    assert (term.reason, term.exit_code) == ("Completed", 0)   # nginx stops on SIGTERM
    assert term.finished_at >= term.started_at
    cells = row(fast, ns, "live")
    assert re.fullmatch(r"\d+ \(\d+s ago\)", cells[3]), cells
    # a probe that keeps failing: the kubelet backs off between restarts
    back_off = f"Back-off restarting failed container nginx in pod live_{ns}({pod.metadata.uid})"
    wait_until("a BackOff event", lambda: ("Warning", "BackOff", back_off) in events(
        core, ns, "live"))
    looping = wait_until("CrashLoopBackOff", lambda: (lambda c: c if c.state.waiting else None)(
        core.read_namespaced_pod("live", ns).status.container_statuses[0]))
    assert looping.state.waiting.reason == "CrashLoopBackOff"
    assert re.fullmatch(rf"back-off (\d+ms|[\d.]+s|\d+m[\d.]+s) restarting failed container=nginx "
                        rf"pod=live_{ns}\({pod.metadata.uid}\)", looping.state.waiting.message)


def test_a_passing_liveness_probe_leaves_the_container_alone(fast: Sim, core: Any,
                                                             ns: str) -> None:
    core.create_namespaced_pod(ns, nginx_pod("fine", livenessProbe={
        "httpGet": {"path": "/", "port": 80}, "periodSeconds": 1, "failureThreshold": 1},
        readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 1}))
    # nginx logs each probe: wait for a good number of them rather than for a time
    wait_until("ten liveness probes answered", lambda: fast.kubectl(
        "-n", ns, "logs", "fine").stdout.count('"kube-probe/1.37"') >= 10)
    assert row(fast, ns, "fine")[1:4] == ["1/1", "Running", "0"]
    assert not [e for e in events(core, ns, "fine") if e[1] in ("Unhealthy", "Killing")]


def test_endpoints_drop_a_pod_that_is_not_ready(fast: Sim, core: Any, ns: str) -> None:
    """An exec readiness probe runs in the pod's sandbox: removing the file it reads takes
    the pod out of the Service's endpoints, putting it back brings the pod back."""
    core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    for name in ("a", "b"):
        core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": {"app": "web"}},
                                        "spec": {"containers": [{
            "name": "app", "image": "busybox:1.37", "ports": [{"containerPort": 80}],
            "command": ["sh", "-c", f"touch /tmp/ready-{name}; sleep 3600"],
            "readinessProbe": {"exec": {"command": ["cat", f"/tmp/ready-{name}"]},
                               "periodSeconds": 1, "failureThreshold": 1}}]}})

    def addresses() -> tuple[list[str], list[str]]:
        subsets = core.read_namespaced_endpoints("web", ns).subsets or []
        ready = sorted(a.target_ref.name for s in subsets for a in s.addresses or [])
        not_ready = sorted(a.target_ref.name for s in subsets for a in s.not_ready_addresses
                           or [])
        return ready, not_ready
    wait_until("both pods ready", lambda: addresses() == (["a", "b"], []))
    fast.kubectl("-n", ns, "exec", "b", "--", "rm", "/tmp/ready-b")
    wait_until("b out of the endpoints", lambda: addresses() == (["a"], ["b"]))
    assert row(fast, ns, "b")[1:4] == ["0/1", "Running", "0"]
    failed = [m for t, r, m in events(core, ns, "b") if r == "Unhealthy"]
    assert failed and failed[0].startswith("Readiness probe failed: cat: ") and \
        "/tmp/ready-b: No such file or directory" in failed[0]
    fast.kubectl("-n", ns, "exec", "b", "--", "touch", "/tmp/ready-b")
    wait_until("b back in the endpoints", lambda: addresses() == (["a", "b"], []))


def test_an_exec_liveness_probe_restarts_the_main_process(fast: Sim, core: Any,
                                                          ns: str) -> None:
    """The liveness example of the Kubernetes documentation: the command removes the file its
    probe reads; a shell ignores SIGTERM, so the kill ends in SIGKILL (137)."""
    core.create_namespaced_pod(ns, {"metadata": {"name": "liveness-exec"}, "spec": {
        "containers": [{"name": "liveness", "image": "busybox:1.37", "args": [
            "/bin/sh", "-c", "echo up; touch /tmp/healthy; sleep 1; rm -f /tmp/healthy; "
                             "sleep 600"],
            "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                              "periodSeconds": 1, "failureThreshold": 2}}]}})
    wait_until("a restart", lambda: (core.read_namespaced_pod(
        "liveness-exec", ns).status.container_statuses or [None])[0] and core.read_namespaced_pod(
        "liveness-exec", ns).status.container_statuses[0].restart_count >= 1)
    term = core.read_namespaced_pod("liveness-exec", ns).status.container_statuses[0] \
        .last_state.terminated
    assert (term.reason, term.exit_code) == ("Error", 137)
    failed = [m for t, r, m in events(core, ns, "liveness-exec") if r == "Unhealthy"]
    assert failed[0].startswith("Liveness probe failed: cat: ")
    assert fast.kubectl("-n", ns, "logs", "liveness-exec", "--previous").stdout == "up\n"


def test_a_command_that_exits_crash_loops(fast: Sim, core: Any, ns: str) -> None:
    fast.kubectl("-n", ns, "run", "loop", "--image=busybox:1.37", "--", "sh", "-c", "exit 3")
    wait_until("CrashLoopBackOff after restarts", lambda: row(fast, ns, "loop")[2] ==
               "CrashLoopBackOff" and row(fast, ns, "loop")[3] != "0")
    pod = core.read_namespaced_pod("loop", ns)
    cs = pod.status.container_statuses[0]
    assert (cs.last_state.terminated.reason, cs.last_state.terminated.exit_code) == ("Error", 3)
    assert ("Warning", "BackOff", f"Back-off restarting failed container loop in pod "
            f"loop_{ns}({pod.metadata.uid})") in events(core, ns, "loop")


def test_startup_probes_hold_the_other_probes(fast: Sim, core: Any, ns: str) -> None:
    """A startup probe that never passes restarts the container (liveness never runs); one
    that passes lets readiness decide."""
    core.create_namespaced_pod(ns, nginx_pod("slow", startupProbe={
        "httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1, "failureThreshold": 2},
        livenessProbe={"httpGet": {"path": "/healthz", "port": 80}}))
    core.create_namespaced_pod(ns, nginx_pod("quick", startupProbe={
        "tcpSocket": {"port": 80}, "periodSeconds": 1},
        readinessProbe={"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}))
    wait_until("a restart of slow", lambda: (core.read_namespaced_pod(
        "slow", ns).status.container_statuses[0].restart_count or 0) >= 1)
    pod = core.read_namespaced_pod("slow", ns)
    got = events(core, ns, "slow")
    ip = pod.status.pod_ip
    assert ("Warning", "Unhealthy", f'Startup probe failed: Get "http://{ip}:8080/": dial tcp '
            f"{ip}:8080: connect: connection refused") in got
    assert ("Normal", "Killing", "Container nginx failed startup probe, will be restarted") \
        in got
    assert not [m for t, r, m in got if m.startswith("Liveness probe failed")]
    cs = pod.status.container_statuses[0]
    assert cs.started is False or cs.state.waiting is not None
    assert not cs.ready
    quick = wait_until("quick ready", lambda: (lambda c: c if c.ready else None)(
        core.read_namespaced_pod("quick", ns).status.container_statuses[0]))
    assert quick.started is True and quick.restart_count == 0


def test_busybox_without_a_command_completes_and_crash_loops(fast: Sim, core: Any,
                                                             ns: str) -> None:
    """busybox's own command is sh, which ends at once without a terminal."""
    seen, stop = record_reasons(core, ns, "bb")
    fast.kubectl("-n", ns, "run", "bb", "--image=busybox:1.37")
    try:
        wait_until("CrashLoopBackOff", lambda: "CrashLoopBackOff" in seen)
    finally:
        stop.set()
    assert "Terminated" in seen[:seen.index("CrashLoopBackOff")]
    cs = core.read_namespaced_pod("bb", ns).status.container_statuses[0]
    assert (cs.last_state.terminated.reason, cs.last_state.terminated.exit_code) == \
        ("Completed", 0)
    assert cs.restart_count >= 1


def test_set_image_on_a_bare_pod_restarts_its_container(fast: Sim, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, nginx_pod("web"))
    wait_until("web running", lambda: row(fast, ns, "web")[1:3] == ["1/1", "Running"])
    fast.kubectl("-n", ns, "set", "image", "pod/web", "nginx=nginx:1.299")
    wait_until("web backing off the new image", lambda: row(fast, ns, "web")[1:3] in (
        ["0/1", "ErrImagePull"], ["0/1", "ImagePullBackOff"]))
    pod = core.read_namespaced_pod("web", ns)
    assert pod.status.phase == "Running"          # it has run: not Pending again
    cs = pod.status.container_statuses[0]
    assert cs.last_state.terminated.reason == "Completed" and cs.image == "nginx:1.299"
    assert ("Normal", "Killing", "Container nginx definition changed, will be restarted") in \
        events(core, ns, "web")
    fast.kubectl("-n", ns, "set", "image", "pod/web", "nginx=nginx:1.29")
    wait_until("web running the good image again", lambda: row(fast, ns, "web")[1:3] == [
        "1/1", "Running"])
    cs = core.read_namespaced_pod("web", ns).status.container_statuses[0]
    assert (cs.image, cs.restart_count) == ("docker.io/library/nginx:1.29", 1)


def test_the_good_containers_of_a_pod_start_while_one_image_fails(fast: Sim, core: Any,
                                                                  ns: str) -> None:
    pod = nginx_pod("two")
    pod["spec"]["containers"].append({"name": "side", "image": "busybox:9.99",
                                      "command": ["sleep", "3600"]})
    core.create_namespaced_pod(ns, pod)
    wait_until("1/2 and the sidecar's pull failing", lambda: row(fast, ns, "two")[1:3] in (
        ["1/2", "ErrImagePull"], ["1/2", "ImagePullBackOff"]))
    got = core.read_namespaced_pod("two", ns)
    assert got.status.phase == "Pending"          # not every container has started
    web, side = got.status.container_statuses
    assert web.ready and web.state.running and not side.ready and side.state.waiting
    fast.kubectl("-n", ns, "set", "image", "pod/two", "side=busybox:1.37")
    wait_until("2/2 Running", lambda: row(fast, ns, "two")[1:4] == ["2/2", "Running", "0"])
    started = [m for _, r, m in events(core, ns, "two") if r == "Started"]
    assert sorted(started) == ["Started container nginx", "Started container side"]


def test_restart_policy_never_ends_the_pod_after_a_liveness_kill(fast: Sim, core: Any,
                                                                  ns: str) -> None:
    pod = nginx_pod("once", livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1,
                                           "failureThreshold": 1})
    pod["spec"]["restartPolicy"] = "Never"
    core.create_namespaced_pod(ns, pod)
    wait_until("the pod done", lambda: core.read_namespaced_pod("once", ns).status.phase ==
               "Succeeded")                    # nginx exits 0 on the kubelet's SIGTERM
    cs = core.read_namespaced_pod("once", ns).status.container_statuses[0]
    assert cs.restart_count == 0 and cs.state.terminated.reason == "Completed"
    assert row(fast, ns, "once")[1:4] == ["0/1", "Completed", "0"]
