"""Optimistic concurrency (409 on a stale resourceVersion) and watches that see every change in
order, through the official Python client."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubesim_testkit import Sim


def test_two_writers_stale_resource_version(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"n": "0"}})
    a = core.read_namespaced_config_map("cm", ns)
    b = core.read_namespaced_config_map("cm", ns)
    a.data = {"n": "a"}
    core.replace_namespaced_config_map("cm", ns, a)
    b.data = {"n": "b"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", ns, b)
    assert err.value.status == 409
    import json
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on configmaps "cm": the object has '
                               "been modified; please apply your changes to the latest version "
                               "and try again")
    assert core.read_namespaced_config_map("cm", ns).data == {"n": "a"}


def test_concurrent_increments_lose_nothing(api: Any, ns: str) -> None:
    """Many writers retrying on 409: every increment lands exactly once."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    conflicts = []

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                cur = core.read_namespaced_config_map("counter", ns)
                cur.data["n"] = str(int(cur.data["n"]) + 1)
                try:
                    core.replace_namespaced_config_map("counter", ns, cur)
                    break
                except ApiException as e:
                    assert e.status == 409
                    conflicts.append(1)
    threads = [threading.Thread(target=bump, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert core.read_namespaced_config_map("counter", ns).data["n"] == "40"


def test_watch_sees_every_change_in_order(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}, "data": {"i": "0"}})
    for i in range(1, 21):
        core.patch_namespaced_config_map("w", ns, {"data": {"i": str(i)}})
    core.delete_namespaced_config_map("w", ns)
    seen = []
    rvs = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start,
                       timeout_seconds=10):
        obj = ev["object"]
        if obj.metadata.name != "w":
            continue
        seen.append((ev["type"], obj.data["i"]))
        rvs.append(int(obj.metadata.resource_version))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "0")] + [("MODIFIED", str(i)) for i in range(1, 21)] + [
        ("DELETED", "20")]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


def test_watch_with_label_selector(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a", "labels": {"x": "1"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    core.patch_namespaced_config_map("b", ns, {"metadata": {"labels": {"x": "1"}}})
    core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"x": "2"}}})
    seen = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start,
                       label_selector="x=1", timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    # b enters the selection (ADDED), a leaves it (DELETED), as the API server's watch cache does
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_kubectl_get_watch_prints_changes(sim: Sim, ns: str) -> None:
    import queue
    import subprocess

    from kubesim_testkit import KUBECTL
    proc = subprocess.Popen([KUBECTL, "-n", ns, "get", "configmaps", "-w",
                             "--request-timeout=20s"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=sim.env())
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
    threading.Thread(target=pump, daemon=True).start()

    def next_with(word: str) -> str:
        while True:
            line = lines.get(timeout=15)
            if word in line:
                return line
    try:
        sim.kubectl("-n", ns, "create", "configmap", "seen-by-watch")
        first = next_with("seen-by-watch")
        assert first.split()[:2] == ["seen-by-watch", "0"]
        sim.kubectl("-n", ns, "create", "configmap", "second", "--from-literal=a=b")
        assert next_with("second").split()[:2] == ["second", "1"]
    finally:
        proc.kill()
        proc.wait()


def test_watch_bookmarks_when_allowed(sim: Sim, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1"
    _, quiet, _ = sim.request("GET", base)
    assert quiet == "" or "BOOKMARK" not in str(quiet)
    _, text, _ = sim.request("GET", base + "&allowWatchBookmarks=true")
    lines = [json.loads(x) for x in str(text).splitlines() if x.strip()] if isinstance(
        text, str) else [text]
    marks = [e for e in lines if e["type"] == "BOOKMARK"]
    assert marks and marks[0]["object"]["kind"] == "ConfigMap"
    assert int(marks[0]["object"]["metadata"]["resourceVersion"]) > 0
